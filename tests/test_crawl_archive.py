"""The WARC archive on its own: rollover, crash safety, reading WARCs written by other tools,
and the pages file's lines that point into it. (The round trip through a real crawl is in
test_crawl_quirks.py.)"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest

from crawlers.archive import (
    ArchivedBodyError,
    WarcWriter,
    iter_warc_pages,
    read_archived_body,
    warc_files,
)
from crawlers.pipelines import PageWriterPipeline, salvage
from crawlers.records import (
    ARCHIVED_KEY,
    Page,
    UnreadablePage,
    page_from_line,
    page_headers,
    page_line,
)
from flows.stages import iter_pages
from tests.conftest import data_path

ARTICLE = data_path("crawl", "article.html").read_bytes()


def page(n: int, body: bytes = ARTICLE) -> Page:
    return Page(
        url=f"https://news.example/story-{n}",
        final_url=f"https://news.example/story-{n}?ref=final",
        source="example",
        status=200,
        fetched_at=datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC),
        html=body.decode("utf-8"),
        encoding="utf-8",
        headers={"Content-Type": "text/html; charset=utf-8"},
        discovered_via="feed",
        hint_date=datetime(2026, 1, 1, tzinfo=UTC),
        hint_title=f"Story {n}",
    )


def test_rollover_and_part_files(tmp_path):
    writer = WarcWriter(tmp_path, "example", max_bytes=1)  # every page closes its file
    for n in range(3):
        writer.write_page(
            page(n), body=ARTICLE, headers=[("Content-Type", "text/html; charset=utf-8")]
        )
    files = writer.close()
    assert [f.name for f in files] == [f"example-{n:05d}.warc.gz" for n in range(3)]
    assert warc_files(tmp_path) == files
    pages = [p for f in files for p in iter_warc_pages(f)]
    assert [p.to_dict() for p in pages] == [page(n).to_dict() for n in range(3)]

    # A crawl that dies leaves only a .part file, which is not listed; the next writer
    # continues the numbering.
    crashed = WarcWriter(tmp_path, "example")
    crashed.write_page(page(9), body=ARTICLE, headers=[])
    assert warc_files(tmp_path) == files
    assert WarcWriter(tmp_path, "example")._next == 4
    crashed._fh.close()


def test_reads_warcs_without_metadata_records():
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = BytesIO()
    writer = WARCWriter(buf, gzip=True)
    body = (
        "<html><head><meta charset='windows-1252'></head>"
        "<body><p>caf\xe9 \u201cquoted\u201d</p></body></html>"
    )
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    record = writer.create_warc_record(
        "https://other.example/a",
        "response",
        payload=BytesIO(body.encode("cp1252")),
        http_headers=http,
    )
    writer.write_record(record)
    buf.seek(0)
    (got,) = iter_warc_pages(buf, source="other")
    assert got.url == got.final_url == "https://other.example/a"
    assert got.source == "other" and got.status == 200 and got.discovered_via == "archive"
    assert "café “quoted”" in got.html and got.encoding == "cp1252"


def test_archived_pages_are_decoded_as_the_crawl_decodes_them(tmp_path):
    """Reading an archive back applies the crawl's charset corrections: UTF-8 bytes under a
    Latin header, windows-1252 bytes under a UTF-8 header, and no charset at all."""
    text = "<html><body><p>La crème brûlée du café, “naïve” et légère.</p></body></html>"
    cases = [
        ("text/html; charset=ISO-8859-1", text.encode("utf-8"), "utf-8"),
        ("text/html; charset=utf-8", text.encode("cp1252"), "cp1252"),
        ("text/html", text.encode("cp1252"), "cp1252"),
    ]
    writer = WarcWriter(tmp_path, "example")
    for n, (content_type, body, _) in enumerate(cases):
        writer.write_page(page(n), body=body, headers=[("Content-Type", content_type)])
    (archive,) = writer.close()
    got = list(iter_warc_pages(archive))
    assert [p.encoding for p in got] == [encoding for _, _, encoding in cases]
    assert all("La crème brûlée du café, “naïve” et légère." in p.html for p in got)


def test_records_are_valid_warc_with_digests_that_verify(tmp_path):
    """The records are written by hand: warcio reads them back with every sha1 digest
    checked, one gzip member each, and a header value beyond ASCII %-encoded (RFC 8187)."""
    from warcio.archiveiterator import ArchiveIterator

    writer = WarcWriter(tmp_path, "example")
    headers = [("Content-Type", "text/html; charset=utf-8"), ("X-Title", "Café")]
    writer.write_page(page(1), body=ARTICLE, headers=headers, request_headers=[("User-Agent", "t")])
    (path,) = writer.close()
    with open(path, "rb") as fh:
        records = []
        for record in ArchiveIterator(fh, check_digests="raise"):
            records.append(
                (record.rec_type, record.rec_headers, record.http_headers,
                 record.content_stream().read())
            )  # fmt: skip
    assert [r[0] for r in records] == ["warcinfo", "response", "request", "metadata"]
    _, response, http, body = records[1]
    assert body == ARTICLE
    assert response.get_header("WARC-Target-URI") == page(1).final_url
    assert http.get_statuscode() == "200"
    assert http.get_header("Content-Length") == str(len(ARTICLE))
    assert http.get_header("X-Title") == "Caf%C3%A9"
    assert records[2][2].protocol == "GET" and records[2][2].get_header("User-Agent") == "t"
    for _, rec_headers, _, _ in records[2:]:
        assert rec_headers.get_header("WARC-Concurrent-To") == response.get_header("WARC-Record-ID")
    assert path.read_bytes().count(b"\x1f\x8b\x08") >= 4  # a gzip member per record


def test_a_pages_file_line_points_at_the_archived_body(tmp_path):
    """An archived page's line names its response record instead of holding the HTML, and
    reads back to the same page: from the unfinished ``.part`` file (a crawl killed after
    the line was written: the record was flushed before) and from the finished file."""
    writer = WarcWriter(tmp_path, "example", max_bytes=1 << 20)
    places = [
        writer.write_page(page(n), body=ARTICLE, headers=[("Content-Type", "text/html")])
        for n in range(3)
    ]
    assert [p[0] for p in places] == [str(tmp_path / "example-00000.warc.gz")] * 3
    assert not os.path.exists(places[0][0])  # still the .part file
    lines = [page_line(page(n), at) for n, at in enumerate(places)]
    for n, text in enumerate(lines):
        data = json.loads(text)
        assert data["html"] == "" and data[ARCHIVED_KEY] == list(places[n])
        assert "<html" not in text
        assert read_archived_body(places[n]) == ARTICLE
        assert page_from_line(text) == page(n)
        assert page_from_line(text.encode("utf-8"), body=False).html == ""
    writer.close()
    assert os.path.exists(places[0][0])
    assert [page_from_line(text) for text in lines] == [page(n) for n in range(3)]
    assert page_from_line(page_line(page(7))) == page(7)  # no archive: the HTML inline


def test_an_unreadable_archived_body_names_the_page(tmp_path):
    writer = WarcWriter(tmp_path / "warc", "example")
    path, offset, length = writer.write_page(page(1), body=ARTICLE, headers=[])
    writer.write_page(page(2), body=ARTICLE, headers=[])
    writer.close()
    after = Path(path).read_bytes()[offset + length :]  # the request record comes next
    inflater = zlib.decompressobj(wbits=31)
    inflater.decompress(after)
    request = (path, offset + length, len(after) - len(inflater.unused_data))
    wrong = {
        "no such archive file": (path + ".gone", offset, length),
        "cut short": (path, os.path.getsize(path) - 10, length),
        "not a gzip member": (path, offset + 1, length),
        "does not end where named": (path, offset, length - 10),
        "not a response record": request,
    }
    for message, at in wrong.items():
        with pytest.raises(ArchivedBodyError, match=message):
            read_archived_body(at)
        with pytest.raises(UnreadablePage, match="archived body unreadable") as caught:
            page_from_line(page_line(page(1), at))
        assert caught.value.page.url == page(1).url and caught.value.page.source == "example"
    assert read_archived_body((path, offset, length)) == ARTICLE


def _crawled(n: int, body: bytes = ARTICLE) -> tuple[Page, object]:
    """A page as the spider emits it, with the Scrapy response it came from."""
    from scrapy.http import HtmlResponse, Request

    url = f"https://news.example/story-{n}"
    response = HtmlResponse(
        url=url, body=body, headers={"Content-Type": "text/html; charset=utf-8"},
        request=Request(url),
    )  # fmt: skip
    item = Page(
        url=url, final_url=url, source="example", status=200,
        fetched_at=datetime(2026, 1, 2, tzinfo=UTC), html=response.text,
        encoding=response.encoding, headers=page_headers(response.headers),
    )  # fmt: skip
    return item, response


def _lines(directory: Path) -> list[str]:
    with gzip.open(directory / "pages.jsonl.gz", "rt", encoding="utf-8") as fh:
        return fh.read().splitlines()


def test_the_crawl_keeps_the_html_where_the_archive_would_not_give_it_back(tmp_path):
    """The page writer archives each page's Scrapy response and points the page's line at
    it, except where the body's bytes, decoded as the line would be, are not the page's text
    (a byte-order mark, which Scrapy's decoding drops): that line keeps its HTML."""
    writer = PageWriterPipeline(str(tmp_path / "out"), warc_dir=str(tmp_path / "warc"))
    writer.open_spider()
    pairs = [_crawled(0), _crawled(1, b"\xef\xbb\xbf" + ARTICLE)]  # plain, then a BOM
    for item, response in pairs:
        writer.process_item(item)  # written with its archive record, below
        writer.item_scraped(item, response)
    crawled = [item for item, _ in pairs]
    writer.close_spider()
    lines = _lines(tmp_path / "out")
    assert [ARCHIVED_KEY in json.loads(text) for text in lines] == [True, False]
    assert [page_from_line(text) for text in lines] == crawled
    (archive,) = warc_files(tmp_path / "warc")
    assert [p.url for p in iter_warc_pages(archive)] == [p.url for p in crawled]

    # An archive that cannot be written (here its folder would be inside a file) loses no
    # page: the line holds the HTML.
    (tmp_path / "a-file").write_text("")
    writer = PageWriterPipeline(str(tmp_path / "out2"), warc_dir=str(tmp_path / "a-file" / "w"))
    writer.open_spider()
    writer.item_scraped(*pairs[0])
    writer.close_spider()
    (text,) = _lines(tmp_path / "out2")
    assert ARCHIVED_KEY not in json.loads(text) and page_from_line(text) == crawled[0]


def test_no_page_is_lost_when_the_archive_fails(tmp_path):
    """Lines point into several files across rollovers; a rollover that cannot finish its
    file (here a folder stands where the file goes) leaves that page's HTML in its line and
    the next page in a new file; a close that cannot finish the last file still finishes the
    pages file, whose lines are read from the unfinished one. A killed crawl's lines are
    read back after salvage."""
    warc = tmp_path / "warc"
    writer = PageWriterPipeline(str(tmp_path / "out"), warc_dir=str(warc), warc_max_bytes=1)
    writer.open_spider()
    crawled = [_crawled(n) for n in range(4)]
    for n, (item, response) in enumerate(crawled):
        writer.item_scraped(item, response)
        if n == 0:
            (warc / "example-00001.warc.gz").mkdir()  # where the second page's file goes
    writer.close_spider()
    lines = _lines(tmp_path / "out")
    assert [ARCHIVED_KEY in json.loads(text) for text in lines] == [True, False, True, True]
    assert [page_from_line(text) for text in lines] == [item for item, _ in crawled]
    assert [f.name for f in warc_files(warc)] == [
        "example-00000.warc.gz", "example-00002.warc.gz", "example-00003.warc.gz"
    ]

    # The last file cannot be finished at close.
    warc = tmp_path / "warc-close"
    writer = PageWriterPipeline(str(tmp_path / "out-close"), warc_dir=str(warc))
    writer.open_spider()
    for item, response in crawled:
        writer.item_scraped(item, response)
    (warc / "example-00000.warc.gz").mkdir()
    writer.close_spider()
    lines = _lines(tmp_path / "out-close")
    assert all(ARCHIVED_KEY in json.loads(text) for text in lines)
    assert [page_from_line(text) for text in lines] == [item for item, _ in crawled]

    # A crawl killed before it closed: salvage, then every page is read from the .part file.
    writer = PageWriterPipeline(str(tmp_path / "killed"), warc_dir=str(tmp_path / "warc-k"))
    writer.open_spider()
    for item, response in crawled:
        writer.item_scraped(item, response)
    assert salvage(tmp_path / "killed") == 4
    assert warc_files(tmp_path / "warc-k") == []  # never finished
    pages = list(iter_pages([str(tmp_path / "killed" / "pages.jsonl.gz")]))
    assert pages == [item for item, _ in crawled]
    writer.fh.close()
    writer.rejected_fh.close()
    writer.archive.writer._fh.close()
