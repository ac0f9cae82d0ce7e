"""A query-string link tar-pit cannot flood a run: link-found, unannounced articles beyond
what the source's history supports (or its max_pages) are listed as ``source_cap`` drops,
while what its feed announces is taken (tests/fixtures/sites/tarpit/)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest

from crawlers.pipelines import REJECTED_FILE
from crawlers.seeds import load_seeds
from flows.publish import publish_run, recent_source_counts
from flows.stages import LINK_CAP_FACTOR, LINK_CAP_FLOOR, link_article_caps
from flows.storage import LocalStorage
from tests.conftest import data_path
from tests.servers import FixtureSites
from tests.test_crawl_support import run_crawl

SOURCE = "quayside-notes"


def rejected(out):
    with gzip.open(out / REJECTED_FILE, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="module")
def tarpit_crawls(tmp_path_factory):
    work = tmp_path_factory.mktemp("tarpit")
    with FixtureSites(["tarpit"]) as sites:
        text = data_path("sites", "tarpit", "seeds.yaml").read_text()
        seeds = work / "seeds.yaml"
        seeds.write_text(text.replace("{tarpit}", sites.base_url("tarpit")))
        capped = run_crawl(seeds, SOURCE, work / "capped", "-s",
                           f'NEWSDEDUP_SOURCE_CAPS={{"{SOURCE}": 4}}')  # fmt: skip
        capped_requests = len(sites.requests)
        uncapped = run_crawl(seeds, SOURCE, work / "uncapped")
        base = sites.base_url("tarpit")
    return base, capped, capped_requests, uncapped


@pytest.mark.slow
def test_history_cap_takes_announced_posts_and_few_link_found_ones(tarpit_crawls):
    base, capped, requests, _ = tarpit_crawls
    assert capped.returncode == 0, capped.stderr[-2000:]
    urls = set(capped.urls)
    assert {f"{base}/?p=7001", f"{base}/?p=7002"} <= urls  # announced: never capped
    assert len(urls) == 2 + 4
    drops = rejected(capped.out)
    assert [d for d in drops if d["reason"] == "source_cap"]
    assert all(d["stage"] == "crawl" and "html" not in d for d in drops)
    assert requests < 20  # links stop being followed once nothing more can be taken
    # What was capped is not remembered, so a later run may take it.
    assert not {d["url"] for d in drops if d["reason"] == "source_cap"} & set(capped.validators)


@pytest.mark.slow
def test_without_history_max_pages_bounds_the_tarpit(tarpit_crawls):
    _, _, _, uncapped = tarpit_crawls
    assert uncapped.returncode == 0, uncapped.stderr[-2000:]
    assert len(uncapped.pages) == 30  # the source's max_pages
    assert [d for d in rejected(uncapped.out) if d["reason"] == "source_cap"]


def test_caps_follow_what_each_source_published_in_its_last_runs(tmp_path):
    storage = LocalStorage(tmp_path / "lake")
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for day, (stories, dups) in enumerate([(3, 1), (2, 0), (40, 2)]):
        counts = {"sources": {"steady": {"ok": True, "stories": stories, "duplicates": dups},
                              "aggregator": {"ok": True, "stories": 0, "duplicates": 30}}}
        when = start + timedelta(days=day)
        publish_run(storage, f"{when:%Y%m%dT%H%M%SZ}-00000{day}", when, [], [], counts, {})
    history = recent_source_counts(storage, runs=2)
    assert history == {"steady": [42, 2], "aggregator": [30, 30]}
    sources = load_seeds_text(tmp_path, ["steady", "aggregator", "newcomer"])
    caps = link_article_caps(sources, history)
    assert caps == {
        "steady": min(1000, max(LINK_CAP_FLOOR, LINK_CAP_FACTOR * 42)),
        "aggregator": max(LINK_CAP_FLOOR, LINK_CAP_FACTOR * 30),
    }  # a source without history is bounded by its max_pages only


def load_seeds_text(tmp_path, names):
    path = tmp_path / "seeds.yaml"
    path.write_text("sources:\n" + "".join(
        f"  - name: {n}\n    start_urls: [https://{n}.example/]\n" for n in names))
    return load_seeds(str(path)).select(names)
