"""Follow a growing JSON-lines log: new events since the last read; other lines counted, skipped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class JsonTail:
    """Reads the complete lines appended to `path` since the previous call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.other_lines = 0
        self.events: set[str] = set()

    def read(self) -> list[dict[str, Any]]:
        """The JSON objects in the lines completed since the last call."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(chunk)
        *lines, self.partial = (self.partial + chunk).split(b"\n")
        events = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                self.other_lines += 1
                continue
            if isinstance(event, dict):
                events.append(event)
                self.events.add(str(event.get("event")))
            else:
                self.other_lines += 1
        return events

    def seen(self, name: str) -> bool:
        """Whether an event `name` was logged so far."""
        self.read()
        return name in self.events
