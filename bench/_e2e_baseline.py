"""Baseline of the end-to-end benchmark: trafilatura alone over the network's sitemaps.

    python bench/_e2e_baseline.py --truth DIR/truth.json --out RESULT.json [--mode pool|threads]

Reads the sitemap URLs from ``truth.json``, fetches each sitemap with ``trafilatura.fetch_url``
and parses its ``<loc>`` entries (trafilatura's own sitemap search goes through courlan,
which refuses IP:port hosts, so the URLs are handed over directly), then fetches every listed
page with ``fetch_url`` and extracts it with ``trafilatura.extract`` (default options), and
drops exact duplicates by a hash of the extracted text. trafilatura's SSRF protection (its
refusal of loopback and private addresses) is switched off in its config
(``SSRF_PROTECTION = off``), since the network lives on loopback.

Two ways to use both cores:

- ``pool`` (default): a process pool of one worker per core (spawned), each fetching and
  extracting its share of the URLs (``ProcessPoolExecutor.map``, chunks of 8), so downloads
  and extraction overlap and both cores extract;
- ``threads``: trafilatura's threaded download helper (``downloads.buffered_downloads``,
  4 threads) with extraction in the main thread, as trafilatura's own command line does:
  downloads run in parallel, extraction on one core.

Writes a JSON result: counts, seconds, and per URL whether it was fetched and the text hash
(for the quality check).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import re
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import trafilatura
from trafilatura.downloads import buffered_downloads
from trafilatura.settings import Extractor, use_config

LOC_RE = re.compile(r"<loc>\s*([^<\s]+)\s*</loc>")

_CONFIG = None


def config():  # noqa: ANN201 - ConfigParser
    global _CONFIG
    if _CONFIG is None:
        cfg = use_config()
        cfg.set("DEFAULT", "SSRF_PROTECTION", "off")
        _CONFIG = cfg
    return _CONFIG


def text_hash(text: str | None) -> str | None:
    return hashlib.sha1(text.encode("utf-8")).hexdigest() if text else None


def fetch_and_extract(url: str) -> tuple[str, bool, str | None]:
    html = trafilatura.fetch_url(url, config=config())
    if html is None:
        return url, False, None
    return url, True, text_hash(trafilatura.extract(html, url=url, config=config()))


def sitemap_urls(sitemaps: list[str]) -> list[str]:
    urls: list[str] = []
    for sm in sitemaps:
        body = trafilatura.fetch_url(sm, config=config())
        if body:
            urls += LOC_RE.findall(body)
    return list(dict.fromkeys(urls))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truth", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--mode", choices=["pool", "threads"], default="pool")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    truth = json.loads(args.truth.read_text())
    t0 = time.monotonic()
    urls = sitemap_urls(truth["sitemaps"])
    t_sitemaps = time.monotonic() - t0
    results: list[tuple[str, bool, str | None]] = []
    if args.mode == "pool":
        # spawn, not fork: forked workers would inherit the keep-alive connections that
        # fetching the sitemaps left in trafilatura's pool, and two processes reading answers
        # from one socket stall until the server drops the connection.
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=args.workers, mp_context=spawn) as pool:
            results = list(pool.map(fetch_and_extract, urls, chunksize=8))
    else:
        options = Extractor(config=config())
        for url, html in buffered_downloads(urls, args.threads, options=options):
            if html is None:
                results.append((url, False, None))
            else:
                text = trafilatura.extract(html, url=url, config=config())
                results.append((url, True, text_hash(text)))
    seconds = time.monotonic() - t0

    seen: dict[str, str] = {}
    duplicates = 0
    for url, _ok, h in results:
        if h is None:
            continue
        if h in seen:
            duplicates += 1
        else:
            seen[h] = url
    args.out.write_text(
        json.dumps(
            {
                "mode": args.mode,
                "workers": args.workers if args.mode == "pool" else 1,
                "threads": args.threads if args.mode == "threads" else 0,
                "listed": len(urls),
                "fetched": sum(1 for _, ok, _ in results if ok),
                "extracted": sum(1 for _, _, h in results if h),
                "unique": len(seen),
                "duplicates": duplicates,
                "seconds": round(seconds, 3),
                "sitemap_seconds": round(t_sitemaps, 3),
                "pages": {u: [ok, h] for u, ok, h in results},
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
