"""The output root's layout: every prefix, key and file name a run writes, and the catalog.

One module knows where things live in an output root (a local directory or an S3 prefix), so
publishing, reading, maintenance, the run state and re-extraction agree by construction::

    articles/dt=YYYY-MM-DD/<run_id>-<n>.parquet   (duplicates/, rejected/ alike)
    runs/<run_id>.json                            the run manifest: a run's commit point
    compactions/<compaction_id>.json              what a compaction wrote and replaced
    raw/dt=YYYY-MM-DD/<run_id>-<warc file name>   archived crawl responses (WARC)
    _work/<run_id>/<name>                         hand-over files of a run (shards)
    _state/current.json, _state/v/<run_id>/<name> the versioned run state
    _state/lock.json                              the run lock

The catalog (:func:`load_catalog`) is what the manifests say is live; readers and writers
both build on it. This module imports nothing of the project but storage.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flows.storage import NotFound, Storage

# -- run ids --------------------------------------------------------------------------------

RUN_ID_RE = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")


def new_run_id(now: datetime | None = None) -> str:
    """``YYYYMMDDTHHMMSSZ-<6 hex>``: sorts by start time, unique across concurrent starts."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def check_run_id(run_id: str) -> str:
    if not RUN_ID_RE.match(run_id):
        raise ValueError(f"run_id {run_id!r} does not look like YYYYMMDDTHHMMSSZ-<6 hex>")
    return run_id


def run_started(run_id: str) -> datetime:
    return datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def run_day(run_id: str) -> str:
    """The ``YYYY-MM-DD`` a run started on (its ``dt=`` partition for raw files)."""
    return f"{run_id[0:4]}-{run_id[4:6]}-{run_id[6:8]}"


# -- day partitions -------------------------------------------------------------------------

DT_SEGMENT = re.compile(r"(?:^|/)dt=(\d{4}-\d{2}-\d{2})/")


def day_of_key(key: str) -> str | None:
    """The day of a key's ``dt=YYYY-MM-DD/`` segment, None when it has none."""
    m = DT_SEGMENT.search(key)
    return m.group(1) if m else None


# -- published data -------------------------------------------------------------------------

_DATA_KEY_RE = re.compile(
    r"^(?P<table>articles|duplicates|rejected)/dt=(?P<dt>\d{4}-\d{2}-\d{2})/(?P<stem>.+)-(?P<n>\d+)\.parquet$"
)


def data_prefix(table: str, dt: str, stem: str = "") -> str:
    """``<table>/dt=<dt>/`` (followed by ``<stem>-`` when a stem is given)."""
    return f"{table}/dt={dt}/{stem}-" if stem else f"{table}/dt={dt}/"


def data_key(table: str, dt: str, stem: str, n: int) -> str:
    return f"{table}/dt={dt}/{stem}-{n}.parquet"


@dataclass(frozen=True)
class DataKey:
    table: str
    dt: str
    stem: str  # the run_id, or a compaction id
    n: int


def parse_data_key(key: str) -> DataKey | None:
    m = _DATA_KEY_RE.match(key)
    if not m:
        return None
    return DataKey(m["table"], m["dt"], m["stem"], int(m["n"]))


# -- manifests ------------------------------------------------------------------------------

RUNS_PREFIX = "runs/"
COMPACTIONS_PREFIX = "compactions/"


def manifest_key(run_id: str) -> str:
    return f"{RUNS_PREFIX}{run_id}.json"


def run_id_of_manifest(key: str) -> str:
    """The run id of a ``runs/<run_id>.json`` key."""
    return key[len(RUNS_PREFIX) : -len(".json")]


def compaction_key(compaction_id: str) -> str:
    return f"{COMPACTIONS_PREFIX}{compaction_id}.json"


def new_compaction_id() -> str:
    return f"c{new_run_id()}"


# -- raw archive ----------------------------------------------------------------------------

RAW_PREFIX = "raw/"
# <run_id>-<source>-<n>.warc.gz: the crawl's own WARC name behind the run id (upload_raw).
_RAW_NAME = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}-(?P<source>[a-z0-9-]+)-\d+\.warc\.gz$")


def raw_prefix(run_id: str) -> str:
    return f"{RAW_PREFIX}dt={run_day(run_id)}/"


def raw_key(run_id: str, file_name: str) -> str:
    """Where a run's WARC file ``file_name`` is archived: ``raw/dt=<run day>/<run_id>-<file>``."""
    return f"{raw_prefix(run_id)}{run_id}-{file_name}"


@dataclass(frozen=True)
class RawKey:
    day: str  # YYYY-MM-DD, "" when the key has no dt= segment where expected
    source: str


def parse_raw_key(key: str) -> RawKey | None:
    """The day and source of an archived WARC key, None for any other object under raw/."""
    day = key.split("/", 2)[1].removeprefix("dt=") if key.count("/") >= 2 else ""
    m = _RAW_NAME.match(key.rsplit("/", 1)[-1])
    return RawKey(day, m["source"]) if m else None


# -- a run's hand-over files ----------------------------------------------------------------

WORK_PREFIX = "_work/"


def work_prefix(run_id: str) -> str:
    return f"{WORK_PREFIX}{run_id}/"


def work_key(run_id: str, name: str) -> str:
    return f"{WORK_PREFIX}{run_id}/{name}"


def run_id_of_work_key(key: str) -> str:
    return key[len(WORK_PREFIX) :].split("/", 1)[0]


# -- run state ------------------------------------------------------------------------------

STATE_PREFIX = "_state/"
# Blobs of a state version (flows.pipeline commits them, flows.run_state reads them)
STATE_SEEN = "seen.json.gz"
STATE_TEMPLATES = "templates.bin"
STATE_DEDUP = "dedup-index.bin"  # the dedup index: a segment manifest (dedup.segments)
POINTER_KEY = "_state/current.json"
VERSIONS_PREFIX = "_state/v/"
LOCK_KEY = "_state/lock.json"


def state_version_prefix(version: str) -> str:
    return f"{VERSIONS_PREFIX}{version}/"


def state_blob_key(version: str | None, name: str) -> str:
    return f"{VERSIONS_PREFIX}{version}/{name}"


# -- the catalog ----------------------------------------------------------------------------


@dataclass
class Catalog:
    """What the manifests say: live data objects per key, plus what they supersede."""

    runs: dict[str, dict[str, Any]]  # run_id -> manifest (any status)
    live: dict[str, dict[str, Any]]  # key -> object entry (with "run_id" or "compaction_id")
    superseded: set[str]
    malformed: list[str]  # manifest keys that could not be parsed


def load_json(storage: Storage, key: str) -> dict[str, Any] | None:
    """A JSON object at ``key``; None when it is missing or not a JSON object."""
    try:
        value = json.loads(storage.get(key))
    except NotFound:
        return None
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _valid_entries(manifest: dict[str, Any], field: str = "objects") -> list[dict[str, Any]] | None:
    entries = manifest.get(field)
    if not isinstance(entries, list):
        return None
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("key"), str):
            return None
        parsed = parse_data_key(e["key"])
        # The entry must agree with its own key, and sizes must be sizes: readers compare
        # and filter on these fields.
        if parsed is None or e.get("table") != parsed.table or e.get("dt") != parsed.dt:
            return None
        for size in ("rows", "bytes"):
            value = e.get(size)
            if value is not None and (type(value) is not int or value < 0):
                return None
    return entries


def load_catalog(storage: Storage, run_filter: Callable[[str], bool] | None = None) -> Catalog:
    """Read every run and compaction manifest. Malformed ones are reported in ``malformed``
    (the caller warns); ``run_filter(run_id) -> bool`` can skip runs before fetching them."""
    runs: dict[str, dict[str, Any]] = {}
    live: dict[str, dict[str, Any]] = {}
    superseded: set[str] = set()
    malformed: list[str] = []

    run_keys = [k for k in storage.list(RUNS_PREFIX) if k.endswith(".json")]
    if run_filter is not None:
        run_keys = [k for k in run_keys if run_filter(run_id_of_manifest(k))]
    comp_keys = [k for k in storage.list(COMPACTIONS_PREFIX) if k.endswith(".json")]
    with ThreadPoolExecutor(max_workers=16) as pool:
        run_docs = list(pool.map(lambda k: load_json(storage, k), run_keys))
        comp_docs = list(pool.map(lambda k: load_json(storage, k), comp_keys))

    for key, doc in zip(run_keys, run_docs, strict=True):
        run_id = run_id_of_manifest(key)
        entries = _valid_entries(doc) if doc is not None else None
        if (
            doc is None
            or doc.get("run_id") != run_id
            or entries is None
            or doc.get("status") not in ("ok", "failed")
        ):
            malformed.append(key)
            continue
        runs[run_id] = doc
        if doc["status"] == "ok":
            for e in entries:
                live[e["key"]] = {**e, "run_id": run_id}
    comp_objects: dict[str, dict[str, Any]] = {}
    for key, doc in zip(comp_keys, comp_docs, strict=True):
        entries = _valid_entries(doc) if doc is not None else None
        replaces = doc.get("replaces") if doc is not None else None
        if doc is None or entries is None or not isinstance(replaces, list):
            malformed.append(key)
            continue
        superseded.update(str(k) for k in replaces)
        for e in entries:
            comp_objects[e["key"]] = {**e, "compaction_id": doc.get("compaction_id")}
    live.update(comp_objects)
    for key in superseded:
        live.pop(key, None)
    return Catalog(runs=runs, live=live, superseded=superseded, malformed=malformed)
