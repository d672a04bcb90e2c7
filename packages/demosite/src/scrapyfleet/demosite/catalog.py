"""The property catalogue: listing i is a pure function of (seed, i), plus the ground truth.

Nothing is stored: any listing is drawn on request from its own `random.Random`. A title has
3-9 distinct vocabulary words, at most three of them planted; its price is
`base (uniform 700-1300) x (1 + sum of the planted words' effects)`, rounded to pence as shown,
and positive since the three most negative effects sum above -1. The ground truth
(`Catalog.truth`) tallies every listing once, in integer pence, so it is exact.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from scrapyfleet.demosite.vocabulary import (
    DISTRICTS,
    FILLER_WORDS,
    IMAGE_COUNT,
    PLANTED_EFFECTS,
    PLANTED_PER_TITLE_WEIGHTS,
    STREET_KINDS,
    STREET_NAMES,
)

LISTINGS_PER_PAGE = 30
PROPERTY_PATH = "/properties/property_%06d.html"
INDEX_PATH = "/properties/index_%05d.html"
BASE_PRICE = (700.0, 1300.0)
TITLE_LENGTH = (3, 9)
DESCRIPTION_LENGTH = (12, 29)
LISTING_CACHE_SIZE = 4096  # an index page warms the next property pages; bounded memory

_PLANTED = tuple(PLANTED_EFFECTS)
_PLANTED_CUM = tuple(itertools.accumulate(PLANTED_PER_TITLE_WEIGHTS))
_FILLER_CUM = tuple(itertools.accumulate(1.0 / (rank + 8) for rank in range(len(FILLER_WORDS))))
# Descriptions are slices of one fixed run of filler words: two draws per description.
_PROSE = random.Random(0).choices(FILLER_WORDS, cum_weights=_FILLER_CUM, k=4096)
_NON_WORD = re.compile(r"[\W_]+")


def title_words(title: str) -> set[str]:
    """The distinct lower-cased words of a title (split on anything not a letter or digit)."""
    return {word for word in _NON_WORD.split(title.lower()) if word}


@dataclass(frozen=True, slots=True)
class Listing:
    """One property as its pages show it."""

    index: int
    title: str
    price: float
    price_text: str
    description: str
    address: str
    image: str


@dataclass(frozen=True, slots=True)
class WordTruth:
    """Exact statistics of one title word over the whole catalogue."""

    word: str
    shift: float
    count: int
    sum: float


def _pick(choices: tuple[str, ...], r: float) -> str:
    return choices[int(r * len(choices))]


def price_text(price: float) -> str:
    """A weekly rent as the site shows it, e.g. `£1,234.50pw`."""
    return f"£{price:,.2f}pw"


class Catalog:
    """`total` listings drawn deterministically from `seed`."""

    def __init__(self, total: int = 50_000, seed: int = 0) -> None:
        if total < 1:
            raise ValueError(f"total must be >= 1, got {total}")
        self.total = total
        self.seed = seed
        self._truth: dict[str, WordTruth] | None = None
        self._average_price = math.nan
        self._cached_listing = lru_cache(maxsize=LISTING_CACHE_SIZE)(self._make_listing)

    @property
    def index_pages(self) -> int:
        """Number of index pages, `ceil(total / 30)`; page p lists listings 30p .. 30p+29."""
        return -(-self.total // LISTINGS_PER_PAGE)

    @staticmethod
    def listing_path(i: int) -> str:
        return PROPERTY_PATH % i

    @staticmethod
    def index_path(p: int) -> str:
        return INDEX_PATH % p

    def planted_effects(self) -> dict[str, float]:
        """Word -> planted price effect (the words not listed have none)."""
        return dict(PLANTED_EFFECTS)

    def listing(self, i: int) -> Listing:
        """Listing `i`; IndexError unless 0 <= i < total."""
        if not 0 <= i < self.total:
            raise IndexError(f"listing {i} out of range 0..{self.total - 1}")
        return self._cached_listing(i)

    def item(self, i: int, base_url: str) -> dict[str, Any]:
        """The item-line fields a crawler should extract from listing `i`'s page."""
        listing = self.listing(i)
        base = base_url.rstrip("/")
        return {
            "url": base + self.listing_path(i),
            "title": listing.title,
            "price": listing.price,
            "description": listing.description,
            "address": listing.address,
            "image": base + listing.image,
        }

    def truth(self) -> dict[str, WordTruth]:
        """Exact shift of every title word over all listings (computed once).

        Words present in every listing have no "others" to compare with and are omitted.
        """
        if self._truth is None:
            self._truth = self._tally()
        return self._truth

    @property
    def average_price(self) -> float:
        """Average price of all listings."""
        self.truth()
        return self._average_price

    def _draw(self, i: int) -> tuple[Callable[[], float], list[str], float]:
        """The generator, title words and price of listing `i` (the truth needs no more).

        Only `random()` draws (by index, bisect or multiplication): the cheap ones.
        """
        rand = random.Random((self.seed << 40) ^ i).random  # one stream per (seed, i < 2**40)
        shortest, longest = TITLE_LENGTH
        length = shortest + int(rand() * (longest - shortest + 1))
        planted_count = bisect.bisect(_PLANTED_CUM, rand() * _PLANTED_CUM[-1])
        words: list[str] = []
        while len(words) < length - planted_count:
            word = FILLER_WORDS[bisect.bisect(_FILLER_CUM, rand() * _FILLER_CUM[-1])]
            if word not in words:
                words.append(word)
        effect = 0.0
        while planted_count:
            word = _PLANTED[int(rand() * len(_PLANTED))]
            if word not in words:
                words.insert(int(rand() * (len(words) + 1)), word)
                effect += PLANTED_EFFECTS[word]
                planted_count -= 1
        low, high = BASE_PRICE
        price = round((low + (high - low) * rand()) * (1.0 + effect), 2)
        return rand, words, price

    def _make_listing(self, i: int) -> Listing:
        rand, words, price = self._draw(i)
        shortest, longest = DESCRIPTION_LENGTH
        start = int(rand() * (len(_PROSE) - longest))
        sentence = _PROSE[start : start + shortest + int(rand() * (longest - shortest + 1))]
        district = _pick(DISTRICTS, rand())
        street = (
            f"{1 + int(rand() * 240)} {_pick(STREET_NAMES, rand())} {_pick(STREET_KINDS, rand())}"
        )
        return Listing(
            index=i,
            title=" ".join(word.capitalize() for word in words),
            price=price,
            price_text=price_text(price),
            description=f"{' '.join(sentence).capitalize()}. Close to {district}.",
            address=f"{street}, {district}, London",
            image=f"/images/i{1 + int(rand() * IMAGE_COUNT):02d}.jpg",
        )

    def _tally(self) -> dict[str, WordTruth]:
        counts: dict[str, int] = {}
        pence: dict[str, int] = {}
        all_pence = 0
        for i in range(self.total):
            _, words, price = self._draw(i)
            p = round(price * 100)
            all_pence += p
            for word in words:
                counts[word] = counts.get(word, 0) + 1
                pence[word] = pence.get(word, 0) + p
        n = self.total
        average = all_pence / 100 / n
        self._average_price = average
        truth = {}
        for word, count in counts.items():
            if count == n:
                continue
            with_word = pence[word] / 100 / count
            without = (all_pence - pence[word]) / 100 / (n - count)
            truth[word] = WordTruth(word, (with_word - without) / average, count, pence[word] / 100)
        return truth
