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
from crawlers.clean.plans import merged_plans
from crawlers.records import Article, Rejected
from crawlers.seeds import Seeds, Source, load_seeds
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
    outcomes, cleaned, _ = _run_and_collect(storage, run_id, n, launch, templates)
    order = {s.name: i for i, s in enumerate(chosen)}
    outcomes.sort(key=lambda o: order.get(o.source, 0))
    return outcomes, cleaned


def run_archive_shards(
    storage: Any,
    run_id: str,
    seeds: str,
    archives: list[str],
    source_map: Any,
    settings: PipelineSettings,
    seen: dict[str, dict[str, Any]],
    templates: Any,
) -> tuple[list[stages.CrawlOutcome], stages.CleanOutcome, list[dict[str, Any]]]:
    """An archive run's reading and cleaning spread over ``shards`` flow runs of the shard
    deployment, the archives dealt out in turn; returns the outcomes, the cleaned pages and
    the per-archive reports in the archives' order."""
    logger = run_logger()
    n = min(settings.shards, len(archives))
    groups = [archives[i::n] for i in range(n)]
    storage.put(work_key(run_id, STATE_SEEN), dump_seen(seen))
    storage.put(work_key(run_id, STATE_TEMPLATES), templates.to_bytes())

    def launch(index: int) -> Any:
        return run_deployment(
            name=settings.shard_deployment,
            parameters={
                "seeds": seeds,
                "sources": [s.name for s in source_map.seeded],
                "output": storage.uri,
                "run_id": run_id,
                "shard": index,
                "allow_private": settings.allow_private,
                "archives": groups[index],
                "only_seeded": source_map.only_seeded,
            },
            timeout=None,
            as_subflow=True,
        )

    logger.info(
        "run %s: %d archives over %d shards via deployment %s",
        run_id, len(archives), n, settings.shard_deployment,
    )
    outcomes, cleaned, reports = _run_and_collect(storage, run_id, n, launch, templates)
    # A host's pages may come from archives of several shards: one outcome per source.
    merged: dict[str, stages.CrawlOutcome] = {}
    for o in outcomes:
        if o.source in merged:
            m = merged[o.source]
            m.validators.update(o.validators)
            m.stats["articles"] = m.stats.get("articles", 0) + o.stats.get("articles", 0)
        else:
            merged[o.source] = o
    # A page fetched twice, in archives of two shards, is taken once (as one shard would).
    first: dict[str, Any] = {}
    for art in cleaned.articles:
        first.setdefault(art.url, art)
    cleaned.articles = list(first.values())
    order = {a: i for i, a in enumerate(archives)}
    reports.sort(key=lambda r: order.get(r["archive"], 0))
    return [merged[k] for k in sorted(merged)], cleaned, reports


def _run_and_collect(
    storage: Any, run_id: str, n: int, launch: Any, templates: Any
) -> tuple[list[stages.CrawlOutcome], stages.CleanOutcome, list[dict[str, Any]]]:
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
    reports: list[dict[str, Any]] = []
    for index in range(n):
        payload = json.loads(
            gzip.decompress(storage.get(work_key(run_id, f"shard-{index}.json.gz")))
        )
        outcomes += [stages.CrawlOutcome(**o) for o in payload["outcomes"]]
        articles += [Article.from_dict(a) for a in payload["articles"]]
        rejected += [Rejected.from_dict(r) for r in payload.get("rejected", [])]
        for name, counts in payload["per_source"].items():
            per_source[name] = _add_counts(per_source.get(name, {}), counts)
        reports += payload.get("archives", [])
        delta = TemplateState.from_bytes(base64.b64decode(payload["templates"]))
        templates.sites.update(delta.sites)  # shards learn disjoint sites
        if delta.plans:
            templates.plans = merged_plans(templates.plans, delta.plans)
    return (
        outcomes,
        stages.CleanOutcome(articles=articles, per_source=per_source, rejected=rejected),
        reports,
    )


def _add_counts(into: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """Per-source clean counts of two shards added up (crawl shards see disjoint sources, so
    this is a copy for them; archive shards may both read a host)."""
    out = dict(into)
    for key, value in more.items():
        if isinstance(value, dict):
            out[key] = _add_counts(out.get(key, {}), value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = out.get(key, 0) + value
        else:
            out[key] = value
    return out


def run_shard(
    seeds: str,
    sources: list[str],
    output: str,
    run_id: str,
    shard: int = 0,
    allow_private: bool = False,
    archives: list[str] | None = None,
    only_seeded: bool = False,
) -> str:
    """Crawl and clean some sources for the parent run ``run_id`` (the ``news-shard`` flow),
    or, given ``archives``, read and clean those (the page's source by host, the seeds file's
    ``sources`` naming theirs); returns the key of the result it leaves under
    ``_work/<run_id>/``."""
    seeds_obj = load_seeds(seeds) if seeds else Seeds(path="", sources=())
    chosen = seeds_obj.select(sources)
    settings = resolve_settings(
        {"output": output, "allow_private": allow_private or None}, seeds_obj
    )
    storage = open_storage(output)
    seen = load_seen(storage.get(work_key(run_id, STATE_SEEN)))
    templates = TemplateState.from_bytes(storage.get(work_key(run_id, STATE_TEMPLATES)))
    before = {site: stats.pages for site, stats in templates.sites.items()}
    plans_before = dict((templates.plans or {}).get("sites") or {})
    reports: list[dict[str, Any]] = []
    if archives:
        from flows.archive_source import SourceMap, produce_archives  # it imports this module

        source_map = SourceMap(chosen, only_seeded=only_seeded)
        outcomes, cleaned, reports = produce_archives(
            archives, source_map, chosen, settings, seen, templates
        )
    else:
        outcomes, cleaned = crawl_and_clean(
            seeds, chosen, settings, seen, templates, storage, run_id
        )
    plans = templates.plans or {}
    touched = TemplateState(
        {site: st for site, st in templates.sites.items() if before.get(site) != st.pages},
        plans={
            "extractor": plans.get("extractor"),
            "sites": {
                site: row
                for site, row in (plans.get("sites") or {}).items()
                if plans_before.get(site) != row
            },
        }
        if plans
        else None,
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
                "archives": reports,
            }
        ),
    )
    return key
