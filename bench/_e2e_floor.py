"""The per-page CPU floor of any Scrapy + trafilatura pipeline on the benchmark network.

    python bench/_e2e_floor.py --truth DIR/truth.json --server-pid PID --out RESULT.json

Measures, on the URLs the network's sitemaps list, the CPU that the two parts the project is
built on cost per page before the project adds anything:

- ``scrapy``: a bare Scrapy spider that requests every URL and does nothing with the
  response (Scrapy's default middlewares; robots.txt, AutoThrottle, cookies, telnet and the
  remote control off; 8 requests per site in flight), in this process: CPU seconds of the
  crawl per page;
- ``server``: the network server's CPU per page meanwhile (it shares the machine);
- ``extract``: ``trafilatura.extract(html, fast=True)`` (its cheapest mode, no fallback
  extractors) on up to ``--sample`` of those pages, fetched beforehand.

The end-to-end benchmark turns the sum into a ceiling: with every core busy and nothing
else to do, pages/s cannot exceed cores / (sum of the three).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _e2e_baseline import config, sitemap_urls  # the baseline's URL list and trafilatura config
from e2e_bench import proc_cpu


def bare_scrapy(urls: list[str]) -> tuple[int, float]:
    import scrapy
    from scrapy.crawler import CrawlerProcess

    fetched = 0

    class Bare(scrapy.Spider):
        name = "bare"

        async def start(self):  # type: ignore[override]
            for url in urls:
                yield scrapy.Request(url, callback=self.parse)

        def parse(self, response):  # type: ignore[no-untyped-def]
            nonlocal fetched
            fetched += 1

    process = CrawlerProcess(
        settings={
            "LOG_LEVEL": "ERROR",
            "ROBOTSTXT_OBEY": False,
            "COOKIES_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "REMOTE_CONTROL_ENABLED": False,
            "WARN_ON_GENERATOR_RETURN_VALUE": False,
            # More requests in flight than the project's polite 2 per site: each reactor
            # turn then serves more responses, which makes Scrapy's cost per page lower.
            "CONCURRENT_REQUESTS": 32,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
        }
    )
    process.crawl(Bare)
    c0 = time.process_time()
    process.start()
    return fetched, time.process_time() - c0


def extract_cost(urls: list[str]) -> tuple[int, float]:
    import trafilatura

    pages = [(u, html) for u in urls if (html := trafilatura.fetch_url(u, config=config()))]
    for url, html in pages[:20]:  # warm caches and lazy imports
        trafilatura.extract(html, url=url, config=config(), fast=True)
    c0 = time.process_time()
    for url, html in pages:
        trafilatura.extract(html, url=url, config=config(), fast=True)
    return len(pages), time.process_time() - c0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truth", type=Path, required=True)
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sample", type=int, default=2000)
    args = parser.parse_args()
    truth = json.loads(args.truth.read_text())
    urls = sitemap_urls(truth["sitemaps"])

    server0 = proc_cpu(args.server_pid)
    fetched, scrapy_cpu = bare_scrapy(urls)
    server_cpu = proc_cpu(args.server_pid) - server0
    extracted, extract_cpu = extract_cost(urls[: args.sample])
    result = {
        "urls": len(urls),
        "scrapy_pages": fetched,
        "scrapy_ms_per_page": 1000 * scrapy_cpu / max(fetched, 1),
        "server_ms_per_page": 1000 * server_cpu / max(fetched, 1),
        "extract_pages": extracted,
        "extract_ms_per_page": 1000 * extract_cpu / max(extracted, 1),
    }
    args.out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
