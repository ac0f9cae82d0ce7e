"""Network guard: by default the crawler talks only to public internet addresses.

Only ``http`` and ``https`` URLs are ever requested: any other scheme (``file``, ``ftp``,
``s3``, ``data``, ``gopher``...) is refused whatever the other settings, counted per scheme in
``newsdedup/blocked_scheme/<scheme>`` (and Scrapy's own handlers for those schemes are off in
crawlers/settings.py). A redirect to such a URL is refused the same way, and counted among the
source's errors as ``redirect_to_<scheme>``.

Loopback, private, link-local (cloud metadata at 169.254.169.254), multicast, reserved and
unspecified addresses are refused, whether a URL names them directly or a hostname resolves
to them, and whether the request is a page, robots.txt, a feed, a sitemap or a redirect
(Scrapy sends robots.txt requests and redirect targets through the downloader middlewares
again, so the guard sees them all).

- ``--allow-private`` (setting ``NEWSDEDUP_ALLOW_PRIVATE``) lifts the address check, for
  local sites such as the demo network.
- ``NEWSDEDUP_ALLOW_HOSTS`` lists exceptions while the guard stays on: ``host`` or
  ``host:port`` entries (e.g. an intranet news site) that may be non-public. Every other
  address, including other ports of the same host, is still refused.
- Cloud metadata addresses (:data:`METADATA_NETWORKS`: all of IPv4 and IPv6 link-local, the
  IPv6 metadata service address, the 100.100.100.200 metadata address) are refused even then:
  no news site lives there, and one redirect to them hands out cloud credentials.

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
from urllib.parse import urljoin, urlsplit

from scrapy.exceptions import IgnoreRequest
from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer
from twisted.internet.error import DNSLookupError

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)
DEFAULT_PORTS = {"http": 80, "https": 443}
ALLOWED_SCHEMES = frozenset(DEFAULT_PORTS)
BLOCKED_STAT = "newsdedup/blocked_private"
BLOCKED_SCHEME_STAT = "newsdedup/blocked_scheme"  # /<scheme>
METADATA_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "169.254.0.0/16",  # IPv4 link-local: the common metadata service address
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::/32",  # the IPv6 metadata service address
        "100.100.100.200/32",  # another cloud's metadata address (inside shared space)
    )
)
REDIRECTS = (301, 302, 303, 307, 308)


class BlockedAddress(IgnoreRequest):
    """A request to a non-public address while the guard is on."""


class BlockedScheme(IgnoreRequest):
    """A request (or a redirect) to a URL whose scheme is not http or https."""

    def __init__(self, message: str, scheme: str, redirect: bool = False) -> None:
        super().__init__(message)
        self.scheme = scheme
        self.redirect = redirect


def url_scheme(url: str) -> str:
    """The scheme of ``url``, lower-cased; '' when it has none."""
    head, sep, _ = url.partition(":")
    if not sep or not head or not head[0].isalpha():
        return ""
    return head.strip().lower()


def is_metadata_ip(address: str) -> bool:
    """A cloud metadata address (:data:`METADATA_NETWORKS`), refused even when private
    addresses are allowed."""
    ip = ipaddress.ip_address(address.strip("[]"))
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in METADATA_NETWORKS)


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


def check_metadata_host(host: str) -> str | None:
    """Why ``host`` must not be contacted even when private addresses are allowed."""
    address = literal_ip(host.lower().rstrip("."))
    if address is not None and is_metadata_ip(address):
        return f"{host} is a cloud metadata address"
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
    """Downloader middleware refusing requests to non-public addresses and other schemes.

    Runs before robots.txt handling, so a refused host never even gets its robots.txt
    requested. Address refusals are counted in ``newsdedup/blocked_private``, scheme refusals
    in ``newsdedup/blocked_scheme/<scheme>``; neither is an error of the site, except a
    redirect to another scheme (the spider counts it as ``errors/redirect_to_<scheme>``).
    Scrapy's redirect middleware hands such redirects back unfollowed; the guard, last to
    see every response, turns them into a refusal instead of a silent 3xx.
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

    def _inc(self, key: str) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)

    def _refuse(self, request: Request, reason: str) -> BlockedAddress:
        self._inc(BLOCKED_STAT)
        hint = "" if "metadata" in reason else " (use --allow-private for local sites)"
        return BlockedAddress(f"network guard refused {request.url}: {reason}{hint}")

    def _refuse_scheme(self, url: str, scheme: str, redirect: bool = False) -> BlockedScheme:
        self._inc(f"{BLOCKED_SCHEME_STAT}/{scheme or 'none'}")
        what = "a redirect to" if redirect else "a request to"
        return BlockedScheme(
            f"network guard refused {what} {url}: only http and https are fetched",
            scheme or "none",
            redirect,
        )

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        scheme = url_scheme(request.url)
        if scheme not in ALLOWED_SCHEMES:
            raise self._refuse_scheme(request.url, scheme)
        host = urlsplit(request.url).hostname or ""
        reason = check_metadata_host(host)
        if reason:
            raise self._refuse(request, reason)
        lifted = self.allow_private or self.allow_hosts.allows_url(request.url)
        if not lifted:
            reason = check_host(host)
            if reason:
                raise self._refuse(request, reason)
        if literal_ip(host) is not None:
            return None
        address = await self._resolve(host)
        if address is None or literal_ip(address) is None:
            return None
        if is_metadata_ip(address):
            raise self._refuse(request, f"{host} resolves to cloud metadata address {address}")
        if not lifted and not is_public_ip(address):
            raise self._refuse(request, f"{host} resolves to non-public address {address}")
        return None

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        """A redirect left unfollowed because of its target's scheme is refused by name."""
        location = response.headers.get(b"Location")
        if response.status not in REDIRECTS or not location:
            return response
        target = urljoin(request.url, location.decode("latin-1").strip())
        scheme = url_scheme(target)
        if scheme in ALLOWED_SCHEMES:
            return response
        raise self._refuse_scheme(target, scheme, redirect=True)

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
        lifted = self.allow_private or self.allow_hosts.allows_name(name)

        def check(address: str) -> str:
            if is_metadata_ip(address) or (not lifted and not is_public_ip(address)):
                raise GuardedLookupError(name, address)
            return address

        d.addCallback(check)
        return d
