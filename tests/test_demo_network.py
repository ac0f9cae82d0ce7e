"""The bundled demo news network, exercised over real HTTP on loopback."""

from __future__ import annotations

import gzip
import json
import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crawlers.seeds import load_seeds, parse_seeds
from flows.demo import DemoNetwork
from flows.demo.content import split_sentences

REPO = Path(__file__).resolve().parent.parent
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, headers: dict[str, str] | None = None, timeout: float = 10):
    """(status, headers, body) without following redirects or raising on errors."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with _opener.open(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def text_of(html: str) -> str:
    """Visible text of a page, roughly (tags removed, entities for quotes decoded)."""
    import html as htmllib

    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", "", html)).split())


@pytest.fixture(scope="module")
def net() -> Iterator[DemoNetwork]:
    with DemoNetwork() as network:
        yield network


def test_sites_roles_and_counts(net: DemoNetwork) -> None:
    roles = [s.role for s in net.sites]
    assert roles.count("original") >= 4 and roles.count("aggregator") >= 3
    truth = net.truth
    assert len(truth.originals) >= 15
    assert len(truth.reprints) >= 15
    assert all(re.fullmatch(r"[a-z0-9-]+", s.name) for s in net.sites)


def test_truth_is_consistent(net: DemoNetwork) -> None:
    truth = net.truth
    originals = set(truth.originals)
    for rep, orig in truth.reprints.items():
        assert orig in originals
        assert urlsplit(rep).netloc != urlsplit(orig).netloc
        assert truth.published[rep] > truth.published[orig], rep
        status, _, _ = fetch(rep)
        assert status == 200
    for url in truth.originals:
        assert fetch(url)[0] == 200
    # one story is reprinted by every aggregator
    aggregators = {s.base_url for s in net.sites if s.role == "aggregator"}
    by_original: dict[str, set[str]] = {}
    for rep, orig in truth.reprints.items():
        by_original.setdefault(orig, set()).add(f"http://{urlsplit(rep).netloc}")
    assert any(hosts == aggregators for hosts in by_original.values())
    for a, b in truth.same_event_pairs:
        assert a in originals and b in originals and urlsplit(a).netloc != urlsplit(b).netloc
    assert len(truth.same_event_pairs) >= 1
    for url in truth.non_article_urls:
        assert url not in truth.reprints and url not in originals


def test_story_lengths_and_languages(net: DemoNetwork) -> None:
    originals = [a for a in net.articles() if not a.is_reprint]
    for a in originals:
        assert 180 <= len(a.text().split()) <= 450, a.slug
    assert sum(a.lang == "id" for a in originals) >= 2


def test_article_sentences_survive_in_served_html(net: DemoNetwork) -> None:
    truth = net.truth
    for url in truth.article_urls:
        sentences = truth.article_sentences[url]
        assert len(sentences) >= 2, url
        page = text_of(fetch(url)[2].decode("utf-8"))
        for s in sentences:
            assert s in page, (url, s)


def test_template_strings_are_on_pages_but_never_in_story_text(net: DemoNetwork) -> None:
    truth = net.truth
    for needle in ("Leave a Comment", "Akismet", "Watch the video below", "(luc/luc)", "(Visited "):
        assert needle in truth.template_strings
    texts = [a.text() for a in net.articles()]
    for junk in truth.template_strings:
        assert not any(junk in t for t in texts), junk
    for url, strings in truth.page_template_strings.items():
        page = text_of(fetch(url)[2].decode("utf-8"))
        for s in strings:
            assert s in page, (url, s)


def test_reprints_carry_syndication_edits(net: DemoNetwork) -> None:
    by_key = {a.key: a for a in net.articles()}
    credits = 0
    for a in by_key.values():
        if not a.is_reprint:
            continue
        original = by_key[a.original]
        assert a.text() != original.text()
        if re.search(r"(\(|, )[A-Z][\w ]+\) – |– |as quoted |Source: |Sumber: |dikutip", a.text()):
            credits += 1
    assert credits == sum(a.is_reprint for a in by_key.values())
    assert any(a.read_more for a in by_key.values())


def test_same_event_stories_share_little_text(net: DemoNetwork) -> None:
    by_url = {net.url_of(a.key): a for a in net.articles()}
    for ua, ub in net.truth.same_event_pairs:
        sa = set(split_sentences(by_url[ua].text()))
        sb = set(split_sentences(by_url[ub].text()))
        assert not sa & sb


def test_robots_feeds_and_sitemaps(net: DemoNetwork) -> None:
    truth = net.truth
    listed: set[str] = set()
    for site in net.sites:
        status, headers, body = fetch(site.base_url + "/robots.txt")
        robots = body.decode()
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        assert "Disallow: /private/" in robots
        assert [
            ln.split(": ", 1)[1] for ln in robots.splitlines() if ln.startswith("Sitemap:")
        ] == (site.sitemap_urls)
        for feed in site.feed_urls:
            status, headers, body = fetch(feed)
            assert status == 200
            root = ET.fromstring(body)
            if feed.endswith("atom.xml"):
                assert headers["Content-Type"].startswith("application/atom+xml")
                listed |= {e.get("href") for e in root.iter("{http://www.w3.org/2005/Atom}link")}
            else:
                assert headers["Content-Type"].startswith("application/rss+xml")
                listed |= {e.text for e in root.iter("link")}
        todo = list(site.sitemap_urls)
        while todo:
            url = todo.pop()
            status, headers, body = fetch(url)
            assert status == 200
            if url.endswith(".gz"):
                assert headers["Content-Type"] == "application/gzip"
                body = gzip.decompress(body)
            else:
                assert headers["Content-Type"].startswith("application/xml")
            root = ET.fromstring(body)
            if root.tag == f"{SM}sitemapindex":
                todo += [e.text for e in root.iter(f"{SM}loc")]
            else:
                listed |= {e.text for e in root.iter(f"{SM}loc")}
                if "news-sitemap" in url or url.endswith(".gz"):
                    ns = "{http://www.google.com/schemas/sitemap-news/0.9}"
                    assert list(root.iter(f"{ns}publication_date"))
                    assert list(root.iter(f"{ns}title"))
    no_feed = [s for s in net.sites if not s.feed_urls and not s.sitemap_urls]
    assert len(no_feed) == 1
    hidden = {u for u in truth.article_urls if u.startswith(no_feed[0].base_url)}
    assert set(truth.article_urls) - hidden <= listed
    kinds = {s.spec.sitemap for s in net.sites} | {s.spec.feed for s in net.sites}
    assert {"index", "news", "plain", "rss", "atom", "none"} <= kinds


def test_home_pages_paginate_and_link_private(net: DemoNetwork) -> None:
    for site in net.sites:
        status, headers, body = fetch(site.base_url + "/")
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        assert 'href="/private/drafts/"' in body.decode()
        assert 'href="/page/2/"' in body.decode()
        assert fetch(site.base_url + "/page/2/")[0] == 200
        assert fetch(site.base_url + "/page/99/")[0] == 404
        assert fetch(site.base_url + "/no-such-page/")[0] == 404


def test_publisher_pages_have_metadata(net: DemoNetwork) -> None:
    for a in net.articles():
        if a.is_reprint:
            continue
        url = net.url_of(a.key)
        page = fetch(url)[2].decode()
        assert f'<link rel="canonical" href="{url}">' in page
        assert f'<meta property="og:url" content="{url}">' in page
        ld = json.loads(
            re.search(r'<script type="application/ld\+json">(.*?)</script>', page).group(1)
        )
        assert ld["@type"] == "NewsArticle"
        assert ld["datePublished"] == a.published.isoformat()
        assert ld["author"][0]["name"] == a.author


def test_conditional_requests_get_304(net: DemoNetwork) -> None:
    site = net.sites[0]
    urls = [
        site.base_url + "/",
        site.base_url + "/robots.txt",
        site.feed_urls[0],
        net.truth.originals[0],
        site.sitemap_urls[0],
    ]
    for url in urls:
        status, headers, _ = fetch(url)
        assert status == 200
        etag, last_modified = headers["ETag"], headers["Last-Modified"]
        assert etag and last_modified
        assert fetch(url, {"If-None-Match": etag})[0] == 304
        assert fetch(url, {"If-Modified-Since": last_modified})[0] == 304
        assert fetch(url, {"If-None-Match": '"stale"'})[0] == 200
        assert fetch(url, {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})[0] == 200
    recorded = [r for r in net.requests if r.status == 304]
    assert recorded and all(
        r.header("If-None-Match") or r.header("If-Modified-Since") for r in recorded
    )


def test_requests_are_recorded(net: DemoNetwork) -> None:
    site = net.sites[1]
    fetch(site.base_url + "/robots.txt?probe=1", {"User-Agent": "demo-test"})
    last = [r for r in net.requests if r.path == "/robots.txt?probe=1"]
    assert last and last[-1].site == site.name and last[-1].method == "GET"
    assert last[-1].header("user-agent") == "demo-test" and last[-1].status == 200


def test_seeds_yaml_parses(net: DemoNetwork, tmp_path: Path) -> None:
    seeds = parse_seeds(net.seeds_yaml())
    assert [s.name for s in seeds.sources] == [s.name for s in net.sites]
    path = net.write_seeds(tmp_path / "seeds.yaml")
    loaded = load_seeds(path)
    for src, site in zip(loaded.sources, net.sites, strict=True):
        assert src.start_urls == (site.base_url + "/",)
        assert list(src.feeds) == site.feed_urls and list(src.sitemaps) == site.sitemap_urls
        assert src.priority == (10 if site.role == "original" else 1)


def test_demo_seeds_file_is_in_sync() -> None:
    network = DemoNetwork(ports=DemoNetwork.default_ports())
    assert (REPO / "seeds" / "demo.yaml").read_text(encoding="utf-8") == network.seeds_yaml()
    ports = sorted(DemoNetwork.default_ports().values())
    assert ports == list(range(ports[0], ports[0] + len(ports)))


def test_publish_next_batch_and_add_article() -> None:
    with DemoNetwork() as network:
        before = set(network.truth.article_urls)
        feed = network.sites[0].feed_urls[0]
        status, headers, _ = fetch(feed)
        etag = headers["ETag"]
        new = network.publish_next_batch()
        assert new and not set(new) & before
        after = network.truth
        assert set(new) <= set(after.article_urls)
        assert any(u in after.reprints for u in new) and any(u in after.originals for u in new)
        # the feed changed, so the old ETag no longer matches
        status, _, body = fetch(feed, {"If-None-Match": etag})
        assert status == 200
        assert any(u.encode() in body for u in new)
        assert network.publish_next_batch() == []
        url = network.add_article(
            "harbor-wire", "A brand new story", "First paragraph here.\n\nSecond one."
        )
        assert fetch(url)[0] == 200
        rep = network.add_article("newsreel-hub", "Reprinted", reprint_of=url)
        assert network.truth.reprints[rep] == url


# ---------------------------------------------------------------- quirks site


@pytest.fixture(scope="module")
def quirky() -> Iterator[DemoNetwork]:
    with DemoNetwork(quirks=True) as network:
        yield network


def test_quirks_site_is_opt_in(net: DemoNetwork, quirky: DemoNetwork) -> None:
    assert "quirks" not in [s.name for s in net.sites]
    assert "name: quirks" not in quirky.seeds_yaml()
    seeds = parse_seeds(quirky.seeds_yaml(include_quirks=True))
    assert "quirks" in [s.name for s in seeds.sources]
    assert "quirks" in DemoNetwork.default_ports()


def test_quirks_endpoints(quirky: DemoNetwork) -> None:
    q = quirky.truth.quirks
    base = quirky.site("quirks").base_url
    robots = fetch(base + "/robots.txt")[2].decode()
    assert "Crawl-delay: 1" in robots and "Disallow: /private/" in robots
    listed = {e.text for e in ET.fromstring(fetch(base + "/sitemap.xml")[2]).iter(f"{SM}loc")}
    assert {q["flaky"], q["huge"], q["to_metadata"], q["private"]} <= listed

    assert fetch(q["flaky"])[0] == 500
    status, _, body = fetch(q["flaky"])
    assert status == 200 and quirky.truth.article_sentences[q["flaky"]][0] in text_of(body.decode())

    status, headers, _ = fetch(q["redirect"])
    assert status == 301 and headers["Location"] == "/redirect2"
    status, headers, _ = fetch(base + headers["Location"])
    assert status == 302 and headers["Location"] == q["redirect_target"]
    assert fetch(q["redirect_target"])[0] == 200

    status, headers, body = fetch(q["pdf"])
    assert headers["Content-Type"] == "application/pdf" and body.startswith(b"%PDF-")

    status, headers, body = fetch(q["malformed"])
    page = body.decode()
    assert status == 200 and "</html>" not in page
    for s in quirky.truth.article_sentences[q["malformed"]]:
        assert s in text_of(page)

    status, headers, body = fetch(q["cp1252_meta"])
    assert headers["Content-Type"] == "text/html" and b"charset=windows-1252" in body
    assert "André Lefèvre" in body.decode("cp1252") and "“We expected" in body.decode("cp1252")
    status, headers, body = fetch(q["cp1252_header"])
    assert headers["Content-Type"] == "text/html; charset=windows-1252"
    assert b"charset" not in body and "Inès" in body.decode("cp1252")
    for name in ("cp1252_meta", "cp1252_header"):
        page = text_of(fetch(q[name])[2].decode("cp1252"))
        assert all(s in page for s in quirky.truth.article_sentences[q[name]])

    status, headers, body = fetch(q["huge"], timeout=60)
    assert status == 200 and int(headers["Content-Length"]) == len(body) > 10 * 1024 * 1024

    status, headers, _ = fetch(q["to_loopback"])
    target = headers["Location"]
    assert status == 302 and urlsplit(target).hostname == "127.0.0.1"
    assert urlsplit(target).port != urlsplit(base).port and fetch(target)[0] == 200
    status, headers, _ = fetch(q["to_metadata"])
    assert status == 302 and headers["Location"].startswith("http://169.254.169.254/")


def test_slow_endpoint_times_out_and_stops_with_the_network() -> None:
    import socket
    import threading
    import time

    network = DemoNetwork(quirks=True).start()
    url = network.truth.quirks["slow"]
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        urllib.request.urlopen(url, timeout=1)
    results: list[int] = []
    t = threading.Thread(target=lambda: results.append(fetch(url, timeout=60)[0]))
    t.start()
    time.sleep(0.5)
    started = time.monotonic()
    network.stop()
    t.join(timeout=20)
    assert not t.is_alive() and time.monotonic() - started < 15


# ---------------------------------------------------------------- generated network


def test_generated_network_serves_every_article() -> None:
    network = DemoNetwork.generated(n_articles=400, n_sites=6, reprint_share=0.3, seed=3)
    with network:
        truth = network.truth
        assert len(truth.article_urls) >= 400
        assert 0.2 < len(truth.reprints) / len(truth.article_urls) < 0.4
        assert set(truth.reprints.values()) <= set(truth.originals)
        listed: set[str] = set()
        for site in network.sites:
            root = ET.fromstring(fetch(site.sitemap_urls[0])[2])
            listed |= {e.text for e in root.iter(f"{SM}loc")}
        assert set(truth.article_urls) <= listed
        for url in truth.article_urls[::25]:
            page = text_of(fetch(url)[2].decode())
            assert all(s in page for s in truth.article_sentences[url])
        # deterministic, and originals are distinct from each other (not near-duplicates)
        again = DemoNetwork.generated(n_articles=400, n_sites=6, reprint_share=0.3, seed=3)
        assert [a.text() for a in again._articles["gen-pub-01"]] == [
            a.text() for a in network._articles["gen-pub-01"]
        ]

        def shingles(text: str) -> set[str]:
            words = text.lower().split()
            return {" ".join(words[i : i + 5]) for i in range(len(words) - 4)}

        def jaccard(a: set[str], b: set[str]) -> float:
            return len(a & b) / len(a | b)

        by_url = {network.url_of(a.key): a for a in network.articles()}
        originals = [shingles(by_url[u].text()) for u in truth.originals[:150]]
        for i, a in enumerate(originals):
            for b in originals[i + 1 :]:
                assert jaccard(a, b) < 0.4
        for rep, orig in list(truth.reprints.items())[:40]:
            # Containment, not Jaccard: an excerpt reprint holds only part of its original.
            copy, source = shingles(by_url[rep].text()), shingles(by_url[orig].text())
            assert len(copy & source) / len(copy) > 0.4


def test_generated_originals_share_few_word_trigrams() -> None:
    """Unrelated generated stories must not look like partial reprints of each other: the
    dedup stage would rightly cluster a pair that shares half its word 3-grams."""
    from flows.demo.generated import generate

    _, articles = generate(n_articles=400, n_sites=6, reprint_share=0.3, seed=3)

    def trigrams(text: str) -> set[str]:
        words = text.lower().split()
        return {" ".join(words[i : i + 3]) for i in range(len(words) - 2)}

    originals = [trigrams(" ".join(a.paragraphs)) for a in articles if a.original is None]
    assert len(originals) > 250
    worst = max(
        len(a & b) / min(len(a), len(b))
        for i, a in enumerate(originals)
        for b in originals[i + 1 :]
    )
    assert worst < 0.35  # measured 0.24; 0.45 before stories got words of their own
