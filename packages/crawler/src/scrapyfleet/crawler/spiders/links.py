"""A LinkExtractor for pages whose links are plain `<a href>`s, for CrawlSpider rules.

Scrapy's LinkExtractor checks every link for extensions, domains and allow/deny patterns and
makes it safe before joining it: on the master, whose work is index pages of 30 links each, that
was a third of its CPU (py-spy, docs/performance.md). This one takes the `href` of every `a` at or
under the elements its XPath selects and joins it to the page's URL; duplicates are dropped, as by
LinkExtractor.
"""

from __future__ import annotations

from scrapy.http import Response
from scrapy.link import Link
from scrapy.linkextractors import LinkExtractor


class HrefLinks(LinkExtractor):
    """The links of the `a` elements at or under what `restrict_xpath` selects."""

    def __init__(self, restrict_xpath: str) -> None:
        super().__init__(restrict_xpaths=restrict_xpath)
        self.href_xpath = f"{restrict_xpath}/descendant-or-self::a/@href"

    def extract_links(self, response: Response) -> list[Link]:
        hrefs = response.xpath(self.href_xpath).getall()
        return [Link(url) for url in dict.fromkeys(response.urljoin(h.strip()) for h in hrefs)]
