"""Item pipelines: write every fetched article page to ``pages.jsonl.gz`` in the run folder,
and every fetched page the crawler judged not to be an article (a listing, a non-HTML body,
past the source's cap) as a light record (URL and reason, no HTML) to ``rejected.jsonl.gz``.
With an archive (``NEWSDEDUP_WARC_DIR``) the article pages' responses are also written as WARC
(crawlers.archive), and their pages-file lines point there instead of holding the HTML."""

from __future__ import annotations

import gzip
import json
import logging
import zlib
from pathlib import Path
from typing import Any

from crawlers.archive import WarcArchive, reads_back
from crawlers.contract import PAGES_FILE, REJECTED_FILE, VALIDATORS_FILE, part_file
from crawlers.records import ArchivedAt, Page, Rejected, page_line
from crawlers.settings import NEWSDEDUP_WARC_MAX_BYTES

log = logging.getLogger(__name__)


class PageWriterPipeline:
    """Appends pages as JSON lines; the file is complete once the spider closes.

    Each record is flushed as it is written (a zlib sync flush: a few bytes per page, the
    compression dictionary is kept), so when the process is killed before its spider closes,
    the ``.part`` file still holds every record written so far: :func:`salvage` reads it.

    With ``warc_dir`` (``NEWSDEDUP_WARC_DIR``) each article page's response is archived as
    WARC first, once its item is through (``item_scraped``, which brings the response), and
    the page's line then names its response record rather than holding the HTML again
    (crawlers.records.page_line): the crawl stores and compresses each body once, and the
    pages file holds a few hundred bytes per page. The WARC file is flushed before the line is
    written, so a line of a killed crawl names a record on disk. A page whose text is not
    exactly the archived body's (``crawlers.archive.body_text``) keeps its HTML in the line.
    """

    def __init__(
        self, out_dir: str, crawler: Any = None, warc_dir: str | None = None,
        warc_max_bytes: int = NEWSDEDUP_WARC_MAX_BYTES,
    ) -> None:  # fmt: skip
        self.out_dir = Path(out_dir)
        self.crawler = crawler
        self.fh: Any = None
        self.rejected_fh: Any = None
        self.archive = WarcArchive(warc_dir, warc_max_bytes) if warc_dir else None

    @classmethod
    def from_crawler(cls, crawler: Any) -> PageWriterPipeline:
        from scrapy import signals

        settings = crawler.settings
        warc_dir = settings.get("NEWSDEDUP_WARC_DIR") or None
        pipeline = cls(
            settings.get("NEWSDEDUP_OUT_DIR"), crawler, warc_dir,
            settings.getint("NEWSDEDUP_WARC_MAX_BYTES", NEWSDEDUP_WARC_MAX_BYTES),
        )  # fmt: skip
        if warc_dir:
            crawler.signals.connect(pipeline.item_scraped, signal=signals.item_scraped)
        return pipeline

    def open_spider(self, spider: Any = None) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.fh = gzip.open(
            self.out_dir / part_file(PAGES_FILE), "wt", encoding="utf-8", compresslevel=3
        )
        self.rejected_fh = gzip.open(
            self.out_dir / part_file(REJECTED_FILE), "wt", encoding="utf-8", compresslevel=3
        )

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if isinstance(item, Page):
            if self.archive is None:  # else written with its archive record (item_scraped)
                self._write_page(item)
        elif isinstance(item, Rejected):
            self.rejected_fh.write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")
            self.rejected_fh.flush()
        return item

    def item_scraped(self, item: Any, response: Any = None, spider: Any = None) -> None:
        """An article page's item is through: archive its response, then write its line."""
        if not isinstance(item, Page) or self.archive is None:
            return
        if response is None:
            self._write_page(item)
            return
        try:
            archived = self.archive.archive(item, response)
        except Exception as exc:  # noqa: BLE001 - the archive cannot take it (a full disk,
            # say): the page goes on, its HTML in its line
            self._archive_error(f"{item.url}: not archived: {exc}")
            self._write_page(item)
            return
        self._count("newsdedup/warc_records")
        exact = reads_back(response.body, item.encoding, item.html)
        self._write_page(item, archived if exact else None)

    @property
    def _stats(self) -> Any:
        return getattr(self.crawler, "stats", None)

    def _count(self, key: str) -> None:
        if self._stats is not None:
            self._stats.inc_value(key)

    def _archive_error(self, message: str) -> None:
        log.warning("%s", message)
        self._count("newsdedup/warc_errors")

    def _write_page(self, page: Page, archived: ArchivedAt | None = None) -> None:
        self.fh.write(page_line(page, archived) + "\n")
        self.fh.flush()

    def close_spider(self, spider: Any = None) -> None:
        if self.archive is not None:
            # The WARC files first: a finished pages file names finished archive files (or,
            # where finishing one failed, its .part file, from which its pages are read).
            try:
                files = self.archive.close()
            except Exception as exc:  # noqa: BLE001 - the pages file is finished all the same
                self._archive_error(f"archive not finished: {exc}")
                files = self.archive.completed()
            if self._stats is not None and files:
                self._stats.set_value("newsdedup/warc_files", [str(p) for p in files])
        self.fh.close()
        self.rejected_fh.close()
        # The rejected file first: a finished pages file means both are complete.
        (self.out_dir / part_file(REJECTED_FILE)).replace(self.out_dir / REJECTED_FILE)
        (self.out_dir / part_file(PAGES_FILE)).replace(self.out_dir / PAGES_FILE)
        spider = spider or getattr(self.crawler, "spider", None)
        validators = getattr(spider, "validators", None)
        if validators is not None:
            (self.out_dir / VALIDATORS_FILE).write_text(json.dumps(validators))


def read_complete_lines(path: Path) -> list[str]:
    """The complete JSON lines of a gzipped file that may have been cut off anywhere (a
    killed writer): what decompresses, up to the last newline."""
    inflater = zlib.decompressobj(wbits=31)
    data = bytearray()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            try:
                data += inflater.decompress(chunk)
            except zlib.error:
                break
            if inflater.eof:  # one gzip member per writer: nothing follows
                break
    end = data.rfind(b"\n")
    if end < 0:
        return []
    lines = []
    for raw in bytes(data[: end + 1]).decode("utf-8", errors="replace").splitlines():
        if not raw.strip():
            continue
        try:
            json.loads(raw)
        except ValueError:
            continue
        lines.append(raw)
    return lines


def salvage(out_dir: Path) -> int | None:
    """Turn what a killed crawl left in ``out_dir`` into finished files.

    ``pages.jsonl.gz`` (and ``rejected.jsonl.gz``) are rewritten from the complete records of
    their ``.part`` files, and ``validators.json`` from those pages (what the next run needs
    to skip them). Returns the number of pages kept, or None when there was nothing to
    salvage (the spider had closed, and its files are complete, or it never opened).
    """
    out_dir = Path(out_dir)
    part = out_dir / part_file(PAGES_FILE)
    if (out_dir / PAGES_FILE).exists() or not part.exists():
        return None
    rejected = out_dir / part_file(REJECTED_FILE)
    if rejected.exists():
        _rewrite(read_complete_lines(rejected), out_dir / REJECTED_FILE)
        rejected.unlink()
    lines = read_complete_lines(part)
    validators: dict[str, dict[str, Any]] = {}
    for line in lines:
        page = Page.from_dict(json.loads(line))
        entry = {
            "kind": "article",
            "etag": page.headers.get("ETag"),
            "last_modified": page.headers.get("Last-Modified"),
            "date": page.hint_date.isoformat() if page.hint_date else None,
        }
        validators[page.url] = validators[page.final_url] = entry
    _rewrite(lines, out_dir / PAGES_FILE)
    part.unlink()
    (out_dir / VALIDATORS_FILE).write_text(json.dumps(validators))
    return len(lines)


def _rewrite(lines: list[str], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=3) as fh:
        for line in lines:
            fh.write(line + "\n")
    tmp.replace(path)
