"""Several sources in one crawl process (``crawlers.run --source A --source B ...``), as the
pipeline groups them, and the page feed that lets cleaning start while crawls still run."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawlers.records import Page
from crawlers.seeds import Source, load_seeds
from flows import stages
from flows.demo import DemoNetwork
from tests.servers import free_port
from tests.test_crawl_support import REPO, TEST_UA, run_crawl


def _group_crawl(seeds: Path, names: list[str], out: Path, seen: Path | None = None):
    cmd = [sys.executable, "-m", "crawlers.run", "--seeds", str(seeds), "--out", str(out),
           "--allow-private", "--user-agent", TEST_UA]  # fmt: skip
    for name in names:
        cmd += ["--source", name]
    if seen is not None:
        cmd += ["--seen", str(seen)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=REPO)


def _urls(path: Path) -> set[str]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return {Page.from_dict(json.loads(line)).url for line in fh}


@pytest.fixture(scope="module")
def network():
    with DemoNetwork(ports=None) as net:
        yield net


def test_one_process_crawls_each_source_as_a_process_of_its_own_would(network, tmp_path):
    seeds = network.write_seeds(tmp_path / "seeds.yaml")
    names = [s.name for s in network.sites if s.role == "original"][:2] + [
        s.name for s in network.sites if s.role == "aggregator"
    ][:1]
    grouped = _group_crawl(seeds, names, tmp_path / "group")
    assert grouped.returncode == 0, grouped.stderr[-2000:]
    for name in names:
        alone = run_crawl(seeds, name, tmp_path / "alone" / name)
        assert alone.returncode == 0, alone.stderr[-2000:]
        part = tmp_path / "group" / name
        stats = json.loads((part / "stats.json").read_text())
        assert stats["reachable"] and stats["articles"] == alone.stats["articles"] > 0
        assert _urls(part / "pages.jsonl.gz") == set(alone.urls)
        assert json.loads((part / "validators.json").read_text()).keys() == alone.validators.keys()


def test_seen_urls_reach_the_source_they_belong_to(network, tmp_path):
    seeds = network.write_seeds(tmp_path / "seeds.yaml")
    names = [s.name for s in network.sites if s.role == "original"][:2]
    first = _group_crawl(seeds, names, tmp_path / "first")
    assert first.returncode == 0, first.stderr[-2000:]
    seen: dict[str, object] = {}
    for name in names:
        seen.update(json.loads((tmp_path / "first" / name / "validators.json").read_text()))
    (tmp_path / "seen.json").write_text(json.dumps(seen))
    second = _group_crawl(seeds, names, tmp_path / "second", seen=tmp_path / "seen.json")
    assert second.returncode == 0, second.stderr[-2000:]
    for name in names:
        stats = json.loads((tmp_path / "second" / name / "stats.json").read_text())
        # Every article page the first run fetched is skipped or answered 304.
        assert stats["articles"] == 0, (name, stats)
        assert stats["skipped_seen"] + stats["not_modified"] > 0, (name, stats)


def _crawl_beside(net, tmp_path: Path, extra: str, **options):
    """One crawl process of a publisher of ``net`` and the source ``extra`` (a seeds entry)."""
    seeds = net.write_seeds(tmp_path / "seeds.yaml")
    seeds.write_text(seeds.read_text() + extra)
    good = next(s.name for s in net.sites if s.role == "original")
    by_name = {s.name: s for s in load_seeds(seeds).sources}
    added = next(name for name in by_name if f"name: {name}\n" in extra)
    outcomes = stages.crawl_sources(
        [by_name[good], by_name[added]],
        str(seeds),
        tmp_path / "work",
        allow_private=True,
        log_line=lambda line: None,
        **options,
    )
    return good, outcomes


def test_an_unreachable_source_fails_alone(network, tmp_path):
    extra = f"  - name: gone-site\n    feeds: [http://127.0.0.1:{free_port()}/feed.xml]\n"
    good, outcomes = _crawl_beside(network, tmp_path, extra, timeout=120)
    by_name = {o.source: o for o in outcomes}
    assert by_name[good].ok and by_name[good].pages_path
    assert _urls(Path(by_name[good].pages_path))
    gone = by_name["gone-site"]
    assert not gone.ok and gone.pages_path is None
    assert "gone-site" in (gone.error or "") and "no page could be fetched" in (gone.error or "")


def _source(i: int) -> Source:
    return Source(name=f"site-{i}", feeds=(f"https://site-{i}.example/feed.xml",))


@pytest.mark.parametrize(
    ("n", "width", "per", "sizes"),
    [
        (20, 2, 16, [10, 10]),  # as many processes as run at once
        (40, 2, 16, [14, 13, 13]),  # no process over its share
        (3, 2, 16, [2, 1]),
        (1, 4, 16, [1]),
        (5, 2, 1, [1, 1, 1, 1, 1]),  # one process per source
        (0, 2, 16, []),
    ],
)
def test_crawl_groups_deal_every_source_once(n, width, per, sizes):
    sources = [_source(i) for i in range(n)]
    groups = stages.crawl_groups(sources, width, per)
    assert [len(g) for g in groups] == sizes
    assert sorted(s.name for g in groups for s in g) == sorted(s.name for s in sources)


def _pages_file(path: Path, urls: list[str]) -> str:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for url in urls:
            page = Page(
                url=url,
                final_url=url,
                source="site-0",
                status=200,
                fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
                html="<html></html>",
            )
            fh.write(json.dumps(page.to_dict()) + "\n")
    return str(path)


def test_page_feed_hands_over_pages_before_the_last_crawl_ends(tmp_path):
    feed = stages.PageFeed()
    got: list[str] = []
    first_arrived = threading.Event()

    def consume() -> None:
        for page in feed:
            got.append(page.url)
            first_arrived.set()

    consumer = threading.Thread(target=consume)
    consumer.start()
    feed.put(_pages_file(tmp_path / "a.jsonl.gz", ["https://a.example/1", "https://a.example/2"]))
    # The consumer has the first file's pages while the feed is still open.
    assert first_arrived.wait(timeout=30)
    feed.put(_pages_file(tmp_path / "b.jsonl.gz", ["https://b.example/1"]))
    feed.close()
    consumer.join(timeout=30)
    assert not consumer.is_alive()
    assert got == ["https://a.example/1", "https://a.example/2", "https://b.example/1"]
    # A feed built from files is closed already.
    assert [p.url for p in stages.PageFeed([str(tmp_path / "b.jsonl.gz")])] == [
        "https://b.example/1"
    ]


def test_a_hung_crawl_costs_only_its_own_source(tmp_path):
    with DemoNetwork(ports=None, quirks=True) as net:
        slow = net.site("quirks").base_url + "/slow"  # answers after 30 s
        extra = f"  - name: slowpoke\n    start_urls: [{slow}]\n    follow_links: false\n"
        # No clean close before the deadline: the process must be killed.
        good, outcomes = _crawl_beside(
            net, tmp_path, extra, timeout=12, extra_settings={"CLOSESPIDER_TIMEOUT": 0}
        )
    assert [o.source for o in outcomes] == [good, "slowpoke"]
    # The publisher finished before the kill: it keeps its pages, validators and counters.
    kept, hung = outcomes
    assert kept.ok and kept.error is None, kept.error
    assert kept.pages_path and _urls(Path(kept.pages_path)) and kept.validators
    assert kept.stats["finish_reason"] == "finished" and kept.stats["articles"] > 0
    # The hung source fails alone, and says so.
    assert not hung.ok and "hard timeout" in (hung.error or "")
    assert "slowpoke was still crawling" in (hung.error or "")
    assert hung.pages_path is None and not hung.validators
    assert hung.stats["finish_reason"] == "killed"
