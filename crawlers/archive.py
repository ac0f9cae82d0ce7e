"""Raw archive: fetched article responses as gzipped WARC files, and pages read back from them.

With ``NEWSDEDUP_WARC_DIR`` set, the crawl's page writer (crawlers.pipelines.PageWriterPipeline)
writes every article page the spider emits to ``<dir>/<source>-<n>.warc.gz`` (``n`` = 00000,
00001, ... rolled over at ``NEWSDEDUP_WARC_MAX_BYTES``). A file is written as
``….warc.gz.part`` and renamed when it is complete, so a crashed crawl never leaves a file that
looks whole. The pages file then points at each page's response record
(:data:`~crawlers.records.ArchivedAt`, read back by :func:`read_archived_body`) instead of
holding the HTML again: the body is compressed once, not twice.

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

import base64
import contextlib
import hashlib
import json
import os
import re
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from isal import isal_zlib

from crawlers.records import ArchivedAt, Page, page_headers
from crawlers.settings import NEWSDEDUP_WARC_MAX_BYTES

WARC_SUFFIX = ".warc.gz"
PART_SUFFIX = ".part"
DROP_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}
METADATA_TYPE = "application/json"
SOFTWARE = "newsdedup crawler (crawlers.archive)"
# Each record is its own gzip member, deflated by ISA-L (``isal``) at this level (of 0 to 3).
# warcio's own gzipping uses zlib at 9; zlib at 1 wrote a page's three records in 0.48 ms
# instead of 0.61 on the benchmark network's pages. ISA-L at 1 deflates the generated pages'
# bodies (5.4 KB on average) in 22 us against zlib's 86 at 1 and 118 at 6, to 0.435 of their
# size against 0.443 and 0.422; any gzip reader inflates them.
WARC_GZIP_LEVEL = 1


def _warc_date(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def _sha1(data: bytes) -> str:
    """A block's or payload's digest as WARC headers give it (sha1, base32)."""
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def _http_head(first_line: str, headers: list[tuple[str, str]]) -> bytes:
    """An HTTP message's start line and headers as the record stores them: ASCII, and a
    header value beyond ASCII %-encoded as warcio does it (RFC 8187)."""
    text = first_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        from warcio.statusandheaders import StatusAndHeaders

        protocol, _, rest = first_line.partition(" ")
        return StatusAndHeaders(rest, list(headers), protocol=protocol).to_ascii_bytes()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class WarcWriter:
    """Writes pages of one source to rolling ``<source>-<n>.warc.gz`` files in a folder."""

    def __init__(
        self, directory: str | Path, source: str, max_bytes: int = NEWSDEDUP_WARC_MAX_BYTES
    ) -> None:
        self.directory = Path(directory)
        self.source = source
        self.max_bytes = max_bytes
        self.completed: list[Path] = []
        self.records = 0
        self._fh: IO[bytes] | None = None
        self._path: Path | None = None
        self._size = 0  # bytes written to the open file
        self._good = 0  # ... up to the end of its last whole page
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
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{self.source}-{self._next:05d}{WARC_SUFFIX}"
        self._next += 1
        self._path = self.directory / name
        self._fh = open(self._path.with_name(name + PART_SUFFIX), "wb")  # noqa: SIM115
        self._size = self._good = 0
        info = f"software: {SOFTWARE}\r\nformat: WARC File Format 1.0\r\nsource: {self.source}\r\n"
        self._write_record(
            "warcinfo",
            [f"WARC-Record-ID: {_record_id()}", f"WARC-Filename: {name}",
             f"WARC-Date: {_warc_date(datetime.now(UTC))}"],
            "application/warc-fields", b"", info.encode("utf-8"), payload_digest=False,
        )  # fmt: skip

    def _write_record(
        self, kind: str, fields: list[str], content_type: str, http_head: bytes,
        payload: bytes, *, payload_digest: bool = True,
    ) -> tuple[int, int]:  # fmt: skip
        """One WARC/1.0 record, gzipped as its own member (the ``.warc.gz`` layout): the WARC
        headers (``fields`` and the digests, UTF-8 as the standard allows), then the block
        (``http_head`` and ``payload``), with the sha1 digests of both in the base32 form
        warcio and other tools write. Returns where the member is in the file: its offset
        and length."""
        assert self._fh is not None
        digest = _sha1(payload)
        lines = ["WARC/1.0", f"WARC-Type: {kind}", *fields]
        if payload_digest:
            lines.append(f"WARC-Payload-Digest: {digest}")
        lines += [
            f"WARC-Block-Digest: {_sha1(http_head + payload) if http_head else digest}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(http_head) + len(payload)}",
        ]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
        member = isal_zlib.compress(
            head + http_head + payload + b"\r\n\r\n", WARC_GZIP_LEVEL, wbits=31
        )
        self._fh.write(member)
        offset = self._size
        self._size += len(member)
        return offset, len(member)

    def _finish(self) -> None:
        fh, path = self._fh, self._path
        self._fh = self._path = None  # whatever happens below, the next page opens a new file
        if fh is None or path is None:
            return
        fh.close()
        path.with_name(path.name + PART_SUFFIX).replace(path)
        self.completed.append(path)

    def _abandon(self) -> None:
        """A page's records could not be written (a full disk, say): the file is cut back to
        its last whole page and finished, and the next page starts a new file, so no record
        is named at an offset that holds something else. Where even that fails the file stays
        a ``.part`` file, from which the pages written before are still read back."""
        fh, path, good = self._fh, self._path, self._good
        self._fh = self._path = None
        if fh is None or path is None:
            return
        part = path.with_name(path.name + PART_SUFFIX)
        with contextlib.suppress(OSError, ValueError):
            fh.close()
        try:
            if not good:  # no whole page in it
                part.unlink()
                return
            os.truncate(part, good)
            part.replace(path)
        except OSError:
            return
        self.completed.append(path)

    def write_page(
        self,
        page: Page,
        *,
        body: bytes,
        headers: Iterable[tuple[str, str]],
        request_headers: Iterable[tuple[str, str]] = (),
        protocol: str = "HTTP/1.1",
    ) -> ArchivedAt:
        """Archive one fetched page: ``body`` as received (after content decoding), the
        response ``headers`` and the ``request_headers`` that were sent. Returns where its
        response record is (for :func:`read_archived_body`), on disk when this returns: the
        file is flushed, so a crawl killed after it still leaves the record readable.

        The three records are built here rather than through warcio's record builder, which
        cost 0.40 ms per page on the benchmark network's pages against 0.15 for the same
        bytes written directly (digests, gzip and all); the file reads back with warcio.
        Raises OSError when the page cannot be written (see :meth:`_abandon`)."""
        try:
            if self._fh is None:
                self._open()
            at = self._write_page(page, body, headers, request_headers, protocol)
        except BaseException:
            self._abandon()
            raise
        if self._size >= self.max_bytes:
            self._finish()
        return at

    def _write_page(
        self, page: Page, body: bytes, headers: Iterable[tuple[str, str]],
        request_headers: Iterable[tuple[str, str]], protocol: str,
    ) -> ArchivedAt:  # fmt: skip
        date = _warc_date(page.fetched_at)
        target = page.final_url or page.url
        path = target.split("/", 3)[3] if target.count("/") >= 3 else ""
        resp_headers = [(k, v) for k, v in headers if k.lower() not in DROP_HEADERS]
        resp_headers.append(("Content-Length", str(len(body))))
        response_id = _record_id()
        fields = [f"WARC-Date: {date}", f"WARC-Target-URI: {target}"]
        assert self._path is not None
        at = str(self._path.absolute())
        offset, length = self._write_record(
            "response", [f"WARC-Record-ID: {response_id}", *fields],
            "application/http; msgtype=response",
            _http_head(f"{protocol} {page.status} {_reason(page.status)}", resp_headers), body,
        )  # fmt: skip
        # The request and the page's metadata refer to the response they belong to.
        fields += [f"WARC-Concurrent-To: {response_id}"]
        self._write_record(
            "request", [f"WARC-Record-ID: {_record_id()}", *fields],
            "application/http; msgtype=request",
            _http_head(f"GET /{path} {protocol}", list(request_headers)), b"",
        )  # fmt: skip
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
        self._write_record(
            "metadata", [f"WARC-Record-ID: {_record_id()}", *fields], METADATA_TYPE, b"", payload
        )
        assert self._fh is not None
        self._fh.flush()
        self.records += 1
        self._good = self._size
        return (at, offset, length)

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

    from crawlers.middlewares import read_as_crawled

    # The crawl's own decoding rules: Content-Type header, then <meta>, then sniffing, with
    # the crawl's corrections (a charset the bytes contradict, none declared).
    response = read_as_crawled(HtmlResponse(url=target, status=status, headers=headers, body=body))
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
    return sorted(p for p in Path(directory).glob(f"*{WARC_SUFFIX}") if p.is_file())


# -- the crawl's archive ------------------------------------------------------------------------


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
    """One source's crawl archive: each emitted page's Scrapy response as WARC records, in
    ``directory`` (``NEWSDEDUP_WARC_DIR``). Its files are complete once :meth:`close` returns.
    The crawl's page writer (crawlers.pipelines.PageWriterPipeline) owns it."""

    def __init__(self, directory: str | Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.writer: WarcWriter | None = None

    def archive(self, page: Page, response: Any) -> ArchivedAt:
        """Write ``page`` with the response it came from; where its response record is."""
        if self.writer is None:
            self.writer = WarcWriter(self.directory, page.source, self.max_bytes)
        return self.writer.write_page(
            page,
            body=response.body,
            headers=_header_pairs(response.headers),
            request_headers=_header_pairs(response.request.headers) if response.request else [],
            protocol=getattr(response, "protocol", None) or "HTTP/1.1",
        )

    def close(self) -> list[Path]:
        """Finish the open file; every completed file (none when no page came)."""
        return self.writer.close() if self.writer is not None else []

    def completed(self) -> list[Path]:
        """The files finished so far."""
        return list(self.writer.completed) if self.writer is not None else []


def body_text(body: bytes, encoding: str) -> str:
    """The text of a response body in the encoding the crawl settled on, as the pages of an
    archived body are read back (:func:`read_archived_body`)."""
    return body.decode(encoding, "replace")


def reads_back(body: bytes, encoding: str, text: str) -> bool:
    """Whether a pages-file line may name ``body``'s record instead of holding ``text``: the
    body, read back and decoded, gives exactly ``text``, and fits the reader's inflate cap."""
    try:
        return len(body) <= MAX_POINTED_BODY and body_text(body, encoding) == text
    except (LookupError, TypeError):  # an encoding Python does not know, or none
        return False


class ArchivedBodyError(ValueError):
    """A page's archived body could not be read back (the file gone, cut short, or not the
    record the pages file named)."""


# What an archived record may inflate to when a page is read back from it. A page's line
# names its record only for a body of at most MAX_POINTED_BODY (the crawl's DOWNLOAD_MAXSIZE
# is 10 MB), which leaves room for the WARC and HTTP headers: a record that inflates past the
# cap is not one the crawl pointed at. A larger body (a raised DOWNLOAD_MAXSIZE) stays in its
# line.
MAX_ARCHIVED_RECORD = 16 * 1024 * 1024
MAX_POINTED_BODY = 12 * 1024 * 1024


def read_archived_body(at: ArchivedAt) -> bytes:
    """The HTTP payload of the response record ``at`` (file, offset, length of its gzip
    member), as :meth:`WarcWriter.write_page` wrote it. The file is read under its final name
    or, for a crawl that was killed before it finished the file, its ``.part`` name."""
    path, offset, length = at
    failure: OSError | None = None
    for name in (path, path + PART_SUFFIX):
        try:
            fd = os.open(name, os.O_RDONLY)
            try:
                member = os.pread(fd, length, offset)
            finally:
                os.close(fd)
        except FileNotFoundError:
            continue
        except OSError as exc:  # not readable under this name: the other may be
            failure = exc
            continue
        break
    else:
        if failure is not None:
            raise ArchivedBodyError(f"{path}: cannot be read ({failure})")
        raise ArchivedBodyError(f"{path}: no such archive file")
    if len(member) != length:
        raise ArchivedBodyError(f"{path}: cut short at {offset + len(member)} bytes")
    try:
        inflater = zlib.decompressobj(wbits=31)
        record = inflater.decompress(member, MAX_ARCHIVED_RECORD)
    except zlib.error as exc:
        raise ArchivedBodyError(f"{path} at {offset}: not a gzip member ({exc})") from None
    if not inflater.eof:
        raise ArchivedBodyError(f"{path} at {offset}: the record does not end where named")
    head_end = record.find(b"\r\n\r\n")
    head = record[:head_end].decode("utf-8", "replace").split("\r\n")
    fields = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
    size = fields.get("Content-Length", "")
    if head_end < 0 or head[0] != "WARC/1.0" or fields.get("WARC-Type") != "response":
        raise ArchivedBodyError(f"{path} at {offset}: not a response record")
    if not size.isdigit():
        raise ArchivedBodyError(f"{path} at {offset}: no Content-Length in the record")
    block = record[head_end + 4 : head_end + 4 + int(size)]
    http_end = block.find(b"\r\n\r\n")
    if http_end < 0:
        raise ArchivedBodyError(f"{path} at {offset}: no HTTP header in the record")
    return block[http_end + 4 :]


# -- reading untrusted archives (WARC files of any tool: Common Crawl, Heritrix, wget, ours) --

# Why a record of an archive gives no page; the manifest counts them per archive.
SKIP_NOT_RESPONSE = "not_response"  # request, warcinfo, metadata, resource, conversion records
SKIP_REVISIT = "revisit"
SKIP_NOT_HTML = "not_html"
SKIP_STATUS = "http_status"  # not 200
SKIP_TRUNCATED = "truncated"  # WARC-Truncated, or fewer bytes than its Content-Length
SKIP_TOO_LARGE = "too_large"  # a payload over the archive's record cap
SKIP_NO_URL = "no_url"  # no http(s) WARC-Target-URI
HTML_TYPES = ("text/html", "application/xhtml+xml")
DEFAULT_MAX_RECORD_BYTES = 5 * 1024 * 1024
READ_BLOCK = 64 * 1024


class ArchiveReadError(Exception):
    """The archive cannot be read on (corrupt or truncated gzip, not a WARC file); ``offset``
    is where in the (compressed) file reading stopped, when known."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message if offset is None else f"{message} (at byte {offset})")
        self.offset = offset


@dataclass
class ArchiveRecord:
    """One record of an archive: a ``page``, or the ``skipped`` reason with its URL."""

    page: Page | None = None
    skipped: str | None = None
    url: str | None = None


def _printable(text: str | bytes, limit: int = 100) -> str:
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    text = text.strip().splitlines()[0] if text.strip() else ""
    clean = "".join(c if c.isprintable() else "?" for c in text[:limit])
    return clean + ("…" if len(text) > limit else "")


def _strict_iterator(fh: IO[bytes]) -> Any:
    """warcio's WARC-only iterator that also tells, when it ends, whether the last gzip member
    ended (a file cut inside a member otherwise ends quietly)."""
    from warcio.archiveiterator import WARCIterator

    class _Iterator(WARCIterator):  # type: ignore[misc]
        cut_in_member = False

        def close(self) -> None:
            reader = self.reader
            if reader is not None and reader.decompressor is not None:
                self.cut_in_member = not reader.decompressor.eof
            super().close()

    return _Iterator(fh)


def read_archive(
    fh: IO[bytes],
    *,
    source_for: Any = None,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> Iterator[ArchiveRecord]:
    """The records of a WARC stream (gzipped per record or not) as pages and skips, reading
    forward only: nothing is held beyond one response record (at most ``max_record_bytes`` of
    payload; larger ones are skipped as ``too_large`` unread), so an archive of any size
    streams in bounded memory.

    ``source_for(url)`` names the source of a page (None: the record is skipped with reason
    ``not_seeded``). A response is a page when it is ``200`` and HTML; revisits, other
    statuses and types, truncated records are skipped with their reason. The newsdedup
    crawler's own ``metadata`` record, which follows its response, restores the page's fields
    that HTTP does not carry. A stream that is not WARC, or whose gzip is corrupt or cut, raises
    :class:`ArchiveReadError` after the records before the damage."""
    from warcio.exceptions import ArchiveLoadFailed

    name_of = source_for or (lambda url: urlsplit(url).netloc.lower())
    iterator = _strict_iterator(fh)
    held: tuple[str, int, list[tuple[str, str]], bytes, str | None, str] | None = None
    held_id: str | None = None
    records = 0

    def flush(meta: dict[str, Any] | None = None) -> Iterator[ArchiveRecord]:
        nonlocal held, held_id
        if held is not None:
            target, status, headers, body, date, source = held
            held = held_id = None
            yield ArchiveRecord(
                page=_page_from(target, status, headers, body, date, meta, source), url=target
            )

    def where() -> int | None:
        try:
            return int(iterator.fh.tell())
        except (OSError, ValueError, AttributeError):
            return None

    try:
        for record in iterator:
            records += 1
            rtype = record.rec_type
            target = record.rec_headers.get_header("WARC-Target-URI") or ""
            if rtype == "metadata" and held_id is not None:
                if record.rec_headers.get_header("WARC-Concurrent-To") == held_id:
                    try:
                        raw = record.content_stream().read(1024 * 1024)
                        meta = json.loads(raw.decode("utf-8"))
                    except ValueError:
                        meta = None
                    yield from flush(meta if isinstance(meta, dict) else None)
                continue
            if rtype != "response":
                if rtype == "revisit":
                    yield from flush()
                    yield ArchiveRecord(skipped=SKIP_REVISIT, url=target)
                elif rtype not in ("request", "warcinfo", "metadata"):
                    yield ArchiveRecord(skipped=SKIP_NOT_RESPONSE, url=target)
                continue
            yield from flush()
            skip = _response_skip(record, target, max_record_bytes)
            if skip is not None:
                yield ArchiveRecord(skipped=skip, url=target)
                continue
            source = name_of(target)
            if source is None:
                yield ArchiveRecord(skipped="not_seeded", url=target)
                continue
            body = record.content_stream().read(max_record_bytes + 1)
            if len(body) > max_record_bytes:
                yield ArchiveRecord(skipped=SKIP_TOO_LARGE, url=target)
                continue
            # Whatever of the record the payload reader left must be there in full.
            if record.raw_stream.read(READ_BLOCK) == b"" and getattr(
                record.raw_stream, "limit", 0
            ):
                yield ArchiveRecord(skipped=SKIP_TRUNCATED, url=target)
                continue
            held = (
                target,
                int(record.http_headers.get_statuscode() or 0),
                list(record.http_headers.headers),
                body,
                record.rec_headers.get_header("WARC-Date"),
                source,
            )
            held_id = record.rec_headers.get_header("WARC-Record-ID")
        yield from flush()
    except ArchiveLoadFailed as exc:
        yield from flush()
        first = str(getattr(exc, "msg", None) or exc)
        if "non-chunked gzip" in first:
            first = "one gzip stream holds several records (not a per-record .warc.gz)"
        raise ArchiveReadError(f"not a readable WARC file: {_printable(first)}", where()) from None
    except zlib.error as exc:
        yield from flush()
        raise ArchiveReadError(f"corrupt gzip data: {_printable(str(exc))}", where()) from None
    except (EOFError, ValueError, LookupError, AttributeError, TypeError) as exc:
        # warcio's parser meeting bytes that are no WARC record (a damaged or foreign file)
        yield from flush()
        raise ArchiveReadError(
            f"malformed WARC record ({type(exc).__name__}: {_printable(str(exc))})", where()
        ) from None
    if not records:
        raise ArchiveReadError("no WARC record in it (an empty file?)")
    if iterator.cut_in_member:
        raise ArchiveReadError("the file ends inside a gzip member (truncated download?)", where())


def _response_skip(record: Any, target: str, max_record_bytes: int) -> str | None:
    """Why a response record gives no page, from its headers alone (None: read it)."""
    if not target.lower().startswith(("http://", "https://")):
        return SKIP_NO_URL
    if record.http_headers is None:
        return SKIP_NOT_RESPONSE
    if record.rec_headers.get_header("WARC-Truncated"):
        return SKIP_TRUNCATED
    try:
        status = int(record.http_headers.get_statuscode() or 0)
    except ValueError:
        status = 0
    if status != 200:
        return SKIP_STATUS
    ctype = (record.http_headers.get_header("Content-Type") or "").split(";")[0].strip().lower()
    if ctype and ctype not in HTML_TYPES:
        return SKIP_NOT_HTML
    if (record.length or 0) > max_record_bytes + 256 * 1024:
        return SKIP_TOO_LARGE  # not read: its payload alone is over the cap
    return None
