"""Looking after an output root: state recovery after a crash, compaction, retention.

Recovery. A run that dies after its manifest is committed but before its state commit
(``after-manifest``, ``during-state``) has published stories that the state (seen URLs, dedup
index) does not know. :func:`runs_since_state` finds such runs and :func:`published_rows_of`
returns what they published, so the next run can fold them into its state before it crawls:
their stories go into the dedup index as already published and their URLs are marked seen
(:func:`seen_entries`).

Maintenance. :func:`compact_before` and :func:`prune` take the run lock, so they never work
on the root at the same time as a run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from flows.lake import (
    COMPACTIONS_PREFIX,
    POINTER_KEY,
    RAW_PREFIX,
    RUNS_PREFIX,
    WORK_PREFIX,
    Catalog,
    day_of_key,
    load_catalog,
    new_run_id,
    run_id_of_work_key,
    run_started,
)
from flows.publish import DEFAULT_ORPHAN_AGE, compact, sweep_orphans
from flows.read import read_object
from flows.schema import TABLES, conform, schema_for
from flows.state import RunLock, StateStore, damaged
from flows.storage import NotFound, Storage, open_storage

log = logging.getLogger(__name__)

# Maintenance holds the run lock for at most this long (a compaction of many days).
MAINTENANCE_LOCK_TTL = 3 * 3600.0


# --------------------------------------------------------------------------- recovery


def state_version(storage: Storage) -> str | None:
    """The run id of the current state version (``_state/current.json``), None before the
    first state commit. Cheaper than ``StateStore.load()``: the blobs are not read."""
    import json

    try:
        pointer = json.loads(storage.get(POINTER_KEY))
    except NotFound:
        return None
    except ValueError as exc:
        raise damaged(storage, f"{storage.url_for(POINTER_KEY)} is damaged: {exc}") from exc
    version = pointer.get("version") if isinstance(pointer, dict) else None
    return str(version) if version else None


def runs_since_state(storage: Storage, state_pointer_run_id: str | None) -> list[dict[str, Any]]:
    """Committed (``status: ok``) run manifests newer than the state's run, oldest first.

    ``state_pointer_run_id`` is the ``version`` of ``_state/current.json``: the id of the run
    whose state commit it is (``StateStore.version`` after ``load()``, or
    :func:`state_version`); None when no state was ever committed, which makes every
    committed run count. Run ids sort by start time and runs hold the run lock from before
    they read the state until after they commit it, so "newer than the state's run" is
    "committed but not in the state". Failed and malformed manifests are left out.
    """
    since = state_pointer_run_id

    def newer(run_id: str) -> bool:
        return since is None or run_id > since

    catalog = load_catalog(storage, newer)
    for key in catalog.malformed:
        if key.startswith(RUNS_PREFIX):
            log.warning("ignoring malformed manifest %s while recovering state", key)
    return [catalog.runs[r] for r in sorted(catalog.runs)
            if newer(r) and catalog.runs[r].get("status") == "ok"]


def _replaced_by(storage: Storage, catalog: Catalog) -> dict[str, list[str]]:
    """Superseded key -> the live keys its rows are in now (following compactions of
    compacted files)."""
    import json

    direct: dict[str, list[str]] = {}
    for key in storage.list(COMPACTIONS_PREFIX):
        if not key.endswith(".json"):
            continue
        try:
            doc = json.loads(storage.get(key))
        except (NotFound, ValueError):
            continue
        if not isinstance(doc, dict):
            continue
        outputs = [o["key"] for o in doc.get("objects", []) if isinstance(o, dict) and "key" in o]
        for old in doc.get("replaces", []):
            direct.setdefault(str(old), []).extend(outputs)

    def resolve(key: str, depth: int = 0) -> list[str]:
        if key in catalog.live or depth > 20:
            return [key] if key in catalog.live else []
        out: list[str] = []
        for nxt in direct.get(key, []):
            out += resolve(nxt, depth + 1)
        return out

    return {key: sorted(set(resolve(key))) for key in direct}


def published_rows_of(
    storage: Storage,
    manifests: Iterable[Mapping[str, Any]],
    table: str,
    columns: list[str] | None = None,
) -> pa.Table:
    """The rows of ``table`` that the given runs published, in the current schema (or just
    ``columns``), with a ``run_id`` column whatever ``columns`` says.

    Reads the objects each manifest lists. When a compaction has since merged an object into
    a bigger one, the rows are taken from the merged object, keeping those whose ``run_id``
    is the run's. An object that is gone altogether is skipped with a warning (its stories
    cannot be replayed; the next run may publish them again).
    """
    schema_for(table)
    manifests = list(manifests)
    wanted = list(columns) if columns is not None else schema_for(table).names
    read_cols = wanted if "run_id" in wanted else [*wanted, "run_id"]
    run_ids = {str(m.get("run_id")) for m in manifests}
    if not manifests:
        return conform(pa.table({}), table, read_cols)

    catalog = load_catalog(storage)
    replaced: dict[str, list[str]] | None = None
    direct: list[dict[str, Any]] = []
    merged: set[str] = set()
    for manifest in manifests:
        for obj in manifest.get("objects", []):
            if not isinstance(obj, dict) or obj.get("table") != table:
                continue
            key = str(obj.get("key"))
            if key in catalog.live:
                direct.append(obj)
                continue
            if replaced is None:
                replaced = _replaced_by(storage, catalog)
            targets = replaced.get(key, [])
            if not targets:
                log.warning("run %s lists %s, which no longer exists; its rows are not replayed",
                            manifest.get("run_id"), key)
            merged.update(targets)

    parts = []
    for obj in direct:
        try:
            parts.append(read_object(storage, obj["key"], table, read_cols, obj.get("bytes")))
        except NotFound:
            log.warning("%s is listed in a manifest but missing; its rows are not replayed",
                        obj["key"])
    for key in sorted(merged):
        part = read_object(storage, key, table, read_cols)
        parts.append(part.filter(pc.is_in(part["run_id"],
                                          value_set=pa.array(sorted(run_ids), pa.string()))))
    if not parts:
        return conform(pa.table({}), table, read_cols)
    return pa.concat_tables(parts)


def seen_entries(urls: Iterable[str | None]) -> dict[str, dict[str, Any]]:
    """Seen-URL store entries (the crawler's format) for published pages: ``kind: article``
    with no validators and no date, so the crawler skips them as already published."""
    return {
        url: {"kind": "article", "etag": None, "last_modified": None, "date": None}
        for url in urls
        if url
    }


# --------------------------------------------------------------------------- maintenance


def _lock(storage: Storage, what: str) -> RunLock:
    return RunLock(storage, owner=f"{what}-{new_run_id()}", ttl=MAINTENANCE_LOCK_TTL)


def compact_before(
    uri: str | os.PathLike[str] | Storage,
    before: date,
    *,
    tables: Iterable[str] = TABLES,
    min_files: int = 2,
) -> list[dict[str, Any]]:
    """Merge each day's run files for days before ``before`` (exclusive), under the run lock;
    return the compaction manifests written (one per table and day that had ``min_files`` or
    more files). Raises :class:`flows.state.RunInProgress` when a run holds the lock."""
    storage = open_storage(uri)
    with _lock(storage, "compact"):
        docs = compact(storage, before, table_names=tuple(tables), min_files=min_files)
    for doc in docs:
        log.info("compacted %s dt=%s: %d files -> %d", doc["table"], doc["dt"],
                 len(doc["replaces"]), len(doc["objects"]))
    return docs


@dataclass
class PruneReport:
    raw: list[str] = field(default_factory=list)  # raw/ objects deleted
    state_versions: list[str] = field(default_factory=list)  # _state/v/<version>/ deleted
    work: list[str] = field(default_factory=list)  # _work/ objects of old runs deleted
    orphans: list[str] = field(default_factory=list)  # unreferenced data objects deleted
    dry_run: bool = False

    def lines(self) -> list[str]:
        verb = "would delete" if self.dry_run else "deleted"
        return [
            f"raw:      {verb} {len(self.raw)} objects",
            f"state:    {verb} {len(self.state_versions)} old versions"
            + (f" ({', '.join(self.state_versions)})" if self.state_versions else ""),
            f"_work:    {verb} {len(self.work)} objects of finished or crashed runs",
            f"orphans:  {verb} {len(self.orphans)} unreferenced data objects",
        ]


def _work_run_started(key: str) -> datetime | None:
    run_id = run_id_of_work_key(key)
    try:
        return run_started(run_id)
    except ValueError:
        return None


def prune(
    uri: str | os.PathLike[str] | Storage,
    raw_days: int = 30,
    state_versions: int = 5,
    *,
    work_days: int = 2,
    orphan_age: timedelta = DEFAULT_ORPHAN_AGE,
    now: datetime | None = None,
    dry_run: bool = False,
) -> PruneReport:
    """Apply retention under the run lock:

    - ``raw/…/dt=YYYY-MM-DD/…`` objects of days older than ``raw_days`` (before today minus
      ``raw_days``) are deleted;
    - state versions under ``_state/v/`` beyond the newest ``state_versions`` (the current
      one always kept, versions newer than it left alone);
    - ``_work/<run_id>/`` hand-over files of runs started more than ``work_days`` ago;
    - data objects no committed manifest references, older than ``orphan_age``
      (:func:`flows.publish.sweep_orphans`).

    ``now`` sets the day the ages of ``raw/`` and ``_work/`` count from.

    Published data (``articles/``, ``duplicates/``, ``runs/``) is never pruned.
    """
    if raw_days < 0 or work_days < 0:
        raise ValueError("raw_days and work_days must not be negative")
    if state_versions < 1:
        raise ValueError("state_versions must be at least 1: the current version is kept")
    storage = open_storage(uri)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    raw_cutoff = (now.date() - timedelta(days=raw_days)).isoformat()
    report = PruneReport(dry_run=dry_run)
    with _lock(storage, "prune"):
        for key in list(storage.list(RAW_PREFIX)):
            day = day_of_key(key)
            if day and day < raw_cutoff:
                report.raw.append(key)
        for key in list(storage.list(WORK_PREFIX)):
            started = _work_run_started(key)
            if started is not None and now - started > timedelta(days=work_days):
                report.work.append(key)
        state = StateStore(storage)
        if dry_run:
            report.state_versions = _prunable_versions(state, state_versions)
            report.orphans = sweep_orphans(storage, orphan_age, dry_run=True)
        else:
            for key in report.raw + report.work:
                storage.delete(key)
            report.state_versions = state.prune(keep=state_versions)
            report.orphans = sweep_orphans(storage, orphan_age)
    return report


def _prunable_versions(state: StateStore, keep: int) -> list[str]:
    current = state_version(state.storage)
    if current is None:
        return []
    older = [v for v in state.versions() if v <= current]
    return older[: max(0, len(older) - keep)]
