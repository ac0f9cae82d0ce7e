"""Network guard: by default the crawler talks only to public internet addresses.

Loopback, private, link-local (cloud metadata at 169.254.169.254), multicast, reserved and
unspecified addresses are refused, whether a URL names them directly or a hostname resolves
to them, and whether the request is a page, robots.txt, a feed, a sitemap or a redirect.
``--allow-private`` (setting ``NEWSDEDUP_ALLOW_PRIVATE``) lifts the guard for local sites.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import IgnoreRequest
from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer
from twisted.internet.error import DNSLookupError

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler


class BlockedAddress(IgnoreRequest):
    """A request to a non-public address while the guard is on."""


def is_public_ip(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_global) and not ip.is_multicast


def literal_ip(host: str) -> str | None:
    """The address when ``host`` is written as an IP address, else None."""
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    return host


def check_host(host: str) -> str | None:
    """Why ``host`` must not be contacted, or None when it names no address by itself."""
    if not host:
        return "URL has no host"
    lowered = host.lower().rstrip(".")
    if lowered == "localhost" or lowered.endswith(".localhost"):
        return f"{host} is a loopback name"
    address = literal_ip(lowered)
    if address is not None and not is_public_ip(address):
        return f"{host} is a non-public address"
    return None


class NetworkGuardMiddleware:
    """Downloader middleware refusing URLs whose host is a non-public IP literal.

    Hostnames are checked after resolution by :class:`GuardedResolver`, which sees the
    address the connection would really use.
    """

    def __init__(self, allow_private: bool, crawler: Crawler | None = None) -> None:
        self.allow_private = allow_private
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NetworkGuardMiddleware:
        return cls(crawler.settings.getbool("NEWSDEDUP_ALLOW_PRIVATE"), crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if self.allow_private:
            return None
        from urllib.parse import urlsplit

        host = urlsplit(request.url).hostname or ""
        reason = check_host(host)
        if reason:
            if self.crawler is not None and self.crawler.stats is not None:
                self.crawler.stats.inc_value("newsdedup/blocked_private")
            raise BlockedAddress(
                f"network guard refused {request.url}: {reason} (use --allow-private for local sites)"
            )
        return None


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, failing lookups that resolve to non-public addresses."""

    allow_private = False

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: Any) -> GuardedResolver:
        resolver = super().from_crawler(crawler, reactor)
        resolver.allow_private = crawler.settings.getbool("NEWSDEDUP_ALLOW_PRIVATE")
        return resolver

    def getHostByName(self, name: str, timeout: Any = ()) -> defer.Deferred:  # noqa: N802
        d = super().getHostByName(name, timeout)
        if self.allow_private:
            return d

        def check(address: str) -> str:
            if not is_public_ip(address):
                raise DNSLookupError(
                    f"network guard refused {name}: it resolves to non-public address {address}"
                )
            return address

        d.addCallback(check)
        return d
