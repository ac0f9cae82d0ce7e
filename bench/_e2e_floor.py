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

Each part is measured alone, one process at a time: that is the floor. With ``--cores N``
(N > 1) each part is then measured again as the pipeline runs its stages, N processes at
once, each on its share (the spiders on whole sites, the extractors on alternate pages),
started together: the ``side_*`` figures. Processes that share the machine's caches and
memory bandwidth each use more CPU per page than one alone; the difference is what running
on every core costs any pipeline, this project's or another.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import queue
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _e2e_baseline import config, sitemap_urls  # the baseline's URL list and trafilatura config
from e2e_bench import proc_cpu


def bare_scrapy(urls: list[str], ready: Callable[[], Any] = lambda: None) -> tuple[int, float]:
    """Pages fetched and CPU seconds of the crawl; ``ready()`` is called just before it."""
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
    ready()
    c0 = time.process_time()
    process.start()
    return fetched, time.process_time() - c0


def fetch_pages(urls: list[str]) -> list[tuple[str, str]]:
    import trafilatura

    return [(u, html) for u in urls if (html := trafilatura.fetch_url(u, config=config()))]


def extract_cost(
    pages: list[tuple[str, str]], ready: Callable[[], Any] = lambda: None
) -> tuple[int, float]:
    """Pages extracted and CPU seconds; ``ready()`` is called after the warm-up."""
    import trafilatura

    for url, html in pages[:20]:  # warm caches and lazy imports
        trafilatura.extract(html, url=url, config=config(), fast=True)
    ready()
    c0 = time.process_time()
    for url, html in pages:
        trafilatura.extract(html, url=url, config=config(), fast=True)
    return len(pages), time.process_time() - c0


def _one_share(part: str, share: list[Any], barrier: Any, results: Any) -> None:
    """A process of :func:`side_by_side`: its share of one part, timed from the moment every
    process is ready. A failure is reported, and breaks the barrier for the others."""
    try:
        run = bare_scrapy if part == "scrapy" else extract_cost
        results.put(("done", run(share, lambda: barrier.wait(timeout=600))))
    except BaseException as exc:
        barrier.abort()
        results.put(("failed", f"{type(exc).__name__}: {exc}"))
        raise


def side_by_side(part: str, shares: list[list[Any]], timeout: float = 1800.0) -> tuple[int, float]:
    """Pages done and CPU seconds of ``part`` ("scrapy": URLs; "extract": pages) run by one
    spawned process per share at once, summed over the processes."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(len(shares)), ctx.Queue()
    procs = [ctx.Process(target=_one_share, args=(part, s, barrier, results)) for s in shares]
    for proc in procs:
        proc.start()
    done: list[tuple[int, float]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(done) < len(procs):
            try:
                kind, value = results.get(timeout=5)
            except queue.Empty:
                dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                if dead or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"side-by-side {part}: {len(done)} of {len(procs)} processes done; "
                        f"exit codes {[p.exitcode for p in procs]}"
                    ) from None
                continue
            if kind == "failed":
                raise RuntimeError(f"side-by-side {part}: a process failed: {value}")
            done.append(value)
    finally:
        for proc in procs:
            proc.join(timeout=30 if len(done) == len(procs) else 1)
            if proc.is_alive():
                proc.kill()
                proc.join()
    return sum(n for n, _ in done), sum(cpu for _, cpu in done)


def by_site(urls: list[str], n: int) -> list[list[str]]:
    """The URLs in at most ``n`` shares, each site's in one share, the sites with the most
    URLs placed first, each in the share with the fewest URLs so far (as the pipeline gives
    each crawl process whole sources); no empty share."""
    sites: dict[str, list[str]] = {}
    for url in urls:
        sites.setdefault(urlsplit(url).netloc, []).append(url)
    shares: list[list[str]] = [[] for _ in range(min(n, len(sites)))]
    for site_urls in sorted(sites.values(), key=len, reverse=True):
        min(shares, key=len).extend(site_urls)
    return shares


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truth", type=Path, required=True)
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--cores", type=int, default=1, help="also run each part N at once")
    args = parser.parse_args()
    truth = json.loads(args.truth.read_text())
    urls = sitemap_urls(truth["sitemaps"])

    server0 = proc_cpu(args.server_pid)
    fetched, scrapy_cpu = bare_scrapy(urls)
    server_cpu = proc_cpu(args.server_pid) - server0
    pages = fetch_pages(urls[: args.sample])
    extracted, extract_cpu = extract_cost(pages)
    result: dict[str, Any] = {
        "urls": len(urls),
        "scrapy_pages": fetched,
        "scrapy_ms_per_page": 1000 * scrapy_cpu / max(fetched, 1),
        "server_ms_per_page": 1000 * server_cpu / max(fetched, 1),
        "extract_pages": extracted,
        "extract_ms_per_page": 1000 * extract_cpu / max(extracted, 1),
    }
    if args.cores > 1:
        sites = by_site(urls, args.cores)
        server0 = proc_cpu(args.server_pid)
        fetched, scrapy_cpu = side_by_side("scrapy", sites)
        server_cpu = proc_cpu(args.server_pid) - server0
        extracted, extract_cpu = side_by_side(
            "extract", [pages[i :: len(sites)] for i in range(len(sites))]
        )
        result.update(
            side_processes=len(sites),
            side_scrapy_pages=fetched,
            side_scrapy_ms_per_page=1000 * scrapy_cpu / max(fetched, 1),
            side_server_ms_per_page=1000 * server_cpu / max(fetched, 1),
            side_extract_pages=extracted,
            side_extract_ms_per_page=1000 * extract_cpu / max(extracted, 1),
        )
    args.out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
