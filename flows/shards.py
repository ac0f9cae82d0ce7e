"""Sharded runs: the crawl and clean of a run split over several flow runs of the
``news-shard`` deployment, whose results the parent run collects."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prefect.deployments import run_deployment

from crawlers.clean import TemplateState
from crawlers.records import Article, Rejected
from crawlers.seeds import Source, load_seeds
from flows import stages
from flows.config import PipelineSettings, resolve_settings
from flows.crawl_clean import crawl_and_clean
from flows.lake import STATE_SEEN, STATE_TEMPLATES, work_key
from flows.runlog import run_logger
from flows.state import dump_seen, load_seen
from flows.storage import open_storage

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
    logger = run_logger()
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


def run_shard(
    seeds: str,
    sources: list[str],
    output: str,
    run_id: str,
    shard: int = 0,
    allow_private: bool = False,
) -> str:
    """Crawl and clean some sources for the parent run ``run_id`` (the ``news-shard`` flow);
    returns the key of the result it leaves under ``_work/<run_id>/``."""
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
