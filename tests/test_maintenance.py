"""State recovery from published runs, compaction and retention, on a temp dir and real
SeaweedFS."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from flows.maintenance import (
    compact_before,
    prune,
    published_rows_of,
    runs_since_state,
    seen_entries,
    state_version,
)
from flows.publish import encode_parquet, publish_run, write_failed_manifest
from flows.read import read_table
from flows.schema import rows_to_table
from flows.state import LOCK_KEY, RunInProgress, RunLock, StateStore
from flows.storage import Storage
from tests.conftest import load_rows

STARTED = datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC)
RUN_A = "20250301T090000Z-aaaaaa"
RUN_B = "20250301T100000Z-bbbbbb"
RUN_C = "20250301T110000Z-cccccc"
RUN_D = "20250301T120000Z-dddddd"


def at(run_id: str) -> datetime:
    return datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def three_runs_state_after_the_first(storage: Storage) -> None:
    """A committed its state; B and C published and then died before their state commits."""
    arts, dups = load_rows("articles"), load_rows("duplicates")
    publish_run(storage, RUN_A, at(RUN_A), arts[:1], [], {}, {})
    StateStore(storage).commit(RUN_A, {"seen": b"a"})
    publish_run(storage, RUN_B, at(RUN_B), arts[1:2], dups, {}, {})
    publish_run(storage, RUN_C, at(RUN_C), arts[2:], [], {}, {})
    write_failed_manifest(storage, RUN_D, at(RUN_D), "crawl failed")
    storage.put("runs/20250301T130000Z-eeeeee.json", b"{broken")


def test_runs_since_state_are_the_committed_runs_the_state_lacks(storage: Storage) -> None:
    three_runs_state_after_the_first(storage)
    state = StateStore(storage)
    state.load()
    assert state.version == RUN_A == state_version(storage)
    assert [m["run_id"] for m in runs_since_state(storage, state.version)] == [RUN_B, RUN_C]
    assert [m["run_id"] for m in runs_since_state(storage, None)] == [RUN_A, RUN_B, RUN_C]
    StateStore(storage).commit(RUN_C, {"seen": b"c"})
    assert runs_since_state(storage, state_version(storage)) == []


def test_published_rows_of_the_runs_the_state_lacks(storage: Storage) -> None:
    three_runs_state_after_the_first(storage)
    missing = runs_since_state(storage, state_version(storage))
    articles = published_rows_of(storage, missing, "articles")
    assert sorted(articles["article_id"].to_pylist()) == ["a-002", "a-003"]
    assert set(articles["run_id"].to_pylist()) == {RUN_B, RUN_C}
    assert articles["text"].null_count == 0
    dups = published_rows_of(storage, missing, "duplicates", columns=["url"])
    assert dups.column_names == ["url", "run_id"]
    assert dups["url"].to_pylist() == [load_rows("duplicates")[0]["url"]]
    assert published_rows_of(storage, [], "articles").num_rows == 0
    urls = articles["url"].to_pylist() + dups["url"].to_pylist()
    entries = seen_entries([*urls, None])
    assert sorted(entries) == sorted(urls)
    assert all(e["kind"] == "article" and e["date"] is None for e in entries.values())


def test_published_rows_of_compacted_runs_come_from_the_merged_file(storage: Storage) -> None:
    three_runs_state_after_the_first(storage)
    # Another day's run, then compaction of the first day merges A, B and C into one file.
    publish_run(storage, "20250302T090000Z-ffffff", datetime(2025, 3, 2, 9, tzinfo=UTC),
                [{**load_rows("articles")[0], "article_id": "a-100"}], [], {}, {})
    done = compact_before(storage, date(2025, 3, 2))
    assert [(d["table"], d["dt"]) for d in done] == [("articles", "2025-03-01")]
    assert not storage.exists(f"articles/dt=2025-03-01/{RUN_B}-0.parquet")
    # ... and once more over the compacted file plus a late run of that day.
    publish_run(storage, "20250301T230000Z-111111", datetime(2025, 3, 1, 23, tzinfo=UTC),
                [{**load_rows("articles")[0], "article_id": "a-200"}], [], {}, {})
    assert len(compact_before(storage, date(2025, 3, 2))) == 1

    missing = runs_since_state(storage, RUN_A)
    assert [m["run_id"] for m in missing][:2] == [RUN_B, RUN_C]
    got = published_rows_of(storage, missing[:2], "articles", columns=["article_id"])
    assert sorted(got["article_id"].to_pylist()) == ["a-002", "a-003"]
    dups = published_rows_of(storage, missing[:2], "duplicates")
    assert dups.num_rows == 1 and dups["run_id"].to_pylist() == [RUN_B]


def test_replayed_stories_are_already_published_for_the_dedup_index(storage: Storage) -> None:
    """The use the pipeline makes of it: fold the lost runs' stories into the index, then the
    same pages crawled again are recognised as published, not published again."""
    from dedup import DedupConfig, Document, ReprintIndex

    base = ("The council approved the harbour budget on Monday after a long debate about "
            "ferry fares, dredging, the fish market roof and the new sea wall. ")
    rows = [{**load_rows("articles")[0], "article_id": f"s-{i}", "url": f"https://n.example/{i}",
             "text": f"Story {i}. " + base * 3 + f"Closing line number {i} of {i * 7}."}
            for i in range(3)]
    rows[1]["text"] = "An entirely different report on the regional rail timetable. " * 12
    rows[2]["text"] = "Storm warnings closed three schools and the coastal road. " * 12
    publish_run(storage, RUN_B, at(RUN_B), rows, [], {}, {})

    index = ReprintIndex(DedupConfig())
    lost = published_rows_of(storage, runs_since_state(storage, None), "articles")
    docs = [Document(id=r["article_id"], text=r["text"], published_at=r["published_at"],
                     outlet_names=(r["site_name"], r["source"]))
            for r in lost.to_pylist()]
    first = index.dedup(docs, datetime.now(UTC))
    assert [d.duplicate_of for d in first] == [None, None, None]
    index.commit()
    # The same stories again: recognised by id, each its own cluster, nothing staged anew.
    again = index.dedup(docs, datetime.now(UTC))
    assert [(d.cluster_id, d.duplicate_of) for d in again] == [
        ("s-0", None), ("s-1", None), ("s-2", None)]
    assert index.staged_ids() == []
    # A reprint of one of them published elsewhere is its duplicate.
    reprint = Document(id="r-9", text="Via wire: " + docs[0].text)
    assert index.dedup([reprint], datetime.now(UTC))[0].duplicate_of == "s-0"


def test_compact_before_takes_the_run_lock(storage: Storage) -> None:
    for i, art in enumerate(load_rows("articles")):
        when = STARTED + timedelta(hours=i)
        publish_run(storage, f"{when:%Y%m%dT%H%M%SZ}-ab00{i:02d}", when, [art], [], {}, {})
    with RunLock(storage, owner="20250301T200000Z-a1a1a1", ttl=600):
        with pytest.raises(RunInProgress, match="a1a1a1"):
            compact_before(storage, date(2025, 3, 2))
    assert compact_before(storage, date(2025, 3, 1)) == []  # nothing before that day
    done = compact_before(storage, date(2025, 3, 2))
    assert len(done) == 1 and len(done[0]["replaces"]) == 3
    assert len(list(storage.list("articles/"))) == 1 and not storage.exists(LOCK_KEY)
    assert read_table(storage).num_rows == 3


def test_prune_applies_retention_and_keeps_published_data(storage: Storage) -> None:
    now = datetime(2025, 4, 15, 12, tzinfo=UTC)
    old_raw = ["raw/dt=2025-03-01/harbor-wire/pages.jsonl.gz", "raw/dt=2025-03-15/x.gz"]
    new_raw = ["raw/dt=2025-03-16/x.gz", "raw/dt=2025-04-15/y.gz", "raw/README"]
    for key in old_raw + new_raw:
        storage.put(key, b"page")
    old_work = "_work/20250410T090000Z-0f0f0f/shard-0.json.gz"
    new_work = "_work/20250414T200000Z-1f1f1f/shard-0.json.gz"
    storage.put(old_work, b"w")
    storage.put(new_work, b"w")
    versions = [f"202503{d:02d}T090000Z-aaaaaa" for d in range(1, 9)]
    for v in versions:
        StateStore(storage).commit(v, {"seen": v.encode()})
    publish_run(storage, RUN_A, at(RUN_A), load_rows("articles"), load_rows("duplicates"),
                {}, {})
    orphan = "articles/dt=2025-03-01/20250301T100000Z-0d0d0d-0.parquet"
    storage.put(orphan, encode_parquet(rows_to_table("articles", [
        {**load_rows("articles")[0], "run_id": "20250301T100000Z-0d0d0d"}])))

    preview = prune(storage, raw_days=30, state_versions=3, now=now + timedelta(days=1),
                    orphan_age=timedelta(0), dry_run=True)
    assert sorted(preview.raw) == sorted(old_raw + ["raw/dt=2025-03-16/x.gz"])
    assert preview.state_versions == versions[:5] and preview.orphans == [orphan]
    assert all(storage.exists(k) for k in old_raw) and storage.exists(orphan)
    assert "would delete" in "\n".join(preview.lines())

    assert prune(storage, now=now, dry_run=True).orphans == []  # young: may be a live run
    report = prune(storage, raw_days=30, state_versions=3, now=now, orphan_age=timedelta(0))
    assert sorted(report.raw) == sorted(old_raw)
    assert report.work == [old_work]
    assert report.state_versions == versions[:5]
    assert report.orphans == [orphan]
    assert [k for k in old_raw + new_raw + [old_work, new_work, orphan] if storage.exists(k)] \
        == new_raw + [new_work]
    assert StateStore(storage).versions() == versions[5:]
    assert StateStore(storage).load() == {"seen": versions[-1].encode()}
    assert read_table(storage).num_rows == 3 and read_table(storage, "duplicates").num_rows == 1
    assert not storage.exists(LOCK_KEY)
    with pytest.raises(ValueError):
        prune(storage, state_versions=0)
