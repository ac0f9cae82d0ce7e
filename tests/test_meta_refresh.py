"""Meta refresh redirects (crawlers.middlewares.MetaRefreshMiddleware): Scrapy's, with pages
that name no refresh passed on before Scrapy scans their tags."""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as ScrapyMetaRefresh
from scrapy.http import HtmlResponse, TextResponse
from scrapy.utils.test import get_crawler

from crawlers.middlewares import META_REFRESH_SCAN_CHARS, MetaRefreshMiddleware
from tests.conftest import data_path
from tests.hostile_site import ARTICLE, ROBOTS_OPEN, XML, HostileSite, seeds_file, sitemap
from tests.test_crawl_support import run_crawl

URL = "https://news.example/a/story"
PAD = "<p>" + "A paragraph of the story that fills the page. " * 100 + "</p>"


# What scrapy.utils.response.get_meta_refresh reads of a page: response.text[0:4096].
SCRAPY_REACH = 4096
EDGE_TAG = '<meta content="0; url=/b/edge" http-equiv="refresh">'


def _filled(chars: int) -> str:
    """``chars`` characters of a page before a tag: a head, then one long comment."""
    head = "<html><head><!--"
    return head + "x" * (chars - len(head) - 3) + "-->"


def _pages() -> list[tuple[str, bytes, str | None]]:
    """(name, body, encoding) of pages with and without refreshes, in and out of reach."""
    fixtures = [
        (path.name, path.read_bytes(), None)
        for folder in ("clean", "crawl")
        for path in sorted(data_path(folder).glob("*.html"))
    ]
    made = {
        "refresh": '<html><head><meta http-equiv="refresh" content="0; url=/b/moved"></head>',
        "upper case": '<HTML><HEAD><META HTTP-EQUIV="REFRESH" CONTENT="2;URL=/b/up"></HEAD>',
        "delayed": '<meta http-equiv="refresh" content="600; url=/b/late">',  # over MAXDELAY
        "with a base": '<base href="https://other.example/x/"><meta http-equiv="Refresh" '
        'content="0; url=moved">',
        "in a script": '<script>document.write(\'<meta http-equiv="refresh" '
        "content=\"0; url=/b/js\">')</script>",
        "in a noscript": '<noscript><meta http-equiv="refresh" content="0;url=/b/ns"></noscript>',
        "the word only": "<title>How to refresh a page</title><p>Press F5 to refresh.</p>",
        "beyond reach": PAD * 2 + '<meta http-equiv="refresh" content="0; url=/b/far">',
        "no scheme we fetch": '<meta http-equiv="refresh" content="0; url=file:///etc/passwd">',
        "none": "<html><head><title>A story</title></head><body>" + PAD + "</body></html>",
        # Scrapy's reach, to the character: the tag ends on the last one it reads, or the
        # reach cuts its word "refresh" (where Scrapy's reach and META_REFRESH_SCAN_CHARS
        # differ, the two middlewares part on one of these).
        "ends at the reach": _filled(SCRAPY_REACH - len(EDGE_TAG)) + EDGE_TAG,
        "cut by the reach": _filled(SCRAPY_REACH - len(EDGE_TAG) + 3) + EDGE_TAG,
    }
    made_pages = [(name, html.encode("utf-8"), "utf-8") for name, html in made.items()]
    # A refresh whose word is only found once the bytes are decoded as they declare.
    utf16 = '<meta http-equiv="refresh" content="0; url=/b/sixteen">'.encode("utf-16")
    return fixtures + made_pages + [("utf-16", utf16, "utf-16")]


@pytest.mark.parametrize(("name", "body", "encoding"), _pages(), ids=[p[0] for p in _pages()])
def test_the_middleware_redirects_exactly_as_scrapys(name, body, encoding):
    crawler = get_crawler(settings_dict={"METAREFRESH_MAXDELAY": 100})
    ours = MetaRefreshMiddleware.from_crawler(crawler)
    scrapys = ScrapyMetaRefresh.from_crawler(crawler)
    results = []
    for middleware in (ours, scrapys):
        response = HtmlResponse(URL, body=body, encoding=encoding)
        result = middleware.process_response(Request(URL), response)
        results.append(result.url if isinstance(result, Request) else result is response)
    assert results[0] == results[1]
    if name == "refresh":
        assert results[0] == "https://news.example/b/moved"
    if name == "with a base":
        assert results[0] == "https://other.example/x/moved"
    if name in ("none", "the word only", "beyond reach", "cut by the reach"):
        assert results[0] is True  # the page itself, not a redirect
    if name == "ends at the reach":
        assert results[0] == "https://news.example/b/edge"


def test_only_pages_that_hold_the_word_are_read_by_scrapy(monkeypatch):
    # Scrapy's scan of a page's tags (what the middleware saves), counted where its
    # middleware calls it.
    import scrapy.downloadermiddlewares.redirect as scrapy_redirect

    scanned: list[str] = []
    scan = scrapy_redirect.get_meta_refresh

    def counted(response, *args, **kwargs):  # type: ignore[no-untyped-def]
        scanned.append(response.url)
        return scan(response, *args, **kwargs)

    monkeypatch.setattr(scrapy_redirect, "get_meta_refresh", counted)

    class Counting(MetaRefreshMiddleware):
        reads = 0

        def _redirect_request_using_get(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            Counting.reads += 1
            return super()._redirect_request_using_get(*args, **kwargs)

    middleware = Counting.from_crawler(get_crawler())
    plain = HtmlResponse(URL, body=("<p>x</p>" + PAD).encode(), encoding="utf-8")
    assert middleware.process_response(Request(URL), plain) is plain
    assert "refresh" not in plain.text[:META_REFRESH_SCAN_CHARS]
    moved = b'<meta http-equiv="refresh" content="0; url=/b/moved">'
    assert middleware.process_response(Request(URL), HtmlResponse(URL, body=moved)).url.endswith(
        "/b/moved"
    )
    assert Counting.reads == 1
    assert scanned == [URL]  # the page with a refresh, not the plain one
    # Not HTML (a feed, robots.txt): Scrapy's own rules, which pass it on.
    feed = TextResponse(URL, body=b"refresh", encoding="utf-8")
    assert middleware.process_response(Request(URL), feed) is feed


@pytest.mark.slow
def test_a_crawl_follows_a_meta_refresh_to_the_story(tmp_path):
    old, new = "/news/the-old-address-of-a-story", "/news/the-story-at-its-new-address"
    plain = "/news/a-story-that-stays-where-it-is"
    local = "/news/a-story-that-points-at-the-disk"
    fast = ["-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "DOWNLOAD_DELAY=0"]
    with HostileSite() as site:
        site.on("/robots.txt", ROBOTS_OPEN)
        site.on(old, (200, {"Content-Type": "text/html"}, (
            '<html><head><META HTTP-EQUIV="Refresh" CONTENT="0; URL=' + new + '">'
            "<title>Moved</title></head><body><p>This story has moved.</p></body></html>"
        ).encode()))  # fmt: skip
        site.on(new, (200, {}, ARTICLE))
        site.on(plain, (200, {}, ARTICLE))
        site.on(local, (200, {"Content-Type": "text/html"}, (
            b'<html><head><meta http-equiv="refresh" content="0; url=file:///etc/passwd">'
            b"</head><body><p>Nothing here.</p></body></html>"
        )))  # fmt: skip
        site.on("/sitemap.xml", (200, XML, sitemap([site.base + p for p in (old, plain, local)])))
        seeds_file(tmp_path / "seeds.yaml", "moved", sitemaps=[f"{site.base}/sitemap.xml"])
        result = run_crawl(tmp_path / "seeds.yaml", "moved", tmp_path / "out", *fast, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    # The refresh was followed to the story, once; the page that stays was read as it is.
    assert site.paths().count(new) == 1 and site.paths().count(old) == 1
    assert {p.final_url for p in result.pages} >= {site.base + new, site.base + plain}
    assert result.stats["blocked_scheme"] == {}  # Scrapy leaves a file:// refresh unfollowed
    assert set(site.paths()) <= {"/robots.txt", "/sitemap.xml", old, new, plain, local}
