"""Raw archive: fetched article responses as gzipped WARC files, and pages read back from them.

With ``NEWSDEDUP_WARC_DIR`` set, the :class:`WarcArchive` extension writes every article page
the spider emits to ``<dir>/<source>-<n>.warc.gz`` (``n`` = 00000, 00001, ... rolled over at
``NEWSDEDUP_WARC_MAX_BYTES``). A file is written as ``….warc.gz.part`` and renamed when it is
complete, so a crashed crawl never leaves a file that looks whole.

Each page is three WARC/1.0 records, each gzipped on its own (the usual ``.warc.gz`` layout,
readable by warcio, pywb, fastwarc):

- ``request``: the GET as sent (final URL after redirects, headers including User-Agent);
- ``response``: status line, headers and the body as Scrapy received it after content
  decoding (``Content-Encoding``/``Transfer-Encoding`` are dropped, ``Content-Length`` fits
  the stored body);
- ``metadata`` (``application/json``, ``WARC-Concurrent-To`` the response): the
  :class:`~crawlers.records.Page` fields that are not in the HTTP exchange (requested URL,
  source, how it was discovered, the feed/sitemap date and title, fetch time, encoding).

:func:`iter_warc_pages` turns such a file back into ``Page`` records, decoding the body with
the same rules as the crawl (header, ``<meta>``, sniffing), so extraction can be rerun later
without crawling again. WARCs from other tools (no metadata records) are read too; their
pages get ``source`` from the ``source`` argument.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from typing import IO, Any

from crawlers.records import Page, page_headers

WARC_SUFFIX = ".warc.gz"
PART_SUFFIX = ".part"
DROP_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}
METADATA_TYPE = "application/json"
SOFTWARE = "newsdedup crawler (crawlers.archive)"


def _warc_date(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class WarcWriter:
    """Writes pages of one source to rolling ``<source>-<n>.warc.gz`` files in a folder."""

    def __init__(self, directory: str | Path, source: str, max_bytes: int = 256 * 1024 * 1024):
        self.directory = Path(directory)
        self.source = source
        self.max_bytes = max_bytes
        self.completed: list[Path] = []
        self.records = 0
        self._fh: IO[bytes] | None = None
        self._path: Path | None = None
        self._writer: Any = None
        self._next = self._first_free_number()

    def _first_free_number(self) -> int:
        pattern = re.compile(
            rf"^{re.escape(self.source)}-(\d+){re.escape(WARC_SUFFIX)}(?:\.part)?$"
        )
        taken = [
            int(m.group(1))
            for p in (self.directory.iterdir() if self.directory.exists() else [])
            if (m := pattern.match(p.name))
        ]
        return max(taken, default=-1) + 1

    def _open(self) -> None:
        from warcio.warcwriter import WARCWriter

        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{self.source}-{self._next:05d}{WARC_SUFFIX}"
        self._next += 1
        self._path = self.directory / name
        self._fh = open(self._path.with_name(name + PART_SUFFIX), "wb")  # noqa: SIM115
        self._writer = WARCWriter(self._fh, gzip=True)
        info = {"software": SOFTWARE, "format": "WARC File Format 1.0", "source": self.source}
        self._writer.write_record(self._writer.create_warcinfo_record(name, info))

    def _finish(self) -> None:
        if self._fh is None or self._path is None:
            return
        self._fh.close()
        self._path.with_name(self._path.name + PART_SUFFIX).replace(self._path)
        self.completed.append(self._path)
        self._fh = self._writer = self._path = None

    def write_page(
        self,
        page: Page,
        *,
        body: bytes,
        headers: Iterable[tuple[str, str]],
        request_headers: Iterable[tuple[str, str]] = (),
        protocol: str = "HTTP/1.1",
    ) -> None:
        """Archive one fetched page: ``body`` as received (after content decoding), the
        response ``headers`` and the ``request_headers`` that were sent."""
        from warcio.statusandheaders import StatusAndHeaders

        if self._fh is None:
            self._open()
        writer = self._writer
        date = _warc_date(page.fetched_at)
        target = page.final_url or page.url
        path = target.split("/", 3)[3] if target.count("/") >= 3 else ""
        req_headers = StatusAndHeaders(
            f"GET /{path} {protocol}", list(request_headers), is_http_request=True
        )
        request = writer.create_warc_record(
            target, "request", http_headers=req_headers, warc_headers_dict={"WARC-Date": date}
        )
        resp_headers = [(k, v) for k, v in headers if k.lower() not in DROP_HEADERS]
        resp_headers.append(("Content-Length", str(len(body))))
        http = StatusAndHeaders(
            f"{page.status} {_reason(page.status)}", resp_headers, protocol=protocol
        )
        response = writer.create_warc_record(
            target,
            "response",
            payload=BytesIO(body),
            length=len(body),
            http_headers=http,
            warc_headers_dict={"WARC-Date": date},
        )
        response_id = response.rec_headers.get_header("WARC-Record-ID")
        request.rec_headers.add_header("WARC-Concurrent-To", response_id)
        meta = {
            "url": page.url,
            "final_url": page.final_url,
            "source": page.source,
            "status": page.status,
            "fetched_at": page.fetched_at.astimezone(UTC).isoformat(),
            "encoding": page.encoding,
            "discovered_via": page.discovered_via,
            "hint_date": page.hint_date.astimezone(UTC).isoformat() if page.hint_date else None,
            "hint_title": page.hint_title,
        }
        payload = json.dumps(meta, ensure_ascii=False).encode("utf-8")
        metadata = writer.create_warc_record(
            target,
            "metadata",
            payload=BytesIO(payload),
            length=len(payload),
            warc_content_type=METADATA_TYPE,
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": response_id},
        )
        writer.write_record(response)
        writer.write_record(request)
        writer.write_record(metadata)
        self.records += 1
        assert self._fh is not None
        if self._fh.tell() >= self.max_bytes:
            self._finish()

    def close(self) -> list[Path]:
        """Finish the open file; return every completed file of this writer."""
        self._finish()
        return list(self.completed)

    def __enter__(self) -> WarcWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- reading ----------------------------------------------------------------------------------


def _page_from(
    target: str, status: int, headers: list[tuple[str, str]], body: bytes, warc_date: str | None,
    meta: dict[str, Any] | None, source: str,
) -> Page:  # fmt: skip
    from scrapy.http import HtmlResponse

    # The crawl's own decoding rules: Content-Type header, then <meta>, then sniffing.
    response = HtmlResponse(url=target, status=status, headers=headers, body=body)
    meta = meta or {}
    fetched = meta.get("fetched_at") or (warc_date.replace("Z", "+00:00") if warc_date else None)
    return Page.from_dict(
        {
            "url": meta.get("url") or target,
            "final_url": meta.get("final_url") or target,
            "source": meta.get("source") or source,
            "status": status,
            "fetched_at": fetched,
            "html": response.text,
            "encoding": response.encoding,
            "headers": page_headers(response.headers),
            "discovered_via": meta.get("discovered_via") or "archive",
            "hint_date": meta.get("hint_date"),
            "hint_title": meta.get("hint_title"),
        }
    )


def iter_warc_pages(path: str | Path | IO[bytes], source: str = "") -> Iterator[Page]:
    """The pages of a WARC file (gzipped or not) as :class:`~crawlers.records.Page` records.

    Response records are paired with their ``metadata`` record (``WARC-Concurrent-To``);
    responses that have none are yielded at the end with what the response itself says.
    Only ``response`` records with an HTTP status are read; revisits and others are skipped.
    """
    from warcio.archiveiterator import ArchiveIterator

    own = not hasattr(path, "read")
    fh: IO[bytes] = open(path, "rb") if own else path  # type: ignore[arg-type,assignment]  # noqa: SIM115
    pending: dict[str, tuple[str, int, list[tuple[str, str]], bytes, str | None]] = {}
    try:
        for record in ArchiveIterator(fh):
            rec_id = record.rec_headers.get_header("WARC-Record-ID")
            if record.rec_type == "response" and record.http_headers is not None:
                status = int(record.http_headers.get_statuscode() or 0)
                pending[rec_id] = (
                    record.rec_headers.get_header("WARC-Target-URI"),
                    status,
                    list(record.http_headers.headers),
                    record.content_stream().read(),
                    record.rec_headers.get_header("WARC-Date"),
                )
            elif record.rec_type == "metadata":
                ref = record.rec_headers.get_header("WARC-Concurrent-To")
                if ref not in pending:
                    continue
                try:
                    meta = json.loads(record.content_stream().read().decode("utf-8"))
                except ValueError:
                    meta = None
                target, status, headers, body, date = pending.pop(ref)
                yield _page_from(target, status, headers, body, date, meta, source)
        for target, status, headers, body, date in pending.values():
            yield _page_from(target, status, headers, body, date, None, source)
    finally:
        if own:
            fh.close()


def warc_files(directory: str | Path) -> list[Path]:
    """Completed WARC files in a folder (``.part`` files of a crashed crawl are left out)."""
    return sorted(Path(directory).glob(f"*{WARC_SUFFIX}"))


# -- Scrapy extension -------------------------------------------------------------------------


def _header_pairs(headers: Any) -> list[tuple[str, str]]:
    pairs = []
    for key, values in headers.items():
        name = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        for value in values:
            pairs.append(
                (name, value.decode("latin-1") if isinstance(value, bytes) else str(value))
            )
    return pairs


class WarcArchive:
    """Scrapy extension: archive every emitted page's response (``item_scraped``) as WARC.

    Enabled by ``NEWSDEDUP_WARC_DIR``; the files are complete when the spider closes.
    """

    def __init__(self, crawler: Any, directory: str, max_bytes: int) -> None:
        self.crawler = crawler
        self.directory = directory
        self.max_bytes = max_bytes
        self.writer: WarcWriter | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> WarcArchive:
        from scrapy import signals
        from scrapy.exceptions import NotConfigured

        directory = crawler.settings.get("NEWSDEDUP_WARC_DIR")
        if not directory:
            raise NotConfigured
        ext = cls(crawler, directory, crawler.settings.getint("NEWSDEDUP_WARC_MAX_BYTES"))
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def item_scraped(self, item: Any, response: Any, spider: Any = None) -> None:
        if not isinstance(item, Page) or response is None:
            return
        if self.writer is None:
            self.writer = WarcWriter(self.directory, item.source, self.max_bytes)
        self.writer.write_page(
            item,
            body=response.body,
            headers=_header_pairs(response.headers),
            request_headers=_header_pairs(response.request.headers) if response.request else [],
            protocol=getattr(response, "protocol", None) or "HTTP/1.1",
        )
        stats = getattr(self.crawler, "stats", None)
        if stats is not None:
            stats.inc_value("newsdedup/warc_records")

    def spider_closed(self, spider: Any = None, reason: str = "") -> None:
        if self.writer is not None:
            files = self.writer.close()
            stats = getattr(self.crawler, "stats", None)
            if stats is not None:
                stats.set_value("newsdedup/warc_files", [str(p) for p in files])
