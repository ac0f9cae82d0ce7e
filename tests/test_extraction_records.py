"""Pages handed to the extraction as the lines of their page files: decoded in the workers,
with the same results, drops and order as the pages themselves."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawlers.clean import TemplateState
from crawlers.records import Page
from flows.extraction import Extraction, ExtractionPool, ExtractLimits, as_page, extract_bounded
from flows.stages import PageFeed, clean_stage, iter_pages
from tests.conftest import data_path

GOOD_HTML = data_path("clean", "wire_copyright.html").read_text(encoding="utf-8")


def page(html: str, url: str, source: str = "site") -> Page:
    return Page(url=url, final_url=url, source=source, status=200,
                fetched_at=datetime.now(UTC), html=html, hint_title="Ünïcode “quoted”")


def line(p: Page) -> bytes:
    return (json.dumps(p.to_dict(), ensure_ascii=False) + "\n").encode("utf-8")


def write_pages(path: Path, pages: list[Page]) -> str:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for p in pages:
            fh.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
            fh.write("\n")  # blank lines are skipped
    return str(path)


def test_a_line_decodes_to_the_page():
    p = page(GOOD_HTML, "https://a.example/1")
    assert as_page(line(p)) == p
    assert as_page(p) is p


def test_page_feed_records_are_the_lines_iter_pages_reads(tmp_path):
    pages = [page(GOOD_HTML, f"https://a.example/{i}") for i in range(3)]
    path = write_pages(tmp_path / "pages.jsonl.gz", pages)
    records = list(PageFeed([path]).records())
    assert [as_page(r) for r in records] == list(iter_pages([path])) == list(PageFeed([path]))
    assert [as_page(r) for r in records] == pages


def _unplanned(results: list[Extraction]) -> list[Extraction]:
    """``results`` with no plan named (Extracted.plan): what each page gave, not how."""
    return [
        r._replace(extracted=dataclasses.replace(r.extracted, plan=None)) if r.extracted else r
        for r in results
    ]


@pytest.mark.timeout(90)
def test_lines_and_pages_extract_alike_in_order():
    limits = ExtractLimits(max_html_bytes=2_000_000, max_elements=50_000, seconds=5.0)
    pages = [page(GOOD_HTML, f"https://a.example/{i}") for i in range(6)]
    pages.insert(2, page("<p>" + "word " * 500_000 + "</p>", "https://a.example/large"))
    pages.insert(4, page("<div>" + "<b>x" * 60_000 + "</div>", "https://a.example/dense"))
    with ExtractionPool(2, limits) as pool:
        from_pages = list(pool.map(pages))
        # Pages and lines mixed: each is decoded where it must be.
        from_lines = list(pool.map([line(p) if i % 2 else p for i, p in enumerate(pages)]))
    in_process = [extract_bounded(line(p), limits) for p in pages]
    assert [r.url for r in from_lines] == [p.url for p in pages]
    # The same results, whichever plan read each body: the pool's second map reads the site
    # with the plan its first one learned, the process without plans with every pass.
    assert _unplanned(from_lines) == _unplanned(from_pages) == _unplanned(in_process)
    assert {r.extracted.plan for r in in_process if r.extracted} == {"full"}
    assert [r.reason for r in from_lines].count(None) == 6
    assert {r.reason for r in from_lines} - {None} == {"too_large", "too_many_elements"}


@pytest.mark.timeout(60)
def test_an_unreadable_line_fails_the_map():
    good = line(page(GOOD_HTML, "https://a.example/ok"))
    with ExtractionPool(1, ExtractLimits()) as pool, pytest.raises(ValueError, match="unreadable"):
        list(pool.map([good, b'{"url": "https://a.example/broken", "ht\n', good]))
    with pytest.raises(ValueError):
        extract_bounded(b"not json\n")


@pytest.mark.timeout(60)
def test_a_line_whose_archived_body_is_gone_is_a_counted_drop(tmp_path):
    """A line that names an archived body no longer there is the page's drop
    (``archive_unreadable``), in the pool and in this process; the run goes on."""
    from crawlers.archive import WarcWriter
    from crawlers.records import page_line

    lost = page(GOOD_HTML, "https://a.example/lost")
    writer = WarcWriter(tmp_path, "site")
    at = writer.write_page(lost, body=GOOD_HTML.encode("utf-8"), headers=[])
    (archive,) = writer.close()
    kept = page_line(lost, at).encode("utf-8")
    good = line(page(GOOD_HTML, "https://a.example/ok"))
    with ExtractionPool(1, ExtractLimits()) as pool:
        assert [r.reason for r in pool.map([kept, good])] == [None, None]
        archive.unlink()
        results = list(pool.map([kept, good]))
    assert [(r.url, r.reason) for r in results] == [
        ("https://a.example/lost", "archive_unreadable"), ("https://a.example/ok", None)
    ]
    assert "no such archive file" in (results[0].error or "")
    assert extract_bounded(kept).reason == "archive_unreadable"


@pytest.mark.timeout(60)
def test_a_crash_on_a_line_is_dropped_under_its_url():
    limits = ExtractLimits(seconds=40.0)
    slow = page("<html><body><article>" + "<p>A paragraph of a long page.</p>" * 40_000
                + "</article></body></html>", "https://a.example/slow", source="slow-site")
    with ExtractionPool(1, limits) as pool:
        (pid,) = pool.start()

        def items():  # type: ignore[no-untyped-def]
            yield line(slow)
            time.sleep(2)  # the slow page is in the worker now: kill it there
            os.kill(pid, signal.SIGKILL)
            yield line(page(GOOD_HTML, "https://a.example/next"))

        got = list(pool.map(items()))
    assert [(r.source, r.url, r.reason) for r in got] == [
        ("slow-site", "https://a.example/slow", "extraction_crashed"),
        ("site", "https://a.example/next", None),
    ]


@pytest.mark.timeout(90)
def test_many_pages_pass_the_feed_in_order(tmp_path):
    # More pages than the feed reads ahead, from several files, one arriving late.
    pages = [page(GOOD_HTML, f"https://a.example/{i}", source=f"s{i % 3}") for i in range(60)]
    paths = [write_pages(tmp_path / f"p{k}.jsonl.gz", pages[k::3]) for k in range(3)]
    feed = PageFeed()
    feed.put(paths[0])
    feed.put(paths[1])

    def late():  # type: ignore[no-untyped-def]
        yield from feed.records()

    import threading

    def finish() -> None:
        time.sleep(1.0)
        feed.put(paths[2])
        feed.close()

    threading.Thread(target=finish, daemon=True).start()
    with ExtractionPool(2, ExtractLimits()) as pool:
        got = list(pool.map(late(), window=8))
    expected = [p.url for k in range(3) for p in pages[k::3]]
    assert [r.url for r in got] == expected
    assert all(r.reason is None for r in got)


@pytest.mark.timeout(90)
def test_clean_stage_on_records_equals_clean_stage_on_pages(tmp_path):
    pages = [page(GOOD_HTML.replace("</h1>", f" {i}</h1>"), f"https://a.example/{i}")
             for i in range(4)]
    path = write_pages(tmp_path / "pages.jsonl.gz", pages)
    by_page = clean_stage(list(iter_pages([path])), {}, TemplateState(), min_words=5, workers=2)
    by_line = clean_stage(PageFeed([path]).records(), {}, TemplateState(), min_words=5,
                          workers=2)
    in_process = clean_stage(PageFeed([path]).records(), {}, TemplateState(), min_words=5,
                             workers=0)
    assert by_line.articles == by_page.articles == in_process.articles
    assert by_line.per_source == by_page.per_source == in_process.per_source
