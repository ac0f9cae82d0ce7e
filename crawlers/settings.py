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
# Scrapy's default, named because the spider counts on it: of the requests of one priority,
# the last scheduled goes first (NewsSpider.on_idle schedules each day's articles oldest
# first, so that they are fetched newest first).
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.LifoMemoryQueue"
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
# most 30s, or the server's Retry-After; a Retry-After above 120s is not waited out. Nor is
# any wait that, plus DOWNLOAD_TIMEOUT, would end past the crawl's soft close
# (CLOSESPIDER_TIMEOUT, which crawlers.run --timeout sets): the request is deferred to the
# next run (newsdedup/deferred), and so are requests still queued at the soft close
# (crawlers.middlewares.CrawlDeadline), so that the close is never held up past the hard kill.
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
}

# Network guard (see crawlers/guard.py): only http(s), and no non-public addresses unless
# allowed. Cloud metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254...) are refused
# even with NEWSDEDUP_ALLOW_PRIVATE or NEWSDEDUP_ALLOW_HOSTS.
NEWSDEDUP_ALLOW_PRIVATE = False
# host or host:port exceptions while the guard is on; crawlers.run also reads the
# comma-separated environment variable NEWSDEDUP_ALLOW_HOSTS.
NEWSDEDUP_ALLOW_HOSTS: list[str] = []
# Scrapy's handlers for other schemes are off, so a sitemap, feed, link or redirect naming
# file://, ftp://, s3:// or data: can never read the local disk, hang on a server that never
# answers, or call a cloud API; the guard also refuses such requests (blocked_scheme/<scheme>).
DOWNLOAD_HANDLERS = {"file": None, "ftp": None, "s3": None, "data": None}
TWISTED_DNS_RESOLVER = "crawlers.guard.GuardedResolver"
DOWNLOADER_MIDDLEWARES = {
    "crawlers.middlewares.CrawlDeadline": 40,
    "crawlers.middlewares.NetworkGuardMiddleware": 50,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    # Off with COOKIES_ENABLED = False, but Scrapy would still import it, and with it
    # tldextract and requests: 80 ms of every crawl process's start.
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware": None,
    "crawlers.middlewares.BackoffRetryMiddleware": 550,
    # Sees redirects before Scrapy's redirect middleware (600) follows them.
    "crawlers.middlewares.RedirectLoopMiddleware": 610,
    # After decompression (590), before the spider reads the text.
    "crawlers.middlewares.HtmlCharsetMiddleware": 580,
    # Scrapy's meta refresh redirects without its scan of pages that name no refresh; after
    # the charset's correction, so it reads the text the spider reads.
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawlers.middlewares.MetaRefreshMiddleware": 579,
}

ITEM_PIPELINES = {
    "crawlers.pipelines.PageWriterPipeline": 800,
}
# Where PageWriterPipeline writes pages.jsonl.gz; `scrapy crawl` defaults to ./crawl-out.
NEWSDEDUP_OUT_DIR = "crawl-out"
# Raw archive: when set, fetched article responses are also written as gzipped WARC files
# <dir>/<source>-<n>.warc.gz (crawlers/archive.py), rolled over at NEWSDEDUP_WARC_MAX_BYTES,
# and the pages file's lines name each page's body there instead of holding its HTML.
NEWSDEDUP_WARC_DIR = ""
NEWSDEDUP_WARC_MAX_BYTES = 256 * 1024 * 1024

# Link-following (sites without feeds) fetches at most this many pages per source; 0 means
# twice the source's max_pages. Depth is bounded by the source's max_depth.
NEWSDEDUP_MAX_LINK_PAGES = 0
# Link-following is discovery's fallback: once a source's feeds or sitemaps have announced
# pages in this run, and this many link-fetched pages in a row (start URLs included) offered
# no in-scope link that is neither a listing URL nor already announced, requested or seen,
# the source stops following links for the run: listing pages (by URL) it found and had not
# yet requested are not fetched (skipped/links_fruitless; link-following requests them a few
# at a time). 0 follows links whatever they yield; sources without feeds and sitemaps always
# follow links.
NEWSDEDUP_FRUITLESS_LINK_PAGES = 8

# Discovery bounds, per source and run, against sitemap-index tar-pits and giant documents:
# - feed and sitemap documents requested, the seeds' own included (those are always
#   fetched); sitemaps an index lists beyond it are skipped (skipped/discovery_docs), the
#   newest (by the index's lastmod) first;
NEWSDEDUP_MAX_DISCOVERY_DOCS = 50
# - index levels below a seeds sitemap: 2 allows index -> index -> urlset
#   (skipped/sitemap_depth beyond);
NEWSDEDUP_MAX_SITEMAP_DEPTH = 2
# - entries read from one feed or sitemap (the sitemap protocol's own maximum);
NEWSDEDUP_MAX_DOC_ENTRIES = 50_000
# - announced URLs held per source until they are scheduled: the newest are kept
#   (skipped/candidates), and only the newest max_pages are ever fetched;
NEWSDEDUP_MAX_CANDIDATES = 20_000
# - bytes of one feed or sitemap, on the wire, after Content-Encoding and after gunzip of a
#   .xml.gz (errors/<kind>_too_large); never above DOWNLOAD_MAXSIZE.
NEWSDEDUP_MAX_DISCOVERY_BYTES = 10 * 1024 * 1024

LOG_LEVEL = "INFO"
# Scrapy parses the source of every generator callback, per response, to warn about a
# `return value` inside it: a check for spider authors that cost about a sixth of the crawl's
# CPU (bound methods miss its cache). The project's callbacks are covered by its tests.
WARN_ON_GENERATOR_RETURN_VALUE = False
STATS_DUMP = False  # crawlers.run writes its own summary (stats.json)
STATS_CLASS = "crawlers.stats.CrawlStats"  # Scrapy's, without a per-call warning shim
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"
