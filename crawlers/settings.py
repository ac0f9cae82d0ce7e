"""Scrapy settings for the newsdedup crawl: polite, bounded, and closed to the local network."""

BOT_NAME = "newsdedup"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

# Who we are. Operators override the contact URL with --user-agent or NEWSDEDUP_USER_AGENT.
USER_AGENT = "newsdedup/0.1 (+https://github.com/newsdedup/newsdedup; news archiving crawler)"
ROBOTSTXT_OBEY = True

# Politeness: AutoThrottle adapts the delay to each site's latency, within per-site limits.
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.0
RANDOMIZE_DOWNLOAD_DELAY = True

# Bounded fetching.
DOWNLOAD_TIMEOUT = 20
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024  # decompressed bytes
DOWNLOAD_WARNSIZE = 0
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
REDIRECT_MAX_TIMES = 5
COOKIES_ENABLED = False  # news pages need none, and cookies never reach the logs

# No remote control of a running crawl: neither the telnet console nor the HTTP remote control.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
EXTENSIONS = {
    "scrapy.extensions.telnet.TelnetConsole": None,
    "scrapy.extensions.remote_control.RemoteControl": None,
}

# Network guard (see crawlers/guard.py): refuse non-public addresses unless allowed.
NEWSDEDUP_ALLOW_PRIVATE = False
TWISTED_DNS_RESOLVER = "crawlers.guard.GuardedResolver"
DOWNLOADER_MIDDLEWARES = {
    "crawlers.middlewares.NetworkGuardMiddleware": 50,
}

ITEM_PIPELINES = {
    "crawlers.pipelines.PageWriterPipeline": 800,
}
# Where PageWriterPipeline writes pages.jsonl.gz; `scrapy crawl` defaults to ./crawl-out.
NEWSDEDUP_OUT_DIR = "crawl-out"

LOG_LEVEL = "INFO"
STATS_DUMP = False  # crawlers.run writes its own summary (stats.json)
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"
