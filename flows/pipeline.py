"""The ``news-pipeline`` Prefect flow: crawl each source, clean, dedup, publish, commit state.

Order matters for crash safety: data objects, then the run manifest, then the run state
(seen URLs, site templates, dedup index). A run that dies anywhere leaves the last good
state, and the next run picks up what was lost.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow
from prefect.states import Completed, Failed

from crawlers.seeds import Seeds, Source, load_seeds
from flows import progress, stages
from flows.archive_source import (
    ArchiveProducer,
    NothingLeft,
    SourceMap,
    archives_per_run,
    resolve_archives,
)
from flows.config import PipelineSettings, cpu_count, resolve_settings
from flows.crawl_clean import crawl_and_clean
from flows.lake import (
    STATE_DEDUP,
    STATE_SEEN,
    STATE_TEMPLATES,
    new_run_id,
    work_prefix,
)
from flows.publish import sweep_orphans, write_failed_manifest
from flows.reextract import reextract_producer
from flows.report import RunSummary, write_report
from flows.run_state import read_state, recover_unrecorded_runs
from flows.runlog import route_project_logs
from flows.runlog import run_logger as _logger
from flows.shards import run_shard, run_shards
from flows.state import (
    STATE_ARCHIVES,
    RunLock,
    StateError,
    StateStore,
    dump_seen,
)
from flows.storage import Storage, crash_point, open_storage
from flows.tasks import commit_state_task, dedup_task, publish_task, quote

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
        seeds, sources, output, False, None, produce=reextract_producer(raw_from, since, until)
    )


@flow(name="news-archive", log_prints=True)
def news_archive(
    archives: list[str],
    seeds: str | None = None,
    output: str | None = None,
    sources: list[str] | None = None,
    only_seeded: bool = False,
    warc_base: str | None = None,
    per_run: int | None = None,
    window_days: int | None = None,
) -> Any:
    """Read WARC archives (paths, globs, ``s3://`` or ``https://`` URLs, ``warc.paths.gz``
    listings relative to ``warc_base``) instead of crawling, and clean, dedup and publish their
    pages like a crawl's, in runs of ``per_run`` archives. Each page's source is the seeds
    file's source for its host, else the host; ``only_seeded`` skips hosts the seeds file does
    not list. Archives recorded in the output root's state as read are not read again."""
    return _start_archive_runs(
        archives, seeds, output, sources, only_seeded, warc_base, per_run, window_days
    )


def _start_archive_runs(
    archives: list[str],
    seeds: str | None,
    output: str | None,
    sources: list[str] | None,
    only_seeded: bool,
    warc_base: str | None,
    per_run: int | None,
    window_days: int | None,
) -> Any:
    route_project_logs()
    logger = _logger()
    seeds_obj = load_seeds(seeds) if seeds else Seeds(path="", sources=())
    chosen = seeds_obj.select(sources)
    settings = resolve_settings({"output": output, "window_days": window_days}, seeds_obj)
    uris = resolve_archives(archives, warc_base)
    per_run = max(archives_per_run(per_run), settings.shards)
    source_map = SourceMap(chosen, only_seeded=only_seeded or bool(sources))
    storage = open_storage(settings.output)
    runs: list[RunSummary] = []
    reports: list[dict[str, Any]] = []
    failed_archives: dict[str, str] = {}
    owner = new_run_id()
    logger.info("archives: %d named -> %s, %d per run", len(uris), storage.uri, per_run)
    with RunLock(storage, owner=owner, ttl=max(3600.0, 3600.0 * per_run)) as lock:
        while True:
            started_at = datetime.now(UTC)
            if runs and new_run_id(started_at)[:16] <= runs[-1]["run_id"][:16]:
                time.sleep(1.0)  # run ids sort by their second: one run a second at most
                started_at = datetime.now(UTC)
            run_id = new_run_id(started_at)
            producer = ArchiveProducer(uris, source_map, per_run, skip=failed_archives)
            try:
                summary = _run_locked(
                    storage, run_id, started_at, str(seeds or ""), chosen, settings, lock, producer
                )
            except NothingLeft as done:
                if not runs:
                    logger.info("%s: nothing to do", done)
                break
            except Exception as exc:
                extra = {"seeds": str(seeds or ""), "archives": producer.batch}
                return _failed_run(exc, storage, run_id, started_at, extra)
            write_report(summary, storage)
            runs.append(summary)
            reports += producer.report
            failed_archives.update(producer.failed)
            if not [a for a in producer.remaining() if a not in failed_archives]:
                break
    result = {
        "output": storage.uri,
        "archives": len(uris),
        "already_read": len(uris) - len(reports),
        "runs": runs,
        "report": reports,
        "failed_archives": failed_archives,
        "failed_sources": {k: v for r in runs for k, v in r["failed_sources"].items()},
    }
    if failed_archives and len(failed_archives) == len(reports):
        return Failed(message=f"every archive failed: {', '.join(failed_archives)}", data=result)
    if failed_archives or result["failed_sources"]:
        return Completed(
            name="Partial", message=f"failed archives: {', '.join(failed_archives)}", data=result
        )
    return result


def _start_run(
    seeds: str,
    sources: list[str] | None,
    output: str | None,
    allow_private: bool,
    window_days: int | None,
    produce: stages.Producer | None = None,
) -> Any:
    route_project_logs()
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
            extra = {"seeds": str(seeds), "sources": [s.name for s in chosen]}
            return _failed_run(exc, storage, run_id, started_at, extra)
    write_report(summary, storage)
    # The flow run's state says how the run went: a run whose every source failed is Failed
    # in Prefect (the CLI exits 1), one where some failed is Completed but named Partial.
    failed = ", ".join(summary["failed_sources"])
    if summary["status"] == "failed":
        return Failed(message=f"every source failed: {failed}", data=summary)
    if summary["status"] == "partial":
        return Completed(name="Partial", message=f"failed sources: {failed}", data=summary)
    return summary


def _failed_run(
    exc: Exception, storage: Storage, run_id: str, started_at: datetime, extra: dict[str, Any]
) -> Any:
    """A run that raised: its failed manifest (readers skip failed runs; the manifest says what
    failed, for people and tools), then a Failed state for damaged state, else the error."""
    try:
        write_failed_manifest(
            storage, run_id, started_at, f"{type(exc).__name__}: {exc}", extra=extra
        )
    except Exception as inner:  # noqa: BLE001 - the storage itself may be what failed
        _logger().error("could not record the failed run %s: %s", run_id, inner)
    if isinstance(exc, StateError):
        # Damaged state is no bug to trace: the message names the object and the way out
        # (newsdedup state repair); the CLI prints it and exits 1.
        _logger().error("%s", exc)
        return Failed(message=f"{type(exc).__name__}: {exc}", data=exc)
    raise exc


def _run_locked(
    storage: Storage,
    run_id: str,
    started_at: datetime,
    seeds: str,
    chosen: tuple[Source, ...],
    settings: PipelineSettings,
    lock: RunLock,
    produce: stages.Producer | None = None,
) -> RunSummary:
    """Everything a run does while holding the lock. ``produce`` makes the run's crawl
    outcomes and cleaned articles (default: crawl and clean the sources)."""
    # Under the lock, data without a manifest can only be a crashed run's: remove it now, so
    # readers that glob the data files never see it.
    sweep_orphans(storage, older_than=timedelta(0))
    state = StateStore(storage)
    blobs = state.load()
    seen, templates, index = read_state(state, blobs, settings)
    recovered = recover_unrecorded_runs(storage, state.version, seen, index)
    if recovered:
        _logger().warning(
            "state did not record runs %s (a crash before the state commit): replayed them",
            ", ".join(recovered),
        )
    archive = produce if isinstance(produce, ArchiveProducer) else None
    if archive is not None:  # an archive run picks its archives by the state
        archive.start(blobs, storage, recovered, lock)

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
    failed_archives = dict(archive.failed) if archive is not None else {}
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
        # Pages per cleaning plan: how many took every trafilatura pass, how many a cheaper one.
        "cleaning_plans": cleaned.plans(),
    }
    outcome = "ok" if not failed else ("failed" if len(failed) == len(outcomes) else "partial")
    if failed_archives:
        read = len(archive.report) if archive is not None else 0
        outcome = "failed" if len(failed_archives) == read and not outcomes else "partial"
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
    if archive is not None:
        extra.update(archive.manifest_extra())
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
    if archive is not None:
        new_blobs[STATE_ARCHIVES] = archive.state_blob(run_id)
    elif STATE_ARCHIVES in blobs:  # the archives read into this root, kept by every run
        new_blobs[STATE_ARCHIVES] = blobs[STATE_ARCHIVES]
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


@flow(name="news-shard", log_prints=True)
def news_shard(
    seeds: str,
    sources: list[str],
    output: str,
    run_id: str,
    shard: int = 0,
    allow_private: bool = False,
    archives: list[str] | None = None,
    only_seeded: bool = False,
) -> str:
    """Crawl and clean some sources for the parent run ``run_id``, or read and clean some
    archives (``archives``) of an archive run; returns the result's key."""
    return run_shard(seeds, sources, output, run_id, shard, allow_private, archives, only_seeded)
