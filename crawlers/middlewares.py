"""Politeness and hygiene components of the crawl (the network guard lives in crawlers.guard).

- :class:`BackoffRetryMiddleware`: Scrapy's retries (429, 5xx, timeouts) with exponential
  backoff and ``Retry-After``; the wait is a timer on the reactor, never a sleep.
- :class:`PoliteThrottle`: Scrapy's AutoThrottle that also honours robots.txt ``Crawl-delay``
  as a floor under each site's download delay (Scrapy's robots middleware only obeys
  ``Disallow``).
- :class:`CrawlDeadline`: what may not finish before the crawl's soft close
  (``CLOSESPIDER_TIMEOUT``) is deferred to the next run instead of holding the close up.
- :class:`HtmlCharsetMiddleware`: pages that declare no charset and are not UTF-8 are read
  as windows-1252 (the web's de-facto Latin-1) unless a detector says otherwise; a declared
  charset that the bytes contradict is not followed (:func:`html_encoding`).
- :class:`MetaRefreshMiddleware`: Scrapy's ``<meta http-equiv="refresh">`` redirects, with
  pages that name no refresh let through without Scrapy's scan of their tags.
- :class:`LogSanitizer`: masks credentials (``user:pass@`` in URLs, secret query parameters,
  cookie and authorization headers) in every log line.
"""

from __future__ import annotations

import codecs
import functools
import logging
import random
import re
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urljoin

from scrapy import signals
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as ScrapyMetaRefresh
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import HtmlResponse
from scrapy.utils.response import response_status_message

from crawlers.guard import REDIRECTS, NetworkGuardMiddleware

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

__all__ = [
    "BackoffRetryMiddleware",
    "CrawlDeadline",
    "DeferredToNextRun",
    "HtmlCharsetMiddleware",
    "MetaRefreshMiddleware",
    "RedirectLoopMiddleware",
    "LogSanitizer",
    "NetworkGuardMiddleware",
    "PoliteThrottle",
    "mask_secrets",
    "parse_retry_after",
]

logger = logging.getLogger(__name__)


# -- the crawl's deadline ---------------------------------------------------------------------

DEFERRED_STAT = "newsdedup/deferred"


class DeferredToNextRun(IgnoreRequest):
    """A request left for the next run: it could not be done before this crawl's deadline."""


class CrawlDeadline:
    """Downloader middleware keeping a crawl within its soft close (``CLOSESPIDER_TIMEOUT``).

    Scrapy's close waits for every request the downloader holds: requests queued behind a
    site's download delay (a 120 s ``Retry-After`` slow-down, a 30 s ``Crawl-delay``) or
    waiting for a retry. Past the deadline those would outlast the hard kill that follows
    the soft close, and the kill costs every source of the process its pages. So at the
    deadline the requests still queued in the downloader are failed with
    :class:`DeferredToNextRun`, later ones are refused the same way, and
    :class:`BackoffRetryMiddleware` never starts a wait that would end past it. Each
    deferred request counts in ``newsdedup/deferred``; the next run announces it again.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.timeout = crawler.settings.getfloat("CLOSESPIDER_TIMEOUT")
        self.started: float | None = None
        self.passed = False
        crawler.newsdedup_deadline = self  # type: ignore[attr-defined]
        crawler.signals.connect(self._opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlDeadline:
        return cls(crawler)

    def _opened(self, spider: Spider | None = None) -> None:
        from scrapy.utils.asyncio import call_later

        self.started = time.monotonic()
        if self.timeout > 0:
            call_later(self.timeout, self._expire)

    def remaining(self) -> float:
        """Seconds until the soft close; infinite without a deadline."""
        if self.timeout <= 0 or self.started is None:
            return float("inf")
        return self.timeout - (time.monotonic() - self.started)

    def defer(self, request: Request, why: str) -> DeferredToNextRun:
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value(DEFERRED_STAT)
        return DeferredToNextRun(f"deferred to the next run: {request.url} ({why})")

    def _expire(self) -> None:
        from twisted.python.failure import Failure

        self.passed = True
        engine = self.crawler.engine
        downloader = engine.downloader if engine is not None else None
        if downloader is None:
            return
        for slot in list(downloader.slots.values()):
            while slot.queue:
                request, waiting = slot.queue.popleft()
                waiting.errback(Failure(self.defer(request, "queued at the crawl's deadline")))

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if self.passed:
            raise self.defer(request, "past the crawl's deadline")


def crawl_deadline(crawler: Crawler | None) -> CrawlDeadline | None:
    return getattr(crawler, "newsdedup_deadline", None)


# -- retries ----------------------------------------------------------------------------------


def parse_retry_after(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


async def _sleep(seconds: float) -> None:
    """Wait on a reactor timer (works under the asyncio and the default reactors)."""
    from scrapy.utils.asyncio import call_later
    from scrapy.utils.defer import maybe_deferred_to_future
    from twisted.internet.defer import Deferred

    d: Deferred[None] = Deferred()
    call_later(seconds, d.callback, None)
    await maybe_deferred_to_future(d)


class BackoffRetryMiddleware(RetryMiddleware):
    """Retries with exponential backoff, honouring ``Retry-After``.

    The n-th retry of a request waits ``NEWSDEDUP_RETRY_BACKOFF * 2**(n-1)`` seconds (plus up
    to 25% jitter, at most ``NEWSDEDUP_RETRY_BACKOFF_MAX``), or the server's ``Retry-After``
    when that is longer. A wait that would end past the crawl's soft close (with
    ``DOWNLOAD_TIMEOUT`` to spare) is not started: the request is deferred to the next run
    (:class:`CrawlDeadline`). Without a deadline, a ``Retry-After`` beyond
    ``NEWSDEDUP_RETRY_AFTER_MAX`` is not waited out either: the request is given up (the
    response goes on as the site's error, and the next scheduled run comes back).
    On 429 and 503 with ``Retry-After`` the whole site slows down: its download delay is
    raised to that value (AutoThrottle eases it off again as responses come back healthy).

    The wait runs on a reactor timer while the request stays in the downloader, so other
    sites keep downloading and the spider does not go idle in the meantime.
    """

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.backoff = settings.getfloat("NEWSDEDUP_RETRY_BACKOFF", 1.0)
        self.backoff_max = settings.getfloat("NEWSDEDUP_RETRY_BACKOFF_MAX", 30.0)
        self.retry_after_max = settings.getfloat("NEWSDEDUP_RETRY_AFTER_MAX", 120.0)
        self.download_timeout = settings.getfloat("DOWNLOAD_TIMEOUT", 180.0)

    def backoff_delay(self, retry_times: int) -> float:
        base = self.backoff * 2 ** max(0, retry_times - 1)
        return min(self.backoff_max, base * random.uniform(1.0, 1.25))  # noqa: S311

    def _stat(self, key: str, value: float = 1) -> None:
        stats = getattr(self.crawler, "stats", None)
        if stats is not None:
            stats.inc_value(key, value)

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        retry_after = parse_retry_after(response.headers.get(b"Retry-After"))
        deadline = crawl_deadline(self.crawler)
        if (
            retry_after is not None
            and deadline is not None
            and retry_after + self.download_timeout > deadline.remaining()
        ):
            # Longer than this run has left: not waited out, the next run comes back.
            raise deadline.defer(request, f"Retry-After {retry_after:.0f}s outlasts the crawl")
        if retry_after is not None and retry_after > self.retry_after_max:
            self._stat("newsdedup/retry_after_too_long")
            logger.info(
                "not retrying %s within this crawl: Retry-After %.0fs exceeds %.0fs",
                request.url, retry_after, self.retry_after_max,
            )  # fmt: skip
            return response
        new = self._retry(request, response_status_message(response.status))
        if new is None:
            return response
        delay = max(retry_after or 0.0, self.backoff_delay(new.meta.get("retry_times", 1)))
        if retry_after and response.status in (429, 503):
            self._slow_down_site(request, retry_after)
        return await self._wait_then(new, delay)

    async def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> Request | Response | None:
        if not isinstance(exception, self.exceptions_to_retry) or request.meta.get("dont_retry"):
            return None
        new = self._retry(request, exception)
        if new is None:
            return None
        return await self._wait_then(new, self.backoff_delay(new.meta.get("retry_times", 1)))

    async def _wait_then(self, request: Request, delay: float) -> Request:
        deadline = crawl_deadline(self.crawler)
        if deadline is not None and delay + self.download_timeout > deadline.remaining():
            raise deadline.defer(request, f"a {delay:.0f}s retry wait outlasts the crawl")
        if delay > 0:
            self._stat("newsdedup/retry_wait_seconds", round(delay, 3))
            await _sleep(delay)
        return request

    def _slow_down_site(self, request: Request, seconds: float) -> None:
        downloader = self.crawler.engine.downloader if self.crawler.engine else None
        if downloader is None:
            return
        slot = downloader.slots.get(downloader.get_slot_key(request))
        if slot is not None and slot.delay < seconds:
            slot.delay = seconds


# -- redirect loops ---------------------------------------------------------------------------


class RedirectLoop(IgnoreRequest):
    """A redirect back to a URL of the same redirect chain."""


class RedirectLoopMiddleware:
    """Refuse a redirect to a URL already in its own chain, by name.

    Scrapy's duplicate filter would drop the looping request silently (the page just never
    arrives); here it fails with :class:`RedirectLoop`, which the spider counts as the
    site's ``errors/redirect_loop``. Runs before Scrapy's redirect middleware (600).
    """

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        location = response.headers.get(b"Location")
        if response.status not in REDIRECTS or not location:
            return response
        target = urldefrag(urljoin(request.url, location.decode("latin-1").strip()))[0]
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if target in {urldefrag(u)[0] for u in chain}:
            raise RedirectLoop(f"redirect loop: {request.url} -> {target}")
        return response


# -- charsets ---------------------------------------------------------------------------------

# Single-byte code pages of Latin script that a detector may pick for a page in windows-1252:
# their letters overlap, and short texts ("crème") do not tell them apart.
LATIN_CODEPAGES = frozenset(
    {"cp1250", "cp1252", "cp1254", "cp1257", "cp1258", "latin_1", "iso8859_2", "iso8859_3",
     "iso8859_4", "iso8859_9", "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15",
     "iso8859_16", "mac_roman", "mac_latin2", "mac_iceland", "cp437", "cp850", "cp858",
     "hp_roman8"}
)  # fmt: skip
# Languages written in windows-1250 rather than windows-1252.
CENTRAL_EUROPEAN = frozenset({"cs", "pl", "sk", "sl", "hu", "hr", "ro", "bs", "sr", "sq"})
HTML_LANG = re.compile(rb"<html[^>]*?\slang\s*=\s*[\"']?([a-zA-Z]{2,3})", re.IGNORECASE)


# The bytes a page's encoding is judged from (the detector's sample, the NUL test, the UTF-8
# evidence): its first 64 KiB tell it as well as the whole of it, at a fraction of the cost.
SAMPLE_BYTES = 65536

# The encodings of the WHATWG Encoding Standard, the ones a browser reads a page in, as Python
# names them (and the Python codecs its labels map to): a detector also offers DOS and other
# code pages (cp850, cp1006, ...) that no page is written in.
WEB_ENCODINGS = frozenset(
    codecs.lookup(name).name
    for name in (
        "utf-8", "utf-16-le", "utf-16-be", "cp866", "iso8859-2", "iso8859-3", "iso8859-4",
        "iso8859-5", "iso8859-6", "iso8859-7", "iso8859-8", "iso8859-10", "iso8859-13",
        "iso8859-14", "iso8859-15", "iso8859-16", "koi8-r", "koi8-u", "mac-roman", "cp874",
        "tis-620", "cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256",
        "cp1257", "cp1258", "latin-1", "mac-cyrillic", "gbk", "gb2312", "gb18030", "big5",
        "big5hkscs", "euc-jp", "iso2022-jp", "shift-jis", "cp932", "euc-kr", "cp949",
    )
)  # fmt: skip


def _web_encoding(name: str | None, body: bytes) -> str | None:
    """The detector's pick when a page can be in it: a web encoding, and UTF-16 only with a
    NUL in the bytes (HTML in UTF-16 has one in every ASCII character of its markup)."""
    codec = _codec(name) if name else None
    if codec is None or codec not in WEB_ENCODINGS:
        return None
    if codec.startswith("utf-16") and b"\x00" not in body[:SAMPLE_BYTES]:
        return None
    return name


def guess_html_charset(body: bytes) -> str | None:
    """The encoding of an HTML body that declares none (no header charset, BOM or meta), or
    None to leave it to Scrapy (ASCII and UTF-8 bodies).

    Browsers read such pages as windows-1252 by default; a statistical detector, shown a
    few accented letters, picks any Latin code page (windows-1250 turns "crème" into
    "crčme"). So windows-1252 wins whenever the detector's pick is a Latin code page, the
    bytes are valid windows-1252, and the page's ``lang`` is not a windows-1250 language;
    also when the detector picks no encoding a browser knows (:data:`WEB_ENCODINGS`).
    """
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return None
    from charset_normalizer import from_bytes

    best = from_bytes(body[:SAMPLE_BYTES]).best()
    detected = _web_encoding(best.encoding if best is not None else None, body)
    try:
        body.decode("cp1252")
    except UnicodeDecodeError:
        return detected or "cp1252"  # read with replacement characters where no byte fits
    if detected is not None and detected not in LATIN_CODEPAGES:
        return detected
    lang = HTML_LANG.search(body[:4096])
    if detected and lang and lang.group(1).decode("ascii").lower() in CENTRAL_EUROPEAN:
        return detected
    return "cp1252"


# Declared charsets that a server or template states by default whatever the bytes are
# (Apache's and PHP's old ``AddDefaultCharset``/``default_charset`` is ISO-8859-1; Scrapy
# reads latin-1 and ascii as windows-1252, as the WHATWG does).
LATIN_DECLARED = frozenset({"cp1252", "iso8859-1", "iso8859-15", "ascii"})
_EXAMINED = LATIN_DECLARED | {"utf-8"}  # the declared charsets html_encoding may overrule


def _codec(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


@functools.cache
def _single_byte(name: str) -> bool:
    return len(bytes(range(256)).decode(name, "replace")) == 256


def utf8_evidence(body: bytes) -> tuple[int, int]:
    """(characters beyond ASCII that the bytes hold as well-formed UTF-8, bytes that are not
    UTF-8): how far the bytes read as UTF-8. At C speed: one decode and two counts."""
    text = body.decode("utf-8", "replace")
    replaced = text.count("\ufffd")
    good = len(text) - len(text.encode("ascii", "ignore")) - replaced
    return good, replaced - body.count(b"\xef\xbf\xbd")  # a U+FFFD in the page is no error


def html_encoding(response: Any) -> str | None:
    """The encoding to read an HTML response with where Scrapy's own reading (BOM, then the
    Content-Type charset, then ``<meta charset>``, then sniffing) is wrong; None to keep it.

    - No charset declared (and no BOM): :func:`guess_html_charset`.
    - A Latin charset declared (ISO-8859-1, windows-1252, ASCII) over bytes that are mostly
      UTF-8 (well-formed UTF-8 characters beyond ASCII outnumber the bytes that are not
      UTF-8, :func:`utf8_evidence`): UTF-8. Windows-1252 text is almost never valid UTF-8
      by chance ("Ã©" where "é" was meant), while UTF-8 served under a default Latin
      charset is a common misconfiguration, which the declared reading turns into mojibake
      on every accented letter.
    - UTF-8 declared over bytes that are mostly not UTF-8: the bytes are in a single-byte
      code page (:func:`guess_html_charset`, windows-1252 unless it finds a single-byte
      one), where the declared reading replaces every accented letter with U+FFFD. A UTF-8
      page with a few broken bytes stays UTF-8.

    A BOM always wins.
    """
    if response._bom_encoding():
        return None
    body = response.body
    declared = response._declared_encoding()
    if not declared:
        return guess_html_charset(body)
    codec = _codec(declared)
    if body.isascii() or codec not in _EXAMINED:
        return None
    # Declared UTF-8: the declared reading is Scrapy's text, which the crawl reads anyway (and
    # the response keeps); without a replacement character in it, the bytes are well-formed.
    if codec == "utf-8" and "\ufffd" not in response.text:
        return None
    good, bad = utf8_evidence(body[:SAMPLE_BYTES])
    if codec != "utf-8":
        return "utf-8" if good > bad else None
    if bad <= good:
        return None
    guess = guess_html_charset(body)
    return guess if guess and _single_byte(guess) else "cp1252"


def read_as_crawled(response: Any) -> Any:
    """An HTML response as the crawl reads it: with :func:`html_encoding`'s encoding where
    Scrapy's own reading is wrong (the crawl's middleware, the archive reader and the
    extraction benchmark all decode pages through this)."""
    encoding = html_encoding(response)
    return response if encoding is None else response.replace(encoding=encoding)


class HtmlCharsetMiddleware:
    """Decode HTML pages with :func:`html_encoding` where Scrapy's reading of their declared
    charset, or its guess when they declare none, is wrong."""

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        if not isinstance(response, HtmlResponse):
            return response
        return read_as_crawled(response)


# Scrapy reads a page's refresh from this many first characters of its text
# (scrapy.utils.response.get_meta_refresh).
META_REFRESH_SCAN_CHARS = 4096


class MetaRefreshMiddleware(ScrapyMetaRefresh):
    """Scrapy's meta refresh redirects (``METAREFRESH_*`` settings), unchanged, for pages that
    may have one. Scrapy takes a refresh only from a ``<meta>`` tag in the first 4,096
    characters of the page's text whose attributes say "refresh" (in any case); to rule one
    out on a page that has none, it still matches every tag of those characters and reads the
    page's ``<base>``, about 4% of a crawl process's CPU on news pages. A page whose first
    4,096 characters do not hold the word at all cannot have one, and is passed on as it came;
    the others go to Scrapy's reading. The text is the one the spider reads next (decoded
    once, after HtmlCharsetMiddleware, and kept by the response)."""

    def process_response(  # type: ignore[override]
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        if (
            isinstance(response, HtmlResponse)
            and "refresh" not in response.text[:META_REFRESH_SCAN_CHARS].lower()
        ):
            return response
        return super().process_response(request, response)


# -- Crawl-delay ------------------------------------------------------------------------------


class PoliteThrottle(AutoThrottle):
    """AutoThrottle plus robots.txt ``Crawl-delay`` as a per-site minimum delay.

    When a site's robots.txt is parsed (Scrapy's ``robots_parsed`` signal) its Crawl-delay for
    our User-Agent becomes the floor of that site's download slot: AutoThrottle may raise the
    delay but never lower it below the floor, and the floor is not randomised downwards.
    Delays above ``NEWSDEDUP_MAX_CRAWL_DELAY`` are clamped to it (and logged), so one site
    cannot stall a bounded crawl. With ``AUTOTHROTTLE_ENABLED = False`` only the floor applies.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.adaptive = crawler.settings.getbool("AUTOTHROTTLE_ENABLED")
        if self.adaptive:
            super().__init__(crawler)
        else:
            self.crawler = crawler
        if not crawler.settings.getbool("ROBOTSTXT_OBEY") and not self.adaptive:
            raise NotConfigured
        self.max_crawl_delay = crawler.settings.getfloat("NEWSDEDUP_MAX_CRAWL_DELAY", 30.0)
        self.floors: dict[str, float] = {}
        crawler.signals.connect(self._robots_parsed, signal=signals.robots_parsed)

    def _user_agent(self, request: Request) -> str:
        settings = self.crawler.settings
        ua = settings.get("ROBOTSTXT_USER_AGENT") or request.headers.get(b"User-Agent")
        ua = ua or settings.get("USER_AGENT") or "*"
        return ua.decode("latin-1") if isinstance(ua, bytes) else str(ua)

    def _robots_parsed(self, robotparser: Any, request: Request) -> None:
        try:
            delay = robotparser.crawl_delay(self._user_agent(request))
        except Exception:  # noqa: BLE001 - a parser without crawl_delay support
            return
        if not delay or delay <= 0:
            return
        delay = float(delay)
        if delay > self.max_crawl_delay:
            logger.warning(
                "robots.txt of %s asks for Crawl-delay %.1fs; using the maximum of %.1fs",
                request.url.split("/", 3)[2], delay, self.max_crawl_delay,
            )  # fmt: skip
            delay = self.max_crawl_delay
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        self.floors[key] = max(self.floors.get(key, 0.0), delay)
        floor = self.floors[key]
        # Slots created later (or re-created after being idle) start at the floor.
        per_slot = downloader.per_slot_settings.setdefault(key, {})
        per_slot["delay"] = max(float(per_slot.get("delay", 0.0)), floor)
        per_slot["jitter"] = 0.0
        slot = downloader.slots.get(key)
        if slot is not None:
            slot.delay = max(slot.delay, floor)
            slot.jitter = 0.0
        stats = self.crawler.stats
        if stats is not None:
            stats.max_value("newsdedup/robots_crawl_delay", floor)

    def _response_downloaded(self, response: Response, request: Request, spider: Spider) -> None:
        if self.adaptive:
            super()._response_downloaded(response, request, spider)
        key = request.meta.get("download_slot")
        if not isinstance(key, str):
            return
        floor = self.floors.get(key)
        if floor:
            slot = self.crawler.engine.downloader.slots.get(key)
            if slot is not None and slot.delay < floor:
                slot.delay = floor


# -- logs -------------------------------------------------------------------------------------

USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s@'\"<>]+@")
BARE_USERINFO = re.compile(r"(^|[\s'\"(<\[=])[^\s/@:'\"<>]+:[^\s/@'\"<>]*@")  # user:pass@host
SECRET_QUERY = re.compile(
    r"(?i)([?&;](?:access_token|api[_-]?key|apikey|auth|key|password|passwd|pwd|secret|"
    r"sig|signature|token|session|sessionid|sid)=)[^&#\s'\"<>]+"
)
SECRET_HEADER = re.compile(
    r"(?i)(\b(?:cookie|set-cookie|authorization|proxy-authorization)['\"]?\s*[:=]\s*"
    r"\[?\s*b?['\"]?)[^'\"\]\r\n]+"
)


def mask_secrets(text: str) -> str:
    """``text`` with URL credentials, secret query values and cookie/auth headers masked."""
    if "@" in text:
        text = BARE_USERINFO.sub(r"\1***@", USERINFO.sub(r"\1***@", text))
    if "=" in text:
        text = SECRET_QUERY.sub(r"\1***", text)
    return SECRET_HEADER.sub(r"\1***", text)


class _MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - leave records that cannot be formatted alone
            return True
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        return True


MASKING_FILTER = _MaskingFilter()


def install_log_masking(log: logging.Logger | None = None) -> None:
    """Mask secrets in every record reaching the handlers of ``log`` (the root logger)."""
    log = log or logging.getLogger()
    for handler in log.handlers:
        if MASKING_FILTER not in handler.filters:
            handler.addFilter(MASKING_FILTER)


class LogSanitizer:
    """Extension installing :func:`install_log_masking` when a crawl starts, so that
    ``scrapy crawl`` is covered as well as ``python -m crawlers.run``."""

    def __init__(self, crawler: Crawler) -> None:
        install_log_masking()
        crawler.signals.connect(install_log_masking_on_open, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LogSanitizer:
        return cls(crawler)


def install_log_masking_on_open(spider: Spider | None = None) -> None:
    install_log_masking()
