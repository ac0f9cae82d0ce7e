"""The shared crawl frontier (crawlers.frontier): two ``crawlers.run`` processes, one source,
one real Redis.

The bundled demo sites hold five articles at most, too few for two processes to both get
work reliably, so the crawl runs against a generated network of the same DemoNetwork class
(one site of about 840 articles behind its feed, sitemap and home page), big enough that
the second process joins the first while there is still work (a few seconds of crawling).
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from scrapy.settings import Settings

from crawlers import frontier
from flows.demo import DemoNetwork
from tests.test_crawl_support import requests_by, run_crawl, user_agent_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big_site(tmp_path_factory: pytest.TempPathFactory):
    net = DemoNetwork.generated(n_articles=1200, n_sites=2, reprint_share=0.3, seed=5)
    net.start()
    try:
        seeds = net.write_seeds(tmp_path_factory.mktemp("frontier") / "seeds.yaml")
        by_site: dict[str, int] = {}
        for url in net.truth.article_urls:
            by_site[urlsplit(url).netloc] = by_site.get(urlsplit(url).netloc, 0) + 1
        site = max(net.sites, key=lambda s: by_site.get(urlsplit(s.base_url).netloc, 0))
        yield net, seeds, site
    finally:
        net.stop()


def _article_paths(net: DemoNetwork, site) -> set[str]:
    netloc = urlsplit(site.base_url).netloc
    return {urlsplit(u).path for u in net.truth.article_urls if urlsplit(u).netloc == netloc}


def _fetched_articles(net: DemoNetwork, site, agent: str, articles: set[str]) -> list[str]:
    return [
        r.path
        for r in requests_by(net, agent)
        if r.site == site.name and urlsplit(r.path).path in articles
    ]


def _frontier_keys(url: str, key: str) -> list[bytes]:
    client = redis.Redis.from_url(url)
    try:
        return sorted(client.scan_iter(match=f"{key}:*"))
    finally:
        client.close()


def test_two_processes_share_one_frontier_and_end(big_site, redis_url: str, tmp_path: Path):
    net, seeds, site = big_site
    articles = _article_paths(net, site)
    assert len(articles) >= 100

    single_agent = user_agent_for("frontier-single")
    single = run_crawl(seeds, site.name, tmp_path / "single", user_agent=single_agent)
    assert single.returncode == 0, single.stderr[-2000:]
    single_urls = {p.url for p in single.pages}
    assert single_urls, "the single-process crawl found no page"

    key = f"newsdedup:frontier:{site.name}:test-{uuid.uuid4().hex}"
    agents = [user_agent_for(f"frontier-{n}") for n in ("a", "b")]
    args = ("--frontier-redis", redis_url, "--frontier-key", key)
    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(
                run_crawl,
                seeds,
                site.name,
                tmp_path / f"shared-{n}",
                *args,
                user_agent=agent,
                timeout=150,
            )  # fmt: skip
            for n, agent in zip("ab", agents, strict=True)
        ]
        results = [f.result() for f in futures]
    elapsed = time.monotonic() - started

    # The idle close works: both processes end on their own, well within the bound.
    for result in results:
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stats["finish_reason"] == "finished"
    assert elapsed < 120

    # Together they crawl what one process crawls.
    union = [p.url for r in results for p in r.pages]
    assert len(union) == len(set(union)), "a page was written by both processes"
    assert set(union) == single_urls
    # Pages the feeds announced reach the page files as announced (date and title from the
    # feed), whichever process fetched them: link-following waits until every process's
    # feeds and sitemaps are parsed, then leaves the announced URLs alone.
    single_via = {p.url: p.discovered_via for p in single.pages}
    shared_via = {p.url: p.discovered_via for r in results for p in r.pages}
    assert shared_via == single_via

    # No article was fetched twice across the two, and both did part of the work.
    fetched = [_fetched_articles(net, site, agent, articles) for agent in agents]
    everything = fetched[0] + fetched[1]
    assert len(everything) == len(set(everything)), "an article was fetched twice"
    assert set(everything) == set(_fetched_articles(net, site, single_agent, articles))
    assert all(fetched), f"a process fetched no article: {[len(f) for f in fetched]}"
    assert all(r.pages for r in results)

    # The frontier persists after the run (processes may still join) until it is cleared.
    assert _frontier_keys(redis_url, key)
    assert frontier.pending(redis_url, key) == 0
    assert frontier.clear(redis_url, key) >= 1
    assert _frontier_keys(redis_url, key) == []


def test_clear_removes_only_that_frontiers_keys(redis_url: str):
    key = f"newsdedup:frontier:clear-test:{uuid.uuid4().hex}"
    other = f"newsdedup:frontier:clear-test:{uuid.uuid4().hex}"
    client = redis.Redis.from_url(redis_url)
    try:
        for k in (key, other):
            client.zadd(f"{k}:requests", {b"request": -1})
            client.sadd(f"{k}:dupefilter", "fingerprint")
            client.set(f"{k}:activity", "0")
            client.sadd(f"{k}:announced", "http://example.test/a")
            client.set(f"{k}:discovering", "0")
        assert frontier.clear(redis_url, key) == 5
        assert _frontier_keys(redis_url, key) == []
        assert len(_frontier_keys(redis_url, other)) == 5
        assert frontier.clear(redis_url, key) == 0
    finally:
        frontier.clear(redis_url, other)
        client.close()


def test_settings_untouched_without_a_frontier():
    settings = Settings()
    settings.setmodule("crawlers.settings", priority="project")
    before = dict(settings.copy_to_dict())
    frontier.configure(settings)
    assert dict(settings.copy_to_dict()) == before
    assert "scrapy_redis" not in str(settings.get("SCHEDULER"))


def test_frontier_settings(redis_url: str):
    settings = Settings()
    settings.setmodule("crawlers.settings", priority="project")
    settings.set("NEWSDEDUP_FRONTIER_REDIS_URL", redis_url, priority="cmdline")
    with pytest.raises(ValueError):
        frontier.configure(settings)
    settings.set("NEWSDEDUP_FRONTIER_KEY", "newsdedup:frontier:x:100%", priority="cmdline")
    frontier.configure(settings)
    assert settings.get("SCHEDULER") == "scrapy_redis.scheduler.Scheduler"
    assert settings.get("DUPEFILTER_CLASS") == "scrapy_redis.dupefilter.RFPDupeFilter"
    assert settings.getbool("SCHEDULER_PERSIST") is True
    assert settings.getbool("SCHEDULER_FLUSH_ON_START") is False
    assert settings.get("SCHEDULER_QUEUE_KEY") % {"spider": "news"} == (
        "newsdedup:frontier:x:100%:requests"
    )
    assert settings.get("SCHEDULER_DUPEFILTER_KEY") % {"spider": "news"} == (
        "newsdedup:frontier:x:100%:dupefilter"
    )
    assert settings.getfloat("MAX_IDLE_TIME_BEFORE_CLOSE") == frontier.DEFAULT_MAX_IDLE
    assert "crawlers.frontier.FrontierIdleClose" in settings.getdict("EXTENSIONS")


def test_run_refuses_a_frontier_without_a_key(big_site, redis_url: str, tmp_path: Path):
    net, seeds, site = big_site
    result = run_crawl(
        seeds, site.name, tmp_path / "nokey", "--frontier-redis", redis_url, timeout=60
    )
    assert result.returncode == 2
    assert "frontier" in result.stderr


def test_announced_articles_are_fetched_newest_first(big_site, tmp_path: Path) -> None:
    net, seeds, site = big_site
    agent = user_agent_for("newest-first")
    one_at_a_time = ("-s", "CONCURRENT_REQUESTS=1", "-s", "AUTOTHROTTLE_ENABLED=0")
    result = run_crawl(seeds, site.name, tmp_path / "order", *one_at_a_time, user_agent=agent)
    assert result.returncode == 0, result.stderr[-2000:]
    dated = {
        urlsplit(p.url).path: p.hint_date
        for p in result.pages
        if p.discovered_via == "article" and p.hint_date is not None
    }
    order = _fetched_articles(net, site, agent, set(dated))
    dates = [dated[urlsplit(path).path] for path in order]
    # Many articles, often more than one a day: the order within a day is tested too.
    assert len(dates) >= 100 and len({d.date() for d in dates}) < 0.75 * len(dates)
    # Each batch the feeds and sitemaps announced is fetched newest first: a page older than
    # the next one fetched only where a later batch starts.
    later = [i for i in range(len(dates) - 1) if dates[i] < dates[i + 1]]
    assert len(later) <= 2, [(dates[i], dates[i + 1]) for i in later]
