"""flows.stages.dedup_stage accounts for every page it is given: a story, a duplicate with
why (``canonical``, ``exact``, ``near_duplicate``), or a listed drop. Pages are described in
tests/fixtures/dedup/syndication.json."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from crawlers.clean.finish import article_id
from crawlers.records import Article, Rejected
from dedup import DedupConfig, ReprintIndex
from flows.stages import cross_site_canonical, dedup_stage
from tests.conftest import data_path

STORIES = json.loads(data_path("dedup", "stories.json").read_text(encoding="utf-8"))
PAGES = json.loads(data_path("dedup", "syndication.json").read_text())["pages"]
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
RUN = "20240501T080000Z-abcdef"


def articles(*names: str) -> list[Article]:
    out = []
    for i, page in enumerate(p for p in PAGES if p["name"] in names):
        text = " ".join(STORIES[page["story"]])
        out.append(
            Article(
                article_id=article_id(page["canonical_url"]),
                url=page["url"],
                canonical_url=page["canonical_url"],
                domain=page["url"].split("/")[2],
                source=page["source"],
                title=page["name"],
                authors=["Orla Pennick"],
                published_at=T0 + timedelta(minutes=i),
                fetched_at=T0 + timedelta(hours=1),
                language="en",
                text=text,
                word_count=len(text.split()),
                site_name=page["source"].title(),
            )
        )
    return out


def by_url(rows):
    return {r["url"]: r for r in rows}


def url(name: str) -> str:
    return next(p["url"] for p in PAGES if p["name"] == name)


def test_cross_site_canonical_copy_is_a_duplicate_of_the_original():
    batch = articles("original", "amp_alias", "partner_copy", "plain_reprint")
    out = dedup_stage(batch, ReprintIndex(DedupConfig()), {}, RUN, now=T0)
    stories, dups, dropped = by_url(out.articles), by_url(out.duplicates), by_url(out.rejected)
    assert list(stories) == [url("original")]
    story_id = stories[url("original")]["article_id"]
    copy = dups[url("partner_copy")]
    assert copy["reason"] == "canonical" and copy["duplicate_of"] == story_id
    assert copy["article_id"] == article_id(url("partner_copy")) != story_id
    assert copy["cluster_id"] == stories[url("original")]["cluster_id"]
    # A reprint without a canonical link is found by its text.
    assert dups[url("plain_reprint")]["reason"] == "exact"
    assert dups[url("plain_reprint")]["duplicate_of"] == story_id
    # The same site's alias of the story is one story: listed as dropped, not lost.
    assert dropped[url("amp_alias")]["reason"] == "same_page"
    assert dropped[url("amp_alias")]["stage"] == "dedup"
    assert len(stories) + len(dups) + len(dropped) == len(batch)
    assert out.counts["canonical"] == 1 and out.counts["same_page"] == 1


def test_original_unknown_keeps_the_copy_as_the_story_under_its_canonical_url():
    batch = articles("orphan_copy", "orphan_copy_again")
    out = dedup_stage(batch, ReprintIndex(DedupConfig()), {}, RUN, now=T0)
    (story,) = out.articles
    assert story["url"] == url("orphan_copy")
    assert story["canonical_url"] == "http://gazette.example/?p=999"
    assert story["article_id"] == article_id("http://gazette.example/?p=999")
    (dup,) = out.duplicates
    assert dup["url"] == url("orphan_copy_again")
    assert (dup["reason"], dup["duplicate_of"]) == ("canonical", story["article_id"])


def test_original_published_by_an_earlier_run_is_found_in_the_index():
    index = ReprintIndex(DedupConfig())
    first = dedup_stage(articles("original"), index, {}, RUN, now=T0)
    index.commit()
    assert len(first.articles) == 1
    # The seen store knows the original's URL (published) when the copy comes along.
    seen = {url("original"): {"kind": "article"}}
    later = dedup_stage(articles("partner_copy"), index, {}, RUN, now=T0 + timedelta(hours=2),
                        seen=seen)
    assert later.articles == [] and later.rejected == []
    (dup,) = later.duplicates
    assert dup["reason"] == "canonical"
    assert dup["duplicate_of"] == first.articles[0]["article_id"]
    # And the original fetched again is listed as already published, not lost.
    again = dedup_stage(articles("original"), index, {}, RUN, now=T0 + timedelta(hours=3))
    assert [r["reason"] for r in again.rejected] == ["already_published"]
    # And the copy fetched again (its feed said it changed) keeps its one duplicates row.
    seen[url("partner_copy")] = {"kind": "article"}
    copy_again = dedup_stage(articles("partner_copy"), index, {}, RUN,
                             now=T0 + timedelta(hours=4), seen=seen)
    assert copy_again.duplicates == []
    assert [r["reason"] for r in copy_again.rejected] == ["already_published"]


def test_www_and_same_host_canonicals_are_not_cross_site():
    (www,) = articles("www_copy")
    assert not cross_site_canonical(www)
    (copy,) = articles("partner_copy")
    assert cross_site_canonical(copy)


def test_earlier_stages_drops_are_passed_through_with_the_run_id():
    crawl_drop = Rejected(url="http://gazette.example/?tag=harbour", final_url=
                          "http://gazette.example/?tag=harbour", domain="gazette.example",
                          source="gazette", reason="listing_url", fetched_at=T0, stage="crawl")
    out = dedup_stage([], ReprintIndex(DedupConfig()), {}, RUN, now=T0,
                      rejected=[crawl_drop, {**crawl_drop.to_dict(), "url": "http://x/"}])
    assert [(r["url"], r["reason"], r["stage"], r["run_id"]) for r in out.rejected] == [
        ("http://gazette.example/?tag=harbour", "listing_url", "crawl", RUN),
        ("http://x/", "listing_url", "crawl", RUN),
    ]


def test_a_canonical_naming_a_home_page_does_not_fold_a_site_into_one_story():
    batch = articles("home_canonical_a", "home_canonical_b", "foreign_home_canonical")
    out = dedup_stage(batch, ReprintIndex(DedupConfig()), {}, RUN, now=T0)
    assert sorted(r["url"] for r in out.articles) == sorted(a.url for a in batch)
    assert out.duplicates == [] and out.rejected == []
    assert len({r["article_id"] for r in out.articles}) == 3
