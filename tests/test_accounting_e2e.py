"""End to end on loopback: a WordPress-like site with default permalinks (``/?p=123``) and a
syndication partner whose pages declare ``rel=canonical`` to the original site, crawled,
cleaned, deduplicated and published by the real pipeline (``newsdedup run``). Every page a
site served ends as a story, a duplicate or a listed drop (tests/fixtures/sites/)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from flows.read import read_table
from tests.servers import FixtureSites
from tests.test_e2e import run_cli

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent / "fixtures" / "sites"
NOT_PAGES = {"/robots.txt", "/?feed=rss2"}


@pytest.fixture(scope="module")
def published(prefect_server, tmp_path_factory):
    work = tmp_path_factory.mktemp("accounting")
    with FixtureSites(["gazette", "partner"]) as sites:
        text = (FIXTURES / "seeds.yaml").read_text()
        for name in sites.names:
            text = text.replace("{" + name + "}", sites.base_url(name))
        seeds = work / "seeds.yaml"
        seeds.write_text(text)
        output = work / "lake"
        proc = run_cli(
            ["run", "--seeds", str(seeds), "--output", str(output), "--allow-private"],
            prefect_server.env(), work, timeout=300,
        )  # fmt: skip
        served = list(sites.requests)
        bases = {name: sites.base_url(name) for name in sites.names}
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    tables = {t: read_table(output, table=t).to_pylist()
              for t in ("articles", "duplicates", "rejected")}  # fmt: skip
    (manifest_path,) = (output / "runs").glob("*.json")
    return tables, served, bases, json.loads(manifest_path.read_text())


def test_every_fetched_page_is_a_story_a_duplicate_or_a_listed_drop(published):
    tables, served, bases, manifest = published
    fetched = [bases[site] + path for site, path, status in served
               if status == 200 and path not in NOT_PAGES]  # fmt: skip
    assert len(fetched) == len(set(fetched)), "a page was fetched twice"
    ended = ([r["url"] for r in tables["articles"]] + [r["url"] for r in tables["duplicates"]]
             + [r["final_url"] for r in tables["rejected"]])  # fmt: skip
    assert sorted(ended) == sorted(fetched)
    assert manifest["rows"] == {name: len(rows) for name, rows in tables.items()}
    for name, source in manifest["counts"]["sources"].items():
        assert source["rejected"] == dict(
            Counter(r["reason"] for r in tables["rejected"] if r["source"] == name)
        )
    # Every page the cleaning read is counted once by the plan it was read with.
    plans = manifest["counts"]["cleaning_plans"]
    cleaned = sum(s["clean"]["pages"] for s in manifest["counts"]["sources"].values())
    assert sum(plans.values()) == cleaned > 0 and plans["full"] > 0


def test_wordpress_default_permalinks_are_stories(published):
    tables, _, bases, _ = published
    gazette = bases["gazette"]
    stories = {r["url"] for r in tables["articles"]}
    # From the feed (p=101, p=102), the home page (p=103, with tracking parameters on its link)
    # and behind pagination (p=100, page_id=7).
    for query in ("?p=100", "?p=101", "?p=102", "?p=103", "?page_id=7"):
        assert f"{gazette}/{query}" in stories, query
    assert not [u for u in stories if "utm_" in u or "fbclid" in u]


def test_syndicated_copies_are_duplicates_of_the_original(published):
    tables, _, bases, _ = published
    gazette, partner = bases["gazette"], bases["partner"]
    story_id = {r["url"]: r["article_id"] for r in tables["articles"]}
    copies = {r["url"]: r for r in tables["duplicates"]}
    expected = {
        "/syndicated/ferry-timetable-changes-after-pier-repairs.html": "?p=101",
        "/syndicated/lifeboat-called-out-twice-off-the-point.html": "?p=102",
        "/syndicated/tide-gauge-at-harbour-mouth-replaced.html": "?p=103",
    }
    for path, original in expected.items():
        row = copies[partner + path]
        assert row["reason"] == "canonical"
        assert row["duplicate_of"] == story_id[f"{gazette}/{original}"]
        assert row["canonical_url"] == f"{gazette}/{original}"
        assert row["authors"] is not None and row["word_count"] > 80
    # The original of this one was never fetched: the copy is the story, under its canonical.
    seals = next(r for r in tables["articles"] if r["url"].endswith("/seals-return-to-the-outer-"
                                                                   "sandbanks.html"))
    assert seals["canonical_url"] == f"{gazette}/?p=999"
    assert f"{partner}/local/market-hall-reopens-with-a-new-roof.html" in story_id


def test_listings_search_and_pagination_are_listed_drops_never_articles(published):
    tables, _, bases, _ = published
    gazette = bases["gazette"]
    dropped = {r["final_url"]: r for r in tables["rejected"]}
    for query in ("/", "/?cat=3", "/?tag=harbour", "/?s=ferry", "/?paged=2", "/page/2/"):
        row = dropped[gazette + query]
        assert row["stage"] == "crawl" and row["reason"] in ("listing_url", "listing"), row
    assert dropped[f"{gazette}/?p=103&amp=1"]["reason"] == "same_page"
    assert dropped[f"{gazette}/?p=105"]["reason"] == "too_short"
    assert dropped[f"{gazette}/?p=105"]["stage"] == "clean"
    published_urls = {r["url"] for r in tables["articles"] + tables["duplicates"]}
    assert not published_urls & {gazette + q for q in ("/", "/?cat=3", "/?s=ferry")}
