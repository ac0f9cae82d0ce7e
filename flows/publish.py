"""Publishing a run: Parquet data objects first, the run manifest last.

The manifest ``runs/<run_id>.json`` is the commit point. Readers that go through manifests
(:mod:`flows.read`) see a run completely or not at all. Readers that glob the data directory
(DuckDB ``read_parquet('…/articles/*/*.parquet')``, Spark, Athena) also see objects of runs
that are in flight or crashed; :func:`sweep_orphans` removes the crashed ones, and the run lock
(:class:`flows.state.RunLock`) keeps a second run from writing at the same time.

Layout under the output root::

    articles/dt=YYYY-MM-DD/<run_id>-<n>.parquet
    duplicates/dt=YYYY-MM-DD/<run_id>-<n>.parquet
    rejected/dt=YYYY-MM-DD/<run_id>-<n>.parquet
    runs/<run_id>.json
    compactions/<compaction_id>.json      (see :func:`compact`)
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import platform
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from flows.lake import (
    COMPACTIONS_PREFIX,
    LOCK_KEY,
    RUNS_PREFIX,
    check_run_id,
    compaction_key,
    data_key,
    data_prefix,
    load_catalog,
    load_json,
    manifest_key,
    new_compaction_id,
    parse_data_key,
    run_id_of_manifest,
    run_started,
)
from flows.read import read_object
from flows.schema import SCHEMA_VERSION, SORT_KEYS, TABLES, rows_to_table
from flows.storage import NotFound, Storage, StorageError, crash_point

log = logging.getLogger(__name__)

# A row group of this many rows is a few MB of text: big enough for scans, small enough that
# readers filtering on ``source`` skip most of a file.
ROW_GROUP_ROWS = 20_000
# A run's partition is split into several files only past these sizes.
MAX_ROWS_PER_FILE = 500_000
MAX_BYTES_PER_FILE = 512 * 1024 * 1024  # in-memory Arrow size, before compression
# Crashed runs' objects younger than this are left alone: they may belong to a run that is
# still writing. Longer than any publish takes.
DEFAULT_ORPHAN_AGE = timedelta(hours=6)


class PublishConflict(RuntimeError):
    """Another writer committed the same run with different content."""


def _utc(value: datetime | str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def software_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for dist in ("newsdedup", "pyarrow", "boto3", "trafilatura", "datasketch", "scrapy",
                 "prefect"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


def encode_parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(
        table,
        buf,
        compression="zstd",
        row_group_size=ROW_GROUP_ROWS,
        use_dictionary=["source", "domain", "language", "run_id", "extractor", "site_name",
                        "section", "credited_source"],
        write_statistics=True,
        coerce_timestamps="us",
        allow_truncated_timestamps=True,
    )
    return buf.getvalue()


def split_table(table: pa.Table, max_rows: int | None = None,
                max_bytes: int | None = None) -> list[pa.Table]:
    if table.num_rows == 0:
        return []
    max_rows = max_rows or MAX_ROWS_PER_FILE
    max_bytes = max_bytes or MAX_BYTES_PER_FILE
    per_file = max_rows
    if table.nbytes > max_bytes:
        per_file = min(per_file, max(1, table.num_rows * max_bytes // table.nbytes))
    return [table.slice(i, per_file) for i in range(0, table.num_rows, per_file)]


def _sorted(table: pa.Table, name: str) -> pa.Table:
    return table.sort_by([(k, "ascending") for k in SORT_KEYS[name]])


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _dump(manifest: Mapping[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n").encode()


def read_manifest(storage: Storage, run_id: str) -> tuple[dict[str, Any], str] | None:
    """The run's manifest and its etag, None when absent; raises ValueError when malformed."""
    try:
        body, etag = storage.get_with_etag(manifest_key(run_id))
    except NotFound:
        return None
    manifest = json.loads(body)
    if not isinstance(manifest, dict) or manifest.get("run_id") != run_id:
        raise ValueError(f"{manifest_key(run_id)} is not a manifest of run {run_id}")
    return manifest, etag


def _put_data(storage: Storage, key: str, data: bytes) -> None:
    """Write a data object of a run that has no committed manifest yet."""
    if storage.put_if_absent(key, data):
        return
    if storage.get(key) == data:
        return  # an earlier attempt (or a retried request) already stored these very bytes
    # Leftover of a crashed attempt of this run with other rows. It was never referenced by a
    # manifest, so no manifest reader has seen it; replace it.
    log.warning("replacing unreferenced %s left by a crashed attempt", key)
    storage.delete(key)
    if not storage.put_if_absent(key, data) and storage.get(key) != data:
        raise PublishConflict(f"{storage.url_for(key)} is being written by another publisher")


def recent_source_counts(storage: Storage, runs: int = 5) -> dict[str, list[int]]:
    """Per source, the pages it published (stories plus duplicates) in each of the last
    ``runs`` committed runs that crawled it, newest first: the history that bounds how many
    link-found pages a run may take from it (:func:`flows.stages.link_article_caps`)."""
    keys = sorted((k for k in storage.list(RUNS_PREFIX) if k.endswith(".json")), reverse=True)
    counts: dict[str, list[int]] = {}
    found = 0
    for key in keys[: 4 * runs]:  # failed runs in between are skipped, within a bound
        doc = load_json(storage, key)
        if doc is None or doc.get("status") != "ok":
            continue
        sources = (doc.get("counts") or {}).get("sources") or {}
        for name, source in sources.items() if isinstance(sources, dict) else ():
            if isinstance(source, dict) and source.get("ok", True):
                published = int(source.get("stories") or 0) + int(source.get("duplicates") or 0)
                counts.setdefault(name, []).append(published)
        found += 1
        if found >= runs:
            break
    return counts


def publish_run(
    storage: Storage,
    run_id: str,
    started_at: datetime | str | None,
    articles: Iterable[Mapping[str, Any]],
    duplicates: Iterable[Mapping[str, Any]],
    counts: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    *,
    ended_at: datetime | None = None,
    rejected: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Write the run's rows as Parquet, then its manifest; return the manifest.

    ``rejected`` holds the fetched pages that became neither a story nor a duplicate.

    Idempotent: if the run already has a committed (``ok``) manifest nothing is written and that
    manifest is returned, so a retried task cannot publish a run twice. Objects left by a
    crashed attempt of the same run are reused when byte-equal, else replaced (no manifest
    ever referenced them). A ``failed`` manifest of the run is superseded by this one.
    Rows missing ``run_id`` get this run's id.
    """
    check_run_id(run_id)
    started = _utc(started_at) if started_at is not None else run_started(run_id)
    dt = started.date().isoformat()

    existing = read_manifest(storage, run_id)
    if existing is not None and existing[0].get("status") == "ok":
        log.info("run %s is already published; nothing to do", run_id)
        return existing[0]

    plan: list[tuple[str, str, bytes, int]] = []  # key, table, bytes, rows
    for name, rows in (("articles", articles), ("duplicates", duplicates),
                       ("rejected", rejected)):
        table = rows_to_table(name, ({**r, "run_id": r.get("run_id") or run_id} for r in rows))
        for n, part in enumerate(split_table(_sorted(table, name))):
            plan.append((data_key(name, dt, run_id, n), name, encode_parquet(part), part.num_rows))

    planned = {key for key, *_ in plan}
    for name in TABLES:
        for info in storage.list_info(data_prefix(name, dt, run_id)):
            if info.key not in planned:
                log.warning("deleting unreferenced %s left by a crashed attempt", info.key)
                storage.delete(info.key)

    objects = []
    for key, name, data, nrows in plan:
        _put_data(storage, key, data)
        objects.append({"key": key, "table": name, "dt": dt, "rows": nrows,
                        "bytes": len(data), "md5": _md5(data)})

    manifest: dict[str, Any] = {
        "run_id": run_id,
        "status": "ok",
        "dt": dt,
        "started_at": started.isoformat(),
        "ended_at": _utc(ended_at).isoformat(),
        "schema_version": SCHEMA_VERSION,
        "versions": software_versions(),
        "counts": dict(counts or {}),
        "rows": {name: sum(o["rows"] for o in objects if o["table"] == name) for name in TABLES},
        "objects": objects,
        "extra": dict(extra or {}),
    }
    crash_point("after-data")  # data objects written, no manifest: the run is invisible
    _commit_manifest(storage, run_id, manifest, existing[1] if existing else None)
    return manifest


def _commit_manifest(storage: Storage, run_id: str, manifest: dict[str, Any],
                     replace_etag: str | None) -> None:
    key = manifest_key(run_id)
    body = _dump(manifest)
    if replace_etag is None:
        done = storage.put_if_absent(key, body)
    else:
        done = storage.put_if_match(key, body, replace_etag)
    if done:
        return
    try:
        current = storage.get(key)
    except NotFound:
        current = b""
    if current == body:
        return  # our own write, answered twice by a retried request
    raise PublishConflict(
        f"{storage.url_for(key)} was committed by another writer while this run was publishing"
    )


def write_failed_manifest(
    storage: Storage,
    run_id: str,
    started_at: datetime | str | None,
    error: str | BaseException,
    counts: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Record a run as failed, so it shows up as such in :func:`flows.read.list_runs`.

    Lists no objects: whatever data the run wrote stays invisible to readers and is removed by
    :func:`sweep_orphans`. Never replaces an existing manifest (a run that got as far as
    committing stays committed); returns whichever manifest is in place.
    """
    check_run_id(run_id)
    started = _utc(started_at) if started_at is not None else run_started(run_id)
    manifest: dict[str, Any] = {
        "run_id": run_id,
        "status": "failed",
        "dt": started.date().isoformat(),
        "started_at": started.isoformat(),
        "ended_at": datetime.now(UTC).isoformat(),
        "schema_version": SCHEMA_VERSION,
        "versions": software_versions(),
        "counts": dict(counts or {}),
        "rows": {name: 0 for name in TABLES},
        "objects": [],
        "error": f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error,
        "extra": dict(extra or {}),
    }
    if storage.put_if_absent(manifest_key(run_id), _dump(manifest)):
        return manifest
    found = read_manifest(storage, run_id)
    return found[0] if found else manifest


# --------------------------------------------------------------------------- recovery


def dead_runs_from_lock(storage: Storage) -> set[str]:
    """Runs known to have died: the run lock records the holder it took over from when that
    holder's process was gone (same machine, pid no longer running). Such a run can no longer
    be writing, so its unreferenced objects are orphans whatever their age."""
    doc = load_json(storage, LOCK_KEY)
    took = doc.get("took_over") if doc is not None else None
    if isinstance(took, dict) and took.get("reason") == "holder-gone":
        owner = took.get("owner")
        if isinstance(owner, str) and owner:
            return {owner}
    return set()


def sweep_orphans(
    storage: Storage,
    older_than: timedelta = DEFAULT_ORPHAN_AGE,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    dead_runs: Iterable[str] | None = None,
) -> list[str]:
    """Delete data objects that no committed manifest references; return their keys.

    Why: a run that crashed after writing Parquet but before its manifest leaves objects that
    manifest readers ignore, but that readers globbing ``articles/*/*.parquet`` (DuckDB, Spark,
    Athena) would count, and a re-run would then show its rows twice to them. Call this at
    the start of every run, under the run lock, before publishing.

    Objects younger than ``older_than`` are kept: they may belong to a run that is writing
    right now (a process that does not hold the lock, or one whose lock we took over as
    stale). Objects that a compaction superseded are deleted whatever their age, finishing a
    compaction that stopped before its clean-up, and so are those of ``dead_runs``: runs
    known to have died (by default the one the run lock was taken over from, see
    :func:`dead_runs_from_lock`), so that a rerun straight after a crash leaves glob readers
    no second copy. Objects of a run whose manifest is malformed are kept, since what it
    references is unknown.
    """
    now = now or datetime.now(UTC)
    dead = set(dead_runs) if dead_runs is not None else dead_runs_from_lock(storage)
    catalog = load_catalog(storage)
    malformed_runs = {run_id_of_manifest(k) for k in catalog.malformed
                      if k.startswith(RUNS_PREFIX)}
    if any(k.startswith(COMPACTIONS_PREFIX) for k in catalog.malformed):
        log.warning("a compaction manifest is malformed; sweeping nothing")
        return []
    deleted: list[str] = []
    for name in TABLES:
        for info in storage.list_info(f"{name}/"):
            if info.key in catalog.live:
                continue
            if info.key not in catalog.superseded:
                parsed = parse_data_key(info.key)
                if parsed is not None and parsed.stem in malformed_runs:
                    continue
                died = parsed is not None and parsed.stem in dead
                if not died and now - info.last_modified < older_than:
                    continue
            if not dry_run:
                storage.delete(info.key)
            deleted.append(info.key)
    if deleted:
        log.info("swept %d orphaned data objects from %s", len(deleted), storage.uri)
    return deleted


# --------------------------------------------------------------------------- compaction


def compact(
    storage: Storage,
    before: date,
    *,
    table_names: Iterable[str] = TABLES,
    min_files: int = 2,
) -> list[dict[str, Any]]:
    """Merge each day's (``dt < before``) many small run files into few, for manifest readers.

    Order: write the merged file(s) (orphans until committed), then the compaction manifest
    ``compactions/<id>.json`` listing the new objects and the keys they replace (the commit
    point: manifest readers switch over atomically), then delete the replaced keys. A crash
    before the manifest leaves extra orphans for :func:`sweep_orphans`; a crash after it leaves
    superseded keys, which readers ignore and the sweep deletes. Glob readers see both copies
    between the manifest and the deletes, so run this under the run lock and off-peak.
    Returns the compaction manifests written.
    """

    catalog = load_catalog(storage)
    by_day: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in catalog.live.values():
        if entry["table"] in table_names and entry["dt"] < before.isoformat():
            by_day.setdefault((entry["table"], entry["dt"]), []).append(entry)
    written = []
    for (name, dt), entries in sorted(by_day.items()):
        if len(entries) < min_files:
            continue
        entries.sort(key=lambda e: e["key"])
        tables = [read_object(storage, e["key"], name, expected_bytes=e.get("bytes"))
                  for e in entries]
        merged = _sorted(pa.concat_tables(tables), name)
        comp_id = new_compaction_id()
        objects = []
        for n, part in enumerate(split_table(merged)):
            data = encode_parquet(part)
            key = data_key(name, dt, comp_id, n)
            if not storage.put_if_absent(key, data):
                raise StorageError("compact", storage.url_for(key), "key unexpectedly exists")
            objects.append({"key": key, "table": name, "dt": dt, "rows": part.num_rows,
                            "bytes": len(data), "md5": _md5(data)})
        doc = {
            "compaction_id": comp_id,
            "table": name,
            "dt": dt,
            "created_at": datetime.now(UTC).isoformat(),
            "schema_version": SCHEMA_VERSION,
            "replaces": [e["key"] for e in entries],
            "runs": sorted({e.get("run_id") or e.get("compaction_id") or "" for e in entries}),
            "objects": objects,
        }
        if not storage.put_if_absent(compaction_key(comp_id), _dump(doc)):
            raise StorageError("compact", storage.url_for(compaction_key(comp_id)),
                               "compaction id collision")
        for e in entries:
            storage.delete(e["key"])
        written.append(doc)
    return written
