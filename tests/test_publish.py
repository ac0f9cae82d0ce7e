"""publish_run, recovery from crashed runs and compaction, on a temp dir and real SeaweedFS."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from flows.lake import new_run_id
from flows.publish import (
    PublishConflict,
    compact,
    encode_parquet,
    manifest_key,
    publish_run,
    sweep_orphans,
    write_failed_manifest,
)
from flows.read import StrayObjectWarning, list_runs, read_table
from flows.schema import rows_to_table
from flows.storage import LocalStorage, Storage
from tests.conftest import load_rows

REPO = Path(__file__).resolve().parent.parent

STARTED = datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC)


def run_id_at(when: datetime, suffix: str) -> str:
    return f"{when:%Y%m%dT%H%M%SZ}-{suffix}"


def test_publish_then_read_back(storage: Storage) -> None:
    run_id = run_id_at(STARTED, "a1b2c3")
    articles, dups = load_rows("articles"), load_rows("duplicates")
    manifest = publish_run(storage, run_id, STARTED, articles, dups,
                           {"fetched": 4, "stories": 3, "duplicates": 1}, {"seeds": "test"})

    assert manifest["status"] == "ok" and manifest["dt"] == "2025-03-01"
    assert manifest["rows"] == {"articles": 3, "duplicates": 1, "rejected": 0}
    assert manifest["counts"]["fetched"] == 4 and manifest["extra"] == {"seeds": "test"}
    assert manifest["schema_version"] >= 1 and "pyarrow" in manifest["versions"]
    keys = [o["key"] for o in manifest["objects"]]
    assert keys == [f"articles/dt=2025-03-01/{run_id}-0.parquet",
                    f"duplicates/dt=2025-03-01/{run_id}-0.parquet"]
    for obj in manifest["objects"]:
        data = storage.get(obj["key"])
        assert len(data) == obj["bytes"]
        meta = pq.ParquetFile(io.BytesIO(data)).metadata
        assert meta.row_group(0).column(0).compression == "ZSTD"
    assert json.loads(storage.get(manifest_key(run_id))) == manifest

    got = read_table(storage, "articles")
    assert sorted(got["article_id"].to_pylist()) == ["a-001", "a-002", "a-003"]
    row = {r["article_id"]: r for r in got.to_pylist()}["a-003"]
    assert row["authors"] == ["Li Wei", "Sam Oduya"] and row["tags"] == ["festival"]
    assert row["published_at"] == datetime(2025, 3, 1, 6, 30, tzinfo=UTC)
    assert row["run_id"] == run_id and row["site_name"] == "South Post"
    assert {r["article_id"]: r for r in got.to_pylist()}["a-002"]["published_at"] is None

    dup = read_table(storage, "duplicates").to_pylist()
    assert len(dup) == 1 and dup[0]["duplicate_of"] == "a-001" and dup[0]["similarity"] == 0.97

    south = read_table(storage, "articles", sources=["south"], columns=["article_id", "title"])
    assert south.column_names == ["article_id", "title"]
    assert south["article_id"].to_pylist() == ["a-003"]
    assert read_table(storage, since="2025-03-02").num_rows == 0
    assert read_table(storage, until=date(2025, 3, 1)).num_rows == 3


def test_rerun_with_same_run_id_adds_nothing(storage: Storage) -> None:
    run_id = run_id_at(STARTED, "00aa11")
    first = publish_run(storage, run_id, STARTED, load_rows("articles"), load_rows("duplicates"),
                        {}, {})
    before = {i.key: (i.size, storage.get(i.key)) for i in storage.list_info("")}
    again = publish_run(storage, run_id, STARTED, load_rows("articles"), load_rows("duplicates"),
                        {}, {})
    # Different rows under the same id do not overwrite a committed run either.
    other = publish_run(storage, run_id, STARTED, load_rows("articles")[:1], [], {}, {})
    assert again == first and other == first
    assert {i.key: (i.size, storage.get(i.key)) for i in storage.list_info("")} == before
    assert read_table(storage).num_rows == 3


def test_publish_after_crash_before_manifest_yields_rows_once(storage: Storage) -> None:
    run_id = run_id_at(STARTED, "c0ffee")
    articles = load_rows("articles")
    # A crashed attempt that got as far as writing the articles file with other rows.
    partial = encode_parquet(rows_to_table("articles", [{**articles[0], "run_id": run_id}]))
    storage.put(f"articles/dt=2025-03-01/{run_id}-0.parquet", partial)
    storage.put(f"articles/dt=2025-03-01/{run_id}-7.parquet", partial)
    with pytest.warns(StrayObjectWarning):
        assert read_table(storage).num_rows == 0  # no manifest: invisible

    publish_run(storage, run_id, STARTED, articles, [], {}, {})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing stray left behind
        got = read_table(storage)
    assert sorted(got["article_id"].to_pylist()) == ["a-001", "a-002", "a-003"]
    assert list(storage.list("articles/")) == [f"articles/dt=2025-03-01/{run_id}-0.parquet"]


def test_crashed_run_is_invisible_and_swept(storage: Storage) -> None:
    good = run_id_at(STARTED, "111111")
    crashed = run_id_at(STARTED + timedelta(hours=1), "222222")
    publish_run(storage, good, STARTED, load_rows("articles"), load_rows("duplicates"), {}, {})
    orphan_a = f"articles/dt=2025-03-01/{crashed}-0.parquet"
    orphan_d = f"duplicates/dt=2025-03-01/{crashed}-0.parquet"
    table = rows_to_table("articles", [{**r, "run_id": crashed} for r in load_rows("articles")])
    storage.put(orphan_a, encode_parquet(table))
    storage.put(orphan_d, b"not even parquet")

    with pytest.warns(StrayObjectWarning, match=crashed):
        assert read_table(storage).num_rows == 3

    # Young orphans may be a run still writing: kept by default.
    assert sweep_orphans(storage) == []
    assert storage.exists(orphan_a)
    later = datetime.now(UTC) + timedelta(hours=7)
    assert sorted(sweep_orphans(storage, now=later, dry_run=True)) == [orphan_a, orphan_d]
    assert storage.exists(orphan_a)
    assert sorted(sweep_orphans(storage, older_than=timedelta(0))) == [orphan_a, orphan_d]
    assert not storage.exists(orphan_a) and not storage.exists(orphan_d)
    # Committed data is never swept.
    assert len(list(storage.list("articles/"))) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_table(storage).num_rows == 3


def test_failed_run_is_listed_as_failed_and_not_read(storage: Storage) -> None:
    ok = run_id_at(STARTED, "0000aa")
    bad = run_id_at(STARTED + timedelta(minutes=5), "0000bb")
    publish_run(storage, ok, STARTED, load_rows("articles"), [], {"fetched": 3}, {})
    manifest = write_failed_manifest(storage, bad, STARTED + timedelta(minutes=5),
                                     RuntimeError("crawl timed out"), {"fetched": 1})
    assert manifest["status"] == "failed" and "crawl timed out" in manifest["error"]
    runs = list_runs(storage)
    assert [(r["run_id"], r["status"]) for r in runs] == [(ok, "ok"), (bad, "failed")]
    assert read_table(storage).num_rows == 3
    # A failed manifest never replaces a committed one ...
    assert write_failed_manifest(storage, ok, STARTED, "late failure")["status"] == "ok"
    # ... but a retry of the failed run may still commit.
    publish_run(storage, bad, STARTED + timedelta(minutes=5), load_rows("articles")[:1], [], {}, {})
    assert [r["status"] for r in list_runs(storage)] == ["ok", "ok"]
    assert read_table(storage).num_rows == 4


def test_manifest_committed_by_another_writer_is_a_conflict(storage: Storage) -> None:
    run_id = run_id_at(STARTED, "0badf0")
    failed = write_failed_manifest(storage, run_id, STARTED, "boom")
    assert failed["status"] == "failed"
    # The pipeline's publish and a concurrent one both saw the failed manifest; emulate the
    # other one winning by changing the manifest between the read and the swap.
    original = storage.put_if_match

    def sneaky(key: str, data: bytes, etag: str) -> bool:
        storage.put(key, data + b" ")  # another writer's manifest of the same run
        return original(key, data, etag)

    storage.put_if_match = sneaky  # type: ignore[method-assign]
    with pytest.raises(PublishConflict):
        publish_run(storage, run_id, STARTED, load_rows("articles"), [], {}, {})


def test_run_id_format_is_enforced(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    with pytest.raises(ValueError, match="YYYYMMDDTHHMMSSZ"):
        publish_run(store, "run-1", STARTED, [], [], {}, {})
    assert len(new_run_id().split("-")[1]) == 6
    assert new_run_id(STARTED).startswith("20250301T090000Z-")


def test_empty_run_publishes_a_manifest_only(storage: Storage) -> None:
    run_id = run_id_at(STARTED, "e0e0e0")
    manifest = publish_run(storage, run_id, STARTED, [], [], {"fetched": 0}, {})
    assert manifest["objects"] == [] and list(storage.list("articles/")) == []
    assert read_table(storage).num_rows == 0
    assert read_table(storage).schema.names[0] == "article_id"


def test_large_run_is_split_into_files_with_row_groups(tmp_path: Path, monkeypatch) -> None:
    import flows.publish as publish

    monkeypatch.setattr(publish, "MAX_ROWS_PER_FILE", 40)
    monkeypatch.setattr(publish, "ROW_GROUP_ROWS", 15)
    base = load_rows("articles")[0]
    rows = [{**base, "article_id": f"a-{i:04d}", "source": f"s{i % 3}"} for i in range(100)]
    store = LocalStorage(tmp_path)
    run_id = run_id_at(STARTED, "b16b16")
    manifest = publish_run(store, run_id, STARTED, rows, [], {}, {})
    assert [o["rows"] for o in manifest["objects"]] == [40, 40, 20]
    meta = pq.ParquetFile(tmp_path / manifest["objects"][0]["key"]).metadata
    assert meta.num_row_groups == 3
    got = read_table(store)
    assert got.num_rows == 100 and len(set(got["article_id"].to_pylist())) == 100


def test_compaction_merges_a_days_runs_atomically(storage: Storage) -> None:
    articles = load_rows("articles")
    run_ids = []
    for i, art in enumerate(articles):
        run_id = run_id_at(STARTED + timedelta(hours=i), f"cc00{i:02d}")
        run_ids.append(run_id)
        publish_run(storage, run_id, STARTED + timedelta(hours=i), [art], [], {}, {})
    today = run_id_at(datetime(2025, 3, 2, 1, tzinfo=UTC), "dd0000")
    publish_run(storage, today, datetime(2025, 3, 2, 1, tzinfo=UTC), [articles[0]], [], {}, {})
    before = read_table(storage).sort_by("run_id")

    done = compact(storage, before=date(2025, 3, 2))
    assert len(done) == 1 and len(done[0]["replaces"]) == 3
    keys = list(storage.list("articles/"))
    compacted = [o["key"] for o in done[0]["objects"]]
    assert keys == [*compacted, f"articles/dt=2025-03-02/{today}-0.parquet"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        after = read_table(storage).sort_by("run_id")
    assert after.equals(before)
    assert compact(storage, before=date(2025, 3, 2)) == []  # one file left: nothing to do
    assert sweep_orphans(storage, older_than=timedelta(0)) == []


def test_compaction_crash_after_commit_is_finished_by_the_sweep(storage: Storage) -> None:
    articles = load_rows("articles")
    for i, art in enumerate(articles):
        publish_run(storage, run_id_at(STARTED + timedelta(hours=i), f"ee00{i:02d}"),
                    STARTED + timedelta(hours=i), [art], [], {}, {})
    old_keys = list(storage.list("articles/"))
    real_delete = storage.delete
    storage.delete = lambda key: (_ for _ in ()).throw(RuntimeError("crash"))  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="crash"):
        compact(storage, before=date(2025, 3, 2))
    storage.delete = real_delete  # type: ignore[method-assign]
    # Manifest readers already use the compacted file; the superseded ones are not read.
    assert sorted(read_table(storage, check_strays=False)["article_id"].to_pylist()) == [
        "a-001", "a-002", "a-003"]
    assert sorted(sweep_orphans(storage)) == sorted(old_keys)
    assert len(list(storage.list("articles/"))) == 1


def test_publishing_loads_no_pandas_and_readers_still_get_frames(tmp_path: Path) -> None:
    # A process of its own: this one may have loaded pandas already.
    code = """
import io, sys
import pyarrow.parquet as pq
from flows.schema import rows_to_table
rows = [{"article_id": "a1", "url": "https://x.example/1", "run_id": "r1", "title": "T",
         "authors": ["Ann"], "published_at": "2025-01-02T03:04:05+00:00", "word_count": 3}]
table = rows_to_table("articles", rows)
buf = io.BytesIO()
pq.write_table(table, buf)
assert "pandas" not in sys.modules, "publishing loaded pandas"
frame = pq.read_table(io.BytesIO(buf.getvalue())).to_pandas()
assert "pandas" in sys.modules
row = frame.loc[0]
print(row["title"], row["published_at"].isoformat(), list(row["authors"]))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["T", "2025-01-02T03:04:05+00:00", "['Ann']"]
