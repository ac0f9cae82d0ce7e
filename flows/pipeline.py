"""The ``news-pipeline`` Prefect flow: crawl each source, clean, dedup, publish, commit state.

Order matters for crash safety: data objects, then the run manifest, then the run state
(seen URLs, site templates, dedup index). A run that dies anywhere leaves the last good
state, and the next run picks up what was lost.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote as _quote

from crawlers.seeds import Seeds, Source, load_seeds, split_seen
from flows import progress, stages
from flows.config import PipelineSettings, cpu_count, resolve_settings
from flows.lake import (
    RAW_PREFIX,
    new_run_id,
    parse_raw_key,
    raw_key,
    raw_prefix,
    state_blob_key,
    work_key,
    work_prefix,
)
from flows.state import StateConflict, StateError
from flows.storage import crash_point

STATE_SEEN = "seen.json.gz"
STATE_TEMPLATES = "templates.bin"
STATE_DEDUP = "dedup-index.bin"


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except Exception:  # noqa: BLE001 - outside a flow or task run
        return logging.getLogger("newsdedup")


_SCRAPY_LEVEL = re.compile(r"^\S+ \S+ \[[^\]]+\] (DEBUG|INFO|WARNING|ERROR|CRITICAL): ")


def _line_level(line: str) -> int:
    """The level a crawl process gave its log line, so warnings stay warnings in Prefect."""
    m = _SCRAPY_LEVEL.match(line)
    if m:
        return int(getattr(logging, m.group(1)))
    return logging.ERROR if line.startswith("error:") else logging.INFO


def _route_project_logs() -> None:
    """Send the project's own loggers to the Prefect run log at INFO, as Scrapy's lines are."""
    try:
        from prefect.logging.handlers import APILogHandler
    except ImportError:  # pragma: no cover
        return
    for name in ("newsdedup", "flows", "crawlers", "dedup"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
        if not any(isinstance(h, APILogHandler) for h in logger.handlers):
            logger.addHandler(APILogHandler())


def _retry_unless(*kinds: type[BaseException]) -> Any:
    """A Prefect retry condition: retry a task unless it failed with one of ``kinds``."""

    def should_retry(task: Any, task_run: Any, state: Any) -> bool:
        try:
            state.result()
        except kinds:
            return False
        except Exception:  # noqa: BLE001 - anything else may pass on a second try
            return True
        return True

    return should_retry


_T = TypeVar("_T")


def quote(value: _T) -> _T:
    """Prefect's ``quote`` (the task gets ``value`` itself, not walked), typed as ``value``."""
    return cast(_T, _quote(value))


# -- tasks ----------------------------------------------------------------------------------
# Large arguments (articles, the dedup index, state blobs, seen URLs) are passed as
# quote(...): Prefect then hands them over as they are instead of walking every element in
# search of futures, which took seconds per run at a few thousand articles.


@task(name="crawl", cache_policy=NO_CACHE, task_run_name="crawl-{label}")
def crawl_task(
    sources: list[Source],
    seeds_path: str,
    work_dir: str,
    settings: PipelineSettings,
    seen: dict[str, Any],
    archive: bool = False,
    label: str = "",
    caps: dict[str, int] | None = None,
) -> list[stages.CrawlOutcome]:
    """Crawl a group of sources in one process (``sources_per_crawl``); with a shared
    frontier (``frontier_processes`` > 1 and Redis) one source in several processes."""
    logger = _logger()
    frontier = settings.redis_url and settings.frontier_processes > 1 and len(sources) == 1
    tag = sources[0].name if len(sources) == 1 else label
    common: dict[str, Any] = {
        "allow_private": settings.allow_private,
        "seen": seen,
        "timeout": settings.crawl_timeout,
        "user_agent": settings.user_agent,
        "log_line": lambda line: logger.log(_line_level(line), "[%s] %s", tag, line),
        "archive": archive,
    }
    own_caps = {s.name: caps[s.name] for s in sources if caps and s.name in caps}
    if own_caps:  # link-found articles each source's history supports (link_article_caps)
        common["extra_settings"] = {"NEWSDEDUP_SOURCE_CAPS": json.dumps(own_caps)}
    if frontier:
        # A shared frontier per source and run: several processes work one large site.
        key = f"newsdedup:frontier:{Path(work_dir).name}:{sources[0].name}"
        outcomes = [
            stages.crawl_source(
                sources[0], seeds_path, Path(work_dir), **common,
                frontier=(str(settings.redis_url), key),
                processes=settings.frontier_processes,
            )
        ]  # fmt: skip
    else:
        outcomes = stages.crawl_sources(sources, seeds_path, Path(work_dir), **common)
    for outcome in outcomes:
        if outcome.ok:
            logger.info(
                "crawled %s: %s article pages, %s requests in %.1fs",
                outcome.source,
                outcome.stats.get("articles", 0),
                outcome.stats.get("requests", 0),
                outcome.seconds,
            )
        else:
            logger.error("crawl of %s failed: %s", outcome.source, outcome.error)
    return outcomes


# No Prefect timeout: it cannot interrupt a task running in a worker thread (it only warns).
# Extraction is bounded per page instead (extract_timeout and the other extract_* settings).
@task(name="clean", cache_policy=NO_CACHE)
def clean_task(
    pages: stages.PageFeed,
    sources: dict[str, Source],
    templates: Any,
    settings: PipelineSettings,
) -> stages.CleanOutcome:
    """Extract the pages as their crawls finish (``pages`` is fed while crawls still run),
    then finish each source: templates, boilerplate rules, metadata, quality gates."""
    workers = max(1, min(cpu_count(), settings.concurrency or cpu_count()))
    result = stages.clean_stage(
        pages,
        sources,
        templates,
        min_words=settings.min_words,
        workers=workers,
        limits=settings.extract_limits(),
    )
    _logger().info(
        "cleaned: %d articles from %d sources", len(result.articles), len(result.per_source)
    )
    return result


@task(name="dedup", cache_policy=NO_CACHE, timeout_seconds=3600)
def dedup_task(
    articles: list[Any],
    index: Any,
    priorities: dict[str, int],
    run_id: str,
    seen: dict[str, dict[str, Any]] | None = None,
    rejected: list[Any] | None = None,
) -> stages.DedupOutcome:
    result = stages.dedup_stage(
        articles, index, priorities, run_id, seen=seen, rejected=rejected or ()
    )
    _logger().info(
        "dedup: %d new stories, %d duplicates",
        result.counts["stories"],
        result.counts["duplicates"],
    )
    return result


@task(
    name="publish",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[2, 10],
    timeout_seconds=3600,
)
def publish_task(
    storage: Any,
    run_id: str,
    started_at: datetime,
    dedup: stages.DedupOutcome,
    counts: dict[str, Any],
    extra: dict[str, Any],
) -> dict[str, Any]:
    from flows.publish import publish_run

    manifest = publish_run(
        storage, run_id, started_at, dedup.articles, dedup.duplicates, counts, extra,
        rejected=dedup.rejected,
    )
    _logger().info("published run %s: %s", run_id, storage.url_for(f"runs/{run_id}.json"))
    return manifest


@task(
    name="commit-state",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[2, 10],
    timeout_seconds=1800,
    # A conflict means another writer committed: trying again cannot help.
    retry_condition_fn=_retry_unless(StateConflict, StateError),
)
def commit_state_task(state: Any, run_id: str, blobs: dict[str, bytes], index: Any) -> None:
    # A shared (Redis) index first: if the state commit then fails, the next run replays this
    # run from its manifest, and the index skips the stories it already holds.
    if index is not None:
        index.commit()
    state.commit(run_id, blobs)


# -- state ----------------------------------------------------------------------------------


def load_seen(raw: bytes | None) -> dict[str, dict[str, Any]]:
    return json.loads(gzip.decompress(raw)) if raw else {}


def dump_seen(seen: dict[str, dict[str, Any]]) -> bytes:
    return gzip.compress(json.dumps(seen, separators=(",", ":")).encode(), compresslevel=6)


def open_index(
    blobs: dict[str, bytes], settings: PipelineSettings, output_uri: str, storage: Any = None
) -> Any:
    """The dedup index of this output root: segments under _state/dedup/ (with ``storage``),
    or shared in Redis. The state blob is the segments' manifest; an old whole-index blob is
    migrated to segments by the next commit. ``NEWSDEDUP_DEDUP_STATE=npz`` keeps new and old
    whole-index states in the old format (a state already in segments stays in segments).

    In Redis the keys are named after the output root, so one Redis server can hold the
    dedup state of several roots. The window is the run's; the signature scheme is pinned
    and a saved index made with another one is refused (dedup.IndexConfigError).
    """
    from dedup import DedupConfig, RedisReprintIndex, ReprintIndex

    config = DedupConfig(window_days=settings.window_days)
    if settings.redis_url:
        root = hashlib.sha256(output_uri.encode()).hexdigest()[:16]
        if os.environ.get("NEWSDEDUP_REDIS_LAYOUT") == "segments":  # the segments, in Redis
            from dedup.redis_segments import RedisSegmentedIndex
            from dedup.segments import default_cache_dir

            return RedisSegmentedIndex.connect(
                settings.redis_url, f"newsdedup:{root}:segments", default_cache_dir(output_uri),
                config,
            )
        return RedisReprintIndex(settings.redis_url, basename=f"newsdedup:{root}", config=config)
    raw = blobs.get(STATE_DEDUP)
    segmented = os.environ.get("NEWSDEDUP_DEDUP_STATE", "segments") != "npz"
    if storage is not None and (segmented or (raw or b"")[:1] == b"{"):
        from dedup.segments import SegmentedIndex, default_cache_dir

        return SegmentedIndex.open(storage, raw, default_cache_dir(output_uri), config)
    return ReprintIndex.from_bytes(raw, config=config) if raw else ReprintIndex(config)


# -- the flow -------------------------------------------------------------------------------


@flow(name="news-pipeline", log_prints=True)
def news_pipeline(
    seeds: str,
    sources: list[str] | None = None,
    output: str | None = None,
    allow_private: bool = False,
    window_days: int | None = None,
) -> dict[str, Any]:
    """Crawl the sources of a seeds file, clean and deduplicate what they publish, and write
    the result as Parquet under the output root (a local directory or ``s3://bucket/prefix``)."""
    return _start_run(seeds, sources, output, allow_private, window_days)


@flow(name="news-reextract", log_prints=True)
def news_reextract(
    seeds: str,
    since: str,
    until: str | None = None,
    raw_from: str | None = None,
    output: str | None = None,
    sources: list[str] | None = None,
) -> dict[str, Any]:
    """Run extraction again over archived WARC files (``raw/dt=…`` of ``raw_from``, default the
    output root) from ``since`` to ``until`` (run days, inclusive), without crawling, and
    publish like a normal run: into a fresh root that rebuilds the output, or into the same
    root, where only stories it has not published yet come out."""
    return _start_run(
        seeds, sources, output, False, None, produce=_reextract_producer(raw_from, since, until)
    )


def _start_run(
    seeds: str,
    sources: list[str] | None,
    output: str | None,
    allow_private: bool,
    window_days: int | None,
    produce: Any = None,
) -> Any:
    from flows.publish import write_failed_manifest
    from flows.state import RunLock
    from flows.storage import open_storage

    _route_project_logs()
    logger = _logger()
    seeds_obj: Seeds = load_seeds(seeds)
    chosen = seeds_obj.select(sources)
    settings = resolve_settings(
        {"output": output, "allow_private": allow_private or None, "window_days": window_days},
        seeds_obj,
    )
    started_at = datetime.now(UTC)
    run_id = new_run_id(started_at)
    storage = open_storage(settings.output)
    logger.info("run %s: %d sources -> %s", run_id, len(chosen), storage.uri)

    # The lock outlives the longest possible crawl; a crashed holder's lock expires.
    width = settings.concurrency or cpu_count()
    waves = -(-len(stages.crawl_groups(chosen, width, settings.sources_per_crawl)) // width)
    ttl = max(3600.0, settings.crawl_timeout * waves + 1800)
    with RunLock(storage, owner=run_id, ttl=ttl) as lock:
        try:
            summary = _run_locked(
                storage, run_id, started_at, str(seeds), chosen, settings, lock, produce
            )
        except Exception as exc:
            # Readers skip failed runs; the manifest says what failed, for people and tools.
            try:
                write_failed_manifest(
                    storage,
                    run_id,
                    started_at,
                    f"{type(exc).__name__}: {exc}",
                    extra={"seeds": str(seeds), "sources": [s.name for s in chosen]},
                )
            except Exception as inner:  # noqa: BLE001 - the storage itself may be what failed
                logger.error("could not record the failed run %s: %s", run_id, inner)
            if isinstance(exc, StateError):
                # Damaged state is no bug to trace: the message names the object and the way
                # out (newsdedup state repair); the CLI prints it and exits 1.
                from prefect.states import Failed

                logger.error("%s", exc)
                return Failed(message=f"{type(exc).__name__}: {exc}", data=exc)
            raise
    _write_report(summary, storage)
    # The flow run's state says how the run went: a run whose every source failed is Failed
    # in Prefect (the CLI exits 1), one where some failed is Completed but named Partial.
    from prefect.states import Completed, Failed

    failed = ", ".join(summary["failed_sources"])
    if summary["status"] == "failed":
        return Failed(message=f"every source failed: {failed}", data=summary)
    if summary["status"] == "partial":
        return Completed(name="Partial", message=f"failed sources: {failed}", data=summary)
    return summary


def _reextract_producer(raw_from: str | None, since: str, until: str | None) -> Any:
    from datetime import date

    first = date.fromisoformat(since).isoformat()
    last = date.fromisoformat(until).isoformat() if until else "9999-12-31"

    def produce(
        seeds: str,
        chosen: tuple[Source, ...],
        settings: PipelineSettings,
        seen: dict[str, dict[str, Any]],
        templates: Any,
        storage: Any,
        run_id: str,
    ) -> tuple[list[stages.CrawlOutcome], stages.CleanOutcome]:
        from crawlers.archive import iter_warc_pages
        from flows.storage import open_storage

        raw = open_storage(raw_from) if raw_from else storage
        names = {s.name for s in chosen}
        work_dir = Path(tempfile.mkdtemp(prefix="newsdedup-reextract-"))
        try:
            counts: dict[str, int] = {}
            writers: dict[str, Any] = {}
            for key in sorted(raw.list(RAW_PREFIX)):
                parsed = parse_raw_key(key)
                if not parsed or not first <= parsed.day <= last or parsed.source not in names:
                    continue
                local = work_dir / key.replace("/", "_")
                local.write_bytes(raw.get(key))
                source = parsed.source
                if source not in writers:
                    writers[source] = gzip.open(
                        work_dir / f"{source}.jsonl.gz", "wt", encoding="utf-8"
                    )
                for page in iter_warc_pages(local, source=source):
                    if (seen.get(page.url) or {}).get("kind") == "article":
                        continue  # this root already published (or judged) the page
                    writers[source].write(json.dumps(page.to_dict(), ensure_ascii=False) + "\n")
                    counts[source] = counts.get(source, 0) + 1
                local.unlink()
            for fh in writers.values():
                fh.close()
            outcomes = [
                stages.CrawlOutcome(
                    source=name,
                    ok=True,
                    pages_path=str(work_dir / f"{name}.jsonl.gz"),
                    stats={"articles": n, "from_archive": True},
                )
                for name, n in sorted(counts.items())
            ]
            _logger().info("re-extracting %d archived pages from %s", sum(counts.values()), raw.uri)
            feed = stages.PageFeed(o.pages_path for o in outcomes if o.pages_path)
            cleaned = clean_task(feed, {s.name: s for s in chosen}, quote(templates), settings)
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
        return outcomes, cleaned

    return produce


def _read_state(state: Any, blobs: dict[str, bytes], settings: PipelineSettings) -> Any:
    """The seen URLs, site templates and dedup index of the loaded state; a blob that cannot
    be read is named in a StateError that says how to recover (``newsdedup state repair``)."""
    from crawlers.clean import TemplateState
    from flows.state import damaged

    def blob(name: str, read: Any) -> Any:
        try:
            return read()
        except Exception as exc:  # noqa: BLE001 - any failure to read a blob is damage
            key = state.storage.url_for(state_blob_key(state.version, name))
            raise damaged(state.storage, f"{key} cannot be read: {exc}") from exc

    seen = blob(STATE_SEEN, lambda: load_seen(blobs.get(STATE_SEEN)))
    templates = blob(
        STATE_TEMPLATES, lambda: TemplateState.from_bytes(blobs.get(STATE_TEMPLATES, b""))
    )
    if settings.redis_url:
        index = open_index(blobs, settings, state.storage.uri)  # not in _state/: no repair
    else:
        index = blob(
            STATE_DEDUP, lambda: open_index(blobs, settings, state.storage.uri, state.storage)
        )
    return seen, templates, index


def _run_locked(
    storage: Any,
    run_id: str,
    started_at: datetime,
    seeds: str,
    chosen: tuple[Source, ...],
    settings: PipelineSettings,
    lock: Any,
    produce: Any = None,
) -> dict[str, Any]:
    """Everything a run does while holding the lock. ``produce`` makes the run's crawl
    outcomes and cleaned articles (default: crawl and clean the sources)."""
    from flows.publish import sweep_orphans
    from flows.state import StateStore

    # Under the lock, data without a manifest can only be a crashed run's: remove it now, so
    # readers that glob the data files never see it.
    sweep_orphans(storage, older_than=timedelta(0))
    state = StateStore(storage)
    blobs = state.load()
    seen, templates, index = _read_state(state, blobs, settings)
    recovered = recover_unrecorded_runs(storage, state.version, seen, index)
    if recovered:
        _logger().warning(
            "state did not record runs %s (a crash before the state commit): replayed them",
            ", ".join(recovered),
        )

    timings: dict[str, float] = {}
    progress.report(stage="crawl", sources=len(chosen), sources_done=0, fetched=0)
    t0 = time.monotonic()
    if produce is None and settings.shards > 1 and len(chosen) > 1:
        outcomes, cleaned = run_shards(storage, run_id, seeds, chosen, settings, seen, templates)
    else:
        outcomes, cleaned = (produce or crawl_and_clean)(
            seeds, chosen, settings, seen, templates, storage, run_id
        )
    timings["crawl_clean"] = time.monotonic() - t0
    progress.report(stage="dedup")
    lock.refresh()  # raises RunInProgress if another run took the lock over meanwhile

    t0 = time.monotonic()
    deduped = dedup_task(
        quote(cleaned.articles),
        quote(index),
        {s.name: s.priority for s in chosen},
        run_id,
        quote(seen),
        # Every fetched page the crawl or the cleaning dropped, to be listed in `rejected`.
        quote([r for o in outcomes for r in o.rejected] + list(cleaned.rejected)),
    )
    timings["dedup"] = time.monotonic() - t0
    progress.report(stage="publish")
    lock.refresh()

    failed = {o.source: o.error for o in outcomes if not o.ok}
    counts = {
        "sources": {
            o.source: {
                "ok": o.ok,
                "error": o.error,
                "crawl": o.stats,
                "crawl_seconds": o.seconds,
                "clean": cleaned.per_source.get(o.source, {}),
                "stories": sum(1 for r in deduped.articles if r["source"] == o.source),
                "duplicates": sum(1 for r in deduped.duplicates if r["source"] == o.source),
                "rejected": dict(
                    Counter(r["reason"] for r in deduped.rejected if r["source"] == o.source)
                ),
            }
            for o in outcomes
        },
        "dedup": deduped.counts,
        "pages": sum(o.stats.get("articles", 0) for o in outcomes),
        "articles": len(deduped.articles),
        "duplicates": len(deduped.duplicates),
        "rejected": len(deduped.rejected),
    }
    outcome = "ok" if not failed else ("failed" if len(failed) == len(outcomes) else "partial")
    extra = {
        "outcome": outcome,
        "failed_sources": failed,
        "seeds": seeds,
        "sources": [s.name for s in chosen],
        "settings": settings.masked(),
        "dedup_config": index.config.to_dict(),
        "recovered_runs": recovered,
        "stage_seconds": {k: round(v, 3) for k, v in timings.items()},
    }
    t0 = time.monotonic()
    manifest = publish_task(storage, run_id, started_at, quote(deduped), counts, extra)
    timings["publish"] = time.monotonic() - t0
    progress.report(stage="commit state")
    crash_point("after-manifest")
    lock.refresh()

    # State last: only what this run published (or judged) is marked seen.
    t0 = time.monotonic()
    for crawled in outcomes:
        seen.update(crawled.validators)
    new_blobs = {STATE_SEEN: dump_seen(seen), STATE_TEMPLATES: templates.to_bytes()}
    if not settings.redis_url:
        index.commit()
        new_blobs[STATE_DEDUP] = index.to_bytes()
    commit_state_task(state, run_id, quote(new_blobs), quote(index) if settings.redis_url else None)
    timings["state"] = time.monotonic() - t0
    for key in list(storage.list(work_prefix(run_id))):
        storage.delete(key)

    return {
        "run_id": run_id,
        "status": outcome,
        "output": storage.uri,
        "manifest": f"runs/{run_id}.json",
        "failed_sources": failed,
        "pages": counts["pages"],
        "articles": counts["articles"],
        "duplicates": counts["duplicates"],
        "rejected": counts["rejected"],
        "seconds": round((datetime.now(UTC) - started_at).total_seconds(), 2),
        "stage_seconds": {k: round(v, 3) for k, v in timings.items()},
        "objects": manifest.get("objects", []) if isinstance(manifest, dict) else [],
        "sources": counts["sources"],
    }


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
    from prefect.futures import as_completed

    archive_to = run_id if storage is not None and archive_enabled(settings, storage) else None
    work_dir = Path(tempfile.mkdtemp(prefix="newsdedup-crawl-"))
    width = settings.concurrency or cpu_count()
    shared = bool(settings.redis_url) and settings.frontier_processes > 1
    per_process = 1 if shared else settings.sources_per_crawl
    waiting = stages.crawl_groups(chosen, width, per_process)
    own_seen = split_seen(seen, chosen)
    caps = {}
    if storage is not None:
        from flows.publish import recent_source_counts

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
        _logger().info("archived %d WARC files under %s", len(keys), raw_prefix(run_id))
    return keys


# -- shards ---------------------------------------------------------------------------------
# A shard crawls and cleans a subset of the sources as its own flow run, on any worker of the
# pool, and leaves its result under _work/<run_id>/ in the output root. The parent run then
# deduplicates everything at once and publishes once, so a sharded run decides exactly what a
# single-process run of the same pages decides.


def _dump_json(value: Any) -> bytes:
    return gzip.compress(json.dumps(value, default=str).encode(), compresslevel=5)


def run_shards(
    storage: Any,
    run_id: str,
    seeds: str,
    chosen: tuple[Source, ...],
    settings: PipelineSettings,
    seen: dict[str, dict[str, Any]],
    templates: Any,
) -> tuple[list[stages.CrawlOutcome], stages.CleanOutcome]:
    from concurrent.futures import ThreadPoolExecutor

    from prefect.deployments import run_deployment

    from crawlers.clean import TemplateState
    from crawlers.records import Article, Rejected

    logger = _logger()
    n = min(settings.shards, len(chosen))
    groups = [list(chosen[i::n]) for i in range(n)]
    # What the shards start from: this run's seen URLs (recovered runs included) and site
    # templates, so they need not load the whole state (the dedup index is the parent's).
    storage.put(work_key(run_id, STATE_SEEN), dump_seen(seen))
    storage.put(work_key(run_id, STATE_TEMPLATES), templates.to_bytes())

    def launch(index: int) -> Any:
        return run_deployment(
            name=settings.shard_deployment,
            parameters={
                "seeds": seeds,
                "sources": [s.name for s in groups[index]],
                "output": storage.uri,
                "run_id": run_id,
                "shard": index,
                "allow_private": settings.allow_private,
            },
            timeout=None,  # wait for the shard to finish
            as_subflow=True,
        )

    logger.info("run %s: %d shards via deployment %s", run_id, n, settings.shard_deployment)
    with ThreadPoolExecutor(max_workers=n) as pool:
        runs = list(pool.map(launch, range(n)))
    failed = [(i, r) for i, r in enumerate(runs) if not (r.state and r.state.is_completed())]
    if failed:
        detail = ", ".join(
            f"shard {i} ({r.name}: {r.state.name if r.state else '?'})" for i, r in failed
        )
        raise RuntimeError(f"shard flow runs did not complete: {detail}")

    outcomes: list[stages.CrawlOutcome] = []
    articles: list[Article] = []
    rejected: list[Rejected] = []
    per_source: dict[str, dict[str, Any]] = {}
    for index in range(n):
        payload = json.loads(
            gzip.decompress(storage.get(work_key(run_id, f"shard-{index}.json.gz")))
        )
        outcomes += [stages.CrawlOutcome(**o) for o in payload["outcomes"]]
        articles += [Article.from_dict(a) for a in payload["articles"]]
        rejected += [Rejected.from_dict(r) for r in payload.get("rejected", [])]
        per_source.update(payload["per_source"])
        delta = TemplateState.from_bytes(base64.b64decode(payload["templates"]))
        templates.sites.update(delta.sites)  # shards learn disjoint sites
    order = {s.name: i for i, s in enumerate(chosen)}
    outcomes.sort(key=lambda o: order.get(o.source, 0))
    return outcomes, stages.CleanOutcome(
        articles=articles, per_source=per_source, rejected=rejected
    )


@flow(name="news-shard", log_prints=True)
def news_shard(
    seeds: str,
    sources: list[str],
    output: str,
    run_id: str,
    shard: int = 0,
    allow_private: bool = False,
) -> str:
    """Crawl and clean some sources for the parent run ``run_id``; returns the result's key."""
    from crawlers.clean import TemplateState
    from flows.storage import open_storage

    seeds_obj = load_seeds(seeds)
    chosen = seeds_obj.select(sources)
    settings = resolve_settings(
        {"output": output, "allow_private": allow_private or None}, seeds_obj
    )
    storage = open_storage(output)
    seen = load_seen(storage.get(work_key(run_id, STATE_SEEN)))
    templates = TemplateState.from_bytes(storage.get(work_key(run_id, STATE_TEMPLATES)))
    before = {site: stats.pages for site, stats in templates.sites.items()}
    outcomes, cleaned = crawl_and_clean(seeds, chosen, settings, seen, templates, storage, run_id)
    touched = TemplateState(
        {site: st for site, st in templates.sites.items() if before.get(site) != st.pages}
    )
    key = work_key(run_id, f"shard-{shard}.json.gz")
    storage.put(
        key,
        _dump_json(
            {
                "outcomes": [dataclasses.asdict(o) for o in outcomes],
                "articles": [a.to_dict() for a in cleaned.articles],
                "rejected": [r.to_dict() for r in cleaned.rejected],
                "per_source": cleaned.per_source,
                "templates": base64.b64encode(touched.to_bytes()).decode(),
            }
        ),
    )
    return key


def recover_unrecorded_runs(
    storage: Any, state_version: str | None, seen: dict[str, dict[str, Any]], index: Any
) -> list[str]:
    """Replay committed runs newer than the state into ``seen`` and the dedup index.

    A run that crashed between its manifest and its state commit published stories that the
    state does not know: without this, the next run would fetch and publish them again.
    """
    from dedup import Document
    from flows.maintenance import published_rows_of, runs_since_state, seen_entries

    manifests = runs_since_state(storage, state_version)
    if not manifests:
        return []
    columns = ["article_id", "url", "text", "published_at", "credited_source", "site_name"]
    articles = published_rows_of(storage, manifests, "articles", columns + ["source", "domain"])
    duplicates = published_rows_of(storage, manifests, "duplicates", ["url"])
    for url, entry in seen_entries(
        articles.column("url").to_pylist() + duplicates.column("url").to_pylist()
    ).items():
        seen.setdefault(url, entry)
    docs = [
        Document(
            id=row["article_id"],
            text=row["text"] or "",
            published_at=row["published_at"],
            credited_source=row["credited_source"],
            outlet_names=tuple(n for n in (row["site_name"], row["source"], row["domain"]) if n),
        )
        for row in articles.to_pylist()
    ]
    if docs:
        index.dedup(docs, datetime.now(UTC))
    return [str(m["run_id"]) for m in manifests]


def source_rows(summary: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One row of counts per source of a run summary, for the CLI table and the run report."""
    for name, s in summary["sources"].items():
        crawl = s.get("crawl", {})
        clean = s.get("clean", {})
        yield {
            "source": name,
            "fetched": crawl.get("articles", 0),
            "not_modified": crawl.get("not_modified", 0),
            "extracted": clean.get("extracted", 0),
            "dropped": dict(sorted(clean.get("dropped", {}).items())),
            "stories": s.get("stories", 0),
            "duplicates": s.get("duplicates", 0),
            "rejected": dict(sorted(s.get("rejected", {}).items())),
            "errors": s.get("error")
            or ", ".join(f"{k}: {v}" for k, v in crawl.get("errors", {}).items()),
        }


def _write_report(summary: dict[str, Any], storage: Any) -> None:
    """A markdown run report as a Prefect artifact: counts per source and stage."""
    try:
        from prefect.artifacts import create_markdown_artifact
    except ImportError:  # pragma: no cover
        return
    lines = [
        f"# Run {summary['run_id']} ({summary['status']})",
        "",
        "| source | fetched | 304 | extracted | dropped | new stories | duplicates | rejected "
        "| errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in source_rows(summary):
        dropped = ", ".join(f"{k}: {v}" for k, v in r["dropped"].items()) or "0"
        # Every fetched page that is neither, by reason (crawl, clean and dedup stages).
        rejected = ", ".join(f"{k}: {v}" for k, v in r["rejected"].items()) or "0"
        lines.append(
            f"| {r['source']} | {r['fetched']} | {r['not_modified']} | {r['extracted']} | "
            f"{dropped} | {r['stories']} | {r['duplicates']} | {rejected} | {r['errors']} |"
        )
    manifest = summary["manifest"]
    lines += [
        "",
        f"Output: `{summary['output']}`, manifest [{manifest}]({storage.url_for(manifest)})",
        "",
    ]
    for obj in summary.get("objects", [])[:50]:
        key = obj.get("key") if isinstance(obj, dict) else obj
        lines.append(f"- [{key}]({storage.url_for(key)})")
    try:
        create_markdown_artifact(
            markdown="\n".join(lines),
            key="news-pipeline-report",
            description="Counts per source and stage",
        )
    except Exception as exc:  # noqa: BLE001 - a report must not fail a published run
        logging.getLogger("newsdedup").warning("could not write the run report artifact: %s", exc)
