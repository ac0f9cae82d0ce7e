"""Item pipelines: write every fetched article page to ``pages.jsonl.gz`` in the run folder."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from crawlers.records import Page


class PageWriterPipeline:
    """Appends pages as JSON lines; the file is complete once the spider closes."""

    def __init__(self, out_dir: str, crawler: Any = None) -> None:
        self.out_dir = Path(out_dir)
        self.crawler = crawler
        self.fh: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> PageWriterPipeline:
        return cls(crawler.settings.get("NEWSDEDUP_OUT_DIR"), crawler)

    def open_spider(self, spider: Any = None) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.fh = gzip.open(
            self.out_dir / "pages.jsonl.gz.part", "wt", encoding="utf-8", compresslevel=3
        )

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if isinstance(item, Page):
            self.fh.write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")
        return item

    def close_spider(self, spider: Any = None) -> None:
        self.fh.close()
        (self.out_dir / "pages.jsonl.gz.part").replace(self.out_dir / "pages.jsonl.gz")
        spider = spider or getattr(self.crawler, "spider", None)
        validators = getattr(spider, "validators", None)
        if validators is not None:
            (self.out_dir / "validators.json").write_text(json.dumps(validators))
