"""A crawl frontier shared through Redis, so that several processes crawl one large source.

Off by default. With ``NEWSDEDUP_FRONTIER_REDIS_URL`` and ``NEWSDEDUP_FRONTIER_KEY`` set
(``python -m crawlers.run ... --frontier-redis URL --frontier-key KEY``), :func:`configure`
switches the crawl to scrapy-redis:

- ``scrapy_redis.scheduler.Scheduler`` with its priority queue at ``<KEY>:requests`` and
  ``scrapy_redis.dupefilter.RFPDupeFilter`` at ``<KEY>:dupefilter``: every process that
  names the same key pushes to and pops from one queue, and a URL enqueued by any of them is
  never enqueued again (requests are pickled, so callbacks are spider methods and meta values
  plain data);
- nothing is flushed on start or on close (``SCHEDULER_FLUSH_ON_START`` off,
  ``SCHEDULER_PERSIST`` on): processes join and leave one frontier; :func:`clear` deletes
  its keys once every process of the run has ended;
- :class:`FrontierIdleClose` keeps an idle process open until nothing has been scheduled or
  fetched by any process of the frontier for ``MAX_IDLE_TIME_BEFORE_CLOSE`` seconds (the
  scrapy-redis setting; default :data:`DEFAULT_MAX_IDLE`), so processes pick up what the
  others still discover, and the crawl ends.

Feed and sitemap discovery needs no election: every process yields the source's feeds and
sitemaps, the shared dupefilter lets only the first of each into the queue, and whichever
process fetches a feed or sitemap collects its entries and schedules them (on its idle,
newest first, within ``max_pages``) into the shared queue, where all processes take them.
Repeats announced by several feeds, or also reached by links, are dropped by the same
dupefilter, so no URL is fetched twice across the processes. So that pages reach the page
files as a single process writes them (announced, with the feed's date and title, rather
than as plain links), the announced URLs are shared (:class:`Announcements`, at
``<KEY>:announced``) and link-following skips them, and the start URLs are held back until
no feed or sitemap request is queued or in flight in any process (``<KEY>:discovering``;
at most ``NEWSDEDUP_FRONTIER_DISCOVERY_WAIT`` seconds, default 60, should a process die).

Each process writes its own pages, validators and stats (its own ``--out``); the union of
the processes' pages is the source's pages. ``max_pages`` bounds what the discovering
process schedules; the link-following budget (``NEWSDEDUP_MAX_LINK_PAGES``) and politeness
(concurrency per site, AutoThrottle) hold per process, so N processes may load a site up to
N times as hard as one. ``CONCURRENT_REQUESTS`` defaults to ``CONCURRENT_REQUESTS_PER_DOMAIN``
so that no process drains the shared queue into its own downloader.
"""

from __future__ import annotations

import time
from typing import Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.settings import SETTINGS_PRIORITIES

DEFAULT_MAX_IDLE = 5.0
DEFAULT_DISCOVERY_WAIT = 60.0  # NEWSDEDUP_FRONTIER_DISCOVERY_WAIT
DEFAULT_POLL = 1.0  # NEWSDEDUP_FRONTIER_POLL
SUFFIXES = ("requests", "dupefilter", "activity", "announced", "discovering")


def keys(key: str) -> dict[str, str]:
    """The Redis keys of the frontier named ``key``."""
    return {suffix: f"{key}:{suffix}" for suffix in SUFFIXES}


def enabled(settings: Any) -> bool:
    return bool(settings.get("NEWSDEDUP_FRONTIER_REDIS_URL"))


def configure(settings: Any) -> None:
    """Point ``settings`` at the shared frontier when ``NEWSDEDUP_FRONTIER_REDIS_URL`` is set.

    Does nothing otherwise. Raises ValueError without a ``NEWSDEDUP_FRONTIER_KEY``: a key
    shared by unrelated runs would make a new run skip everything an earlier one fetched.
    """
    if not enabled(settings):
        return
    key = settings.get("NEWSDEDUP_FRONTIER_KEY")
    if not key:
        raise ValueError("a shared frontier needs NEWSDEDUP_FRONTIER_KEY (--frontier-key)")
    names = keys(key)
    # scrapy-redis formats the keys with %(spider)s: keep any '%' of ours literal.
    escape = lambda k: k.replace("%", "%%")  # noqa: E731
    priority = "cmdline"
    settings.set("SCHEDULER", "scrapy_redis.scheduler.Scheduler", priority=priority)
    settings.set("DUPEFILTER_CLASS", "scrapy_redis.dupefilter.RFPDupeFilter", priority=priority)
    settings.set("SCHEDULER_QUEUE_CLASS", "scrapy_redis.queue.PriorityQueue", priority=priority)
    settings.set("REDIS_URL", settings.get("NEWSDEDUP_FRONTIER_REDIS_URL"), priority=priority)
    settings.set("SCHEDULER_QUEUE_KEY", escape(names["requests"]), priority=priority)
    settings.set("SCHEDULER_DUPEFILTER_KEY", escape(names["dupefilter"]), priority=priority)
    settings.set("SCHEDULER_PERSIST", True, priority=priority)
    settings.set("SCHEDULER_FLUSH_ON_START", False, priority=priority)
    # Scrapy pulls requests from the scheduler until CONCURRENT_REQUESTS are in its downloader,
    # most of them then waiting in the site's slot: one process would drain the shared queue
    # into its own memory. Pull no more than a site's concurrency unless told otherwise.
    if settings.getpriority("CONCURRENT_REQUESTS") < SETTINGS_PRIORITIES["cmdline"]:
        settings.set(
            "CONCURRENT_REQUESTS", settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"),
            priority="project",
        )  # fmt: skip
    if settings.get("MAX_IDLE_TIME_BEFORE_CLOSE") in (None, ""):
        settings.set("MAX_IDLE_TIME_BEFORE_CLOSE", DEFAULT_MAX_IDLE, priority="project")
    extensions = dict(settings.getdict("EXTENSIONS"))
    extensions["crawlers.frontier.FrontierIdleClose"] = 10
    settings.set("EXTENSIONS", extensions, priority=priority)


class Announcements:
    """The URLs that feeds and sitemaps announced, as seen by every process of a frontier.

    The process that fetched a feed holds its entries until it goes idle (then schedules
    them newest first, with their dates and titles). Meanwhile the others must not reach the
    same pages through links, which would fetch them without what the feed said about them:
    link-following skips the URLs in this set, as a single process skips its own candidates.
    """

    def __init__(self, redis_url: str, key: str, discovery_wait: float = DEFAULT_DISCOVERY_WAIT):
        self.server = _redis(redis_url)
        self.key = keys(key)["announced"]
        self.discovering_key = keys(key)["discovering"]
        self.discovery_wait = discovery_wait

    @classmethod
    def from_settings(cls, settings: Any) -> Announcements | None:
        if not enabled(settings):
            return None
        url = settings.get("NEWSDEDUP_FRONTIER_REDIS_URL")
        wait = settings.getfloat("NEWSDEDUP_FRONTIER_DISCOVERY_WAIT", DEFAULT_DISCOVERY_WAIT)
        return cls(url, settings.get("NEWSDEDUP_FRONTIER_KEY"), wait)

    def add(self, urls: list[str]) -> None:
        if urls:
            self.server.sadd(self.key, *urls)

    def known(self, urls: list[str]) -> set[str]:
        if not urls:
            return set()
        flags = self.server.smismember(self.key, urls)
        return {url for url, flag in zip(urls, flags, strict=True) if flag}

    def discovery(self, delta: int) -> None:
        """Count feed and sitemap requests queued or in flight in any process (+1 / -1)."""
        self.server.incrby(self.discovering_key, delta)

    def discovering(self) -> int:
        """Feed and sitemap requests not yet parsed, across the frontier's processes."""
        return int(self.server.get(self.discovering_key) or 0)

    def close(self) -> None:
        self.server.close()


def _redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url)


def clear(redis_url: str, key: str) -> int:
    """Delete the frontier's keys (queue, seen-set, activity, announced URLs).

    Returns how many of them existed.
    """
    client = _redis(redis_url)
    try:
        return int(client.delete(*keys(key).values()))
    finally:
        client.close()


def pending(redis_url: str, key: str) -> int:
    """Requests waiting in the frontier's queue."""
    client = _redis(redis_url)
    try:
        return int(client.zcard(keys(key)["requests"]))
    finally:
        client.close()


class FrontierIdleClose:
    """Keep an idle process open while the shared frontier is busy; close it after a quiet spell.

    Every process stamps ``<KEY>:activity`` (at most every :attr:`TOUCH_EVERY` seconds) when
    it schedules a request, sends one to the downloader or receives a response. An idle
    process (nothing of its own in flight, nothing in the shared queue) stays open, looking at
    the queue every ``NEWSDEDUP_FRONTIER_POLL`` seconds (the engine's heartbeat), until
    ``MAX_IDLE_TIME_BEFORE_CLOSE`` seconds have passed since the last stamp of any process
    and since it started; 0 closes as soon as it is idle. A process only closes when the
    shared queue is empty, so no queued request is left behind by the last process to leave.
    """

    TOUCH_EVERY = 0.5

    def __init__(self, crawler: Any) -> None:
        settings = crawler.settings
        if not enabled(settings):
            raise NotConfigured
        self.crawler = crawler
        names = keys(settings.get("NEWSDEDUP_FRONTIER_KEY"))
        self.queue_key = names["requests"]
        self.activity_key = names["activity"]
        self.max_idle = settings.getfloat("MAX_IDLE_TIME_BEFORE_CLOSE", DEFAULT_MAX_IDLE)
        self.poll = settings.getfloat("NEWSDEDUP_FRONTIER_POLL", DEFAULT_POLL)
        self.server = _redis(settings.get("NEWSDEDUP_FRONTIER_REDIS_URL"))
        self.started = time.time()
        self.last_touch = 0.0
        for handler, signal in (
            (self.touch, signals.request_scheduled),
            (self.touch, signals.request_reached_downloader),
            (self.touch, signals.response_received),
            (self.on_idle, signals.spider_idle),
            (self.on_opened, signals.spider_opened),
            (self.on_closed, signals.spider_closed),
        ):
            crawler.signals.connect(handler, signal=signal)

    @classmethod
    def from_crawler(cls, crawler: Any) -> FrontierIdleClose:
        return cls(crawler)

    def on_opened(self, spider: Any) -> None:
        # An idle Scrapy engine looks at its scheduler again only at its heartbeat (5 s): a
        # process waiting on the shared queue would join the others' work that late. The
        # engine reads the interval when it starts, just after spider_opened.
        engine = self.crawler.engine
        if self.poll > 0 and hasattr(type(engine), "_SLOT_HEARTBEAT_INTERVAL"):
            engine._SLOT_HEARTBEAT_INTERVAL = self.poll

    def touch(self, *args: Any, **kwargs: Any) -> None:
        now = time.time()
        if now - self.last_touch >= self.TOUCH_EVERY:
            self.last_touch = now
            self.server.set(self.activity_key, repr(now))

    def on_idle(self, spider: Any) -> None:
        now = time.time()
        if self.server.zcard(self.queue_key):
            self.crawler.stats.inc_value("newsdedup/frontier/idle_waits")
            raise DontCloseSpider  # requests are waiting: the next heartbeat takes them
        if self.max_idle <= 0:
            return
        raw = self.server.get(self.activity_key)
        last = max(self.started, float(raw) if raw else 0.0)
        if now - last < self.max_idle:
            self.crawler.stats.inc_value("newsdedup/frontier/idle_waits")
            raise DontCloseSpider

    def on_closed(self, spider: Any, reason: str) -> None:
        self.server.close()
