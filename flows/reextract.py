"""Extraction again over archived WARC files (``raw/dt=…`` of an output root), without
crawling: the page producer of the ``news-reextract`` flow."""

from __future__ import annotations

import gzip
import io
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

READ_BUFFER = 8 * 1024 * 1024  # one ranged GET per this many bytes of an S3 object


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
            for info in sorted(raw.list_info(RAW_PREFIX), key=lambda i: i.key):
                key = info.key
                parsed = parse_raw_key(key)
                if not parsed or not first <= parsed.day <= last or parsed.source not in names:
                    continue
                source = parsed.source
                if source not in writers:
                    writers[source] = gzip.open(
                        work_dir / f"{source}.jsonl.gz", "wt", encoding="utf-8"
                    )
                # Streamed (ranged reads on S3), never the whole file in memory; the crawler's
                # metadata record follows each response, so pages come out one by one.
                raw_stream = raw.open_ranged(key, info.size)
                with io.BufferedReader(raw_stream, buffer_size=READ_BUFFER) as fh:  # type: ignore[arg-type,type-var]
                    for page in iter_warc_pages(fh, source=source):
                        if (seen.get(page.url) or {}).get("kind") == "article":
                            continue  # this root already published (or judged) the page
                        line = json.dumps(page.to_dict(), ensure_ascii=False)
                        writers[source].write(line + "\n")
                        counts[source] = counts.get(source, 0) + 1
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
