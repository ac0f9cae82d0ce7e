"""Reading through manifests, schema evolution, damaged inputs, and glob readers."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

import flows.schema as schema
from flows.publish import _md5, encode_parquet, manifest_key, publish_run, sweep_orphans
from flows.read import StrayObjectWarning, list_runs, read_articles, read_duplicates, read_table
from flows.read import stats as lake_stats
from flows.schema import rows_to_table
from flows.storage import LocalStorage, Storage, open_storage
from tests.conftest import data_path, load_rows

STARTED = datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC)
OLD_RUN = "20240101T000000Z-0f0f0f"


def install_schema0_run(storage: Storage) -> None:
    """A run published by the first schema (fewer columns, other int and time units)."""
    data = data_path("publish", "articles-schema0.parquet").read_bytes()
    key = f"articles/dt=2024-01-01/{OLD_RUN}-0.parquet"
    storage.put(key, data)
    manifest = {
        "run_id": OLD_RUN, "status": "ok", "dt": "2024-01-01", "schema_version": 0,
        "objects": [{"key": key, "table": "articles", "dt": "2024-01-01", "rows": 3,
                     "bytes": len(data), "md5": _md5(data)}],
    }
    storage.put(manifest_key(OLD_RUN), json.dumps(manifest).encode())


def test_file_of_an_older_schema_reads_with_nulls(storage: Storage) -> None:
    install_schema0_run(storage)
    publish_run(storage, "20250301T090000Z-a1a1a1", STARTED, load_rows("articles"), [], {}, {})
    got = read_table(storage)
    assert got.schema.names == schema.ARTICLES_SCHEMA.names
    old = [r for r in got.to_pylist() if r["run_id"] == OLD_RUN]
    assert len(old) == 3 and got.num_rows == 6
    assert all(r["site_name"] is None and r["extractor"] is None and r["tags"] is None
               for r in old)
    assert {r["word_count"] for r in old} == {9, 10}
    assert old[0]["fetched_at"].tzinfo is not None


def test_adding_a_column_keeps_published_files_readable(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_run(storage, "20250301T090000Z-a1a1a1", STARTED, load_rows("articles"), [], {}, {})
    grown = schema.ARTICLES_SCHEMA.append(pa.field("paywalled", pa.bool_()))
    monkeypatch.setitem(schema.SCHEMAS, "articles", grown)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    rows = [{**load_rows("articles")[0], "article_id": "a-100", "paywalled": True}]
    publish_run(storage, "20250302T090000Z-b2b2b2", STARTED + timedelta(days=1), rows, [], {}, {})
    got = {r["article_id"]: r for r in read_table(storage).to_pylist()}
    assert got["a-100"]["paywalled"] is True
    assert got["a-001"]["paywalled"] is None  # written before the column existed
    assert read_table(storage, columns=["article_id", "paywalled"]).num_rows == 4


def test_malformed_manifests_and_stray_objects_are_skipped_with_warnings(
    storage: Storage,
) -> None:
    good = "20250301T090000Z-a1a1a1"
    publish_run(storage, good, STARTED, load_rows("articles"), load_rows("duplicates"), {}, {})
    storage.put("runs/20250301T100000Z-bad000.json", b"{not json")
    storage.put("runs/20250301T110000Z-bad111.json", json.dumps({"run_id": "other"}).encode())
    storage.put("runs/20250301T120000Z-bad222.json",
                json.dumps({"run_id": "20250301T120000Z-bad222", "status": "ok",
                            "objects": [{"key": "../../etc/passwd", "table": "articles"}]}
                           ).encode())
    storage.put("articles/dt=2025-03-01/notes.txt", b"left by hand")
    storage.put("articles/dt=2025-03-01/20250301T130000Z-abcdef-0.parquet", b"junk")
    # A committed run whose file disappeared, and one whose file was replaced by junk.
    lost = "20250301T140000Z-1055ed"
    publish_run(storage, lost, STARTED, load_rows("articles")[:1], [], {}, {})
    storage.delete(f"articles/dt=2025-03-01/{lost}-0.parquet")
    broken = "20250301T150000Z-b0b0b0"
    publish_run(storage, broken, STARTED, load_rows("articles")[:2], [], {}, {})
    storage.put(f"articles/dt=2025-03-01/{broken}-0.parquet", b"PAR1 truncated")

    with pytest.warns(StrayObjectWarning) as caught:
        got = read_articles(storage)
    text = "\n".join(str(w.message) for w in caught)
    for expected in ["bad000", "bad111", "bad222", "notes.txt", "abcdef", lost, broken]:
        assert expected in text
    assert got["run_id"].unique().to_pylist() == [good] and got.num_rows == 3
    with pytest.warns(StrayObjectWarning):
        assert read_duplicates(storage).num_rows == 1
        runs = list_runs(storage)
    assert [r["run_id"] for r in runs] == [good, lost, broken]


def test_stats_per_day_and_source(storage: Storage) -> None:
    publish_run(storage, "20250301T090000Z-a1a1a1", STARTED, load_rows("articles"),
                load_rows("duplicates"), {}, {})
    publish_run(storage, "20250302T090000Z-b2b2b2", STARTED + timedelta(days=1),
                load_rows("articles")[2:], [], {}, {})
    assert lake_stats(storage) == [
        ("2025-03-01", "north", 2, 0),
        ("2025-03-01", "south", 1, 1),
        ("2025-03-02", "south", 1, 0),
    ]
    assert lake_stats(storage, since="2025-03-02") == [("2025-03-02", "south", 1, 0)]


def test_reader_during_a_publish_sees_all_or_nothing(tmp_path: Path) -> None:
    """Between the data objects and the manifest a reader sees nothing of the run."""
    store = LocalStorage(tmp_path)
    seen: list[int] = []
    real_put_if_absent = store.put_if_absent

    def observe(key: str, data: bytes) -> bool:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seen.append(read_table(store).num_rows)
        return real_put_if_absent(key, data)

    store.put_if_absent = observe  # type: ignore[method-assign]
    publish_run(store, "20250301T090000Z-a1a1a1", STARTED, load_rows("articles"),
                load_rows("duplicates"), {}, {})
    assert seen == [0, 0, 0]  # before each data object and before the manifest
    assert read_table(store).num_rows == 3


def test_duckdb_glob_over_a_local_root_sees_rows_once_after_sweep(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    publish_run(store, "20250301T090000Z-a1a1a1", STARTED, load_rows("articles"), [], {}, {})
    crashed = "20250301T100000Z-c2c2c2"
    table = rows_to_table("articles", [{**r, "run_id": crashed} for r in load_rows("articles")])
    store.put(f"articles/dt=2025-03-01/{crashed}-0.parquet", encode_parquet(table))
    query = (f"select dt::varchar, count(*) n, count(distinct article_id) ids from read_parquet("
             f"'{tmp_path}/articles/*/*.parquet', hive_partitioning = true) group by dt")
    assert duckdb.sql(query).fetchall() == [("2025-03-01", 6, 3)]  # why the sweep exists
    sweep_orphans(store, older_than=timedelta(0))
    assert duckdb.sql(query).fetchall() == [("2025-03-01", 3, 3)]


def _published_for_glob(s3_prefix: str) -> tuple[Storage, str, str]:
    store = open_storage(s3_prefix)
    publish_run(store, "20250301T090000Z-a1a1a1", STARTED, load_rows("articles"),
                load_rows("duplicates"), {}, {})
    publish_run(store, "20250302T090000Z-b2b2b2", STARTED + timedelta(days=1),
                load_rows("articles")[:1], [], {}, {})
    bucket, _, prefix = s3_prefix[len("s3://"):].partition("/")
    return store, bucket, prefix


def test_duckdb_over_pyarrow_s3_dataset_returns_published_rows(s3_env, s3_prefix: str) -> None:
    """DuckDB's own S3 reader (httpfs) is a download this machine cannot make, so pyarrow's
    S3 filesystem reads the bucket and DuckDB queries the Arrow dataset: the same glob of
    ``articles/dt=*/*.parquet`` with hive partitions that external readers use."""
    import pyarrow.dataset as ds
    from pyarrow import fs

    _, bucket, prefix = _published_for_glob(s3_prefix)
    s3fs = fs.S3FileSystem(
        access_key=s3_env.access_key, secret_key=s3_env.secret_key, region="us-east-1",
        endpoint_override=s3_env.endpoint.removeprefix("http://"), scheme="http",
    )
    con = duckdb.connect()
    con.register("articles", ds.dataset(f"{bucket}/{prefix}/articles", filesystem=s3fs,
                                        format="parquet", partitioning="hive"))
    rows = con.sql(
        "select dt::varchar, source, count(*) from articles group by all order by all"
    ).fetchall()
    assert rows == [("2025-03-01", "north", 2), ("2025-03-01", "south", 1),
                    ("2025-03-02", "north", 1)]
    titles = con.sql("select title from articles where article_id = 'a-003'").fetchall()
    assert titles == [("Harbour festival draws crowds",)]


def test_duckdb_httpfs_reads_the_bucket(s3_env, s3_prefix: str) -> None:
    """DuckDB's own S3 reader, the query the README shows. httpfs comes from the PyPI package
    duckdb-ext-httpfs (a build for one DuckDB version, loaded without any download); when
    that package is installed this test must pass, it is skipped only without it."""
    import flows.read as read

    con = duckdb.connect()
    if read.duckdb_httpfs_dir() is None:
        try:
            con.execute("LOAD httpfs")
        except duckdb.Error as exc:
            pytest.skip(
                f"DuckDB {duckdb.__version__}: httpfs is not installed and cannot be "
                "downloaded here, and the PyPI package duckdb-ext-httpfs (newest build: "
                f"DuckDB 1.4.4) is not installed: {str(exc).splitlines()[0]}"
            )
    else:
        read.load_duckdb_httpfs(con)
    _, bucket, prefix = _published_for_glob(s3_prefix)
    host = s3_env.endpoint.removeprefix("http://")
    con.execute(
        f"CREATE SECRET (TYPE s3, KEY_ID '{s3_env.access_key}', SECRET '{s3_env.secret_key}', "
        f"ENDPOINT '{host}', URL_STYLE 'path', USE_SSL false, REGION 'us-east-1')"
    )
    glob = f"s3://{bucket}/{prefix}/articles/*/*.parquet"
    rows = con.execute(
        f"select dt, count(*) from read_parquet('{glob}', hive_partitioning = true) "
        f"group by dt order by dt"
    ).fetchall()
    assert [(str(d), n) for d, n in rows] == [("2025-03-01", 3), ("2025-03-02", 1)]
    rows = con.execute(
        f"select source, count(*) from read_parquet('{glob}', hive_partitioning = true) "
        f"group by source order by source"
    ).fetchall()
    assert rows == [("north", 3), ("south", 1)]
    titles = con.execute(
        f"select title from read_parquet('{glob}') where article_id = 'a-003'"
    ).fetchall()
    assert titles == [("Harbour festival draws crowds",)]


def test_a_dated_read_warns_only_about_strays_of_its_days(storage: Storage) -> None:
    publish_run(storage, "20250301T090000Z-a1a1a1", STARTED, load_rows("articles"), [], {}, {})
    publish_run(storage, "20250310T090000Z-b2b2b2", STARTED + timedelta(days=9),
                load_rows("articles")[:1], [], {}, {})
    storage.put("articles/dt=2025-03-01/20250301T100000Z-c3c3c3-0.parquet", b"crashed run")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing stray on 2025-03-10
        assert read_table(storage, since="2025-03-10", until="2025-03-10").num_rows == 1
        assert read_table(storage, since="2025-03-05").num_rows == 1
    with pytest.warns(StrayObjectWarning, match="c3c3c3"):
        assert read_table(storage, since="2025-03-01", until="2025-03-01").num_rows == 3
    with pytest.warns(StrayObjectWarning, match="c3c3c3"):
        assert read_table(storage).num_rows == 4


def _junk_values(rng: Any) -> list[Any]:
    return [None, 0, -1, 2**70, 1.5, "", "ok", "failed", [], {}, [1, 2], {"a": 1}, True,
            "../../etc/passwd", "articles/dt=2025-03-01/x.parquet", "\u0000", "é" * 50,
            rng.random()]


def _fuzzed_manifest(rng: Any, run_id: str, good_key: str) -> Any:
    """A manifest of a good run, damaged in one or more random ways."""
    junk = _junk_values(rng)
    obj: dict[str, Any] = {"key": f"articles/dt=2025-03-02/{run_id}-0.parquet",
                           "table": "articles", "dt": "2025-03-02", "rows": 3, "bytes": 10}
    doc: dict[str, Any] = {"run_id": run_id, "status": "ok", "dt": "2025-03-02",
                           "objects": [obj]}
    for _ in range(rng.randint(1, 3)):
        target = rng.choice(["doc", "obj", "whole"])
        if target == "whole":
            return rng.choice([*junk, "not json at all", b"\xff\xfe"])
        where = doc if target == "doc" else obj
        field = rng.choice(sorted(where) + ["extra"])
        if rng.random() < 0.2:
            where.pop(field, None)
        else:
            where[field] = rng.choice([*junk, good_key])
    return doc


def test_fuzzed_manifests_and_strays_never_crash_a_read_nor_show_as_data(
    tmp_path: Path,
) -> None:
    import random

    rng = random.Random(20250301)
    store = LocalStorage(tmp_path)
    good = "20250301T090000Z-a1a1a1"
    manifest = publish_run(store, good, STARTED, load_rows("articles"),
                           load_rows("duplicates"), {}, {})
    good_key = manifest["objects"][0]["key"]
    for i in range(300):
        run_id = f"20250302T{i // 60:02d}{i % 60:02d}00Z-{i:06x}"
        doc = _fuzzed_manifest(rng, run_id, good_key)
        body = doc if isinstance(doc, bytes) else json.dumps(doc, default=str).encode()
        store.put(manifest_key(run_id), body)
        if rng.random() < 0.3:  # a stray object, parquet or not, that no manifest lists
            stray_run = f"20250302T{i // 60:02d}{i % 60:02d}01Z-{i:06x}"
            data = rng.choice([b"", b"PAR1", encode_parquet(rows_to_table("articles", [
                {**load_rows("articles")[0], "article_id": f"stray-{i}", "run_id": stray_run}
            ]))])
            store.put(f"articles/dt=2025-03-02/{stray_run}-0.parquet", data)
    store.put("articles/dt=2025-03-02/notes.txt", b"x")
    store.put("articles/README", b"x")
    store.put("runs/README.md", b"# not a manifest")

    for kwargs in ({}, {"since": "2025-03-02"}, {"until": "2025-03-01"},
                   {"columns": ["article_id", "source"]}, {"sources": ["north"]}):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = read_table(store, **kwargs)  # type: ignore[arg-type]
            dups = read_table(store, "duplicates", **kwargs)  # type: ignore[arg-type]
        ids = got["article_id"].to_pylist()
        assert not [i for i in ids if i.startswith("stray-")]
        assert len(ids) == len(set(ids)), kwargs  # the good run's rows at most once
        assert set(ids) <= {"a-001", "a-002", "a-003"}
        assert dups.num_rows <= 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert sorted(read_table(store)["article_id"].to_pylist()) == ["a-001", "a-002", "a-003"]
        runs = list_runs(store)
        assert good in [r["run_id"] for r in runs]
        lake_stats(store)
