"""The catalogue: determinism, paths, price model and the ground truth against brute force."""

from __future__ import annotations

import math
import re

import pytest

from scrapyfleet.demosite.catalog import Catalog, title_words
from scrapyfleet.demosite.vocabulary import (
    FILLER_WORDS,
    PLANTED_EFFECTS,
    PLANTED_PER_TITLE_WEIGHTS,
)


def test_same_seed_same_listings_other_seed_others() -> None:
    a, b, other = Catalog(500, seed=7), Catalog(500, seed=7), Catalog(500, seed=8)
    assert [a.listing(i) for i in range(500)] == [b.listing(i) for i in reversed(range(500))][::-1]
    assert sum(a.listing(i) == other.listing(i) for i in range(500)) == 0


@pytest.mark.parametrize(("total", "pages"), [(1, 1), (29, 1), (30, 1), (31, 2), (50_000, 1667)])
def test_index_pages_is_ceil_total_over_30(total: int, pages: int) -> None:
    assert Catalog(total).index_pages == pages


def test_out_of_range_listing_is_index_error() -> None:
    catalog = Catalog(10)
    for i in (-1, 10, 10**9):
        with pytest.raises(IndexError):
            catalog.listing(i)
    with pytest.raises(ValueError, match="total"):
        Catalog(0)


def test_paths_follow_the_book_scheme() -> None:
    assert Catalog.listing_path(123) == "/properties/property_000123.html"
    assert Catalog.index_path(4) == "/properties/index_00004.html"


def test_listing_fields_are_consistent() -> None:
    catalog = Catalog(3000, seed=1)
    for i in range(0, 3000, 7):
        listing = catalog.listing(i)
        words = title_words(listing.title)
        assert 3 <= len(words) <= 9 and len(words) == len(listing.title.split())
        assert listing.price > 0 and round(listing.price, 2) == listing.price
        shown = re.fullmatch(r"£([\d,]+\.\d\d)pw", listing.price_text)
        assert shown and float(shown.group(1).replace(",", "")) == listing.price
        assert re.fullmatch(r"/images/i\d\d\.jpg", listing.image)
        assert listing.description and listing.address.endswith("London")


def test_item_is_the_item_line_contract() -> None:
    catalog = Catalog(40, seed=2)
    item = catalog.item(31, "http://127.0.0.1:9312/")
    listing = catalog.listing(31)
    assert item == {
        "url": "http://127.0.0.1:9312/properties/property_000031.html",
        "title": listing.title,
        "price": listing.price,
        "description": listing.description,
        "address": listing.address,
        "image": "http://127.0.0.1:9312" + listing.image,
    }


def test_title_words_lowercases_and_splits_on_non_alphanumerics() -> None:
    assert title_words("Sunny  Garden-Flat, garden; 2 BEDS_en-suite!") == {
        "sunny", "garden", "flat", "2", "beds", "en", "suite"
    }  # fmt: skip
    assert title_words("") == set()


def test_vocabulary_is_clean_and_sized() -> None:
    words = [*FILLER_WORDS, *PLANTED_EFFECTS]
    assert len(words) == len(set(words)) and 250 <= len(words) <= 500
    assert all(re.fullmatch(r"[a-z]+", w) for w in words)
    assert 24 <= len(PLANTED_EFFECTS) <= 48
    effects = sorted(PLANTED_EFFECTS.values())
    assert effects[0] < 0 < effects[-1] and all(0.05 <= abs(e) <= 0.40 for e in effects)
    # At most len(weights)-1 planted words per title: even the worst titles keep price > 0.
    assert 1 + sum(effects[: len(PLANTED_PER_TITLE_WEIGHTS) - 1]) > 0


def brute_force_shifts(catalog: Catalog) -> dict[str, tuple[float, int, float]]:
    listings = [catalog.listing(i) for i in range(catalog.total)]
    average = sum(x.price for x in listings) / len(listings)
    vocabulary = set().union(*(title_words(x.title) for x in listings))
    result = {}
    for word in vocabulary:
        with_word = [x.price for x in listings if word in title_words(x.title)]
        others = [x.price for x in listings if word not in title_words(x.title)]
        if others:
            shift = (sum(with_word) / len(with_word) - sum(others) / len(others)) / average
            result[word] = (shift, len(with_word), sum(with_word))
    return result


@pytest.mark.parametrize(("total", "seed"), [(400, 0), (257, 11)])
def test_truth_equals_brute_force(total: int, seed: int) -> None:
    catalog = Catalog(total, seed)
    expected = brute_force_shifts(catalog)
    truth = catalog.truth()
    assert set(truth) == set(expected)
    for word, (shift, count, total_price) in expected.items():
        assert truth[word].word == word
        assert truth[word].count == count
        assert truth[word].sum == pytest.approx(total_price, rel=1e-12)
        assert truth[word].shift == pytest.approx(shift, rel=1e-9, abs=1e-12)
    assert catalog.average_price == pytest.approx(
        sum(catalog.listing(i).price for i in range(total)) / total, rel=1e-12
    )


def test_truth_omits_words_in_every_listing() -> None:
    assert Catalog(1).truth() == {}
    assert math.isfinite(Catalog(1).average_price)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_signs_are_recoverable_from_2000_listings(seed: int) -> None:
    truth = Catalog(2000, seed).truth()
    for word, effect in PLANTED_EFFECTS.items():
        assert truth[word].count >= 80, word
        assert math.copysign(1, truth[word].shift) == math.copysign(1, effect), word


def test_truth_is_computed_once() -> None:
    catalog = Catalog(3000)
    assert catalog.truth() is catalog.truth()
