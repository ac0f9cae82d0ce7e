"""Readers running while a run publishes or a compaction rewrites a day, on a temp dir and real
SeaweedFS: a manifest reader sees whole runs only, never a row twice, never a row lost.

Reader and writer use separate storage objects (separate S3 clients), as separate processes
would. The writer's requests are slowed a little so that the reader's loop overlaps them.
"""

from __future__ import annotations

import threading
import time
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import flows.publish as publish
from flows.publish import compact, publish_run, sweep_orphans
from flows.read import read_table
from flows.storage import LocalStorage, Storage, open_storage
from tests.conftest import load_rows

STARTED = datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC)


@pytest.fixture(params=["local", "s3"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "lake")
    request.getfixturevalue("s3_env")
    return str(request.getfixturevalue("s3_prefix"))


def stories(prefix: str, n: int, source: str = "north") -> list[dict[str, Any]]:
    base = load_rows("articles")[0]
    return [{**base, "article_id": f"{prefix}-{i:04d}", "url": f"https://n.example/{prefix}/{i}",
             "source": source} for i in range(n)]


def slowed(storage: Storage, seconds: float) -> Storage:
    """The writer's storage, each write taking ``seconds`` longer (deletes stay quick: a
    compaction's deletes then follow its commit while readers are mid-read)."""
    for name in ("put", "put_if_absent", "put_if_match"):
        real = getattr(storage, name)

        def slow(*args: Any, _real: Any = real) -> Any:
            time.sleep(seconds)
            return _real(*args)

        setattr(storage, name, slow)
    return storage


class Reader(threading.Thread):
    """Reads the articles table over and over until told to stop; keeps every result."""

    def __init__(self, root: str, fetch_delay: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.storage = open_storage(root)
        if fetch_delay:
            # A slower reader (a big object, a far bucket): more time between reading the
            # manifests and fetching the objects they list.
            real_get = self.storage.get

            def get(key: str) -> bytes:
                if not key.endswith(".json"):
                    time.sleep(fetch_delay)
                return real_get(key)

            self.storage.get = get  # type: ignore[method-assign]
        self.stop = threading.Event()
        self.results: list[list[str]] = []
        self.problems: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    table = read_table(self.storage, "articles", columns=["article_id"])
                # Strays (objects written, manifest not yet) are expected; a listed object
                # that could not be read is not.
                self.problems += [str(w.message) for w in caught
                                  if "skipping" in str(w.message)]
                self.results.append(table["article_id"].to_pylist())
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def test_reader_during_publish_sees_whole_runs_only(
    root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publish, "MAX_ROWS_PER_FILE", 60)  # the run writes several objects
    writer = open_storage(root)
    first = stories("a", 40)
    publish_run(writer, "20250301T090000Z-aaaaaa", STARTED, first, [], {}, {})
    before = sorted(r["article_id"] for r in first)
    second = stories("b", 300, source="south")
    after = sorted(before + [r["article_id"] for r in second])

    reader = Reader(root)
    reader.start()
    while not reader.results:  # the reader is going before the publish starts
        time.sleep(0.01)
    publish_run(slowed(open_storage(root), 0.05), "20250301T100000Z-bbbbbb",
                STARTED + timedelta(hours=1), second, load_rows("duplicates"), {}, {})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sorted(reader.results[-1]) != after:
        time.sleep(0.01)
    reader.stop.set()
    reader.join(timeout=60)
    assert reader.error is None, reader.error

    seen = [sorted(ids) for ids in reader.results]
    assert all(ids in (before, after) for ids in seen), {len(ids) for ids in seen}
    assert seen[0] == before and seen[-1] == after
    during = sum(ids == before for ids in seen)
    print(f"{len(seen)} reads: {during} saw the run before it committed, "
          f"{len(seen) - during} after")
    assert during >= 2 and not reader.problems


def test_reader_during_compaction_sees_every_row_once(
    root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = open_storage(root)
    expected: list[str] = []
    for i in range(6):  # six runs of one day, compacted into one file
        rows = stories(f"r{i}", 25, source=("north", "south")[i % 2])
        expected += [r["article_id"] for r in rows]
        when = STARTED + timedelta(hours=i)
        publish_run(writer, f"{when:%Y%m%dT%H%M%SZ}-cc00{i:02d}", when, rows, [], {}, {})
    expected.sort()

    reader = Reader(root, fetch_delay=0.02)
    reader.start()
    while not reader.results:
        time.sleep(0.01)
    done = compact(slowed(open_storage(root), 0.05), before=date(2025, 3, 2))
    time.sleep(0.2)  # a few reads after the compaction too
    reader.stop.set()
    reader.join(timeout=60)
    assert reader.error is None, reader.error
    assert len(done) == 1 and len(done[0]["replaces"]) == 6

    assert all(sorted(ids) == expected for ids in reader.results), \
        sorted({len(ids) for ids in reader.results})
    assert not reader.problems, reader.problems[:3]
    print(f"{len(reader.results)} reads during and after the compaction, all complete")
    assert len(reader.results) >= 3
    assert sweep_orphans(writer, older_than=timedelta(0)) == []


def test_read_that_meets_a_compacted_object_reads_the_manifests_again(root: str) -> None:
    """The reader has read the manifests; a compaction commits and deletes the objects it
    listed before the reader fetches them. The read must still return every row."""
    writer = open_storage(root)
    expected = []
    for i in range(3):
        rows = stories(f"k{i}", 5)
        expected += [r["article_id"] for r in rows]
        when = STARTED + timedelta(hours=i)
        publish_run(writer, f"{when:%Y%m%dT%H%M%SZ}-dd00{i:02d}", when, rows, [], {}, {})

    reader_store = open_storage(root)
    real_get = reader_store.get
    compacted: list[dict[str, Any]] = []
    once = threading.Lock()  # the reader fetches objects from several threads

    def get(key: str) -> bytes:
        with once:
            if key.startswith("articles/") and not compacted:
                # Between the reader's manifest read and its first object fetch.
                compacted.extend(compact(writer, before=date(2025, 3, 2)))
        return real_get(key)

    reader_store.get = get  # type: ignore[method-assign]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = read_table(reader_store, columns=["article_id"], check_strays=False)
    assert compacted and sorted(got["article_id"].to_pylist()) == sorted(expected)


def test_local_reader_sees_no_torn_file_while_a_run_writes(tmp_path: Path) -> None:
    """DuckDB-style glob readers of a local root see whole files only (temp file + rename)."""
    import duckdb

    store = LocalStorage(tmp_path)
    publish_run(store, "20250301T090000Z-aaaaaa", STARTED, stories("a", 50), [], {}, {})
    stop = threading.Event()
    errors: list[str] = []
    counts: set[int] = set()

    def glob_reader() -> None:
        con = duckdb.connect()
        while not stop.is_set():
            try:
                counts.add(con.execute(
                    f"select count(*) from read_parquet('{tmp_path}/articles/*/*.parquet')"
                ).fetchall()[0][0])
            except duckdb.Error as exc:
                errors.append(str(exc))

    thread = threading.Thread(target=glob_reader, daemon=True)
    thread.start()
    for i in range(5):
        when = STARTED + timedelta(hours=i + 1)
        publish_run(store, f"{when:%Y%m%dT%H%M%SZ}-bb00{i:02d}", when, stories(f"b{i}", 50),
                    [], {}, {})
    stop.set()
    thread.join(timeout=60)
    assert not errors, errors[:3]
    assert counts <= {50 * n for n in range(1, 7)}
