"""The WARC archive on its own: rollover, crash safety, reading WARCs written by other tools.
(The round trip through a real crawl is in test_crawl_quirks.py.)"""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

from crawlers.archive import WarcWriter, iter_warc_pages, warc_files
from crawlers.records import Page
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
