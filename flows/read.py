"""Reading published tables through the run manifests.

Only objects listed by a committed (``status: ok``) run manifest, or by a compaction manifest,
are read, so a run that is still writing or that crashed is never half-visible and no row is
read twice. Anything unexpected (a malformed manifest, a stray object, a missing or damaged
file) is skipped with a warning; reading never fails because of one bad object.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flows.lake import Catalog, data_prefix, day_of_key, load_catalog, parse_data_key
from flows.schema import conform, schema_for
from flows.storage import NotFound, Storage, StorageError, open_storage

log = logging.getLogger(__name__)


# Objects at least this big are read column by column when only some columns are wanted.
RANGED_MIN_BYTES = 256 * 1024
# A read that finds listed objects gone reads the manifests again this many times in all.
_READ_ATTEMPTS = 3


class StrayObjectWarning(UserWarning):
    """Something in the output root that no manifest accounts for, or that could not be read."""


def _warn(message: str) -> None:
    log.warning(message)
    warnings.warn(message, StrayObjectWarning, stacklevel=3)


def _day(value: date | datetime | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return date.fromisoformat(value[:10]).isoformat()


def read_object(
    storage: Storage,
    key: str,
    table: str,
    columns: list[str] | None = None,
    expected_bytes: int | None = None,
) -> pa.Table:
    """One data object, conformed to the current schema (missing columns as nulls).

    Some of the columns of an object of known size over :data:`RANGED_MIN_BYTES` are read
    with ranged requests (the footer, then just those columns' chunks); anything else is
    fetched whole, in one request."""
    wanted = columns if columns is not None else schema_for(table).names
    if (columns is not None and expected_bytes is not None
            and expected_bytes >= RANGED_MIN_BYTES
            and not {"text"} & set(columns)):  # text is most of a file: fetch it whole
        with storage.open_ranged(key, expected_bytes) as fh:
            pf = pq.ParquetFile(fh, pre_buffer=True)
            present = set(pf.schema_arrow.names)
            raw = pf.read(columns=[c for c in wanted if c in present], use_threads=False)
        return conform(raw, table, wanted)
    data = storage.get(key)
    if expected_bytes is not None and len(data) != expected_bytes:
        raise ValueError(f"{key} has {len(data)} bytes, its manifest says {expected_bytes}")
    pf = pq.ParquetFile(pa.BufferReader(data))
    present = set(pf.schema_arrow.names)
    raw = pf.read(columns=[c for c in wanted if c in present])
    return conform(raw, table, wanted)


def _storage(uri_or_storage: str | os.PathLike[str] | Storage) -> Storage:
    return open_storage(uri_or_storage)


def _run_filter(since: str | None, until: str | None) -> Any:
    """Skip runs by the date in their id before fetching manifests (one day of slack either
    side, since a run's dt is its start date; the manifest's dt is checked afterwards)."""
    if since is None and until is None:
        return None

    def keep(run_id: str) -> bool:
        try:
            day = date(int(run_id[0:4]), int(run_id[4:6]), int(run_id[6:8]))
        except ValueError:
            return True
        if since is not None and day < date.fromisoformat(since) - timedelta(days=1):
            return False
        return not (until is not None and day > date.fromisoformat(until) + timedelta(days=1))

    return keep


def _report(catalog: Catalog) -> None:
    for key in catalog.malformed:
        _warn(f"skipping malformed manifest {key}")


def _check_strays(storage: Storage, table: str, catalog: Catalog,
                  lo: str | None = None, hi: str | None = None) -> None:
    """Warn about objects of the days read that no manifest accounts for. A bounded range
    of up to two months lists just those days' partitions."""
    prefixes = [f"{table}/"]
    if lo is not None and hi is not None and lo <= hi:
        first, last = date.fromisoformat(lo), date.fromisoformat(hi)
        if (last - first).days <= 62:
            prefixes = [data_prefix(table, (first + timedelta(days=i)).isoformat())
                        for i in range((last - first).days + 1)]
    for prefix in prefixes:
        for key in storage.list(prefix):
            if key in catalog.live or key in catalog.superseded:
                continue
            day = day_of_key(key)
            if day is None and (lo is not None or hi is not None):
                continue  # no day: not part of a dated read
            if day is not None and ((lo is not None and day < lo)
                                    or (hi is not None and day > hi)):
                continue
            parsed = parse_data_key(key)
            hint = "a run that is still writing or crashed" if parsed else "not a data object"
            _warn(f"ignoring {key}: no committed manifest lists it ({hint})")


def read_table(
    uri_or_storage: str | os.PathLike[str] | Storage,
    table: str = "articles",
    since: date | datetime | str | None = None,
    until: date | datetime | str | None = None,
    sources: Iterable[str] | None = None,
    columns: list[str] | None = None,
    *,
    check_strays: bool = True,
    with_dt: bool = False,
) -> pa.Table:
    """Rows of ``table`` from committed runs with ``since <= dt <= until`` (both inclusive,
    either may be None), optionally only the given ``sources`` and ``columns``. The result has
    the current schema (columns added after a file was written come back as nulls);
    ``with_dt`` appends the partition date as a string column ``dt``."""
    schema_for(table)
    storage = _storage(uri_or_storage)
    lo, hi = _day(since), _day(until)
    source_set = sorted(set(sources)) if sources is not None else None
    wanted = list(columns) if columns is not None else schema_for(table).names
    read_cols = wanted if source_set is None or "source" in wanted else [*wanted, "source"]

    def load(entry: dict[str, Any]) -> pa.Table | str:
        """The entry's rows, or why they could not be read."""
        try:
            part = read_object(storage, entry["key"], table, read_cols, entry.get("bytes"))
        except NotFound:
            return "missing"
        except (StorageError, OSError, ValueError, pa.ArrowException) as exc:
            return f"unreadable ({exc})"
        if source_set is not None:
            part = part.filter(pc.is_in(part["source"], value_set=pa.array(source_set,
                                                                           pa.string())))
        part = part.select(wanted)
        if with_dt:
            part = part.append_column("dt", pa.array([entry["dt"]] * part.num_rows, pa.string()))
        return part

    for attempt in range(_READ_ATTEMPTS):
        catalog = load_catalog(storage, _run_filter(lo, hi))
        if attempt == 0:
            _report(catalog)
            if check_strays:
                _check_strays(storage, table, catalog, lo, hi)
        entries = sorted(
            (
                e for e in catalog.live.values()
                if e["table"] == table
                and (lo is None or e["dt"] >= lo)
                and (hi is None or e["dt"] <= hi)
            ),
            key=lambda e: e["key"],
        )
        # warnings.warn from worker threads is fine; pool size bounds memory and connections.
        with ThreadPoolExecutor(max_workers=8) as pool:
            loaded = list(pool.map(load, entries))
        missing = [e["key"] for e, got in zip(entries, loaded, strict=True)
                   if isinstance(got, str) and got == "missing"]
        if not missing or attempt == _READ_ATTEMPTS - 1:
            break
        # A compaction that committed after the manifests were read deletes the objects it
        # replaced: read the manifests again and take the merged objects instead.
        log.info("%d objects vanished while reading (a compaction?); reading the manifests again",
                 len(missing))
    parts = []
    for entry, got in zip(entries, loaded, strict=True):
        if isinstance(got, str):
            why = "listed in a manifest but missing" if got == "missing" else got
            _warn(f"skipping {entry['key']}: {why}")
        else:
            parts.append(got)
    if not parts:
        empty = conform(pa.table({}), table, wanted)
        if with_dt:
            empty = empty.append_column("dt", pa.array([], pa.string()))
        return empty
    return pa.concat_tables(parts)


def read_articles(uri_or_storage: str | os.PathLike[str] | Storage, **kwargs: Any) -> pa.Table:
    return read_table(uri_or_storage, "articles", **kwargs)


def read_duplicates(uri_or_storage: str | os.PathLike[str] | Storage, **kwargs: Any) -> pa.Table:
    return read_table(uri_or_storage, "duplicates", **kwargs)


def read_rejected(uri_or_storage: str | os.PathLike[str] | Storage, **kwargs: Any) -> pa.Table:
    """Fetched pages that became neither a story nor a duplicate, with ``reason`` and ``stage``."""
    return read_table(uri_or_storage, "rejected", **kwargs)


def list_runs(uri_or_storage: str | os.PathLike[str] | Storage) -> list[dict[str, Any]]:
    """Every run manifest (committed and failed), oldest first; malformed ones are skipped
    with a warning."""
    storage = _storage(uri_or_storage)
    catalog = load_catalog(storage)
    _report(catalog)
    return [catalog.runs[r] for r in sorted(catalog.runs)]


class StatsRow(NamedTuple):
    dt: str
    source: str
    stories: int
    duplicates: int


def stats(uri_or_storage: str | os.PathLike[str] | Storage,
          since: date | datetime | str | None = None,
          until: date | datetime | str | None = None) -> list[StatsRow]:
    """Per day and source: unique stories and reprints, from committed runs."""
    counts: dict[tuple[str, str], list[int]] = {}
    storage = _storage(uri_or_storage)
    for i, table in enumerate(("articles", "duplicates")):
        t = read_table(storage, table, since=since, until=until, columns=["source"],
                       check_strays=False, with_dt=True)
        for day, source in zip(t["dt"].to_pylist(), t["source"].to_pylist(), strict=True):
            counts.setdefault((day, source or ""), [0, 0])[i] += 1
    return [StatsRow(dt, src, c[0], c[1]) for (dt, src), c in sorted(counts.items())]


# --------------------------------------------------------------------------- DuckDB


def duckdb_httpfs_dir() -> tuple[str, str] | None:
    """Where the PyPI package ``duckdb-ext-httpfs`` put DuckDB's httpfs extension: the
    extension directory (for ``SET extension_directory``) and the DuckDB version it was built
    for; None when the package is not installed."""
    from importlib import metadata
    from pathlib import Path

    try:
        files = metadata.files("duckdb-ext-httpfs") or []
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.name == "httpfs.duckdb_extension":
            path = Path(str(f.locate()))  # <dir>/v1.4.4/linux_amd64/httpfs.duckdb_extension
            return str(path.parents[2]), path.parents[1].name.removeprefix("v")
    return None


def load_duckdb_httpfs(con: Any) -> None:
    """Load DuckDB's httpfs extension (``s3://`` in ``read_parquet``) into ``con`` without
    downloading it: from the ``duckdb-ext-httpfs`` package when installed, else from DuckDB's
    own extension directory. Raises RuntimeError saying why when neither has it."""
    import duckdb

    found = duckdb_httpfs_dir()
    if found is not None:
        ext_dir, built_for = found
        if built_for != duckdb.__version__:
            raise RuntimeError(
                f"duckdb-ext-httpfs holds httpfs for DuckDB {built_for}, but DuckDB "
                f"{duckdb.__version__} is installed; install duckdb=={built_for}"
            )
        con.execute("SET autoinstall_known_extensions = false")
        con.execute("SET extension_directory = ?", [ext_dir])
    try:
        con.execute("LOAD httpfs")
    except duckdb.Error as exc:
        raise RuntimeError(
            f"DuckDB {duckdb.__version__} has no httpfs extension here and none can be "
            f"downloaded; pip install duckdb-ext-httpfs (with the duckdb it pins): {exc}"
        ) from exc
