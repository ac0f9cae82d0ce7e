from datetime import UTC, datetime

import pytest

from crawlers.classify import is_article, listing_url
from crawlers.discovery import maybe_gunzip, parse_date, parse_feed, parse_sitemap
from crawlers.guard import check_host, is_public_ip
from tests.conftest import data_path


def read(name: str) -> bytes:
    return data_path("discovery", name).read_bytes()


def test_rss2_items_with_dates_in_utc():
    entries = parse_feed(read("rss2.xml"))
    assert [e.title for e in entries] == ["Older", "Newer"]
    assert entries[0].date == datetime(2024, 1, 1, 1, 0, tzinfo=UTC)


def test_rss1_and_atom():
    (rdf,) = parse_feed(read("rss1.rdf"))
    assert rdf.url == "https://a.example/story-one"
    assert rdf.date == datetime(2024, 3, 5, 9, 0, tzinfo=UTC)
    atom = parse_feed(read("atom.xml"))
    assert [e.url for e in atom] == ["https://a.example/a-story", "https://a.example/b-story"]
    assert atom[1].date == datetime(2024, 5, 2, 17, 0, tzinfo=UTC)


def test_sitemap_index_and_google_news_sitemap_gzipped():
    index = parse_sitemap(read("sitemap-index.xml"))
    assert all(e.is_sitemap for e in index) and len(index) == 2
    news = parse_sitemap(maybe_gunzip(read("news-sitemap.xml.gz"), 10_000_000))
    assert news[0].title == "Rates held steady"
    assert news[0].date == datetime(2024, 6, 3, 2, 30, tzinfo=UTC)
    assert news[1].date == datetime(2024, 6, 2, tzinfo=UTC) and not news[1].is_sitemap


def test_gzip_bomb_is_refused():
    with pytest.raises(ValueError):
        maybe_gunzip(read("news-sitemap.xml.gz"), 100)


def test_garbage_feed_yields_nothing():
    assert parse_feed(b"<html><body>not a feed") == []
    assert parse_sitemap(b"\x00\x01garbage") == []
    assert parse_date("yesterday") is None


@pytest.mark.parametrize(
    "url",
    [
        "https://a.example/",
        "https://a.example/tag/economy/",
        "https://a.example/category/world/",
        "https://a.example/page/2/",
        "https://a.example/author/jane/",
        "https://a.example/search?q=x",
        "https://a.example/news?page=3",
    ],
)
def test_listing_urls(url):
    assert listing_url(url)


def test_article_vs_listing_pages():
    body = "".join(f"<p>{'word ' * 20} sentence {i}.</p>" for i in range(5))
    article = (
        '<html><head><meta property="og:type" content="article"></head>'
        f"<body><article>{body}</article></body></html>"
    )
    listing = (
        "<html><body>"
        + "".join(f"<article><a href='/x{i}'>t</a></article>" for i in range(8))
        + "</body></html>"
    )
    assert is_article("https://a.example/2024/05/01/some-long-story-slug/", article)
    assert not is_article("https://a.example/2024/05/01/some-long-story-slug/", listing)
    assert not is_article("https://a.example/tag/economy/", article)


@pytest.mark.parametrize(
    ("host", "blocked"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("169.254.169.254", True),
        ("192.168.0.1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", True),
        ("8.8.8.8", False),
        ("example.com", False),
    ],
)
def test_network_guard_hosts(host, blocked):
    assert (check_host(host) is not None) == blocked


def test_public_ip():
    assert is_public_ip("1.1.1.1") and not is_public_ip("::ffff:127.0.0.1")
