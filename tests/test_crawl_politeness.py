"""Politeness and hygiene through the real ``crawlers.run``: retries with backoff and
``Retry-After`` (without blocking other downloads), Crawl-delay clamping, decompression bombs,
credentials kept out of the logs.

Two small HTTP servers on loopback answer scripted responses and record every request. The
second one is addressed as ``localhost`` so that it gets its own download slot (Scrapy keys
slots by hostname): its pages must keep flowing while a request to the first one waits.
"""

from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from crawlers.middlewares import mask_secrets, parse_retry_after
from tests.conftest import data_path
from tests.test_crawl_support import run_crawl

pytestmark = pytest.mark.slow

ARTICLE = data_path("crawl", "article.html").read_bytes()
RETRY_AFTER = 3


@dataclass
class Hit:
    path: str
    status: int
    time: float
    headers: dict[str, str]


class ScriptedServer:
    """Answers each path from a script: a list of responses used in turn (the last repeats)."""

    def __init__(self) -> None:
        self.script: dict[str, list[tuple[int, dict[str, str], bytes]]] = {}
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                with server.lock:
                    answers = server.script.get(self.path.split("?")[0])
                    if answers:
                        status, headers, body = answers.pop(0) if len(answers) > 1 else answers[0]
                    else:
                        status, headers, body = 404, {}, b"not found"
                    server.hits.append(Hit(self.path, status, time.time(), dict(self.headers)))
                self.send_response(status)
                headers = {"Content-Type": "text/html; charset=utf-8", **headers}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> ScriptedServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def on(self, path: str, *answers: tuple[int, dict[str, str], bytes]) -> None:
        self.script[path] = list(answers)

    def times(self, path: str) -> list[float]:
        return [h.time for h in self.hits if h.path.split("?")[0] == path]


def sitemap(base: str, paths: list[str]) -> bytes:
    rows = "".join(f"<url><loc>{base}{p}</loc></url>" for p in paths)
    return (
        '<?xml version="1.0" encoding="UTF-8"?><urlset '
        f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</urlset>'
    ).encode()


XML = {"Content-Type": "application/xml"}
TEXT = {"Content-Type": "text/plain"}


@pytest.fixture(scope="module")
def retry_crawl(tmp_path_factory):
    a, b = ScriptedServer().start(), ScriptedServer().start()
    base_a, base_b = f"http://127.0.0.1:{a.port}", f"http://localhost:{b.port}"
    a.on("/robots.txt", (200, TEXT, b"User-agent: *\nDisallow:\n"))
    a.on("/sitemap.xml", (200, XML, sitemap(base_a, [
        "/news/limited-story-one", "/news/unavailable-story-two", "/news/come-back-tomorrow",
        "/news/gzip-bomb-story", "/news/plain-503-story"])))  # fmt: skip
    a.on("/news/limited-story-one",
         (429, {"Retry-After": str(RETRY_AFTER)}, b"slow down"), (200, {}, ARTICLE))  # fmt: skip
    not_before = (datetime.now(UTC) + timedelta(seconds=6)).replace(microsecond=0)
    http_date = format_datetime(not_before, usegmt=True)
    a.on("/news/unavailable-story-two",
         (503, {"Retry-After": http_date}, b"maintenance"), (200, {}, ARTICLE))  # fmt: skip
    a.on("/news/come-back-tomorrow", (503, {"Retry-After": "86400"}, b"closed today"))
    a.on("/news/plain-503-story", (503, {}, b"oops"), (503, {}, b"oops"), (200, {}, ARTICLE))
    bomb = gzip.compress(b"<html><body>" + b"<p>lorem ipsum dolor sit amet</p>" * 200_000)
    a.on("/news/gzip-bomb-story", (200, {"Content-Encoding": "gzip"}, bomb))
    b_pages = [f"/news/other-site-story-{i}" for i in range(8)]
    b.on("/robots.txt", (200, TEXT, b"User-agent: *\nCrawl-delay: 100\n"))
    b.on("/sitemap.xml", (200, XML, sitemap(base_b, b_pages)))
    for p in b_pages:
        b.on(p, (200, {}, ARTICLE))
    work = tmp_path_factory.mktemp("politeness")
    seeds = work / "seeds.yaml"
    seeds.write_text(
        "sources:\n  - name: scripted\n    follow_links: false\n"
        f"    sitemaps: [{base_a}/sitemap.xml, {base_b}/sitemap.xml]\n"
    )
    result = run_crawl(
        seeds, "scripted", work / "out",
        "-s", "DOWNLOAD_MAXSIZE=1000000", "-s", "NEWSDEDUP_MAX_CRAWL_DELAY=0.3",
        "-s", "NEWSDEDUP_RETRY_AFTER_MAX=60", "-s", "AUTOTHROTTLE_START_DELAY=0",
    )  # fmt: skip
    a.stop()
    b.stop()
    yield a, b, result, not_before.timestamp()


def test_retry_after_seconds_waited_then_emitted(retry_crawl):
    a, _, result, _ = retry_crawl
    times = a.times("/news/limited-story-one")
    assert [h.status for h in a.hits if h.path == "/news/limited-story-one"] == [429, 200]
    assert times[1] - times[0] >= RETRY_AFTER - 0.05
    assert any(u.endswith("/news/limited-story-one") for u in result.urls)


def test_retry_after_beyond_the_limit_is_not_waited_out(retry_crawl):
    a, _, result, _ = retry_crawl
    # A day is beyond NEWSDEDUP_RETRY_AFTER_MAX (60 s): given up, the next run comes back.
    assert [h.status for h in a.hits if h.path == "/news/come-back-tomorrow"] == [503]
    assert result.stats["errors"].get("http_503") == 1


def test_retry_after_http_date_honoured(retry_crawl):
    a, _, result, not_before = retry_crawl
    times = a.times("/news/unavailable-story-two")
    assert len(times) == 2 and times[0] < not_before <= times[1] + 0.05
    assert any(u.endswith("/news/unavailable-story-two") for u in result.urls)


def test_exponential_backoff_without_retry_after(retry_crawl):
    a, _, result, _ = retry_crawl
    times = a.times("/news/plain-503-story")
    assert len(times) == 3
    assert times[1] - times[0] >= 1.0  # NEWSDEDUP_RETRY_BACKOFF
    assert times[2] - times[1] >= 2.0  # doubled
    assert any(u.endswith("/news/plain-503-story") for u in result.urls)


def test_waiting_retry_does_not_block_other_sites(retry_crawl):
    a, b, _, _ = retry_crawl
    t429, t200 = a.times("/news/limited-story-one")
    during = [h for h in b.hits if t429 < h.time < t200 and h.path.startswith("/news/")]
    assert len(during) >= 2


def test_crawl_delay_clamped_to_the_maximum(retry_crawl):
    _, b, result, _ = retry_crawl
    times = [h.time for h in b.hits if h.path.startswith("/news/")]
    gaps = [y - x for x, y in zip(times, times[1:], strict=False)]
    assert len(times) == 8 and min(gaps) >= 0.25, gaps  # 0.3 s, not 100 s
    assert result.stats["robots_crawl_delay"] == 0.3
    assert "asks for Crawl-delay 100.0s; using the maximum of 0.3s" in result.stderr


def test_decompression_bomb_dropped(retry_crawl):
    _, _, result, _ = retry_crawl
    assert not any(u.endswith("/news/gzip-bomb-story") for u in result.urls)
    assert result.stats["skipped_too_large"] == 1


def test_everything_else_emitted_once(retry_crawl):
    _, _, result, _ = retry_crawl
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(result.urls) == len(set(result.urls)) == 3 + 8


# -- logs ------------------------------------------------------------------------------------


def test_credentials_never_reach_the_logs(tmp_path):
    server = ScriptedServer().start()
    try:
        server.on("/robots.txt", (200, TEXT, b"User-agent: *\nDisallow:\n"))
        server.on("/feed.xml", (200, XML, b"<rss><channel><item><link>"
                  + f"http://editor:hunter2-pass@127.0.0.1:{server.port}/news/a-secret-story-here".encode()
                  + b"</link></item></channel></rss>"))  # fmt: skip
        server.on("/news/a-secret-story-here", (500, {}, b"down"))
        seeds = tmp_path / "seeds.yaml"
        seeds.write_text(
            "sources:\n  - name: secret\n"
            f"    feeds: ['http://editor:hunter2-pass@127.0.0.1:{server.port}/feed.xml"
            "?api_key=k3y-value-123&page=1']\n"
        )
        result = run_crawl(seeds, "secret", tmp_path / "out", "--log-level", "DEBUG",
                           "-s", "RETRY_TIMES=0")  # fmt: skip
    finally:
        server.stop()
    log = result.stdout + result.stderr
    assert "/feed.xml" in log and "a-secret-story-here" in log  # the URLs are logged ...
    assert "hunter2" not in log and "k3y-value-123" not in log  # ... without their secrets
    assert "editor:" not in log and "api_key=***" in log
    # The credentials went to the site as a Basic Authorization header, not in the URL.
    assert {h.headers.get("Authorization") for h in server.hits if h.path != "/robots.txt"} == {
        "Basic ZWRpdG9yOmh1bnRlcjItcGFzcw=="
    }
    assert result.stats["errors"] == {"http_500": 1}


def test_mask_secrets():
    line = (
        "GET https://bob:pw@news.example/a?token=t0k&x=1 Cookie: session=abc123 "
        "{b'Authorization': [b'Basic Ym9iOnB3']}"
    )
    masked = mask_secrets(line)
    for secret in ("bob:pw", "t0k", "abc123", "Ym9iOnB3"):
        assert secret not in masked
    assert "https://***@news.example/a?token=***&x=1" in masked


def test_parse_retry_after():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after(b"120") == 120.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_default_user_agent_names_the_project_and_a_contact():
    from crawlers import settings
    from crawlers.run import CONTACT

    assert settings.USER_AGENT.startswith("newsdedup/") and CONTACT.search(settings.USER_AGENT)
    assert settings.ROBOTSTXT_OBEY and settings.CONCURRENT_REQUESTS_PER_DOMAIN == 2
    assert settings.AUTOTHROTTLE_ENABLED and not settings.COOKIES_ENABLED
