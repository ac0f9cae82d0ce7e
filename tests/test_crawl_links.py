"""The spider's memoised link extraction gives what Scrapy's LinkExtractor gives, normalised."""

from __future__ import annotations

from scrapy.http import HtmlResponse
from scrapy.linkextractors import LinkExtractor

from crawlers.spiders.links import PageLinks
from crawlers.spiders.news import SKIP_EXTENSIONS
from crawlers.urls import normalise

PAGES = [
    (
        "http://Ex.com/a/b/",
        '<html><head><base href="/z/"></head><body><a href=" x y ">1</a>'
        '<a href="HTTP://Ex.COM/P?q=1&utm_source=a#f">2</a><a href="//o.com/p">3</a>'
        '<a href="../up">4</a><a href="/é">5</a><a href="javascript:void(0)">6</a>'
        '<a href="mailto:a@b">7</a><a href="/a.JPG">8</a><a href="/a.tar.gz">9</a>'
        '<a href="/p#x">10</a><a href="/p#y">11</a><area href="/ar"><a href="http://[bad">12</a>'
        '<a href="/%zz">13</a><a href="?">14</a><a href="http://u:p@ex.com/s">15</a>'
        '<a name="no-href">16</a></body></html>',
    ),
    ("https://ex.com/", '<a href="http://ex.com/x?">a</a><a href="/.js">b</a><a href="/x?">c</a>'),
    (
        "https://ex.com/section/",
        '<a href="story-1">a</a><a href="/story-2">b</a><a href="./">c</a>',
    ),
    ("https://ex.com/section/page/2/", '<a href="story-1">a</a><a href="/story-2">b</a>'),
    ("http://ex.com/section/", '<a href="/story-2">b</a><a href="https://ex.com/s">s</a>'),
]


def expected(response: HtmlResponse) -> list[str]:
    extractor = LinkExtractor(deny_extensions=SKIP_EXTENSIONS)
    return [normalise(link.url) for link in extractor.extract_links(response)]


def test_page_links_match_scrapys_extractor_page_after_page() -> None:
    links = PageLinks(SKIP_EXTENSIONS)
    for _ in range(2):  # the second round comes from the memo
        for url, html in PAGES:
            response = HtmlResponse(url, body=html.encode("utf-8"), encoding="utf-8")
            assert links.extract(response) == expected(response), url


def test_relative_links_are_resolved_against_each_page() -> None:
    links = PageLinks(SKIP_EXTENSIONS)
    got = [
        links.extract(HtmlResponse(u, body=b'<a href="story">s</a>', encoding="utf-8"))
        for u in ("https://ex.com/a/", "https://ex.com/b/")
    ]
    assert got == [["https://ex.com/a/story"], ["https://ex.com/b/story"]]


def test_the_memo_is_bounded() -> None:
    links = PageLinks(SKIP_EXTENSIONS, max_cached=10)
    for i in range(30):
        body = "".join(f'<a href="/p{i}-{j}">x</a>' for j in range(5)).encode()
        links.extract(HtmlResponse(f"https://ex.com/{i}", body=body, encoding="utf-8"))
        assert len(links._memo) <= 15
