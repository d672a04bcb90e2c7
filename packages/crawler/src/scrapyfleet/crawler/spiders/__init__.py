"""Spiders of the `properties` project."""
