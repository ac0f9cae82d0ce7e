"""Scrapy settings for the newsdedup crawl: polite, bounded, and closed to the local network."""

BOT_NAME = "newsdedup"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

# Who we are. Operators override the contact URL with --user-agent or NEWSDEDUP_USER_AGENT.
USER_AGENT = "newsdedup/0.1 (+https://github.com/newsdedup/newsdedup; news archiving crawler)"
ROBOTSTXT_OBEY = True
# robots.txt Crawl-delay is honoured as a per-site floor (crawlers.middlewares.PoliteThrottle),
# clamped to this many seconds so that one site cannot stall a bounded crawl.
NEWSDEDUP_MAX_CRAWL_DELAY = 30.0

# Politeness: AutoThrottle adapts the delay to each site's latency, within per-site limits.
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
# Items per response processed at once. A page yields at most one item and the pipelines are
# synchronous, while Scrapy starts this many tasks for every callback's output: keep it small.
CONCURRENT_ITEMS = 4
DOWNLOAD_DELAY = 0.0  # the minimum per-site delay AutoThrottle may go down to
DOWNLOAD_DELAY_JITTER = 0.5  # +-50%; sites with a robots Crawl-delay get none below it

# Bounded fetching.
DOWNLOAD_TIMEOUT = 20
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024  # bytes, checked on the wire and again after decompression
DOWNLOAD_WARNSIZE = 0
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
# Backoff between retries (crawlers.middlewares.BackoffRetryMiddleware): 1s, 2s, 4s... at
# most 30s, or the server's Retry-After; a Retry-After above 120s is not waited out.
NEWSDEDUP_RETRY_BACKOFF = 1.0
NEWSDEDUP_RETRY_BACKOFF_MAX = 30.0
NEWSDEDUP_RETRY_AFTER_MAX = 120.0
REDIRECT_MAX_TIMES = 5
COOKIES_ENABLED = False  # news pages need none, and cookies never reach the logs

# No remote control of a running crawl: neither the telnet console nor the HTTP remote control.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
EXTENSIONS = {
    "scrapy.extensions.telnet.TelnetConsole": None,
    "scrapy.extensions.remote_control.RemoteControl": None,
    "scrapy.extensions.throttle.AutoThrottle": None,
    "crawlers.middlewares.PoliteThrottle": 0,
    "crawlers.middlewares.LogSanitizer": 0,
    "crawlers.archive.WarcArchive": 500,
}

# Network guard (see crawlers/guard.py): refuse non-public addresses unless allowed.
NEWSDEDUP_ALLOW_PRIVATE = False
NEWSDEDUP_ALLOW_HOSTS: list[str] = []  # host or host:port exceptions while the guard is on
TWISTED_DNS_RESOLVER = "crawlers.guard.GuardedResolver"
DOWNLOADER_MIDDLEWARES = {
    "crawlers.middlewares.NetworkGuardMiddleware": 50,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawlers.middlewares.BackoffRetryMiddleware": 550,
}

ITEM_PIPELINES = {
    "crawlers.pipelines.PageWriterPipeline": 800,
}
# Where PageWriterPipeline writes pages.jsonl.gz; `scrapy crawl` defaults to ./crawl-out.
NEWSDEDUP_OUT_DIR = "crawl-out"
# Raw archive: when set, fetched article responses are also written as gzipped WARC files
# <dir>/<source>-<n>.warc.gz (crawlers/archive.py), rolled over at NEWSDEDUP_WARC_MAX_BYTES.
NEWSDEDUP_WARC_DIR = ""
NEWSDEDUP_WARC_MAX_BYTES = 256 * 1024 * 1024

# Link-following (sites without feeds) fetches at most this many pages per source; 0 means
# twice the source's max_pages. Depth is bounded by the source's max_depth.
NEWSDEDUP_MAX_LINK_PAGES = 0

LOG_LEVEL = "INFO"
# Scrapy parses the source of every generator callback, per response, to warn about a
# `return value` inside it: a check for spider authors that cost about a sixth of the crawl's
# CPU (bound methods miss its cache). The project's callbacks are covered by its tests.
WARN_ON_GENERATOR_RETURN_VALUE = False
STATS_DUMP = False  # crawlers.run writes its own summary (stats.json)
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"
