"""Network guard: by default the crawler talks only to public internet addresses.

Loopback, private, link-local (cloud metadata at 169.254.169.254), multicast, reserved and
unspecified addresses are refused, whether a URL names them directly or a hostname resolves
to them, and whether the request is a page, robots.txt, a feed, a sitemap or a redirect
(Scrapy sends robots.txt requests and redirect targets through the downloader middlewares
again, so the guard sees them all).

- ``--allow-private`` (setting ``NEWSDEDUP_ALLOW_PRIVATE``) lifts the guard entirely, for
  local sites such as the demo network.
- ``NEWSDEDUP_ALLOW_HOSTS`` lists exceptions while the guard stays on: ``host`` or
  ``host:port`` entries (e.g. an intranet news site) that may be non-public. Every other
  address, including other ports of the same host, is still refused.

Hostnames are checked on the address they resolve to: the middleware resolves them through
the reactor's resolver before the request goes out (the address is cached, so the connection
uses the address that was checked), and :class:`GuardedResolver` refuses non-public answers
on the connection path too.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest
from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer
from twisted.internet.error import DNSLookupError

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)
DEFAULT_PORTS = {"http": 80, "https": 443}
BLOCKED_STAT = "newsdedup/blocked_private"


class BlockedAddress(IgnoreRequest):
    """A request to a non-public address while the guard is on."""


class GuardedLookupError(DNSLookupError):
    """A hostname that resolves to a non-public address while the guard is on."""

    def __init__(self, name: str, address: str) -> None:
        super().__init__(
            f"network guard refused {name}: it resolves to non-public address {address}"
        )
        self.address = address


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


class HostAllowlist:
    """``NEWSDEDUP_ALLOW_HOSTS``: ``host`` (any port) or ``host:port`` entries."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.hosts: set[str] = set()
        self.host_ports: set[tuple[str, int]] = set()
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            parts = urlsplit(entry if "//" in entry else f"//{entry}")
            host = (parts.hostname or "").rstrip(".")
            if parts.port is None:
                self.hosts.add(host)
            else:
                self.host_ports.add((host, parts.port))

    def __bool__(self) -> bool:
        return bool(self.hosts or self.host_ports)

    def allows_url(self, url: str) -> bool:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        if host in self.hosts:
            return True
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
        return (host, port) in self.host_ports

    def allows_name(self, name: str) -> bool:
        """For the resolver, which sees names without ports."""
        name = name.lower().rstrip(".")
        return name in self.hosts or any(h == name for h, _ in self.host_ports)

    @classmethod
    def from_settings(cls, settings: Any) -> HostAllowlist:
        return cls(settings.getlist("NEWSDEDUP_ALLOW_HOSTS"))


class NetworkGuardMiddleware:
    """Downloader middleware refusing requests to non-public addresses.

    Runs before robots.txt handling, so a refused host never even gets its robots.txt
    requested. Refusals are counted in ``newsdedup/blocked_private``, not as errors.
    """

    def __init__(
        self,
        allow_private: bool,
        crawler: Crawler | None = None,
        allow_hosts: HostAllowlist | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.crawler = crawler
        self.allow_hosts = allow_hosts or HostAllowlist()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NetworkGuardMiddleware:
        return cls(
            crawler.settings.getbool("NEWSDEDUP_ALLOW_PRIVATE"),
            crawler,
            HostAllowlist.from_settings(crawler.settings),
        )

    def _refuse(self, request: Request, reason: str) -> BlockedAddress:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(BLOCKED_STAT)
        return BlockedAddress(
            f"network guard refused {request.url}: {reason} (use --allow-private for local sites)"
        )

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if self.allow_private or self.allow_hosts.allows_url(request.url):
            return None
        host = urlsplit(request.url).hostname or ""
        reason = check_host(host)
        if reason:
            raise self._refuse(request, reason)
        if literal_ip(host) is not None:
            return None
        address = await self._resolve(host)
        if address is not None and literal_ip(address) is not None and not is_public_ip(address):
            raise self._refuse(request, f"{host} resolves to non-public address {address}")
        return None

    async def _resolve(self, host: str) -> str | None:
        """The address the connection will use (Scrapy's resolver caches it), or None when
        the name does not resolve: that failure is left to the download itself."""
        from scrapy.utils.defer import maybe_deferred_to_future
        from twisted.internet import reactor

        resolver = getattr(reactor, "resolver", None)
        if resolver is None:
            return None
        try:
            return await maybe_deferred_to_future(resolver.getHostByName(host))
        except GuardedLookupError as exc:
            return exc.address
        except Exception:  # noqa: BLE001 - unresolvable names fail later, as download errors
            return None


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, failing lookups that resolve to non-public addresses."""

    allow_private = False
    allow_hosts = HostAllowlist()

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: Any) -> GuardedResolver:
        resolver = super().from_crawler(crawler, reactor)
        resolver.allow_private = crawler.settings.getbool("NEWSDEDUP_ALLOW_PRIVATE")
        resolver.allow_hosts = HostAllowlist.from_settings(crawler.settings)
        return resolver

    def getHostByName(self, name: str, timeout: Any = ()) -> defer.Deferred:  # noqa: N802
        d = super().getHostByName(name, timeout)
        if self.allow_private or self.allow_hosts.allows_name(name):
            return d

        def check(address: str) -> str:
            if not is_public_ip(address):
                raise GuardedLookupError(name, address)
            return address

        d.addCallback(check)
        return d
