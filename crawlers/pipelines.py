"""Item pipelines: write every fetched article page to ``pages.jsonl.gz`` in the run folder."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

from crawlers.records import Page

PART = ".part"


def chunk_name(index: int) -> str:
    return f"pages-{index:05d}.jsonl.gz"


def finished_chunks(directory: Path) -> list[Path]:
    """The complete page chunks in ``directory``, in the order they were written."""
    return sorted(directory.glob("pages-[0-9]*.jsonl.gz"))


class PageWriterPipeline:
    """Appends pages as JSON lines; ``pages.jsonl.gz`` is complete once the spider closes.

    With ``NEWSDEDUP_PAGES_CHUNK`` = N > 0 the pages go into chunks of N pages instead,
    each renamed into place when full (a reader never sees half a chunk), and the chunks are
    joined into ``pages.jsonl.gz`` at the end (gzip members concatenate).
    """

    def __init__(self, out_dir: str, crawler: Any = None, chunk: int = 0) -> None:
        self.out_dir = Path(out_dir)
        self.crawler = crawler
        self.chunk = max(0, chunk)
        self.fh: Any = None
        self.path: Path | None = None
        self.in_file = 0
        self.chunks: list[Path] = []

    @classmethod
    def from_crawler(cls, crawler: Any) -> PageWriterPipeline:
        settings = crawler.settings
        return cls(
            settings.get("NEWSDEDUP_OUT_DIR"), crawler, settings.getint("NEWSDEDUP_PAGES_CHUNK")
        )

    def _open(self) -> None:
        name = chunk_name(len(self.chunks)) if self.chunk else "pages.jsonl.gz"
        self.path = self.out_dir / name
        self.fh = gzip.open(
            self.path.with_name(name + PART), "wt", encoding="utf-8", compresslevel=3
        )
        self.in_file = 0

    def _finish(self) -> None:
        assert self.path is not None
        self.fh.close()
        self.path.with_name(self.path.name + PART).replace(self.path)
        if self.chunk:
            self.chunks.append(self.path)
        self.fh = self.path = None

    def open_spider(self, spider: Any = None) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._open()

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if isinstance(item, Page):
            if self.fh is None:
                self._open()
            self.fh.write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")
            self.in_file += 1
            if self.chunk and self.in_file >= self.chunk:
                self._finish()
        return item

    def close_spider(self, spider: Any = None) -> None:
        if self.fh is not None and (self.in_file or not self.chunk):
            self._finish()
        elif self.fh is not None:  # an empty last chunk: nothing to hand over
            self.fh.close()
            assert self.path is not None
            self.path.with_name(self.path.name + PART).unlink()
            self.fh = self.path = None
        if self.chunk:
            part = self.out_dir / ("pages.jsonl.gz" + PART)
            with open(part, "wb") as joined:
                for path in self.chunks:
                    with open(path, "rb") as fh:
                        shutil.copyfileobj(fh, joined)
            part.replace(self.out_dir / "pages.jsonl.gz")
        spider = spider or getattr(self.crawler, "spider", None)
        validators = getattr(spider, "validators", None)
        if validators is not None:
            (self.out_dir / "validators.json").write_text(json.dumps(validators))
