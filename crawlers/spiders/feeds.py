"""Feeds and sitemaps: what a source announces, for :class:`crawlers.spiders.news.NewsSpider`.

A mixin of the spider: requests for feed and sitemap documents (counted and bounded), their
parsing into announced URLs (``candidates``, newest kept), and, with a shared frontier, the
count of discovery documents in flight across processes and the announced URLs shared.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import scrapy
from scrapy.http import Response

from crawlers.discovery import Entry, maybe_gunzip, parse_feed, parse_sitemap
from crawlers.guard import ALLOWED_SCHEMES, url_scheme
from crawlers.urls import normalise, site_key

if TYPE_CHECKING:
    from crawlers.seeds import Source


class FeedDiscovery:
    """Feed and sitemap handling of :class:`crawlers.spiders.news.NewsSpider`."""

    if TYPE_CHECKING:  # the spider's state and helpers that this part uses
        source: Source
        shared: Any  # crawlers.frontier.Announcements with a shared frontier
        logger: Any
        scheduled: set[str]
        candidates: dict[str, Entry]
        unshared: list[str]
        domains: set[str]
        announced: int
        discovery_docs: int
        scheme_warnings: int
        max_discovery_docs: int
        max_discovery_bytes: int
        max_sitemap_depth: int
        max_doc_entries: int
        max_candidates: int

        def _count(self, key: str, n: int = 1) -> None: ...
        def _in_scope(self, url: str) -> bool: ...
        def _not_modified(self, response: Response) -> bool: ...
        def _remember(self, response: Response, kind: str,
                      hint_date: datetime | None = None) -> None: ...  # fmt: skip
        def _request(self, url: str, callback: Any, kind: str,
                     **meta: Any) -> scrapy.Request: ...  # fmt: skip

    def _discovery_request(
        self, url: str, callback: Any, kind: str, depth: int = 0
    ) -> scrapy.Request:
        """A feed or sitemap request: counted against NEWSDEDUP_MAX_DISCOVERY_DOCS and cut
        off past NEWSDEDUP_MAX_DISCOVERY_BYTES (on the wire and after decompression)."""
        self.discovery_docs += 1
        self._count(f"{kind}_documents")
        return self._request(
            url, callback, kind, priority=100, sitemap_depth=depth,
            download_maxsize=self.max_discovery_bytes,
        )  # fmt: skip

    # -- shared frontier: discovery in flight ----------------------------------------------

    def on_scheduled(self, request: scrapy.Request, spider: scrapy.Spider) -> None:
        meta = request.meta
        if meta.get("kind") in ("feed", "sitemap") and not (
            meta.get("retry_times") or meta.get("redirect_times")
        ):
            self.shared.discovery(+1)

    def on_dropped(self, request: scrapy.Request, spider: scrapy.Spider) -> None:
        if request.meta.get("kind") in ("feed", "sitemap"):
            self.shared.discovery(-1)  # queued by another process, or a redirect seen before

    def _discovery_done(self) -> None:
        if self.shared is not None:
            self.shared.discovery(-1)

    # -- discovery -------------------------------------------------------------------------

    def parse_feed(self, response: Response) -> None:
        try:
            self._parse_feed(response)
        finally:
            self._discovery_done()

    def _parse_feed(self, response: Response) -> None:
        if self._not_modified(response):
            return
        self._remember(response, "feed")
        entries = parse_feed(response.body)
        if len(entries) > self.max_doc_entries:
            self._count("skipped/doc_entries", len(entries) - self.max_doc_entries)
            entries = entries[: self.max_doc_entries]
        self._count("feed_entries", len(entries))
        for entry in entries:
            self._announce(response, entry)
        self._share_candidates()

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        try:
            yield from self._parse_sitemap(response)
        finally:
            self._discovery_done()

    def _parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        if self._not_modified(response):
            return
        self._remember(response, "sitemap")
        try:
            body = maybe_gunzip(response.body, self.max_discovery_bytes)
        except (OSError, EOFError, ValueError, zlib.error) as exc:
            # A sitemap that fails to decompress (or inflates past the bound) is an error of
            # the site, named in the run's errors.
            kind = "sitemap_too_large" if "inflates past" in str(exc) else "sitemap_gzip"
            self.logger.warning("unreadable sitemap %s: %s", response.url, exc)
            self._count(f"errors/{kind}")
            return
        entries = parse_sitemap(body)
        del body
        if len(entries) > self.max_doc_entries:
            self._count("skipped/doc_entries", len(entries) - self.max_doc_entries)
            entries = entries[: self.max_doc_entries]
        self._count("sitemap_entries", len(entries))
        depth = response.meta.get("sitemap_depth", 0) + 1
        children = [e for e in entries if e.is_sitemap]
        # Newest child sitemaps first, so that the bound on documents keeps the fresh ones.
        children.sort(key=lambda e: e.date or datetime.min.replace(tzinfo=UTC), reverse=True)
        for entry in children:
            url = normalise(response.urljoin(entry.url))
            if url in self.scheduled:
                continue
            scheme = url_scheme(url)
            if scheme not in ALLOWED_SCHEMES:
                # Never file://, ftp://, s3://...: counted like the guard's refusals (and
                # logged a few times only: a sitemap may list thousands).
                self._count(f"blocked_scheme/{scheme or 'none'}")
                self.scheme_warnings += 1
                if self.scheme_warnings <= 5:
                    self.logger.warning("sitemap %s names %s: only http(s) is fetched",
                                        response.url, url)  # fmt: skip
                continue
            if site_key(url) not in self.domains:
                self._count("skipped/out_of_scope")
                continue
            if depth > self.max_sitemap_depth:
                self._count("skipped/sitemap_depth")
                continue
            if self.discovery_docs >= self.max_discovery_docs:
                self._count("skipped/discovery_docs")
                continue
            yield self._discovery_request(url, self.parse_sitemap, "sitemap", depth)
        for entry in entries:
            if not entry.is_sitemap:
                self._announce(response, entry)
        self._share_candidates()

    def _announce(self, response: Response, entry: Entry) -> None:
        url = normalise(response.urljoin(entry.url))
        scheme = url_scheme(url)
        if scheme not in ALLOWED_SCHEMES:
            self._count(f"blocked_scheme/{scheme or 'none'}")
            return
        if not self._in_scope(url):
            self._count("skipped/out_of_scope")
            return
        max_age = self.source.max_age
        if max_age and entry.date and entry.date < datetime.now(UTC) - max_age:
            self._count("skipped/too_old")
            return
        if url in self.scheduled:
            return
        known = self.candidates.get(url)
        if known is None:
            self.announced += 1
        if known is None or (entry.date and (known.date is None or entry.date > known.date)):
            title = entry.title or (known.title if known else None)
            self.candidates[url] = Entry(url, entry.date, title)
            if self.shared is not None and known is None:
                self.unshared.append(url)
            if len(self.candidates) > self.max_candidates + self.max_candidates // 4:
                self._trim_candidates()

    def _trim_candidates(self) -> None:
        """Keep the newest NEWSDEDUP_MAX_CANDIDATES announced URLs (only the newest
        max_pages are ever scheduled); the rest are counted and dropped for this run."""
        ordered = sorted(
            self.candidates.values(),
            key=lambda e: (e.date is not None, e.date or datetime.min.replace(tzinfo=UTC)),
            reverse=True,
        )
        dropped = ordered[self.max_candidates :]
        for entry in dropped:
            del self.candidates[entry.url]
        self._count("skipped/candidates", len(dropped))

    def _share_candidates(self) -> None:
        """With a shared frontier, tell the other processes which URLs are announced."""
        if self.shared is not None:
            self.shared.add(self.unshared)
            self.unshared.clear()
