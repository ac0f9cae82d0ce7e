"""No page can stall the clean stage or exhaust its memory: pages past a bound (size, element
count, seconds) are dropped with a reason and counted, and the stage goes on."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import UTC, datetime

import pytest

from crawlers.clean import TemplateState
from crawlers.records import Page
from flows.extraction import ExtractionPool, ExtractLimits, extract_bounded, precheck
from flows.stages import clean_stage
from tests.conftest import data_path, fetched_page

GOOD_HTML = data_path("clean", "wire_copyright.html").read_text(encoding="utf-8")


def page(html: str, url: str, source: str = "site") -> Page:
    return fetched_page(html, url, source, datetime.now(UTC))


def paragraphs(n: int) -> str:
    body = "".join(f"<p>Paragraph {i} of a very long page.</p>" for i in range(n))
    return f"<html><body><article>{body}</article></body></html>"


def test_the_issues_pages_are_refused_before_parsing():
    # 1.1 million <p> (9.9 MB) kept the clean stage busy for over 400 s; plain text of the
    # same size took 13 s and 2 GB.
    many = page("<html><body>" + "<p>word</p>" * 1_100_000 + "</body></html>", "https://a.example/1")
    text = page("<html><body><p>" + "word " * 2_000_000 + "</p></body></html>", "https://a.example/2")
    dense = page("<html><body>" + "<b>x" * 300_000 + "</body></html>", "https://a.example/3")
    started = time.monotonic()
    results = [extract_bounded(p) for p in (many, text, dense)]
    assert time.monotonic() - started < 2.0
    assert [r.reason for r in results] == ["too_large", "too_large", "too_many_elements"]
    assert all(r.extracted is None and r.url in r.error for r in results)


def test_precheck_passes_real_pages():
    assert precheck(page(GOOD_HTML, "https://a.example/ok"), ExtractLimits()) is None
    multibyte = page("<p>" + "é" * 2_000_000 + "</p>", "https://a.example/e")  # 4 MB in UTF-8
    assert precheck(multibyte, ExtractLimits()) is None
    assert precheck(multibyte, ExtractLimits(max_html_bytes=3_000_000)) == "too_large"


@pytest.mark.timeout(60)
def test_a_slow_page_times_out_in_its_worker_and_the_rest_go_on():
    limits = ExtractLimits(seconds=3.0, grace_seconds=5.0)
    pages = [page(GOOD_HTML, "https://a.example/before"),
             page(paragraphs(40_000), "https://a.example/slow"),
             page(GOOD_HTML, "https://a.example/after")]
    started = time.monotonic()
    with ExtractionPool(1, limits) as pool:
        results = list(pool.map(pages))
        replaced = pool.replaced
    assert time.monotonic() - started < 20
    assert [r.url for r in results] == [p.url for p in pages]  # input order
    assert [r.reason for r in results] == [None, "extraction_timeout", None]
    assert results[0].extracted.lines and results[2].extracted.lines
    assert replaced == 0  # the worker interrupted itself and served the next page


@pytest.mark.timeout(60)
def test_a_stuck_worker_is_killed_and_replaced(caplog):
    # A stopped process answers no signal but SIGKILL: the parent's watchdog must act.
    # The next page comes late (a crawl still running): the stuck worker is dealt with anyway.
    limits = ExtractLimits(seconds=1.0, grace_seconds=1.0)

    def pages():  # type: ignore[no-untyped-def]
        yield page(GOOD_HTML, "https://a.example/stuck")
        time.sleep(8)
        yield page(GOOD_HTML, "https://a.example/next")

    with ExtractionPool(1, limits) as pool:
        (pid,) = pool.start()
        os.kill(pid, signal.SIGSTOP)
        started = time.time()
        with caplog.at_level("WARNING", logger="newsdedup"):
            results = list(pool.map(pages()))
        assert pool.replaced == 1 and pool.start() != [pid]
    first, rest = results[0], results[1:]
    (killed,) = [r for r in caplog.records if "stuck" in r.getMessage()]
    # Killed at the deadline (1 s + 1 s of grace), not when the next page came (8 s).
    assert 2.0 <= killed.created - started < 6.0
    assert first.reason == "extraction_timeout" and "killed" in first.error
    assert [r.reason for r in rest] == [None]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fault", ["stopped", "killed"])
def test_the_page_waiting_behind_a_lost_one_goes_to_another_worker(fault):
    # A worker holds the page it cleans and the next (DEPTH): when it is stopped (killed at
    # the deadline) or dies, only the first is dropped; the next is cleaned by its successor.
    limits = ExtractLimits(seconds=1.0, grace_seconds=1.0)
    first = "https://a.example/slow" if fault == "killed" else "https://a.example/stuck"
    html = paragraphs(40_000) if fault == "killed" else GOOD_HTML
    pages = [page(html, first)] + [page(GOOD_HTML, f"https://a.example/{i}") for i in range(3)]
    with ExtractionPool(1, ExtractLimits(seconds=40.0) if fault == "killed" else limits) as pool:
        (pid,) = pool.start()
        if fault == "stopped":
            os.kill(pid, signal.SIGSTOP)
        else:
            threading.Timer(1.0, os.kill, (pid, signal.SIGKILL)).start()
        results = list(pool.map(pages))
        assert pool.replaced == 1
    expected = "extraction_timeout" if fault == "stopped" else "extraction_crashed"
    assert [r.url for r in results] == [p.url for p in pages]
    assert [r.reason for r in results] == [expected, None, None, None], [r.error for r in results]


@pytest.mark.timeout(60)
def test_a_worker_that_dies_costs_only_its_page():
    limits = ExtractLimits(seconds=40.0)
    with ExtractionPool(1, limits) as pool:
        (pid,) = pool.start()

        def pages():  # type: ignore[no-untyped-def]
            yield page(paragraphs(40_000), "https://a.example/slow")
            time.sleep(2)  # the slow page is in the worker now: kill it there
            os.kill(pid, signal.SIGKILL)
            yield page(GOOD_HTML, "https://a.example/next")

        got = list(pool.map(pages()))
        assert pool.replaced == 1
    assert [r.reason for r in got] == ["extraction_crashed", None], [r.error for r in got]
    assert "died" in got[0].error


@pytest.mark.timeout(60)
def test_workers_and_their_replacements_come_from_the_preloaded_fork_server():
    """A worker is forked from a server that loaded the extractor (flows.extraction_preload)
    once, not started afresh to import it: so is the one that replaces a lost worker. The
    server stops with the last pool of the process."""
    import psutil

    def server_of(pid: int) -> list[str]:
        parent = psutil.Process(pid).parent()
        assert parent is not None and parent.pid != os.getpid()
        return parent.cmdline()

    pages = [page(GOOD_HTML, f"https://a.example/{i}") for i in range(2)]
    with ExtractionPool(1, ExtractLimits()) as pool:
        (first,) = pool.start()
        server = server_of(first)
        assert "forkserver" in " ".join(server) and "flows.extraction_preload" in " ".join(server)
        os.kill(first, signal.SIGKILL)
        time.sleep(0.5)
        assert [r.reason for r in pool.map(pages)] == [None, None]
        (second,) = pool.start()
        assert second != first and server_of(second) == server
        server_pid = psutil.Process(second).ppid()
    # Closed, the pool leaves nothing behind: the fork server has exited and been waited for.
    assert not psutil.pid_exists(server_pid)


@pytest.mark.timeout(60)
def test_a_worker_that_died_idle_is_replaced_before_it_gets_a_page():
    pages = [page(GOOD_HTML, f"https://a.example/{i}") for i in range(3)]
    with ExtractionPool(1, ExtractLimits()) as pool:
        (pid,) = pool.start()
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        results = list(pool.map(pages))
        assert pool.replaced == 1
    assert [r.reason for r in results] == [None, None, None]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("workers", [0, 2])
def test_clean_stage_counts_bounded_pages_as_dropped(workers):
    limits = ExtractLimits(max_html_bytes=2_000_000, max_elements=50_000, seconds=3.0)
    pages = [
        page(GOOD_HTML, "https://a.example/good"),
        page("<p>" + "word " * 500_000 + "</p>", "https://a.example/large"),
        page("<div>" + "<b>x" * 60_000 + "</div>", "https://b.example/dense", source="other"),
        page(paragraphs(40_000), "https://b.example/slow", source="other"),
    ]
    out = clean_stage(pages, {}, TemplateState(), min_words=5, workers=workers, limits=limits)
    site, other = out.per_source["site"], out.per_source["other"]
    assert site["pages"] == 2 and site["dropped"].get("too_large") == 1
    assert other["pages"] == 2 and other["dropped"].get("too_many_elements") == 1
    # In this process (workers=0) the deadline applies in the main thread, as here.
    assert other["dropped"].get("extraction_timeout") == 1
    assert site["extracted"] == 1
