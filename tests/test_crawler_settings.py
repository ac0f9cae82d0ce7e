import subprocess
import sys

from crawlers.seeds import parse_seeds
from flows.demo import DemoNetwork


def test_crawl_process_opens_no_remote_control(tmp_path):
    with DemoNetwork(ports=None) as net:
        seeds = net.write_seeds(tmp_path / "seeds.yaml")
        site = parse_seeds(seeds.read_text()).sources[0].name
        proc = subprocess.run(
            [
                sys.executable,
                "-X",
                "importtime",
                "-m",
                "crawlers.run",
                "--seeds",
                str(seeds),
                "--source",
                site,
                "--out",
                str(tmp_path / "out"),
                "--allow-private",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = proc.stdout + proc.stderr
    assert "Enabled extensions" in log  # the log is Scrapy's, at INFO
    assert "TelnetConsole" not in log and "Telnet console listening" not in log
    assert "RemoteControl" not in log and "Remote control HTTP server" not in log
    # Nor is what their modules import (RemoteControl's imports aiohttp). -X importtime
    # lists the modules imported by import statements, not by importlib.import_module
    # (Scrapy's load_object): aiohttp's line is there when remote_control.py is loaded.
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}  # fmt: skip
    assert "scrapy.extensions.throttle" in imported  # crawlers.middlewares imports it
    assert "aiohttp" not in imported
    # Nor the cookies middleware (cookies are off), whose module imports tldextract.
    assert "CookiesMiddleware" not in log and "tldextract" not in imported
    for used in ("CoreStats", "LogStats", "PoliteThrottle", "LogSanitizer"):
        assert used in log


def test_the_crawls_stats_collector_counts_as_scrapys_own():
    from scrapy.statscollectors import MemoryStatsCollector
    from scrapy.utils.test import get_crawler

    from crawlers import settings
    from crawlers.stats import CrawlStats

    crawler = get_crawler(settings_dict={"STATS_CLASS": settings.STATS_CLASS})
    ours, scrapys = crawler.stats, MemoryStatsCollector(get_crawler())
    assert type(ours) is CrawlStats
    for stats in (ours, scrapys):
        stats.open_spider()
        stats.inc_value("pages")
        stats.inc_value("pages", 2)
        stats.max_value("largest", 5)
        stats.max_value("largest", 3)
        stats.min_value("smallest", 5)
        stats.min_value("smallest", 3)
        stats.set_value("state", "done")
    assert ours.get_stats() == scrapys.get_stats() == {
        "pages": 3, "largest": 5, "smallest": 3, "state": "done"
    }  # fmt: skip
