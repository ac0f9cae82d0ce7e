"""One generic spider for every news source: feeds, sitemaps and link-following.

Discovery first collects the URLs that feeds and sitemaps announce; when the crawl goes
idle the spider schedules them newest first, up to the source's ``max_pages``. Pages
reached from ``start_urls`` are followed within the source's own sites. Only pages that
look like single articles become items; listings are followed, never emitted.

Across runs the spider is handed the validators (ETag, Last-Modified, announced date) of
what earlier runs published: such URLs are skipped unless their feed or sitemap says they
changed, and then fetched with a conditional GET.

Link-following is bounded twice: by the source's ``max_depth`` (hops from a start URL) and by
``NEWSDEDUP_MAX_LINK_PAGES`` pages fetched through links (default twice ``max_pages``). Where
feeds or sitemaps announce the source's pages, links are a fallback: after
``NEWSDEDUP_FRUITLESS_LINK_PAGES`` link-fetched pages in a row that offered nothing new (every
link a listing, or announced, requested or seen already), the source stops following links.
Responses to page requests whose Content-Type is not HTML are cut off after the headers.
Failures are counted by kind: robots.txt refusals and network-guard refusals have their own
counters (``robotstxt/forbidden``, ``newsdedup/blocked_private``,
``newsdedup/blocked_scheme/<scheme>``), oversized bodies count as ``skipped/too_large``,
requests left for the next run as ``newsdedup/deferred``, everything else under
``newsdedup/errors/<kind>`` (``redirect_to_<scheme>``, ``redirect_loop``, ``sitemap_gzip``...).

Discovery is bounded per source and run (crawlers/settings.py): feed and sitemap documents
(``NEWSDEDUP_MAX_DISCOVERY_DOCS``), sitemap-index depth (``NEWSDEDUP_MAX_SITEMAP_DEPTH``),
entries per document (``NEWSDEDUP_MAX_DOC_ENTRIES``), announced URLs held
(``NEWSDEDUP_MAX_CANDIDATES``) and bytes per document (``NEWSDEDUP_MAX_DISCOVERY_BYTES``);
only http(s) URLs are ever requested.
"""

from __future__ import annotations

import json
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, IgnoreRequest, StopDownload
from scrapy.http import HtmlResponse, Response

from crawlers import settings as defaults
from crawlers.classify import judge, listing_url
from crawlers.discovery import Entry
from crawlers.guard import ALLOWED_SCHEMES, BlockedAddress, BlockedScheme, url_scheme
from crawlers.middlewares import DeferredToNextRun, RedirectLoop
from crawlers.records import Page, Rejected, page_headers
from crawlers.seeds import Source, load_seeds
from crawlers.spiders.feeds import FeedDiscovery
from crawlers.spiders.links import PageLinks
from crawlers.urls import normalise, requested_url, site, site_key, split_credentials

SKIP_EXTENSIONS = [
    "pdf", "jpg", "jpeg", "png", "gif", "webp", "svg", "mp3", "mp4", "zip", "gz", "doc",
    "docx", "xls", "xlsx", "ppt", "pptx", "css", "js", "ico", "woff", "woff2", "xml",
]


HTML_TYPES = ("text/html", "application/xhtml+xml")
PAGE_KINDS = ("article", "link", "start")
# Listing pages link-following requests at a time per source (the default per-site
# concurrency): the others wait, so a home page's dozens of section, tag and author pages are
# not all fetched before the first of them show that they only list announced articles.
LISTINGS_IN_FLIGHT = 2


class NewsSpider(FeedDiscovery, scrapy.Spider):
    name = "news"

    def __init__(
        self,
        source: Source | str | None = None,
        seeds: str | None = None,
        seen: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(source, Source):
            self.source = source
        elif isinstance(source, str) and source.lstrip().startswith("{"):
            self.source = Source.from_dict(json.loads(source))
        elif isinstance(source, str) and seeds:
            (self.source,) = load_seeds(seeds).select([source])
        else:
            raise ValueError("NewsSpider needs -a source=NAME -a seeds=FILE (or a Source)")
        if isinstance(seen, str):
            path = Path(seen)
            self.seen: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        else:
            self.seen = dict(seen or {})
        declared = self.source.feeds + self.source.sitemaps + self.source.start_urls
        # The sites of the seeds' URLs, "www." or not: a site's pages link both forms of its name.
        self.domains = {site_key(u) for u in declared}
        # Credentials given in the seeds' URLs apply to every request to that host:port.
        self.site_auth = {
            site(u): auth for u in declared if (auth := split_credentials(u)[1]) is not None
        }
        self.allow = [re.compile(p) for p in self.source.allow]
        self.deny = [re.compile(p) for p in self.source.deny]
        self.page_links = PageLinks(SKIP_EXTENSIONS)  # LinkExtractor's links, memoised
        self.candidates: dict[str, Entry] = {}  # announced by feeds/sitemaps, not yet scheduled
        self.scheduled: set[str] = set()  # URLs requested (or about to be) in this run
        self.validators: dict[str, dict[str, Any]] = {}  # what the next run may send back
        self.articles_emitted = 0
        # Articles found through links, not announced, and how many this run may emit: set
        # by the flow from what the source published in its last runs (NEWSDEDUP_SOURCE_CAPS).
        self.link_articles = 0
        self.link_article_cap: int | None = None
        self.listing_pages = 0
        self.ok_responses = 0
        self.link_pages = 0  # pages requested through link-following (start URLs included)
        self.max_link_pages = 2 * self.source.max_pages  # NEWSDEDUP_MAX_LINK_PAGES overrides
        self.announced = 0  # distinct URLs feeds and sitemaps announced in this run
        self.fruitless_link_pages = 0  # link-fetched pages in a row that offered nothing new
        self.max_fruitless_link_pages = defaults.NEWSDEDUP_FRUITLESS_LINK_PAGES
        # Listing pages found by link-following wait here and are requested a few at a time,
        # so that the ones queued behind are not fetched once links stop paying.
        self.held_listings: deque[tuple[str, int]] = deque()  # (url, link depth)
        self.listings_in_flight = 0
        self.shared: Any = None  # crawlers.frontier.Announcements with a shared frontier
        self.unshared: list[str] = []  # candidates not yet added to self.shared
        self.held_starts: list[str] = []  # start URLs waiting for the shared discovery
        self.held_since = 0.0
        # Bounds on what feeds and sitemaps can make the spider fetch and hold (settings
        # NEWSDEDUP_MAX_DISCOVERY_*, set in from_crawler).
        self.discovery_docs = 0  # feed and sitemap documents requested in this run
        self.scheme_warnings = 0
        self.max_discovery_docs = defaults.NEWSDEDUP_MAX_DISCOVERY_DOCS
        self.max_sitemap_depth = defaults.NEWSDEDUP_MAX_SITEMAP_DEPTH
        self.max_doc_entries = defaults.NEWSDEDUP_MAX_DOC_ENTRIES
        self.max_candidates = defaults.NEWSDEDUP_MAX_CANDIDATES
        self.max_discovery_bytes = defaults.NEWSDEDUP_MAX_DISCOVERY_BYTES

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.on_idle, signal=signals.spider_idle)
        crawler.signals.connect(spider.on_headers, signal=signals.headers_received)
        limit = crawler.settings.getint("NEWSDEDUP_MAX_LINK_PAGES")
        spider.max_link_pages = limit if limit > 0 else 2 * spider.source.max_pages
        spider.max_fruitless_link_pages = crawler.settings.getint(
            "NEWSDEDUP_FRUITLESS_LINK_PAGES", spider.max_fruitless_link_pages
        )
        caps = crawler.settings.getdict("NEWSDEDUP_SOURCE_CAPS")
        if spider.source.name in caps:
            spider.link_article_cap = int(caps[spider.source.name])
        settings = crawler.settings
        spider.max_discovery_docs = settings.getint(
            "NEWSDEDUP_MAX_DISCOVERY_DOCS", spider.max_discovery_docs)
        spider.max_sitemap_depth = settings.getint(
            "NEWSDEDUP_MAX_SITEMAP_DEPTH", spider.max_sitemap_depth)
        spider.max_doc_entries = settings.getint(
            "NEWSDEDUP_MAX_DOC_ENTRIES", spider.max_doc_entries)
        spider.max_candidates = settings.getint("NEWSDEDUP_MAX_CANDIDATES", spider.max_candidates)
        spider.max_discovery_bytes = min(
            settings.getint("NEWSDEDUP_MAX_DISCOVERY_BYTES", spider.max_discovery_bytes),
            settings.getint("DOWNLOAD_MAXSIZE") or 2**62,
        )
        if crawler.settings.get("NEWSDEDUP_FRONTIER_REDIS_URL"):
            from crawlers.frontier import Announcements  # scrapy-redis, only when shared

            spider.shared = Announcements.from_settings(crawler.settings)
            crawler.signals.connect(spider.on_scheduled, signal=signals.request_scheduled)
            crawler.signals.connect(spider.on_dropped, signal=signals.request_dropped)
        return spider

    # -- helpers ---------------------------------------------------------------------------

    def _count(self, key: str, n: int = 1) -> None:
        self.crawler.stats.inc_value(f"newsdedup/{key}", n)

    def _in_scope(self, url: str) -> bool:
        if url_scheme(url) not in ALLOWED_SCHEMES or site_key(url) not in self.domains:
            return False
        if self.allow and not any(p.search(url) for p in self.allow):
            return False
        return not any(p.search(url) for p in self.deny)

    def _conditional_headers(self, url: str) -> dict[str, str]:
        known = self.seen.get(url) or {}
        headers = {}
        if known.get("etag"):
            headers["If-None-Match"] = known["etag"]
        if known.get("last_modified"):
            headers["If-Modified-Since"] = known["last_modified"]
        return headers

    def _request(self, url: str, callback: Any, kind: str, **meta: Any) -> scrapy.Request:
        url, auth = split_credentials(url)
        auth = auth or self.site_auth.get(site(url))
        self.scheduled.add(url)
        meta.update(kind=kind, handle_httpstatus_list=[304])
        headers = self._conditional_headers(url)
        if auth:
            headers["Authorization"] = auth
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_error,
            headers=headers,
            meta=meta,
            priority=meta.pop("priority", 0),
        )

    def _remember(self, response: Response, kind: str, hint_date: datetime | None = None) -> None:
        entry = {
            "kind": kind,
            "etag": (response.headers.get("ETag") or b"").decode("latin-1") or None,
            "last_modified": (response.headers.get("Last-Modified") or b"").decode("latin-1")
            or None,
            "date": hint_date.isoformat() if hint_date else None,
        }
        # Under the URL first asked for (what feeds and links name) and the final one.
        for url in {requested_url(response), normalise(response.url)}:
            self.validators[url] = entry

    def _not_modified(self, response: Response) -> bool:
        if response.status == 304:
            self.ok_responses += 1
            self._count("not_modified")
            return True
        self.ok_responses += 1
        return False

    # -- start -----------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        # The seeds' own feeds and sitemaps are always fetched (they count towards the
        # bound on documents, which then only limits what sitemap indexes add).
        for url in self.source.feeds:
            yield self._discovery_request(url, self.parse_feed, "feed")
        for url in self.source.sitemaps:
            yield self._discovery_request(url, self.parse_sitemap, "sitemap")
        if self.source.feeds or self.source.sitemaps:
            # Follow links only once the feeds and sitemaps are parsed (on_idle; with a shared
            # frontier, every process's), so that announced pages are fetched as announced,
            # and link-following is judged by what it finds beyond them.
            self.held_starts = list(self.source.start_urls)
            self.held_since = time.monotonic()
            return
        for url in self.source.start_urls:
            self.link_pages += 1
            yield self._request(url, self.parse_page, "start", link_depth=0, priority=50)

    def _release_starts(self) -> bool:
        """Schedule the held start URLs once no process is still discovering (called when
        this spider is idle, so its own discovery is done); True if done."""
        waited = time.monotonic() - self.held_since
        if (
            self.shared is not None
            and self.shared.discovering() > 0
            and waited < self.shared.discovery_wait
        ):
            return False
        starts, self.held_starts = self.held_starts, []
        for url in starts:
            self.link_pages += 1
            request = self._request(url, self.parse_page, "start", link_depth=0, priority=50)
            self.crawler.engine.crawl(request)
        return True

    def on_idle(self, spider: scrapy.Spider) -> None:
        """Schedule the announced URLs newest first once discovery has run dry."""
        if spider is not self:
            return
        if self.held_starts:
            self._release_starts()
            if not self.candidates:
                raise DontCloseSpider  # waiting for discovery, or the start URLs just queued
        if self.held_listings:
            # Nothing in flight: what parse_page would have released (a 304, a page that was
            # not HTML) is released here.
            self.listings_in_flight = 0
            for request in self._release_listings():
                self.crawler.engine.crawl(request)
            if not self.candidates and self.listings_in_flight:
                raise DontCloseSpider
        if not self.candidates:
            return
        # Idle means nothing is in flight, so every earlier page is already counted.
        budget = self.source.max_pages - self.articles_emitted
        ordered = sorted(
            self.candidates.values(),
            key=lambda e: (e.date is not None, e.date or datetime.min.replace(tzinfo=UTC)),
            reverse=True,
        )
        self.candidates.clear()
        scheduled: list[scrapy.Request] = []
        # Newest first. Scrapy's scheduler keeps a queue per priority and looks through all
        # of them on every request it hands out, so a priority per hour of publication
        # (a queue per article, on a busy site) cost more than fetching. The priority is the
        # day, and a day's requests go in oldest first: its queue is last in, first out
        # (SCHEDULER_MEMORY_QUEUE). A shared frontier (Redis) orders equal priorities by
        # their bytes, so there the priority stays the hour.
        bucket = 3600 if self.shared is not None else 86400
        for entry in ordered:
            if self._skip_as_seen(entry.url, entry.date):
                continue
            if len(scheduled) >= budget:
                self._count("skipped/max_pages")
                continue
            priority = int(entry.date.timestamp() // bucket) if entry.date else 0
            scheduled.append(
                self._request(
                    entry.url,
                    self.parse_page,
                    "article",
                    announced=True,
                    hint_date=entry.date,
                    hint_title=entry.title,
                    priority=priority,
                )
            )
        for request in reversed(scheduled):
            self.crawler.engine.crawl(request)
        if scheduled or self.held_starts:
            raise DontCloseSpider

    def _skip_as_seen(self, url: str, date: datetime | None) -> bool:
        """Already published by an earlier run and not announced as changed since."""
        known = self.seen.get(url)
        if not known or known.get("kind") != "article":
            return False
        known_date = known.get("date")
        if date and known_date and date > datetime.fromisoformat(known_date):
            self._count("refetch_changed")
            return False
        self._count("skipped/seen")
        return True

    # -- pages -----------------------------------------------------------------------------

    def parse_page(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        if meta.get("listing"):
            self.listings_in_flight -= 1
        if self._not_modified(response):
            return
        if not isinstance(response, HtmlResponse):
            self._count("skipped/not_html")
            yield self._rejected(response, "not_html")
            return
        html = response.text
        announced = bool(meta.get("announced"))
        verdict = judge(response.url, html, announced=announced)
        article = verdict.article
        past_cap = not announced and self.link_article_cap is not None and (
            self.link_articles >= self.link_article_cap
        )
        if article and (self.articles_emitted >= self.source.max_pages or past_cap):
            # Past the source's max_pages, or link-found beyond what the source's history
            # supports (a link tar-pit, mostly): not emitted, not remembered (so a later run
            # may fetch it again), and listed as such.
            self._count("skipped/source_cap")
            yield self._rejected(response, "source_cap")
        elif article:
            self.articles_emitted += 1
            self.link_articles += 0 if announced else 1
            if not announced:
                self.fruitless_link_pages = 0  # links found an article the feeds did not list
            self._remember(response, "article", meta.get("hint_date"))
            self._count("articles")
            yield Page(
                url=requested_url(response),
                final_url=response.url,
                source=self.source.name,
                status=response.status,
                fetched_at=datetime.now(UTC),
                html=html,
                encoding=response.encoding,
                headers=page_headers(response.headers),
                discovered_via=meta.get("kind", "link"),
                hint_date=meta.get("hint_date"),
                hint_title=meta.get("hint_title"),
            )
        else:
            self.listing_pages += 1
            self._count("listing_pages")
            self._remember(response, "listing")
            yield self._rejected(response, verdict.reason or "not_article")
        if meta.get("kind") in ("start", "link") and self.source.follow_links:
            yield from self._follow(response, meta.get("link_depth", 0))
        yield from self._release_listings()

    def _rejected(self, response: Response, reason: str) -> Rejected:
        """A light record of a fetched page that is no article: URL and reason, no HTML."""
        return Rejected(
            url=requested_url(response),
            final_url=response.url,
            domain=site(response.url),
            source=self.source.name,
            reason=reason,
            fetched_at=datetime.now(UTC),
            stage="crawl",
            title=response.meta.get("hint_title"),
        )

    def _follow(self, response: HtmlResponse, depth: int) -> Iterator[scrapy.Request]:
        if depth >= self.source.max_depth or self.articles_emitted >= self.source.max_pages:
            return
        if self.link_article_cap is not None and self.link_articles >= self.link_article_cap:
            return  # nothing found through links could be taken any more in this run
        if self.links_fruitless():
            self._count("skipped/links_fruitless")
            return
        links = self.page_links.extract(response)
        offered_new = False
        # With a shared frontier, what another process's feeds announced counts as announced.
        elsewhere = self.shared.known(links) if self.shared is not None else ()
        for url in links:
            if url in self.scheduled or url in self.candidates or not self._in_scope(url):
                continue
            if url in elsewhere:
                continue
            is_listing = listing_url(url)
            if not is_listing and self._skip_as_seen(url, None):
                self.scheduled.add(url)
                continue
            offered_new = offered_new or not is_listing
            if is_listing:
                self.scheduled.add(url)
                self.held_listings.append((url, depth + 1))
                continue
            if request := self._link_request(url, depth + 1):
                yield request
        self.fruitless_link_pages = 0 if offered_new else self.fruitless_link_pages + 1

    def _link_request(self, url: str, depth: int, **meta: Any) -> scrapy.Request | None:
        if self.link_pages >= self.max_link_pages:
            self._count("skipped/link_budget")
            return None
        self.link_pages += 1
        self._count("links_followed")
        return self._request(
            url, self.parse_page, "link", link_depth=depth, priority=11 - depth, **meta
        )

    def _release_listings(self) -> Iterator[scrapy.Request]:
        """Request held listing pages, LISTINGS_IN_FLIGHT at a time; none once link-following
        has stopped paying (they are counted as skipped/links_fruitless)."""
        if self.held_listings and self.links_fruitless():
            self._count("skipped/links_fruitless", len(self.held_listings))
            self.held_listings.clear()
        while self.held_listings and self.listings_in_flight < LISTINGS_IN_FLIGHT:
            url, depth = self.held_listings.popleft()
            if request := self._link_request(url, depth, listing=True):
                self.listings_in_flight += 1
                yield request

    def links_fruitless(self) -> bool:
        """Whether link-following has stopped paying for this source in this run: its feeds
        or sitemaps announce its pages, and the last NEWSDEDUP_FRUITLESS_LINK_PAGES
        link-fetched pages offered no link that was not a listing or known already."""
        limit = self.max_fruitless_link_pages
        return limit > 0 and self.announced > 0 and self.fruitless_link_pages >= limit

    def on_headers(
        self, headers: Any, body_length: int, request: scrapy.Request, **kwargs: Any
    ) -> None:
        """Stop downloading page bodies that are not HTML (PDFs, images, videos...)."""
        if request.meta.get("kind") not in PAGE_KINDS:
            return
        ctype = headers.get(b"Content-Type")
        if not ctype:
            return  # no declared type: let the body be sniffed
        media = ctype.split(b";", 1)[0].strip().decode("latin-1").lower()
        if media and media not in HTML_TYPES:
            raise StopDownload(fail=False)

    def on_error(self, failure: Any) -> None:
        request = getattr(failure, "request", None)
        if request is not None and request.meta.get("listing"):
            self.listings_in_flight -= 1
        if request is not None and request.meta.get("kind") in ("feed", "sitemap"):
            self._discovery_done()
        url = request.url if request is not None else "?"
        exc = failure.value
        message = failure.getErrorMessage()
        if isinstance(exc, BlockedAddress):
            # Counted by the guard (newsdedup/blocked_private), not an error of the site.
            self.logger.warning("%s", message)
            return
        if isinstance(exc, BlockedScheme):
            # Counted by the guard (newsdedup/blocked_scheme/<scheme>); a redirect there is
            # also the site's error.
            if exc.redirect:
                self._count(f"errors/redirect_to_{exc.scheme}")
            self.logger.warning("%s", message)
            return
        if isinstance(exc, DeferredToNextRun):
            self.logger.info("%s", message)  # counted as newsdedup/deferred
            return
        if isinstance(exc, IgnoreRequest) and "robots.txt" in message:
            return  # counted by Scrapy as robotstxt/forbidden
        if isinstance(exc, RedirectLoop):
            self._count("errors/redirect_loop")
            self.logger.warning("fetch failed %s: %s", url, message)
            return
        if isinstance(exc, IgnoreRequest) and "max redirections" in message:
            self._count("errors/too_many_redirects")
            self.logger.warning("fetch failed %s: too many redirects (a loop?)", url)
            return
        if "max size" in message or "DOWNLOAD_MAXSIZE" in message:
            kind = request.meta.get("kind") if request is not None else None
            if kind in ("feed", "sitemap"):
                # A feed or sitemap past NEWSDEDUP_MAX_DISCOVERY_BYTES: the site's error.
                self._count(f"errors/{kind}_too_large")
                self.logger.warning("dropped oversized %s %s", kind, url)
                return
            self._count("skipped/too_large")
            self.logger.warning("dropped oversized page %s", url)
            return
        response = getattr(exc, "response", None)
        if response is not None and hasattr(response, "status"):
            reason = f"http_{response.status}"
        else:
            reason = type(exc).__name__
        self._count(f"errors/{reason}")
        self.logger.warning("fetch failed %s: %s", url, message)
