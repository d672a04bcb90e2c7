"""Markup of the properties site: the book's URL scheme and schema.org microdata.

Templates are pre-built format strings; vocabulary words need no escaping.
"""

from __future__ import annotations

from scrapyfleet.demosite.catalog import LISTINGS_PER_PAGE, Catalog, Listing

INDEX_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Properties to rent, page {page}</title></head>
<body>
<h1>Properties to rent</h1>
<ul class="listings">
{listings}</ul>
<ul class="pager">{previous}{next}</ul>
</body></html>
"""
INDEX_LISTING = (
    '<li class="listing" itemscope itemtype="http://schema.org/Product">'
    '<a itemprop="url" href="property_{index:06d}.html"><span itemprop="name">{title}</span></a> '
    '<span class="price" itemprop="price">{price_text}</span></li>\n'
)
PREVIOUS_LINK = '<li class="previous"><a href="index_{page:05d}.html">Previous</a></li>'
NEXT_LINK = '<li class="next"><a href="index_{page:05d}.html">Next</a></li>'

PROPERTY_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body itemscope itemtype="http://schema.org/Product">
<h1 itemprop="name">{title}</h1>
<p><strong class="ad-price" itemprop="price">{price_text}</strong></p>
<img itemprop="image" src="{image}" alt="Photo of the property">
<p itemprop="description">{description}</p>
<address itemscope itemtype="http://schema.org/Place">{address}</address>
<p><a href="index_{page:05d}.html">Back to the listings</a></p>
</body></html>
"""


def index_page(catalog: Catalog, page: int) -> str:
    """Index page `page` (0-based): up to 30 listings and, except on the last page, `next`."""
    first = page * LISTINGS_PER_PAGE
    last = min(first + LISTINGS_PER_PAGE, catalog.total)
    listings = "".join(
        INDEX_LISTING.format(index=i, title=item.title, price_text=item.price_text)
        for i in range(first, last)
        for item in (catalog.listing(i),)
    )
    return INDEX_PAGE.format(
        page=page,
        listings=listings,
        previous=PREVIOUS_LINK.format(page=page - 1) if page > 0 else "",
        next=NEXT_LINK.format(page=page + 1) if page + 1 < catalog.index_pages else "",
    )


def property_page(listing: Listing) -> str:
    """The detail page of one listing."""
    return PROPERTY_PAGE.format(
        title=listing.title,
        price_text=listing.price_text,
        image=listing.image,
        description=listing.description,
        address=listing.address,
        page=listing.index // LISTINGS_PER_PAGE,
    )
