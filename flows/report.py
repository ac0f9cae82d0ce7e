"""The run summary a run returns (and the CLI prints), and the run report artifact."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, TypedDict


class RunSummary(TypedDict):
    """What a run of the ``news-pipeline`` flow returns (its Prefect state's data) and the CLI
    prints: the run's outcome, its counts in total and per source, and where its output is."""

    run_id: str
    status: str  # "ok", "partial" (some sources failed) or "failed" (every source failed)
    output: str  # the output root's URI
    manifest: str  # key of the run manifest, relative to the output root
    failed_sources: dict[str, str | None]  # source -> why it failed
    pages: int
    articles: int
    duplicates: int
    rejected: int
    seconds: float
    stage_seconds: dict[str, float]
    objects: list[Any]  # the manifest's data objects
    sources: dict[str, dict[str, Any]]  # per source: crawl, clean and dedup counts


def source_rows(summary: RunSummary) -> Iterator[dict[str, Any]]:
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


def write_report(summary: RunSummary, storage: Any) -> None:
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
