"""A run's crawl and clean: crawl processes ``concurrency`` at a time, extraction of each
group's pages as soon as its crawl ends, and the raw archive of what was fetched."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from prefect.futures import as_completed

from crawlers.seeds import Source, split_seen
from flows import progress, stages
from flows.config import PipelineSettings, cpu_count
from flows.lake import raw_key, raw_prefix
from flows.publish import recent_source_counts
from flows.runlog import run_logger
from flows.storage import crash_point
from flows.tasks import clean_task, crawl_task, quote


def crawl_and_clean(
    seeds: str,
    chosen: tuple[Source, ...] | list[Source],
    settings: PipelineSettings,
    seen: dict[str, dict[str, Any]],
    templates: Any,
    storage: Any = None,
    run_id: str | None = None,
) -> tuple[list[stages.CrawlOutcome], stages.CleanOutcome]:
    """Crawl the sources, ``concurrency`` crawl processes at a time with up to
    ``sources_per_crawl`` sources each, and clean their pages: extraction starts on each
    group's pages as soon as its crawl ends, while the other crawls go on.

    With a raw archive (``archive_raw``; on by default for S3 output) the fetched responses
    are kept as WARC files under ``raw/dt=YYYY-MM-DD/`` of the output root, so extraction can
    be run again later without crawling (``newsdedup reextract``)."""
    archive_to = run_id if storage is not None and archive_enabled(settings, storage) else None
    work_dir = Path(tempfile.mkdtemp(prefix="newsdedup-crawl-"))
    width = settings.concurrency or cpu_count()
    shared = bool(settings.redis_url) and settings.frontier_processes > 1
    per_process = 1 if shared else settings.sources_per_crawl
    waiting = stages.crawl_groups(chosen, width, per_process)
    own_seen = split_seen(seen, chosen)
    caps = {}
    if storage is not None:
        caps = stages.link_article_caps(chosen, recent_source_counts(storage))
    feed = stages.PageFeed()
    cleaning = clean_task.submit(feed, {s.name: s for s in chosen}, quote(templates), settings)
    outcomes: list[stages.CrawlOutcome] = []
    try:
        # crawl_sources kills a crawl process at crawl_timeout: that is the crawl's timeout
        # (a Prefect timeout cannot interrupt a task running in a worker thread).
        def launch(group: list[Source]) -> Any:
            label = group[0].name if len(group) == 1 else f"{group[0].name}-and-{len(group) - 1}"
            group_seen = {u: e for src in group for u, e in own_seen[src.name].items()}
            return crawl_task.submit(
                group,
                seeds,
                str(work_dir),
                settings,
                quote(group_seen),
                archive_to is not None,
                label,
                caps,
            )

        running = [launch(group) for group in waiting[:width]]
        waiting = waiting[width:]
        while running:
            done = next(as_completed(running))
            running.remove(done)
            if waiting:
                running.append(launch(waiting.pop(0)))
            finished = done.result()
            outcomes += finished
            progress.add(
                sources_done=len(finished),
                fetched=sum(int(o.stats.get("articles", 0) or 0) for o in finished),
            )
            if archive_to is not None:
                upload_raw(storage, archive_to, finished)
            for outcome in finished:
                if outcome.pages_path:  # a killed crawl's pages too (crawl_sources)
                    feed.put(outcome.pages_path)
        crash_point("after-crawl")
        progress.report(stage="clean")
    finally:
        feed.close()
        try:
            cleaned = cleaning.result()
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
    order = {s.name: i for i, s in enumerate(chosen)}
    outcomes.sort(key=lambda o: order.get(o.source, 0))
    return outcomes, cleaned


def archive_enabled(settings: PipelineSettings, storage: Any) -> bool:
    if settings.archive_raw is not None:
        return settings.archive_raw
    return str(storage.uri).startswith("s3://")


def upload_raw(storage: Any, run_id: str, outcomes: list[stages.CrawlOutcome]) -> list[str]:
    """Copy each crawl's finished WARC files to ``raw/dt=<run day>/<run_id>-<file>``."""
    keys = []
    for outcome in outcomes:
        for path in outcome.stats.get("warc_files", []) or []:
            key = raw_key(run_id, Path(path).name)
            storage.put(key, Path(path).read_bytes())
            keys.append(key)
    if keys:
        run_logger().info("archived %d WARC files under %s", len(keys), raw_prefix(run_id))
    return keys
