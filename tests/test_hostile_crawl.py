"""The crawler against hostile sites on loopback, through the real ``crawlers.run``.

Each test serves a small site (tests/hostile_site.py) that tries one way of hurting an
unattended crawl: other URL schemes through sitemaps, feeds, links, redirects and robots.txt;
a sitemap-index tar-pit; giant and broken sitemaps; a Retry-After longer than the run; a
crawl-delay that would hold the close past the hard kill; a hang that gets its process killed.
Every crawl has a bounded subprocess timeout, so a test fails instead of hanging.
"""

from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crawlers.pipelines import PageWriterPipeline, read_complete_lines, salvage
from crawlers.records import Page
from crawlers.seeds import load_seeds
from flows import stages
from tests.hostile_site import (
    ARTICLE,
    ROBOTS_OPEN,
    TEXT,
    XML,
    HostileSite,
    seeds_file,
    sitemap,
)
from tests.test_crawl_support import run_crawl

pytestmark = pytest.mark.slow
FAST = ["-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "DOWNLOAD_DELAY=0"]


def article_paths(n: int, prefix: str = "story") -> list[str]:
    return [f"/news/{prefix}-number-{i}-of-the-day" for i in range(n)]


def serve_articles(site: HostileSite, paths: list[str]) -> None:
    for path in paths:
        site.on(path, (200, {}, ARTICLE))


# -- schemes: only http(s), from every discovery path ----------------------------------------


def test_sitemaps_feeds_and_links_never_reach_other_schemes(tmp_path):
    with HostileSite() as site:
        host = f"127.0.0.1:{site.port}"
        # A local file holding a sitemap of a page that must never be requested.
        local = tmp_path / "local-sitemap.xml"
        local.write_bytes(sitemap([f"{site.base}/news/read-from-the-local-disk"]))
        real = article_paths(2)
        serve_articles(site, real)
        site.on("/robots.txt", ROBOTS_OPEN)
        site.on("/sitemap.xml", (200, XML, sitemap([
            f"file://{host}{local}", f"file://{host}/dev/zero", f"ftp://{host}/",
            f"s3://{host}/bucket/sitemap.xml", "data:text/xml,<urlset/>",
            f"{site.base}/real-sitemap.xml",
        ], index=True)))  # fmt: skip
        site.on("/real-sitemap.xml", (200, XML, sitemap(
            [site.base + p for p in real] + [f"file://{host}{local}", f"ftp://{host}/story"]
        )))  # fmt: skip
        site.on("/feed.xml", (200, XML, (
            "<rss><channel>"
            f"<item><link>file://{host}/etc/hostname</link></item>"
            f"<item><link>gopher://{host}/1/news</link></item>"
            "</channel></rss>"
        ).encode()))  # fmt: skip
        site.on("/", (200, {}, (
            f'<html><body><a href="file://{host}/etc/passwd">a</a>'
            f'<a href="ftp://{host}/pub/">b</a><a href="{real[0]}">c</a></body></html>'
        ).encode()))  # fmt: skip
        seeds_file(
            tmp_path / "seeds.yaml", "hostile",
            sitemaps=[f"{site.base}/sitemap.xml"], feeds=[f"{site.base}/feed.xml"],
            start_urls=[f"{site.base}/"],
        )  # fmt: skip
        started = time.monotonic()
        result = run_crawl(tmp_path / "seeds.yaml", "hostile", tmp_path / "out", *FAST, timeout=60)
        seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    assert seconds < 30, seconds  # an ftp:// entry used to hang the crawl until its kill
    # Nothing from the disk was read, nothing but HTTP ever reached the site.
    assert "/news/read-from-the-local-disk" not in site.paths()
    assert set(site.paths()) <= {"/robots.txt", "/sitemap.xml", "/real-sitemap.xml",
                                 "/feed.xml", "/", *real}  # fmt: skip
    assert sorted(p.url for p in result.pages) == sorted(site.base + p for p in real)
    blocked = result.stats["blocked_scheme"]
    assert blocked.get("file", 0) >= 4 and blocked.get("ftp", 0) >= 2, blocked
    assert blocked.get("s3") == 1 and blocked.get("data") == 1 and blocked.get("gopher") == 1
    assert result.stats["errors"] == {}


def test_redirects_to_other_schemes_and_loops_are_named_errors(tmp_path):
    with HostileSite() as site:
        site.on("/robots.txt", (302, {"Location": "file:///etc/passwd"}, b""))
        site.on("/news/moved-to-the-local-disk", (302, {"Location": "file:///etc/passwd"}, b""))
        site.on("/news/moved-to-a-gopher-hole", (301, {"Location": "gopher://127.0.0.1/1/"}, b""))
        site.on("/news/loop-one-of-two-pages", (302, {"Location": "/news/loop-two-of-two"}, b""))
        site.on("/news/loop-two-of-two", (302, {"Location": "/news/loop-one-of-two-pages"}, b""))
        for i in range(8):  # a chain longer than REDIRECT_MAX_TIMES (5)
            moved = {"Location": f"/news/a-long-chain-{i + 1}"}
            site.on(f"/news/a-long-chain-{i}", (302, moved, b""))
        fine = article_paths(1)
        serve_articles(site, fine)
        site.on("/sitemap.xml", (200, XML, sitemap([site.base + p for p in [
            "/news/moved-to-the-local-disk", "/news/moved-to-a-gopher-hole",
            "/news/loop-one-of-two-pages", "/news/a-long-chain-0", *fine]])))  # fmt: skip
        seeds_file(tmp_path / "seeds.yaml", "redirects", sitemaps=[f"{site.base}/sitemap.xml"])
        result = run_crawl(tmp_path / "seeds.yaml", "redirects", tmp_path / "out", *FAST,
                           timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.urls == [site.base + fine[0]]
    assert result.stats["errors"] == {
        "redirect_to_file": 1, "redirect_to_gopher": 1, "redirect_loop": 1,
        "too_many_redirects": 1,
    }  # fmt: skip
    # robots.txt's redirect to file: was refused too (and robots.txt treated as missing).
    assert result.stats["blocked_scheme"] == {"file": 2, "gopher": 1}
    assert "network guard refused a redirect to file:///etc/passwd" in result.stderr


def test_metadata_addresses_refused_even_with_allow_private(tmp_path):
    with HostileSite() as site:
        site.on("/robots.txt", ROBOTS_OPEN)
        targets = {
            "/news/to-the-metadata-service": "http://169.254.169.254/latest/meta-data/",
            "/news/to-the-ipv6-metadata-service": "http://[fd00:ec2::254]/latest/meta-data/",
            "/news/to-a-link-local-neighbour": "http://169.254.10.1/",
            # 169.254.169.254 written as one decimal number: caught once resolved.
            "/news/to-the-metadata-service-in-disguise": "http://2852039166/latest/",
        }
        for path, target in targets.items():
            site.on(path, (302, {"Location": target}, b""))
        site.on("/sitemap.xml", (200, XML, sitemap([site.base + p for p in targets])))
        seeds_file(tmp_path / "seeds.yaml", "metadata", sitemaps=[f"{site.base}/sitemap.xml"])
        result = run_crawl(
            tmp_path / "seeds.yaml", "metadata", tmp_path / "out", *FAST,
            "-s", "DOWNLOAD_TIMEOUT=3", "-s", "RETRY_TIMES=0",
            allow_private=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stats["blocked_private"] == 4
    assert result.stats["errors"] == {}  # never tried, so never timed out
    for target in targets.values():
        assert f"network guard refused {target}: " in result.stderr
    assert "cloud metadata address" in result.stderr


def test_allow_hosts_variable_reaches_the_pipelines_crawl(tmp_path, monkeypatch):
    """``newsdedup run`` crawls through flows.stages.crawl_sources: NEWSDEDUP_ALLOW_HOSTS
    lets the guard through to one host:port without --allow-private, and nothing else."""
    with HostileSite() as site:
        site.on("/robots.txt", ROBOTS_OPEN)
        fine = article_paths(2)
        serve_articles(site, fine)
        site.on("/news/to-the-metadata-service",
                (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""))  # fmt: skip
        site.on("/sitemap.xml", (200, XML, sitemap(
            [site.base + p for p in [*fine, "/news/to-the-metadata-service"]])))  # fmt: skip
        seeds_file(tmp_path / "seeds.yaml", "intranet", sitemaps=[f"{site.base}/sitemap.xml"])
        (source,) = load_seeds(tmp_path / "seeds.yaml").sources
        common = {"log_line": lambda line: None, "timeout": 60,
                  "extra_settings": {"AUTOTHROTTLE_START_DELAY": 0}}  # fmt: skip
        monkeypatch.delenv("NEWSDEDUP_ALLOW_HOSTS", raising=False)
        (refused,) = stages.crawl_sources([source], str(tmp_path / "seeds.yaml"),
                                          tmp_path / "refused", **common)  # fmt: skip
        monkeypatch.setenv("NEWSDEDUP_ALLOW_HOSTS", f"example.invalid:80, 127.0.0.1:{site.port}")
        (allowed,) = stages.crawl_sources([source], str(tmp_path / "seeds.yaml"),
                                          tmp_path / "allowed", **common)  # fmt: skip
    assert not refused.ok and refused.stats["blocked_private"] >= 1
    assert allowed.ok, allowed.error
    assert allowed.stats["articles"] == 2
    assert allowed.stats["blocked_private"] == 1  # the redirect to the metadata service


# -- discovery bounds --------------------------------------------------------------------------


def tarpit_crawl(tmp_path: Path, fan_out: int) -> tuple[HostileSite, Any, float]:
    """A sitemap index whose every entry is a new index ``fan_out`` entries wide, one level
    deeper each time (``/pit-3-1-4.xml``), without end."""
    with HostileSite() as site:
        site.on("/robots.txt", ROBOTS_OPEN)

        def route(path: str) -> tuple[int, dict[str, str], bytes]:
            stem = site.base + path.split("?")[0].removesuffix(".xml")
            children = [f"{stem}-{i}.xml" for i in range(fan_out)]
            return 200, XML, sitemap(children, index=True, lastmod="2026-01-01")

        site.routes = _Tarpit(site.routes, route)
        seeds_file(tmp_path / "seeds.yaml", "tarpit", sitemaps=[f"{site.base}/pit.xml"])
        started = time.monotonic()
        result = run_crawl(tmp_path / "seeds.yaml", "tarpit", tmp_path / "out", *FAST,
                           timeout=90)  # fmt: skip
    return site, result, time.monotonic() - started


def test_sitemap_index_tarpit_is_bounded_in_documents(tmp_path):
    site, result, seconds = tarpit_crawl(tmp_path, 5000)
    assert result.returncode == 0, result.stderr[-3000:]
    fetched = [p for p in site.paths() if p.startswith("/pit")]
    # NEWSDEDUP_MAX_DISCOVERY_DOCS (50) documents, the seeds' one included.
    assert len(fetched) == 50, len(fetched)
    assert result.stats["discovery_documents"] == 50
    assert result.stats["skipped_discovery"]["discovery_docs"] == 5000 - 49 + 49 * 5000
    assert seconds < 60, seconds


def test_sitemap_index_tarpit_is_bounded_in_depth(tmp_path):
    site, result, _ = tarpit_crawl(tmp_path, 3)
    assert result.returncode == 0, result.stderr[-3000:]
    fetched = [p for p in site.paths() if p.startswith("/pit")]
    # NEWSDEDUP_MAX_SITEMAP_DEPTH (2) levels below the seeds' sitemap: 1 + 3 + 9 documents.
    assert len(fetched) == 13 and max(p.count("-") for p in fetched) == 2
    assert result.stats["skipped_discovery"] == {"sitemap_depth": 27}


class _Tarpit(dict):  # type: ignore[type-arg]
    """Routes where every unknown /pit… path is generated."""

    def __init__(self, routes: dict, generate) -> None:  # type: ignore[no-untyped-def]
        super().__init__(routes)
        self.generate = generate

    def get(self, path, default=None):  # type: ignore[no-untyped-def]
        if path.startswith("/pit"):
            return self.generate
        return super().get(path, default)


def test_giant_sitemap_keeps_the_newest_within_the_bounds(tmp_path):
    with HostileSite() as site:
        site.on("/robots.txt", ROBOTS_OPEN)
        n = 60_000
        rows = "".join(
            f"<url><loc>{site.base}/news/story-number-{i}-of-the-day</loc>"
            f"<lastmod>2026-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00Z</lastmod></url>"
            for i in range(n)
        )
        body = ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/'
                f'0.9">{rows}</urlset>').encode()  # fmt: skip
        site.on("/sitemap.xml", (200, XML, body))
        serve_articles(site, article_paths(n))
        seeds_file(tmp_path / "seeds.yaml", "giant", sitemaps=[f"{site.base}/sitemap.xml"],
                   max_pages=3)  # fmt: skip
        result = run_crawl(tmp_path / "seeds.yaml", "giant", tmp_path / "out", *FAST,
                           timeout=90)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    skipped = result.stats["skipped_discovery"]
    assert skipped["doc_entries"] == n - 50_000  # NEWSDEDUP_MAX_DOC_ENTRIES
    assert skipped["candidates"] >= 50_000 - 20_000 - 5_000  # NEWSDEDUP_MAX_CANDIDATES
    assert len(result.pages) == 3
    # Three of the newest entries read (2026-12-28T23:00, every i = 167 mod 168 below 50,000;
    # the sitemap's order puts older ones first, so trimming had to keep the right ones).
    fetched = [int(p.url.split("-number-")[1].split("-")[0]) for p in result.pages]
    assert all(i % 168 == 167 and i < 50_000 for i in fetched), fetched


def test_broken_and_oversized_sitemaps_are_named_errors(tmp_path):
    with HostileSite() as site:
        site.on("/robots.txt", ROBOTS_OPEN)
        fine = article_paths(1)
        serve_articles(site, fine)
        good = gzip.compress(sitemap([site.base + p for p in fine]))
        gz = {"Content-Type": "application/x-gzip"}
        site.on("/truncated.xml.gz", (200, gz, good[: len(good) // 2]))
        site.on("/corrupt.xml.gz", (200, gz, b"\x1f\x8b\x08\x00" + b"\xff" * 400))
        # 30 MB of whitespace in 30 KB: past NEWSDEDUP_MAX_DISCOVERY_BYTES once inflated.
        site.on("/bomb.xml.gz", (200, gz, gzip.compress(b" " * 30_000_000)))
        site.on("/good.xml.gz", (200, gz, good))
        # The same bomb as a Content-Encoding, and 11 MB of plain XML on the wire.
        site.on("/encoded-bomb.xml", (200, {**XML, "Content-Encoding": "gzip"},
                                      gzip.compress(b" " * 30_000_000)))  # fmt: skip
        site.on("/huge.xml", (200, XML, b"<urlset>" + b" " * 11_000_000 + b"</urlset>"))
        paths = ["/truncated.xml.gz", "/corrupt.xml.gz", "/bomb.xml.gz", "/good.xml.gz",
                 "/encoded-bomb.xml", "/huge.xml"]  # fmt: skip
        seeds_file(tmp_path / "seeds.yaml", "gz", sitemaps=[site.base + p for p in paths])
        result = run_crawl(tmp_path / "seeds.yaml", "gz", tmp_path / "out", *FAST, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.urls == [site.base + fine[0]]
    assert result.stats["errors"] == {"sitemap_gzip": 2, "sitemap_too_large": 3}


def test_only_a_broken_sitemap_is_reported_with_its_error(tmp_path):
    with HostileSite() as site:
        site.on("/robots.txt", ROBOTS_OPEN)
        site.on("/sitemap.xml.gz", (200, {"Content-Type": "application/x-gzip"},
                                    b"\x1f\x8b\x08\x00" + b"\x00" * 100))  # fmt: skip
        seeds_file(tmp_path / "seeds.yaml", "broken", sitemaps=[f"{site.base}/sitemap.xml.gz"])
        result = run_crawl(tmp_path / "seeds.yaml", "broken", tmp_path / "out", *FAST,
                           timeout=60)  # fmt: skip
    assert result.stats["errors"] == {"sitemap_gzip": 1}


# -- the crawl's deadline ----------------------------------------------------------------------


def test_retry_after_longer_than_the_run_is_deferred(tmp_path):
    with HostileSite() as site:
        site.on("/robots.txt", ROBOTS_OPEN)
        fine = article_paths(3)
        serve_articles(site, fine)
        site.on("/news/throttled-story-of-the-day", (429, {"Retry-After": "100"}, b"later"))
        site.on("/news/closed-until-tomorrow", (503, {"Retry-After": "86400"}, b"closed"))
        listed = [*fine, "/news/throttled-story-of-the-day", "/news/closed-until-tomorrow"]
        site.on("/sitemap.xml", (200, XML, sitemap([site.base + p for p in listed])))
        seeds_file(tmp_path / "seeds.yaml", "throttled", sitemaps=[f"{site.base}/sitemap.xml"])
        started = time.monotonic()
        # 100 s is within NEWSDEDUP_RETRY_AFTER_MAX (120 s) but beyond a 20 s crawl.
        result = run_crawl(tmp_path / "seeds.yaml", "throttled", tmp_path / "out", *FAST,
                           "--timeout", "20", timeout=60)  # fmt: skip
        seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    assert seconds < 15, seconds  # not waited out, and the crawl did not wait for its close
    assert result.stats["finish_reason"] == "finished"
    assert result.stats["deferred"] == 2
    assert site.paths().count("/news/throttled-story-of-the-day") == 1
    assert site.paths().count("/news/closed-until-tomorrow") == 1
    assert sorted(result.urls) == sorted(site.base + p for p in fine)
    assert result.stats["errors"] == {}


def test_requests_queued_at_the_deadline_are_deferred(tmp_path):
    """A long Crawl-delay holds the site's queued requests (up to CONCURRENT_REQUESTS of
    them) for minutes; at the soft close they are deferred, so the close does not run into
    the hard kill. (Crawl-delay 30 clamped to 3 s here: 12 queued pages would hold the close
    for 36 s.)"""
    with HostileSite() as site:
        site.on("/robots.txt", (200, TEXT, b"User-agent: *\nCrawl-delay: 30\n"))
        paths = article_paths(12)
        serve_articles(site, paths)
        site.on("/sitemap.xml", (200, XML, sitemap([site.base + p for p in paths])))
        seeds_file(tmp_path / "seeds.yaml", "delayed", sitemaps=[f"{site.base}/sitemap.xml"])
        started = time.monotonic()
        result = run_crawl(tmp_path / "seeds.yaml", "delayed", tmp_path / "out",
                           "--timeout", "10", "-s", "NEWSDEDUP_MAX_CRAWL_DELAY=3",
                           timeout=120)  # fmt: skip
        seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    assert seconds < 22, seconds
    assert result.stats["finish_reason"] == "closespider_timeout"
    assert result.stats["deferred"] >= 5
    assert len(result.pages) >= 1  # what came before the deadline is kept
    assert result.stats["errors"] == {}


def test_a_killed_crawl_keeps_what_it_fetched_and_its_neighbour_everything(tmp_path):
    with HostileSite() as hung_site, HostileSite() as quick_site:
        for site in (hung_site, quick_site):
            site.on("/robots.txt", ROBOTS_OPEN)
        fast = article_paths(3, "early")
        serve_articles(hung_site, fast)
        hung_site.on("/news/the-page-that-never-comes", "hang")  # older than the rest
        # Listed oldest last: the three fast pages are fetched first, the hang after them.
        never = "/news/the-page-that-never-comes"
        rows = [(p, "2026-11-30") for p in fast] + [(never, "2026-11-01")]
        hung_site.on("/sitemap.xml", (200, XML, (
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<url><loc>{hung_site.base}{p}</loc><lastmod>{d}</lastmod></url>"
                      for p, d in rows) + "</urlset>").encode()))  # fmt: skip
        quick = article_paths(2, "quick")
        serve_articles(quick_site, quick)
        quick_site.on("/sitemap.xml", (200, XML, sitemap([quick_site.base + p for p in quick])))
        seeds = tmp_path / "seeds.yaml"
        seeds.write_text(
            "sources:\n"
            f"  - name: hangs\n    sitemaps: ['{hung_site.base}/sitemap.xml']\n"
            f"  - name: quick\n    sitemaps: ['{quick_site.base}/sitemap.xml']\n"
        )
        sources = load_seeds(seeds).sources
        outcomes = stages.crawl_sources(
            sources, str(seeds), tmp_path / "work", allow_private=True, timeout=12,
            log_line=lambda line: None,
            # No soft close, no download timeout: only the hard kill ends the hang.
            extra_settings={"CLOSESPIDER_TIMEOUT": 0, "DOWNLOAD_TIMEOUT": 600,
                            "AUTOTHROTTLE_START_DELAY": 0},
        )  # fmt: skip
    hangs, quick_outcome = outcomes
    assert quick_outcome.ok and quick_outcome.error is None
    assert {p.url for p in stages.iter_pages([quick_outcome.pages_path])} == {
        quick_site.base + p for p in quick
    }
    assert not hangs.ok and "hangs was still crawling: 3 pages" in (hangs.error or "")
    assert hangs.pages_path is not None
    kept = {p.url for p in stages.iter_pages([hangs.pages_path])}
    assert kept == {hung_site.base + p for p in fast}
    assert set(hangs.validators) >= kept  # the next run skips them
    assert hangs.stats["finish_reason"] == "killed" and hangs.stats["pages_salvaged"] == 3


def test_salvage_reads_a_pages_file_cut_anywhere(tmp_path):
    writer = PageWriterPipeline(str(tmp_path / "full"))
    writer.open_spider()
    pages = [
        Page(url=f"https://news.example/a/{i}", final_url=f"https://news.example/a/{i}",
             source="s", status=200, fetched_at=datetime.now(UTC),
             html="<p>" + "word " * (50 + i) + "</p>", headers={"ETag": f'"{i}"'})
        for i in range(40)
    ]  # fmt: skip
    for page in pages:
        writer.process_item(page)
    # The writer is "killed" here: never closed. Every page is readable from the .part file.
    part = tmp_path / "full" / "pages.jsonl.gz.part"
    assert len(read_complete_lines(part)) == 40
    data = part.read_bytes()
    for cut in (len(data) - 1, len(data) // 2, len(data) // 3, 30, 5):
        directory = tmp_path / f"cut-{cut}"
        directory.mkdir()
        (directory / "pages.jsonl.gz.part").write_bytes(data[:cut])
        kept = salvage(directory)
        urls = [p.url for p in stages.iter_pages([str(directory / "pages.jsonl.gz")])]
        assert kept == len(urls) and urls == [p.url for p in pages[: len(urls)]]
        validators = json.loads((directory / "validators.json").read_text())
        assert set(validators) == set(urls)
    assert salvage(tmp_path / "cut-5") is None  # salvaged already: nothing left to do
    writer.fh.close()
    writer.rejected_fh.close()


# -- charsets ----------------------------------------------------------------------------------


def test_pages_without_a_charset_are_read_as_windows_1252(tmp_path):
    body = ("<!DOCTYPE html><html lang=\"en\"><head><title>Crème brûlée for the café</title>"
            "</head><body><article><h1>Crème brûlée for the café</h1><p>“Our crème brûlée "
            "costs €4,” said the owner of the café, whose naïve façade hides a smörgåsbord. "
            + "The dessert menu grew this year. " * 30
            + "</p></article></body></html>")  # fmt: skip
    czech = ('<!DOCTYPE html><html lang="cs"><head><meta charset="windows-1250">'
             '<meta property="og:type" content="article">'
             "<title>Příliš žluťoučký kůň</title></head><body><article><p>Příliš žluťoučký kůň "
             "úpěl ďábelské ódy. " * 20 + "</p></article></body></html>")  # fmt: skip
    with HostileSite() as site:
        site.on("/robots.txt", ROBOTS_OPEN)
        html = {"Content-Type": "text/html"}  # no charset anywhere
        site.on("/news/creme-brulee-for-the-cafe", (200, html, body.encode("cp1252")))
        site.on("/news/utf8-without-a-charset", (200, html, body.encode("utf-8")))
        site.on("/news/declared-central-european", (200, html, czech.encode("cp1250")))
        paths = ["/news/creme-brulee-for-the-cafe", "/news/utf8-without-a-charset",
                 "/news/declared-central-european"]  # fmt: skip
        site.on("/sitemap.xml", (200, XML, sitemap([site.base + p for p in paths])))
        seeds_file(tmp_path / "seeds.yaml", "charsets", sitemaps=[f"{site.base}/sitemap.xml"])
        result = run_crawl(tmp_path / "seeds.yaml", "charsets", tmp_path / "out", *FAST,
                           timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    cp1252 = result.page(site.base + paths[0])
    assert cp1252.encoding == "cp1252"
    assert "Crème brûlée" in cp1252.html and "“Our crème" in cp1252.html and "€4" in cp1252.html
    assert "crčme" not in cp1252.html.lower()
    utf8 = result.page(site.base + paths[1])
    assert utf8.encoding == "utf-8" and "Crème brûlée" in utf8.html
    declared = result.page(site.base + paths[2])
    assert declared.encoding == "cp1250" and "Příliš žluťoučký kůň" in declared.html


def test_a_declared_charset_that_the_bytes_contradict_is_not_followed(tmp_path):
    """UTF-8 served under a default Latin charset (header or <meta>) is read as UTF-8, and
    windows-1252 served as UTF-8 is read as windows-1252; a real UTF-8 page with one stray
    byte stays UTF-8, and a page whose bytes fit its declared Latin charset keeps it."""
    body = ("<!DOCTYPE html><html lang=\"en\"><head>{meta}<title>Crème brûlée for the café"
            "</title></head><body><article><h1>Crème brûlée for the café</h1><p>“Our crème "
            "brûlée costs €4,” said the owner of the café, whose naïve façade hides a "
            "smörgåsbord. " + "The dessert menu grew this year. " * 30
            + "</p></article></body></html>")  # fmt: skip
    plain, meta_latin = body.format(meta=""), body.format(meta='<meta charset="iso-8859-1">')
    latin_header = {"Content-Type": "text/html; charset=ISO-8859-1"}
    utf8_header = {"Content-Type": "text/html; charset=utf-8"}
    routes = {
        "/news/utf8-under-a-latin-header": (200, latin_header, plain.encode("utf-8")),
        "/news/utf8-under-a-latin-meta": (200, {"Content-Type": "text/html"},
                                          meta_latin.encode("utf-8")),
        "/news/cp1252-under-a-utf8-header": (200, utf8_header, plain.encode("cp1252")),
        "/news/utf8-with-a-stray-byte": (200, utf8_header,
                                         plain.encode("utf-8").replace(b"owner", b"own\xffr")),
        "/news/latin-as-declared": (200, latin_header, plain.encode("cp1252")),
    }  # fmt: skip
    with HostileSite() as site:
        site.on("/robots.txt", ROBOTS_OPEN)
        for path, answer in routes.items():
            site.on(path, answer)
        site.on("/sitemap.xml", (200, XML, sitemap([site.base + p for p in routes])))
        seeds_file(tmp_path / "seeds.yaml", "charsets", sitemaps=[f"{site.base}/sitemap.xml"])
        result = run_crawl(tmp_path / "seeds.yaml", "charsets", tmp_path / "out", *FAST,
                           timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    expected = {
        "/news/utf8-under-a-latin-header": "utf-8",
        "/news/utf8-under-a-latin-meta": "utf-8",
        "/news/cp1252-under-a-utf8-header": "cp1252",
        "/news/utf8-with-a-stray-byte": "utf-8",
        "/news/latin-as-declared": "cp1252",
    }
    for path, encoding in expected.items():
        page = result.page(site.base + path)
        assert page.encoding == encoding, (path, page.encoding)
        assert "“Our crème brûlée costs €4,”" in page.html, path
        assert "Ã" not in page.html and "\ufffd" not in page.html.replace("own\ufffdr", ""), path


def test_html_encoding_of_contradicted_and_missing_charsets():
    from scrapy.http import HtmlResponse

    from crawlers.middlewares import html_encoding

    text = "<html><body><p>La crème brûlée du café, naïve et légère.</p></body></html>"

    def encoding(content_type: str, body: bytes) -> str | None:
        headers = {"Content-Type": content_type}
        return html_encoding(HtmlResponse(url="http://a.test/", headers=headers, body=body))

    assert encoding("text/html; charset=iso-8859-1", text.encode("utf-8")) == "utf-8"
    assert encoding("text/html; charset=iso-8859-1", text.encode("cp1252")) is None
    assert encoding("text/html; charset=ascii", b"<p>plain</p>") is None
    assert encoding("text/html; charset=utf-8", text.encode("cp1252")) == "cp1252"
    assert encoding("text/html; charset=utf-8", text.encode("utf-8")) is None
    # One broken byte in a UTF-8 page: still UTF-8 (its accented letters are UTF-8).
    assert encoding("text/html; charset=utf-8", text.encode("utf-8") + b"\xff") is None
    # Undeclared: the guess; a BOM always wins.
    assert encoding("text/html", text.encode("cp1252")) == "cp1252"
    assert encoding("text/html; charset=iso-8859-1", b"\xef\xbb\xbf" + text.encode()) is None
    # A Central European page declared as such keeps its code page.
    czech = "<p>Příliš žluťoučký kůň úpěl ďábelské ódy.</p>" * 5
    assert encoding("text/html; charset=windows-1250", czech.encode("cp1250")) is None
    # Chance UTF-8 sequences in a windows-1252 page ("allé\xa0»" is E9 A0 BB) do not make it
    # UTF-8, nor one stray byte in a UTF-8 page make it windows-1252: the majority decides.
    french = "<p>Il est « allé\xa0» au café, très tôt. Où ? À côté de l'église.</p>" * 3
    assert encoding("text/html; charset=utf-8", french.encode("cp1252")) == "cp1252"
    assert encoding("text/html; charset=iso-8859-1", french.encode("cp1252")) is None
    assert encoding("text/html; charset=iso-8859-1", french.encode() + b"\xa9") == "utf-8"
    # A page declared UTF-8 is read in a single-byte code page a browser knows, whatever a
    # detector makes of a few bytes.
    for stray in (b"<p>\xa9 2024</p>", b"<p>10\x80</p>", b"<p>\xa0|\xa0</p>"):
        assert encoding("text/html; charset=utf-8", stray) == "cp1252", stray


def test_guess_html_charset_takes_only_encodings_a_page_can_be_in(monkeypatch):
    import charset_normalizer

    from crawlers.middlewares import guess_html_charset

    picked: list[str] = []

    class Best:
        @property
        def encoding(self) -> str:
            return picked[-1]

    class Matches:
        def best(self) -> Best:
            return Best()

    monkeypatch.setattr(charset_normalizer, "from_bytes", lambda body: Matches())
    latin = "<p>La crème brûlée du café, naïve et légère.</p>".encode("cp1252")
    picked.append("utf_16_le")  # HTML in UTF-16 has a NUL in every ASCII character
    assert guess_html_charset(latin) == "cp1252"
    assert guess_html_charset("<p>café</p>".encode("utf-16-le")) == "utf_16_le"
    picked.append("cp1006")  # a code page no browser reads a page in
    assert guess_html_charset(latin) == "cp1252"
    assert guess_html_charset(latin + b"\x81") == "cp1252"  # not even valid windows-1252
    picked.append("cp1251")
    assert guess_html_charset("<p>Привет, это новости дня.</p>".encode("cp1251")) == "cp1251"


def test_other_download_handlers_are_off():
    from crawlers import settings

    assert settings.DOWNLOAD_HANDLERS == {"file": None, "ftp": None, "s3": None, "data": None}


def test_guess_html_charset():
    from crawlers.middlewares import guess_html_charset

    latin = "<html><body><p>La crème brûlée du café, naïve et légère.</p></body></html>"
    assert guess_html_charset(latin.encode("cp1252")) == "cp1252"
    assert guess_html_charset(latin.encode("utf-8")) is None  # left to Scrapy: UTF-8
    assert guess_html_charset(b"<html>plain ascii</html>") is None
    russian = "<html><body><p>" + "Привет, это новости дня. " * 20 + "</p></body></html>"
    assert guess_html_charset(russian.encode("cp1251")) not in (None, "cp1252")
    czech = '<html lang="cs"><body><p>' + "Příliš žluťoučký kůň úpěl ďábelské ódy. " * 5
    assert guess_html_charset(czech.encode("cp1250")) != "cp1252"


def test_guard_helpers():
    from crawlers.guard import is_metadata_ip, url_scheme

    assert url_scheme("FILE:///etc/passwd") == "file" and url_scheme("/relative") == ""
    for address in ("169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254", "fe80::1",
                    "100.100.100.200"):  # fmt: skip
        assert is_metadata_ip(address), address
    for address in ("127.0.0.1", "10.0.0.1", "192.168.1.1", "8.8.8.8", "100.100.100.201"):
        assert not is_metadata_ip(address), address
