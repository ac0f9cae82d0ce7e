"""The pipeline's Prefect tasks: thin wrappers that call the stages (flows/stages.py), log
what they did and pass records on. The flow (flows/pipeline.py) wires them together."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote as _quote

from crawlers.clean.templates import TemplateState
from crawlers.seeds import Source
from flows import stages
from flows.config import PipelineSettings, cpu_count
from flows.lake import manifest_key
from flows.publish import publish_run
from flows.runlog import crawl_line_level, run_logger
from flows.state import StateConflict, StateError

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
    logger = run_logger()
    frontier = settings.redis_url and settings.frontier_processes > 1 and len(sources) == 1
    tag = sources[0].name if len(sources) == 1 else label
    common: dict[str, Any] = {
        "allow_private": settings.allow_private,
        "seen": seen,
        "timeout": settings.crawl_timeout,
        "user_agent": settings.user_agent,
        "log_line": lambda line: logger.log(crawl_line_level(line), "[%s] %s", tag, line),
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
    templates: TemplateState,
    settings: PipelineSettings,
) -> stages.CleanOutcome:
    """Extract the pages as their crawls finish (``pages`` is fed while crawls still run),
    then finish each source: templates, boilerplate rules, metadata, quality gates."""
    workers = max(1, min(cpu_count(), settings.concurrency or cpu_count()))
    result = stages.clean_stage(
        pages.records(),  # undecoded: the extraction workers decode them
        sources,
        templates,
        min_words=settings.min_words,
        workers=workers,
        limits=settings.extract_limits(),
    )
    run_logger().info(
        "cleaned: %d articles from %d sources; pages by cleaning plan: %s",
        len(result.articles), len(result.per_source), result.plans() or "none",
    )  # fmt: skip
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
    run_logger().info(
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
    manifest = publish_run(
        storage,
        run_id,
        started_at,
        dedup.articles,
        dedup.duplicates,
        counts,
        extra,
        rejected=dedup.rejected,
    )
    run_logger().info("published run %s: %s", run_id, storage.url_for(manifest_key(run_id)))
    return manifest


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
