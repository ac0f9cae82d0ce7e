"""The links of a listing page, as ``LinkExtractor(deny_extensions=...)`` gives them, then
normalised (:func:`crawlers.urls.normalise`), for a fraction of the CPU.

Scrapy's extractor joins, quotes (``safe_url_string``), joins again and filters every link
of every page, and collects each link's text. A site's listing pages repeat most of their
links (navigation, sections, the same teasers on the next page), so here each distinct href
is resolved once, by the same functions in the same order, and remembered: a path-absolute
or absolute href under the scheme and host of the page's base URL, any other href under the
page's base URL itself. The link text, which the crawl does not use, is not collected.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urljoin, urlparse, urlsplit

from scrapy.http import TextResponse
from scrapy.linkextractors import _is_valid_url
from scrapy.utils.response import get_base_url
from w3lib.html import strip_html5_whitespace
from w3lib.url import safe_url_string

from crawlers.urls import normalise

_XHTML = "{http://www.w3.org/1999/xhtml}"
_TAGS = ("a", "area", f"{_XHTML}a", f"{_XHTML}area")


class PageLinks:
    """Memoised link extraction. ``max_cached`` bounds the memory: the memo is emptied when
    it grows past it."""

    def __init__(self, deny_extensions: Iterable[str], max_cached: int = 50_000) -> None:
        self.deny_extensions = tuple("." + e for e in deny_extensions)
        self.max_cached = max_cached
        # key -> (the link as Scrapy's extractor gives it, normalised) or None when refused
        self._memo: dict[tuple[str, ...], tuple[str, str] | None] = {}

    def _resolve(
        self, base: str, href: str, response_url: str, encoding: str
    ) -> tuple[str, str] | None:
        """What ``LinkExtractor._extract_links`` and ``_link_allowed`` make of one href."""
        try:
            url = urljoin(base, href)
            url = safe_url_string(url, encoding=encoding)
        except ValueError:
            return None
        url = urljoin(response_url, url)
        if not _is_valid_url(url):
            return None
        if urlparse(url).path.lower().endswith(self.deny_extensions):
            return None
        return url, normalise(url)

    def extract(self, response: TextResponse) -> list[str]:
        """The page's normalised links in document order, one per distinct extracted URL (as
        Scrapy's ``unique``: two links that differ only by what ``normalise`` removes both
        come out)."""
        base = get_base_url(response)
        response_url = response.url
        encoding = response.encoding
        parts = urlsplit(base)
        origin = f"{parts.scheme}://{parts.netloc}|{urlsplit(response_url).scheme}|{encoding}"
        page_key = f"{base}|{response_url}|{encoding}"
        memo = self._memo
        if len(memo) > self.max_cached:
            memo.clear()
        seen: set[str] = set()
        out: list[str] = []
        for el in response.selector.root.iter(*_TAGS):
            href = el.get("href")
            if href is None:
                continue
            href = strip_html5_whitespace(href)
            # The join of a path-absolute or absolute href depends only on the base's
            # scheme and host (and on the response's scheme, for the second join).
            absolute = href[:8].lower().startswith(("http://", "https://"))
            independent = absolute or (href.startswith("/") and not href.startswith("//"))
            key = (origin, href) if independent else (page_key, href)
            if key in memo:
                found = memo[key]
            else:
                found = memo[key] = self._resolve(base, href, response_url, encoding)
            if found is None:
                continue
            url, normalised = found
            if url not in seen:
                seen.add(url)
                out.append(normalised)
        return out
