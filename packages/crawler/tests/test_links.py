"""HrefLinks finds what Scrapy's LinkExtractor finds on the demo site's pages, in order."""

from __future__ import annotations

import pytest
from scrapy.http import HtmlResponse
from scrapy.linkextractors import LinkExtractor

from scrapyfleet.crawler.spiders.easy import EasySpider
from scrapyfleet.crawler.spiders.links import HrefLinks
from scrapyfleet.demosite.catalog import Catalog
from scrapyfleet.demosite.pages import index_page, property_page

SITE = "http://127.0.0.1:9312/properties/"
CATALOG = Catalog(total=95, seed=1)  # 4 index pages: the last one is short and has no `next`


@pytest.mark.parametrize("page", [0, 1, 3])
@pytest.mark.parametrize("xpath", ['//*[contains(@class,"next")]', '//*[@itemprop="url"]'])
def test_same_links_as_scrapys_link_extractor(page: int, xpath: str) -> None:
    url = f"{SITE}index_{page:05d}.html"
    response = HtmlResponse(url, body=index_page(CATALOG, page).encode(), encoding="utf-8")
    expected = [link.url for link in LinkExtractor(restrict_xpaths=xpath).extract_links(response)]
    assert [link.url for link in HrefLinks(xpath).extract_links(response)] == expected
    assert expected or (page == 3 and "next" in xpath)  # the comparison is not vacuous


def test_no_links_on_a_property_page() -> None:
    response = HtmlResponse(f"{SITE}property_000001.html", encoding="utf-8",
                            body=property_page(CATALOG.listing(1)).encode())  # fmt: skip
    for rule in EasySpider.rules:
        assert rule.link_extractor.extract_links(response) == []
