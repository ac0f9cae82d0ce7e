"""Extraction again over archived WARC files (``raw/dt=…`` of an output root), without
crawling: the page producer of the ``news-reextract`` flow."""

from __future__ import annotations

import gzip
import json
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from crawlers.archive import iter_warc_pages
from crawlers.seeds import Source
from flows import stages
from flows.config import PipelineSettings
from flows.lake import RAW_PREFIX, parse_raw_key
from flows.runlog import run_logger
from flows.storage import open_storage
from flows.tasks import clean_task, quote


def reextract_producer(raw_from: str | None, since: str, until: str | None) -> Any:
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
            run_logger().info(
                "re-extracting %d archived pages from %s", sum(counts.values()), raw.uri
            )
            feed = stages.PageFeed(o.pages_path for o in outcomes if o.pages_path)
            cleaned = clean_task(feed, {s.name: s for s in chosen}, quote(templates), settings)
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
        return outcomes, cleaned

    return produce
