"""Politeness and hygiene components of the crawl (the network guard lives in crawlers.guard).

- :class:`BackoffRetryMiddleware`: Scrapy's retries (429, 5xx, timeouts) with exponential
  backoff and ``Retry-After``; the wait is a timer on the reactor, never a sleep.
- :class:`PoliteThrottle`: Scrapy's AutoThrottle that also honours robots.txt ``Crawl-delay``
  as a floor under each site's download delay (Scrapy's robots middleware only obeys
  ``Disallow``).
- :class:`LogSanitizer`: masks credentials (``user:pass@`` in URLs, secret query parameters,
  cookie and authorization headers) in every log line.
"""

from __future__ import annotations

import logging
import random
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import NotConfigured
from scrapy.extensions.throttle import AutoThrottle
from scrapy.utils.response import response_status_message

from crawlers.guard import NetworkGuardMiddleware

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

__all__ = [
    "BackoffRetryMiddleware",
    "LogSanitizer",
    "NetworkGuardMiddleware",
    "PoliteThrottle",
    "mask_secrets",
    "parse_retry_after",
]

logger = logging.getLogger(__name__)


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
    when that is longer. A ``Retry-After`` beyond ``NEWSDEDUP_RETRY_AFTER_MAX`` is not
    waited out inside a crawl: the request is given up (the next scheduled run comes back).
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
