"""Crawl sources in this process: ``python -m crawlers.run --seeds F --source NAME --out DIR``.

``--source`` may be given several times: the sources are then crawled side by side in this
one process (one Scrapy crawler each, sharing the reactor), which saves a process start-up per
source, and each writes into ``DIR/<source>/``. With one source the files go into ``--out``
itself. Twisted's reactor cannot be restarted, so the pipeline starts a new process for each
group of sources. A crawl writes:

- ``pages.jsonl.gz``: every article page fetched (:class:`crawlers.records.Page` per line),
  written as ``pages.jsonl.gz.part`` while the crawl runs and flushed page by page, so that a
  killed process leaves every page written so far readable (``crawlers.pipelines.salvage``);
  with ``--warc-dir``, a line names the page's body in the WARC files instead of holding its
  HTML (read with ``crawlers.records.page_from_line``);
- ``validators.json``: ETag / Last-Modified / announced date per URL, for the next run;
- ``stats.json``: the per-source counters of :func:`summarise`, written as soon as that
  source's crawl closes (a later kill of the process does not take them);
- with ``--warc-dir DIR``: ``DIR/<source>-<n>.warc.gz``, the raw responses (crawlers.archive).

With ``--frontier-redis URL --frontier-key KEY`` several such processes share one source's
request queue and seen-set in Redis (crawlers.frontier); each writes its own ``--out``.

Exit status: 0 when every source answered, 3 when no page of some source could be reached
(one ``error: source 'NAME': ...`` line each; the ``stats.json`` of each source says whether
it was ``reachable``), 2 for a bad seeds file or arguments.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

from crawlers import heap
from crawlers.contract import (
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    PARENT_PID_ENV,
    STATS_FILE,
    source_dir,
)
from crawlers.seeds import SeedsError, load_seeds, split_seen

ALLOW_HOSTS_ENV = "NEWSDEDUP_ALLOW_HOSTS"
CONTACT = re.compile(r"https?://|@")


def summarise(stats: dict[str, Any]) -> dict[str, Any]:
    """The per-source crawl statistics the run manifest keeps.

    ``errors`` holds only failures of the site or the network (by kind: ``http_404``,
    ``DownloadTimeoutError``...); pages refused by robots.txt, by the network guard or for
    their size have their own counters.
    """
    by_status = {
        key.rsplit("/", 1)[1]: value
        for key, value in stats.items()
        if key.startswith("downloader/response_status_count/")
    }
    errors = {
        key.split("/", 2)[2]: value
        for key, value in stats.items()
        if key.startswith("newsdedup/errors/")
    }
    return {
        "requests": stats.get("downloader/request_count", 0),
        "responses_by_status": by_status,
        "bytes": stats.get("downloader/response_bytes", 0),
        "discovered": stats.get("newsdedup/feed_entries", 0)
        + stats.get("newsdedup/sitemap_entries", 0)
        + stats.get("newsdedup/links_followed", 0),
        "articles": stats.get("newsdedup/articles", 0),
        "listing_pages": stats.get("newsdedup/listing_pages", 0),
        "skipped_seen": stats.get("newsdedup/skipped/seen", 0),
        "skipped_max_pages": stats.get("newsdedup/skipped/max_pages", 0),
        "skipped_link_budget": stats.get("newsdedup/skipped/link_budget", 0),
        "skipped_links_fruitless": stats.get("newsdedup/skipped/links_fruitless", 0),
        "skipped_not_html": stats.get("newsdedup/skipped/not_html", 0),
        "skipped_too_large": stats.get("newsdedup/skipped/too_large", 0),
        "not_modified": stats.get("newsdedup/not_modified", 0),
        "robots_disallowed": stats.get("robotstxt/forbidden", 0),
        "robots_crawl_delay": stats.get("newsdedup/robots_crawl_delay", 0),
        "blocked_private": stats.get("newsdedup/blocked_private", 0),
        "blocked_scheme": {
            key.rsplit("/", 1)[1]: value
            for key, value in stats.items()
            if key.startswith("newsdedup/blocked_scheme/")
        },
        "deferred": stats.get("newsdedup/deferred", 0),
        "discovery_documents": stats.get("newsdedup/feed_documents", 0)
        + stats.get("newsdedup/sitemap_documents", 0),
        "skipped_discovery": {
            kind: stats.get(f"newsdedup/skipped/{kind}", 0)
            for kind in ("discovery_docs", "sitemap_depth", "doc_entries", "candidates")
            if stats.get(f"newsdedup/skipped/{kind}")
        },
        "retries": stats.get("retry/count", 0),
        "errors": errors,
        "warc_files": stats.get("newsdedup/warc_files", []),
        "finish_reason": stats.get("finish_reason"),
    }


def _on_closed(name: str, source_out: Path, crawler: Any, shared: bool) -> Any:
    def closed(spider: Any = None, reason: str | None = None) -> None:
        write_summary(name, source_out, crawler, shared, reason)

    closed.__name__ = f"write_summary_{name}"
    return closed


def _die_with_parent() -> None:
    parent = os.environ.get(PARENT_PID_ENV, "")
    if not parent.isdigit() or not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != int(parent):  # the parent died before the request was made
        os._exit(1)


# The settings that list Scrapy components by priority over a ``*_BASE`` of Scrapy's own.
COMPONENT_SETTINGS = ("EXTENSIONS", "DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES")


def drop_disabled_components(settings: Any) -> None:
    """Take the components the project turns off (set to None) out of Scrapy's base lists
    too. Scrapy imports every class a component setting names, those set to None included,
    to normalise the names; the module of the RemoteControl extension, which the project
    turns off, imports aiohttp and builds its TLS contexts: 0.27 s of CPU in every crawl
    process. Left out of the base, a component is neither imported nor enabled."""
    for name in COMPONENT_SETTINGS:
        own = settings.getdict(name)
        off = {key for key, order in own.items() if order is None}
        if not off:
            continue
        base = settings.getdict(f"{name}_BASE")
        settings.set(
            f"{name}_BASE", {k: v for k, v in base.items() if k not in off}, priority="project"
        )
        settings.set(name, {k: v for k, v in own.items() if k not in off}, priority="project")


def main(argv: list[str] | None = None) -> int:
    _die_with_parent()
    parser = argparse.ArgumentParser(
        prog="python -m crawlers.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seeds", required=True)
    parser.add_argument("--source", required=True, action="append", help="repeatable")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seen", help="JSON file of validators from earlier runs")
    parser.add_argument("--allow-private", action="store_true")
    parser.add_argument("--user-agent", help="default: $NEWSDEDUP_USER_AGENT, else the project's")
    parser.add_argument(
        "--allow-host", action="append", default=[], metavar="HOST[:PORT]",
        help="a non-public host the network guard lets through (repeatable)",
    )  # fmt: skip
    parser.add_argument("--warc-dir", help="also archive fetched pages as WARC files here")
    parser.add_argument("--timeout", type=float, default=0, help="close the crawl after N seconds")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument(
        "--frontier-redis", metavar="URL",
        help="share the crawl frontier (queue and seen-set) in this Redis (crawlers.frontier)",
    )  # fmt: skip
    parser.add_argument(
        "--frontier-key", metavar="KEY",
        help="the shared frontier's key prefix, e.g. newsdedup:frontier:<source>:<run id>",
    )  # fmt: skip
    parser.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)

    try:
        sources = load_seeds(args.seeds).select(list(dict.fromkeys(args.source)))
    except SeedsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    seen: dict[str, Any] = {}
    if args.seen and Path(args.seen).exists():
        try:
            seen = json.loads(Path(args.seen).read_text())
        except ValueError as exc:
            print(f"error: {args.seen}: not a JSON file of validators: {exc}", file=sys.stderr)
            return EXIT_USAGE

    from scrapy import signals
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from crawlers.middlewares import install_log_masking
    from crawlers.spiders.news import NewsSpider  # Scrapy loads once the arguments are good

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    settings = Settings()
    settings.setmodule("crawlers.settings", priority="project")
    drop_disabled_components(settings)
    settings.set("NEWSDEDUP_OUT_DIR", str(out), priority="cmdline")
    settings.set("NEWSDEDUP_ALLOW_PRIVATE", args.allow_private, priority="cmdline")
    settings.set("LOG_LEVEL", args.log_level, priority="cmdline")
    user_agent = args.user_agent or os.environ.get("NEWSDEDUP_USER_AGENT")
    if user_agent:
        if not CONTACT.search(user_agent):
            print(
                "warning: the User-Agent names no contact (a URL or an e-mail address); "
                "site operators need one to reach whoever runs the crawler",
                file=sys.stderr,
            )
        settings.set("USER_AGENT", user_agent, priority="cmdline")
    # --allow-host and NEWSDEDUP_ALLOW_HOSTS (comma- or space-separated) add up, so the
    # variable reaches every crawl the pipeline starts (`newsdedup run`, `crawl`, workers).
    allow_hosts = [*args.allow_host, *re.split(r"[,\s]+", os.environ.get(ALLOW_HOSTS_ENV, ""))]
    allow_hosts = [h for h in (h.strip() for h in allow_hosts) if h]
    if allow_hosts:
        settings.set("NEWSDEDUP_ALLOW_HOSTS", allow_hosts, priority="cmdline")
    if args.warc_dir:
        settings.set("NEWSDEDUP_WARC_DIR", args.warc_dir, priority="cmdline")
    if args.timeout:
        settings.set("CLOSESPIDER_TIMEOUT", args.timeout, priority="cmdline")
    for item in args.set:
        name, _, value = item.partition("=")
        settings.set(name, value, priority="cmdline")
    if args.frontier_redis:
        settings.set("NEWSDEDUP_FRONTIER_REDIS_URL", args.frontier_redis, priority="cmdline")
    if args.frontier_key:
        settings.set("NEWSDEDUP_FRONTIER_KEY", args.frontier_key, priority="cmdline")
    if settings.get("NEWSDEDUP_FRONTIER_REDIS_URL"):
        from crawlers.frontier import configure  # scrapy-redis, only when shared

        try:
            configure(settings)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE

    process = CrawlerProcess(settings)
    shared = bool(settings.get("NEWSDEDUP_FRONTIER_REDIS_URL"))
    install_log_masking()  # also covers what is logged before the crawl's extensions load
    own_seen = split_seen(seen, sources)
    crawlers = []
    for source in sources:
        source_out = source_dir(out, [s.name for s in sources], source.name)
        source_out.mkdir(parents=True, exist_ok=True)
        crawler = process.create_crawler(NewsSpider)
        # Each crawler has its own copy of the settings until it starts; process.crawl merges
        # the process's settings into it again, so this one ranks above the command line's.
        crawler.settings.set("NEWSDEDUP_OUT_DIR", str(source_out), priority=50)
        process.crawl(crawler, source=source, seen=own_seen[source.name])
        crawlers.append((source, source_out, crawler))
        crawler.signals.connect(
            _on_closed(source.name, source_out, crawler, shared),
            signal=signals.spider_closed,
            weak=False,  # the closure has no other reference
        )
    heap.settle()  # start-up is over: see crawlers.heap
    process.start()

    status = 0
    for source, source_out, crawler in crawlers:
        summary = write_summary(source.name, source_out, crawler, shared)
        if summary.get("error"):
            print(f"error: {summary['error']}", file=sys.stderr)
            status = EXIT_UNREACHABLE
    return status


def write_summary(
    name: str, source_out: Path, crawler: Any, shared: bool, reason: str | None = None
) -> dict[str, Any]:
    """Write one source's ``stats.json``. Called as soon as its spider closes (so a source
    that finished keeps its counters even if the process is killed later over another
    source), and again when the process ends."""
    stats = crawler.stats.get_stats() if crawler.stats else {}
    summary = summarise(stats)
    if reason is not None and summary.get("finish_reason") is None:
        summary["finish_reason"] = reason
    summary["reachable"] = bool(getattr(crawler.spider, "ok_responses", 0))
    if shared and not summary["requests"]:
        # Sharing a frontier, the other processes may have fetched everything.
        summary["reachable"] = True
    if not summary["reachable"]:
        summary["error"] = (
            f"source {name!r}: no page could be fetched "
            f"(requests: {summary['requests']}, errors: {summary['errors'] or 'none'}, "
            f"blocked by network guard: {summary['blocked_private']}, "
            f"refused schemes: {summary['blocked_scheme'] or 'none'}, "
            f"disallowed by robots.txt: {summary['robots_disallowed']})"
        )
    tmp = source_out / f"{STATS_FILE}.tmp"
    tmp.write_text(json.dumps(summary, indent=2, default=str))
    tmp.replace(source_out / STATS_FILE)
    return summary


if __name__ == "__main__":
    sys.exit(main())
