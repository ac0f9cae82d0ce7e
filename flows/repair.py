"""Checking and repairing the run state under ``_state/`` (``newsdedup state check|repair``).

Damage the state can suffer: the pointer ``_state/current.json`` truncated, not JSON, or
without its blob list; a blob of the current version missing, or not matching its checksum;
a blob that does not parse (a format this version cannot read, garbage written over it).

The repair moves the pointer back to the newest version whose blobs are all present and
readable, and the next run replays every run published after that version from the
published tables (``flows.run_state.recover_unrecorded_runs``), so no story is fetched or
published twice. When no version is good, the pointer is moved aside and the next run
rebuilds the seen URLs and the dedup index from every published run (site templates are
learned again). The damaged pointer is kept under ``_state/damaged/`` either way, and the
repair holds the run lock, so no run works on the state meanwhile.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crawlers.clean import TemplateState
from dedup.segments import SegmentedIndex
from flows.state import (
    POINTER_KEY,
    STATE_PREFIX,
    VERSIONS_PREFIX,
    RunLock,
    StateError,
    StateStore,
)
from flows.storage import NotFound, Storage, open_storage

DAMAGED_PREFIX = f"{STATE_PREFIX}damaged/"


def _check_seen(data: bytes) -> None:
    if not isinstance(json.loads(gzip.decompress(data)), dict):
        raise ValueError("not a mapping of URLs")


def _check_templates(data: bytes) -> None:
    TemplateState.from_bytes(data)


def _check_index(data: bytes) -> None:
    SegmentedIndex.check_blob(data)  # a segment manifest, or an old whole index


# How each blob of a state version is read back (the names flows.pipeline commits).
PARSERS: dict[str, Callable[[bytes], None]] = {
    "seen.json.gz": _check_seen,
    "templates.bin": _check_templates,
    "dedup-index.bin": _check_index,
}


def blob_problem(name: str, data: bytes, storage: Storage | None = None) -> str | None:
    """Why the blob ``name`` cannot be used, or None. With ``storage``, a dedup manifest's
    segments must be there too (a state two or more commits old may have lost them)."""
    parser = PARSERS.get(name)
    if parser is None:
        return None
    try:
        parser(data)
    except Exception as exc:  # noqa: BLE001 - any failure to read it is the damage
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    if storage is not None and name == "dedup-index.bin":
        gone = SegmentedIndex.missing_segments(storage, data)
        if gone:
            return f"{len(gone)} dedup segment(s) missing, e.g. {storage.url_for(gone[0])}"
    return None


@dataclass
class StateReport:
    root: str
    version: str | None = None  # the current version, when the pointer names one
    problems: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)

    @property
    def sound(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        head = f"state of {self.root}: " + (
            f"sound (version {self.version})" if self.version else "sound (no state yet)"
        )
        if self.problems:
            head = f"state of {self.root}: damaged"
        return (
            [head] + [f"  problem: {p}" for p in self.problems] + [f"  {a}" for a in self.actions]
        )


def check_state(storage: Storage) -> StateReport:
    """What is wrong with the current state version, read as a run reads it."""
    report = StateReport(storage.uri)
    store = StateStore(storage)
    try:
        blobs = store.load()
    except StateError as exc:
        report.problems.append(str(exc).split(". To recover", 1)[0])
        return report
    report.version = store.version
    for name, data in sorted(blobs.items()):
        problem = blob_problem(name, data, storage)
        if problem:
            key = f"{VERSIONS_PREFIX}{store.version}/{name}"
            report.problems.append(f"{storage.url_for(key)} cannot be read: {problem}")
    return report


def _good_version(storage: Storage, version: str) -> dict[str, dict[str, Any]] | None:
    """The blob entries of ``version`` for a pointer, when every blob is there and reads."""
    import hashlib

    keys = list(storage.list(f"{VERSIONS_PREFIX}{version}/"))
    names = {k.rsplit("/", 1)[1]: k for k in keys}
    if "seen.json.gz" not in names:
        return None
    entries = {}
    for name, key in sorted(names.items()):
        try:
            data = storage.get(key)
        except NotFound:
            return None
        if blob_problem(name, data, storage):
            return None
        entries[name] = {"key": key, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return entries


def repair_state(uri: str | os.PathLike[str] | Storage, dry_run: bool = False) -> StateReport:
    """Check the state and, when it is damaged, move the pointer back to the newest good
    version (or aside, when none is good). Holds the run lock while it works."""
    storage = open_storage(uri)
    report = check_state(storage)
    if report.sound:
        report.actions.append("nothing to repair")
        return report
    with RunLock(storage, owner=f"state-repair-{uuid.uuid4().hex[:6]}", ttl=600):
        try:
            body, etag = storage.get_with_etag(POINTER_KEY)
        except NotFound:
            body, etag = b"", ""
        try:
            damaged_version = json.loads(body).get("version") if body else None
        except (ValueError, AttributeError):
            damaged_version = None
        versions = sorted(
            {k[len(VERSIONS_PREFIX) :].split("/", 1)[0] for k in storage.list(VERSIONS_PREFIX)},
            reverse=True,
        )
        good: tuple[str, dict[str, dict[str, Any]]] | None = None
        for version in versions:
            entries = _good_version(storage, version)
            if entries is not None:
                good = (version, entries)
                break
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        if dry_run:
            report.actions.append(
                f"would move the pointer to version {good[0]}"
                if good
                else "would move the pointer aside: no good version"
            )
            return report
        if body:
            kept = f"{DAMAGED_PREFIX}{stamp}-current.json"
            storage.put(kept, body)
            report.actions.append(f"kept the damaged pointer as {kept}")
        if good is None:
            if body:
                storage.delete(POINTER_KEY)
            report.actions.append(
                "no good state version: pointer moved aside; the next run rebuilds the seen "
                "URLs and the dedup index from every published run (site templates are "
                "learned again)"
            )
            return report
        version, entries = good
        pointer = {
            "version": version,
            "previous": damaged_version,
            "committed_at": datetime.now(UTC).isoformat(),
            "writer": f"{socket.gethostname()}:{os.getpid()}:repair",
            "blobs": entries,
            "repaired": {"at": stamp, "damaged_version": damaged_version},
        }
        new_body = (json.dumps(pointer, indent=2, sort_keys=True) + "\n").encode()
        ok = (
            storage.put_if_match(POINTER_KEY, new_body, etag)
            if body
            else storage.put_if_absent(POINTER_KEY, new_body)
        )
        if not ok:
            raise StateError(f"{storage.url_for(POINTER_KEY)} changed during the repair")
        report.actions.append(
            f"pointer moved to version {version}; the next run replays the runs published "
            "after it from the published tables"
        )
        report.version = version
    return report
