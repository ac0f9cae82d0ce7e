"""The published ``rejected`` table and the columns ``duplicates`` gained in schema 2."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import flows.schema as schema
from flows.cli import main as cli_main
from flows.publish import _md5, manifest_key, publish_run
from flows.read import read_duplicates, read_rejected
from flows.storage import LocalStorage
from tests.conftest import data_path, load_rows

STARTED = datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC)
RUN = "20250301T090000Z-a1a1a1"
OLD_RUN = "20240101T000000Z-1e1e1e"
DROPS = [
    {"url": "https://north.example/?tag=bridges", "final_url": "https://north.example/?tag=bridges",
     "domain": "north.example", "source": "north", "reason": "listing_url", "stage": "crawl",
     "fetched_at": "2025-03-01T09:01:00+00:00"},
    {"url": "https://north.example/?p=77", "final_url": "https://north.example/?p=77",
     "domain": "north.example", "source": "north", "reason": "too_short", "stage": "clean",
     "title": "Notice", "word_count": 12, "canonical_url": "https://north.example/?p=77",
     "fetched_at": "2025-03-01T09:02:00+00:00"},
]


def test_duplicates_carry_the_article_columns_and_why(tmp_path):
    storage = LocalStorage(tmp_path / "lake")
    row = {**load_rows("duplicates")[0], "authors": ["Ada Reyes"], "language": "en",
           "word_count": 11, "site_name": "South Post", "reason": "near_duplicate"}
    publish_run(storage, RUN, STARTED, load_rows("articles"), [row], {}, {})
    (got,) = read_duplicates(storage).to_pylist()
    assert {k: got[k] for k in ("authors", "language", "word_count", "site_name", "reason")} == {
        "authors": ["Ada Reyes"], "language": "en", "word_count": 11, "site_name": "South Post",
        "reason": "near_duplicate"}
    # Every articles column is a duplicates column too, as the README says.
    assert set(schema.ARTICLES_SCHEMA.names) <= set(schema.DUPLICATES_SCHEMA.names)


def test_a_duplicates_file_of_schema_1_reads_with_nulls(tmp_path):
    storage = LocalStorage(tmp_path / "lake")
    data = data_path("publish", "duplicates-schema1.parquet").read_bytes()
    key = f"duplicates/dt=2024-01-01/{OLD_RUN}-0.parquet"
    storage.put(key, data)
    storage.put(manifest_key(OLD_RUN), json.dumps({
        "run_id": OLD_RUN, "status": "ok", "dt": "2024-01-01", "schema_version": 1,
        "objects": [{"key": key, "table": "duplicates", "dt": "2024-01-01", "rows": 1,
                     "bytes": len(data), "md5": _md5(data)}],
    }).encode())
    (old,) = read_duplicates(storage).to_pylist()
    assert old["duplicate_of"] == "a-001"
    assert [old[c] for c in ("authors", "language", "word_count", "site_name", "reason")] == [
        None] * 5


def test_rejected_rows_are_published_and_listed(tmp_path, capsys):
    storage = LocalStorage(tmp_path / "lake")
    manifest = publish_run(storage, RUN, STARTED, load_rows("articles"), [], {}, {},
                           rejected=DROPS)
    assert manifest["rows"]["rejected"] == 2
    assert manifest["schema_version"] == schema.SCHEMA_VERSION >= 2
    rows = read_rejected(storage).to_pylist()
    assert [(r["url"], r["reason"], r["stage"], r["run_id"]) for r in rows] == [
        ("https://north.example/?tag=bridges", "listing_url", "crawl", RUN),
        ("https://north.example/?p=77", "too_short", "clean", RUN),
    ]
    assert rows[1]["word_count"] == 12 and rows[0]["title"] is None
    assert cli_main(["read", str(tmp_path / "lake"), "--table", "rejected",
                     "--columns", "url,reason,stage"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == [{"url": r["url"], "reason": r["reason"], "stage": r["stage"]}
                       for r in rows]
