"""Discovery through the real ``crawlers.run`` against the demo network: sitemap indexes with a
gzipped Google News child, news sitemaps, Atom, link-following with depth and page limits,
``max_pages`` newest first, ``max_age``, ``allow``/``deny``; and incremental runs.

The discovery crawls run two at a time; each sends its own User-Agent, so the network's
request log tells them apart.
"""

from __future__ import annotations

import math
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import pytest
from parsel import Selector

from flows.demo import DemoNetwork
from tests.test_crawl_support import (
    repeated_paths,
    requests_by,
    requests_of,
    run_crawl,
    site_article_urls,
    user_agent_for,
    write_seeds,
)

pytestmark = pytest.mark.slow

CRAWLS = {
    # source name in tests/fixtures/crawl/discovery.yaml -> extra crawlers.run arguments
    "nusantara-index-only": (),
    "harbor-news-sitemap": (),
    "riverton-atom": (),
    "circuit-links": (),
    "circuit-depth-one": (),
    "nusantara-newest-two": (),
    "nusantara-recent": (),
    "riverton-filtered": (),
    "riverton-allowed": (),
}
BUDGET = 3  # pages for the link-budget crawl
FRUITLESS = 2  # link-fetched pages offering nothing new before link-following stops


def newest(net, site, n):
    return [net.url_of(a.key) for a in net.articles(site)[:n]]


@pytest.fixture(scope="module")
def discovery(tmp_path_factory):
    net = DemoNetwork(ports=None).start()
    work = tmp_path_factory.mktemp("discovery")
    # max_age: a whole number of days that keeps nusantara-business's two newest articles.
    dates = sorted((a.published for a in net.articles("nusantara-business")), reverse=True)
    cutoff = dates[1] + (dates[2] - dates[1]) / 2
    max_age = f"{math.ceil((datetime.now(UTC) - cutoff).total_seconds() / 86400)}d"
    riverton = [urlsplit(u).path for u in newest(net, "riverton-courier", 4)]
    seeds = write_seeds(
        "discovery.yaml", net, work / "seeds.yaml",
        max_age=max_age, deny=riverton[0], allow=riverton[1],
    )  # fmt: skip
    jobs = dict(CRAWLS)
    jobs["circuit-links@budget"] = ("-s", f"NEWSDEDUP_MAX_LINK_PAGES={BUDGET}")
    jobs["riverton-sitemap-and-links"] = ("-s", f"NEWSDEDUP_FRUITLESS_LINK_PAGES={FRUITLESS}")
    jobs["riverton-sitemap-and-links@all"] = ("-s", "NEWSDEDUP_FRUITLESS_LINK_PAGES=0")

    def crawl(name):
        source = name.split("@", 1)[0]
        return name, run_crawl(
            seeds, source, work / name.replace("@", "-"), *jobs[name],
            user_agent=user_agent_for(name),
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(pool.map(crawl, jobs))
    yield net, results
    net.stop()


def test_every_crawl_finished(discovery):
    _, results = discovery
    for name, result in results.items():
        assert result.returncode == 0, (name, result.stderr[-2000:])
        assert result.stats["errors"] == {}, (name, result.stats["errors"])


def test_sitemap_index_with_gzipped_news_child_finds_every_article(discovery):
    net, results = discovery
    result = results["nusantara-index-only"]
    assert set(result.urls) == site_article_urls(net, "nusantara-business")
    paths = {r.path for r in requests_by(net, user_agent_for("nusantara-index-only"))}
    assert {"/sitemap.xml", "/sitemap-articles.xml", "/sitemap-news.xml.gz"} <= paths
    # Entries of the Google News child carry its title and date.
    truth = net.truth
    from_news = [p for p in result.pages if p.hint_title]
    assert from_news
    for page in from_news:
        assert page.hint_title == truth.titles[page.url]
        assert page.hint_date == truth.published[page.url]


def test_google_news_sitemap(discovery):
    net, results = discovery
    result = results["harbor-news-sitemap"]
    truth = net.truth
    assert set(result.urls) == site_article_urls(net, "harbor-wire")
    for page in result.pages:
        assert page.discovered_via == "article"
        assert page.hint_title == truth.titles[page.url]
        assert page.hint_date == truth.published[page.url]


def test_atom_feed(discovery):
    net, results = discovery
    result = results["riverton-atom"]
    assert set(result.urls) == site_article_urls(net, "riverton-courier")
    assert all(p.hint_date == net.truth.published[p.url] for p in result.pages)


def test_link_following_emits_articles_never_listings(discovery):
    net, results = discovery
    result = results["circuit-links"]
    assert set(result.urls) == site_article_urls(net, "circuit-ledger")
    assert not set(result.urls) & set(net.truth.non_article_urls)
    assert result.stats["listing_pages"] >= 3
    requests = requests_by(net, user_agent_for("circuit-links"))
    assert not [r for r in requests if r.path.startswith("/private/")]
    assert repeated_paths(requests) == {}


def test_link_following_depth_limit(discovery):
    net, results = discovery
    requests = requests_by(net, user_agent_for("circuit-depth-one"))
    home = net.site("circuit-ledger").base_url + "/"
    with urllib.request.urlopen(home, timeout=5) as fh:
        links = Selector(text=fh.read().decode()).xpath("//a/@href").getall()
    one_hop = {urlsplit(urljoin(home, href)).path for href in links}
    requested = {r.path for r in requests} - {"/robots.txt", "/"}
    assert requested and requested <= one_hop
    # Depth 1 is not the whole site: pagination and tag pages behind the first hop are left.
    full = {r.path for r in requests_by(net, user_agent_for("circuit-links"))}
    assert len(full) > len(requested) + 2


def test_link_following_page_budget(discovery):
    net, results = discovery
    result = results["circuit-links@budget"]
    pages = [r for r in requests_by(net, user_agent_for("circuit-links@budget"))
             if r.path != "/robots.txt"]  # fmt: skip
    assert len(pages) == BUDGET
    assert result.stats["skipped_link_budget"] > 0


def test_link_following_stops_when_it_finds_nothing_the_sitemap_did_not(discovery):
    net, results = discovery
    stopping = results["riverton-sitemap-and-links"]
    following = results["riverton-sitemap-and-links@all"]
    articles = site_article_urls(net, "riverton-courier")
    # The same articles either way: the sitemap announces them all.
    assert set(stopping.urls) == set(following.urls) == articles
    assert stopping.stats["skipped_links_fruitless"] > 0
    assert following.stats["skipped_links_fruitless"] == 0
    # Fewer listing pages fetched: the home page and the first listings it links to offered
    # only announced articles and other listings.
    assert 0 < stopping.stats["listing_pages"] < following.stats["listing_pages"]
    for name in ("riverton-sitemap-and-links", "riverton-sitemap-and-links@all"):
        assert repeated_paths(requests_by(net, user_agent_for(name))) == {}


def test_max_pages_takes_the_newest(discovery):
    net, results = discovery
    result = results["nusantara-newest-two"]
    assert result.urls and set(result.urls) == set(newest(net, "nusantara-business", 2))
    older = {urlsplit(u).path for u in newest(net, "nusantara-business", 4)[2:]}
    requested = {r.path for r in requests_by(net, user_agent_for("nusantara-newest-two"))}
    assert not older & requested
    assert result.stats["skipped_max_pages"] >= 2


def test_max_age_skips_older_entries(discovery):
    net, results = discovery
    result = results["nusantara-recent"]
    assert set(result.urls) == set(newest(net, "nusantara-business", 2))
    older = {urlsplit(u).path for u in newest(net, "nusantara-business", 4)[2:]}
    requested = {r.path for r in requests_by(net, user_agent_for("nusantara-recent"))}
    assert not older & requested


def test_deny_and_allow_patterns(discovery):
    net, results = discovery
    articles = newest(net, "riverton-courier", 4)
    denied = results["riverton-filtered"]
    assert set(denied.urls) == set(articles[1:])
    requested = {r.path for r in requests_by(net, user_agent_for("riverton-filtered"))}
    assert urlsplit(articles[0]).path not in requested
    allowed = results["riverton-allowed"]
    assert allowed.urls == [articles[1]]


# -- incremental runs -------------------------------------------------------------------------


def _conditional(request) -> bool:
    return bool(request.header("If-None-Match") or request.header("If-Modified-Since"))


def test_incremental_runs(tmp_path):
    """Run 2 over unchanged sites asks only conditional questions and emits nothing; after new
    articles appear, run 3 emits exactly those. The seen store is merged as the flow does."""
    with DemoNetwork(ports=None) as net:
        seeds = write_seeds("discovery.yaml", net, tmp_path / "seeds.yaml", max_age="1d",
                            deny="x", allow="x")  # fmt: skip
        site = "harbor-wire"
        first = run_crawl(seeds, "harbor-all", tmp_path / "run1", seen={})
        assert first.returncode == 0, first.stderr[-2000:]
        assert set(first.urls) == site_article_urls(net, site)
        seen = dict(first.validators)

        before = len(net.requests)
        second = run_crawl(seeds, "harbor-all", tmp_path / "run2", seen=seen)
        assert second.returncode == 0, second.stderr[-2000:]
        assert second.pages == []
        asked = [r for r in requests_of(net, site, before) if r.path != "/robots.txt"]
        assert {r.path for r in asked} == {"/feed.xml", "/news-sitemap.xml", "/"}
        assert all(_conditional(r) and r.status == 304 for r in asked), asked
        assert second.stats["not_modified"] == 3
        seen.update(second.validators)

        new_urls = {u for u in net.publish_next_batch() if urlsplit(u).port == net.site(site).port}
        assert new_urls
        before = len(net.requests)
        third = run_crawl(seeds, "harbor-all", tmp_path / "run3", seen=seen)
        assert third.returncode == 0, third.stderr[-2000:]
        assert set(third.urls) == new_urls
        old_paths = {urlsplit(u).path for u in first.urls}
        asked = requests_of(net, site, before)
        assert not old_paths & {r.path for r in asked}, "an already published page was refetched"
        assert third.stats["skipped_seen"] >= len(first.urls)
        assert repeated_paths(asked) == {}
