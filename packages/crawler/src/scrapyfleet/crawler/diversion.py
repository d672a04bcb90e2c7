"""Which of a spider's requests the fleet distributes: exactly one of three settings.

- `DISTRIBUTED_TARGET_RULE = N`: the requests of a CrawlSpider's rule N (the book's way);
- `DISTRIBUTED_TARGET_CALLBACK = "parse_item"`: every request whose callback is that method (a
  plain `scrapy.Spider` whose `parse` yields `Request(url, callback=self.parse_item)`, or a
  CrawlSpider rule with that callback);
- `DISTRIBUTED_TARGET_URLS = "regex"`: every request whose URL the regex finds.

The master diverts the matching requests into batches; a worker sends each batch URL down the
same **route** the diverted request took (`rule:N` or `callback:NAME`), which the master passes
to its jobs as `DISTRIBUTED_ROUTE`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from scrapy import Request, Spider
from scrapy.settings import BaseSettings
from scrapy.spiders import CrawlSpider

SETTINGS = {
    "rule": "DISTRIBUTED_TARGET_RULE",
    "callback": "DISTRIBUTED_TARGET_CALLBACK",
    "urls": "DISTRIBUTED_TARGET_URLS",
}
Kind = Literal["rule", "callback", "urls"]
UNSET = (None, "")


class DiversionError(ValueError):
    """The diversion settings do not fit the spider."""


@dataclass(frozen=True, slots=True)
class Diversion:
    """The configured target."""

    kind: Kind
    value: str

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Diversion | None:
        """The one target set; None when none is; DiversionError when several are."""
        given = {
            k: str(settings[n]) for k, n in SETTINGS.items() if settings.get(n) not in (None, "")
        }
        if len(given) > 1:
            names = " and ".join(SETTINGS[k] for k in given)
            raise DiversionError(f"{names} are both set: set exactly one target")
        if not given:
            return None
        ((kind, value),) = given.items()
        return cls(kind, value)  # type: ignore[arg-type]

    @property
    def setting(self) -> str:
        return f"{SETTINGS[self.kind]} = {self.value!r}"

    def check(self, spidercls: type[Spider]) -> None:
        """DiversionError when the target cannot match anything of `spidercls`."""
        if self.kind == "rule":
            if not issubclass(spidercls, CrawlSpider):
                raise DiversionError(
                    f"DISTRIBUTED_TARGET_RULE names a CrawlSpider rule, but spider "
                    f"{spidercls.name!r} is a plain Spider: use DISTRIBUTED_TARGET_CALLBACK"
                )
            try:
                index = int(self.value)
            except ValueError:
                raise DiversionError(
                    f"DISTRIBUTED_TARGET_RULE must be an integer, got {self.value!r}"
                ) from None
            rules = len(getattr(spidercls, "rules", ()))
            if not 0 <= index < rules:
                raise DiversionError(
                    f"DISTRIBUTED_TARGET_RULE = {index} is out of range: spider "
                    f"{spidercls.name!r} has {rules} rules (0..{rules - 1})"
                )
        elif self.kind == "callback":
            if not callable(getattr(spidercls, self.value, None)):
                raise DiversionError(
                    f"DISTRIBUTED_TARGET_CALLBACK = {self.value!r}: spider {spidercls.name!r} "
                    "has no such method"
                )
        else:
            try:
                re.compile(self.value)
            except re.error as exc:
                raise DiversionError(f"DISTRIBUTED_TARGET_URLS is not a regex: {exc}") from None

    def matcher(self) -> Matcher:
        return Matcher(self)


class Matcher:
    """Which route a request of the running spider is diverted to, if it is diverted."""

    def __init__(self, diversion: Diversion) -> None:
        self.kind = diversion.kind
        self.rule = int(diversion.value) if diversion.kind == "rule" else -1
        self.name = diversion.value
        self.pattern = re.compile(diversion.value) if diversion.kind == "urls" else None

    def __call__(self, request: Request, spider: Spider) -> str | None:
        """The request's route (`route`) if it is diverted, else None."""
        if self.kind == "rule":
            return route(request, spider) if request.meta.get("rule") == self.rule else None
        if self.pattern is not None:
            return route(request, spider) if self.pattern.search(request.url) else None
        name = callback_name(request, spider)
        return None if name != self.name else route(request, spider, name)


def callback_name(request: Request, spider: Spider) -> str:
    """The name of the method that will parse `request`'s response (a CrawlSpider rule's own)."""
    callback: Any = request.callback
    rule = request.meta.get("rule")
    if isinstance(spider, CrawlSpider) and rule is not None and callback == spider._callback:
        callback = spider._rules[rule].callback
    if callback is None:
        return "parse"
    return str(getattr(callback, "__name__", callback))


def route(request: Request, spider: Spider, name: str | None = None) -> str:
    """How a worker parses the response of a diverted request: `rule:N` or `callback:NAME`
    (`name`: its `callback_name`, when known)."""
    rule = request.meta.get("rule")
    if isinstance(spider, CrawlSpider) and rule is not None:
        return f"rule:{rule}"
    return f"callback:{name or callback_name(request, spider)}"
