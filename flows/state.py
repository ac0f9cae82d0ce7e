"""Versioned run state and the run lock, both under ``_state/`` in the output root.

State (the seen-URL store, the dedup index, …) is a set of named blobs. A commit writes the
blobs of a new version under ``_state/v/<run_id>/<name>`` and then swings the pointer
``_state/current.json`` with a conditional write. Until the pointer moves, readers load the
previous version, so a crash anywhere in a commit leaves the last good state; and because the
pointer moves only if it still has the etag this writer loaded, two writers that started
from the same state cannot both win (the loser gets :class:`StateConflict`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

# Re-exported for the state's other users (flows.repair); the layout is flows.lake's.
from flows.lake import LOCK_KEY as LOCK_KEY
from flows.lake import POINTER_KEY as POINTER_KEY
from flows.lake import STATE_PREFIX as STATE_PREFIX
from flows.lake import VERSIONS_PREFIX as VERSIONS_PREFIX
from flows.lake import state_blob_key, state_version_prefix
from flows.storage import NotFound, Storage, crash_point

log = logging.getLogger(__name__)


class StateError(RuntimeError):
    """The stored state is unusable (a missing or damaged blob of the current version)."""


RECOVERY = "README, 'Recovering damaged state'"


def damaged(storage: Storage, problem: str) -> StateError:
    """A :class:`StateError` naming the damaged object and how to recover from it."""
    return StateError(
        f"{problem}. To recover, run: newsdedup state repair {storage.uri} ({RECOVERY})"
    )


class StateConflict(RuntimeError):
    """Another writer committed state since this one loaded it."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_name(name: str) -> str:
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"invalid state blob name {name!r}")
    return name


class StateStore:
    """``load()`` the current version, work, then ``commit(run_id, blobs)``.

    ``commit`` moves the pointer only if it is unchanged since this store's last ``load()``
    (or since the start of ``commit`` when nothing was loaded).
    """

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._loaded = False
        self._base_etag: str | None = None
        self.version: str | None = None

    def _pointer(self) -> tuple[dict[str, Any], str] | None:
        try:
            body, etag = self.storage.get_with_etag(POINTER_KEY)
        except NotFound:
            return None
        try:
            pointer = json.loads(body)
            if not isinstance(pointer, dict) or not isinstance(pointer.get("blobs"), dict):
                raise ValueError("no blobs")
        except ValueError as exc:
            raise damaged(
                self.storage, f"{self.storage.url_for(POINTER_KEY)} is damaged: {exc}"
            ) from exc
        return pointer, etag

    def load(self) -> dict[str, bytes]:
        """Blobs of the current version; ``{}`` before the first commit."""
        found = self._pointer()
        self._loaded = True
        if found is None:
            self._base_etag, self.version = None, None
            return {}
        pointer, etag = found
        blobs: dict[str, bytes] = {}
        for name, info in pointer["blobs"].items():
            try:
                data = self.storage.get(info["key"])
            except NotFound as exc:
                raise damaged(
                    self.storage,
                    f"state version {pointer.get('version')} lacks blob {name!r}: {exc}",
                ) from exc
            except (KeyError, TypeError, ValueError) as exc:  # a malformed entry
                raise damaged(
                    self.storage, f"{self.storage.url_for(POINTER_KEY)} is damaged: {exc!r}"
                ) from exc
            if _sha256(data) != info.get("sha256"):
                raise damaged(
                    self.storage,
                    f"state blob {self.storage.url_for(info['key'])} does not match its checksum",
                )
            blobs[name] = data
        self._base_etag, self.version = etag, pointer.get("version")
        return blobs

    def commit(self, run_id: str, blobs: dict[str, bytes]) -> dict[str, Any]:
        """Write ``blobs`` as version ``run_id`` and make it current; return the new pointer.

        Raises :class:`StateConflict` (leaving the current state as it was) when another writer
        moved the pointer since this store loaded it.
        """
        if not self._loaded:
            found = self._pointer()
            self._base_etag = found[1] if found else None
        current = self._pointer()
        if current is not None and current[0].get("version") == run_id:
            # A retried commit whose first try landed is fine; anything else reuses a version id.
            stored = {n: i.get("sha256") for n, i in current[0]["blobs"].items()}
            if stored == {n: _sha256(d) for n, d in blobs.items()}:
                self._base_etag, self.version = current[1], run_id
                return current[0]
            raise StateConflict(f"state version {run_id} is already current, with other blobs")
        if (current[1] if current else None) != self._base_etag:
            raise StateConflict(self._conflict_message(current))

        entries = {}
        for name, data in sorted(blobs.items()):
            key = state_blob_key(run_id, _check_name(name))
            # Never referenced by a pointer yet (checked above), so a plain put is safe, and it
            # replaces what a crashed commit of the same run may have left.
            self.storage.put(key, data)
            entries[name] = {"key": key, "bytes": len(data), "sha256": _sha256(data)}
        crash_point("during-state")  # blobs written, pointer not moved: the old state stands
        pointer = {
            "version": run_id,
            "previous": current[0].get("version") if current else None,
            "committed_at": datetime.now(UTC).isoformat(),
            "writer": f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
            "blobs": entries,
        }
        body = (json.dumps(pointer, indent=2, sort_keys=True) + "\n").encode()
        if self._base_etag is None:
            ok = self.storage.put_if_absent(POINTER_KEY, body)
        else:
            ok = self.storage.put_if_match(POINTER_KEY, body, self._base_etag)
        if not ok:
            try:
                landed = self.storage.get(POINTER_KEY) == body  # a retried request of ours
            except NotFound:
                landed = False
            if not landed:
                raise StateConflict(self._conflict_message(self._pointer()))
        _, self._base_etag = self.storage.get_with_etag(POINTER_KEY)
        self.version = run_id
        log.info("state version %s committed", run_id)
        return pointer

    def _conflict_message(self, current: tuple[dict[str, Any], str] | None) -> str:
        now_version = current[0].get("version") if current else None
        return (
            f"state at {self.storage.url_for(POINTER_KEY)} changed since it was loaded "
            f"(now version {now_version}, loaded {self.version}); another run committed first"
        )

    def versions(self) -> list[str]:
        """Version ids present under ``_state/v/``, oldest first."""
        keys = self.storage.list(VERSIONS_PREFIX)
        seen = {k[len(VERSIONS_PREFIX) :].split("/", 1)[0] for k in keys}
        return sorted(seen)

    def prune(self, keep: int = 5) -> list[str]:
        """Delete versions older than the current one beyond the ``keep`` most recent
        (the current one included). Versions newer than the current one are left alone:
        they may be a commit in progress. Returns the versions deleted."""
        if keep < 1:
            raise ValueError("keep must be at least 1")
        found = self._pointer()
        if found is None:
            return []
        current = str(found[0].get("version"))
        older = [v for v in self.versions() if v <= current]
        doomed = older[: max(0, len(older) - keep)]
        for version in doomed:
            for key in list(self.storage.list(state_version_prefix(version))):
                self.storage.delete(key)
        return doomed


# --------------------------------------------------------------------------- run lock


class RunInProgress(RuntimeError):
    """Another run holds the lock."""


def _first_line(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as fh:
            return fh.readline().strip() or None
    except OSError:
        return None


def process_identity() -> dict[str, Any]:
    """What tells this process apart from any other: host, boot, pid namespace, pid and the
    pid's start time (a pid can be reused after the process ends)."""
    ident: dict[str, Any] = {
        "host": socket.gethostname(),
        "boot_id": _first_line("/proc/sys/kernel/random/boot_id"),
        "pid": os.getpid(),
        "pid_ns": None,
        "pid_started": None,
    }
    try:
        ident["pid_ns"] = os.readlink("/proc/self/ns/pid")
    except OSError:
        pass
    try:
        import psutil

        ident["pid_started"] = psutil.Process().create_time()
    except Exception:  # noqa: BLE001 - identity is best effort; without it no takeover early
        pass
    return ident


def holder_is_gone(doc: dict[str, Any]) -> bool:
    """True only when the lock's holder provably no longer runs: it ran on this machine (same
    host name, boot and pid namespace) and its pid is gone, a zombie, or another process
    now. Anything uncertain (another machine, missing fields) counts as alive."""
    me = process_identity()
    for field in ("host", "boot_id", "pid_ns"):
        if not me.get(field) or doc.get(field) != me[field]:
            return False
    try:
        pid = int(doc["pid"])
    except (KeyError, TypeError, ValueError):
        return False
    if pid == me["pid"]:
        return False  # held by this very process (another lock object in it)
    try:
        import psutil
    except ImportError:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return True
        started = doc.get("pid_started")
        # The same pid started at another time is another process: the holder is gone.
        return isinstance(started, int | float) and abs(proc.create_time() - started) > 1.0
    except psutil.NoSuchProcess:  # ZombieProcess included
        return True
    except psutil.Error:
        return False


class RunLock:
    """Mutual exclusion between runs writing to one output root.

    ``_state/lock.json`` is created with a conditional write, so of two starting runs exactly
    one gets it. A lock is taken over (with a conditional replace, so of two runs taking over,
    one wins) when it is older than its ``ttl`` (the holder crashed somewhere or hangs), or
    at once when its holder provably died: a process on this machine that no longer runs
    (:func:`holder_is_gone`). The new lock records whom it took over from and why
    (``took_over``), which lets :func:`flows.publish.sweep_orphans` remove a dead run's
    objects straight away. A holder whose work outlasts ``ttl`` must call :meth:`refresh`.
    """

    def __init__(self, storage: Storage, owner: str, ttl: timedelta | float = 3600.0) -> None:
        self.storage = storage
        self.owner = owner
        self.ttl = ttl if isinstance(ttl, timedelta) else timedelta(seconds=ttl)
        self.token = uuid.uuid4().hex
        self.took_over: dict[str, Any] | None = None
        self._identity = process_identity()

    def _body(self, now: datetime, since: str | None = None) -> bytes:
        doc = {
            **self._identity,
            "owner": self.owner,
            "token": self.token,
            "acquired_at": since or now.isoformat(),
            "refreshed_at": now.isoformat(),
            "expires_at": (now + self.ttl).isoformat(),
        }
        if self.took_over is not None:
            doc["took_over"] = self.took_over
        return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()

    def _read(self) -> tuple[dict[str, Any] | None, str] | None:
        try:
            body, etag = self.storage.get_with_etag(LOCK_KEY)
        except NotFound:
            return None
        try:
            doc = json.loads(body)
        except ValueError:
            return None, etag
        return (doc if isinstance(doc, dict) else None), etag

    def _held_by_me(self, doc: dict[str, Any] | None) -> bool:
        return doc is not None and doc.get("token") == self.token

    def acquire(self) -> RunLock:
        for _ in range(5):
            now = datetime.now(UTC)
            self.took_over = None
            if self.storage.put_if_absent(LOCK_KEY, self._body(now)):
                log.info("run lock taken by %s", self.owner)
                return self
            found = self._read()
            if found is None:
                continue  # released in between: try again
            doc, etag = found
            if self._held_by_me(doc):
                return self  # our write, answered as a conflict by a retried request
            expires = None
            if doc is not None:
                try:
                    expires = datetime.fromisoformat(str(doc.get("expires_at")))
                except ValueError:
                    expires = None
            live = doc is not None and expires is not None and expires > now
            if live and doc is not None and not holder_is_gone(doc):
                raise RunInProgress(
                    f"another run holds {self.storage.url_for(LOCK_KEY)}: owner "
                    f"{doc.get('owner')!r} on {doc.get('host')} pid {doc.get('pid')}, "
                    f"since {doc.get('acquired_at')}, until {doc.get('expires_at')}"
                )
            holder = doc.get("owner") if doc is not None else "an unreadable lock"
            reason = "holder-gone" if live else "expired"
            if live:
                log.warning("taking over the run lock of %s: its process %s on %s is gone",
                            holder, doc.get("pid") if doc else "?", doc.get("host") if doc else "?")
            else:
                log.warning("taking over the stale run lock of %s (expired %s)", holder, expires)
            self.took_over = {
                "owner": holder if isinstance(holder, str) else None,
                "reason": reason,
                "host": doc.get("host") if doc is not None else None,
                "pid": doc.get("pid") if doc is not None else None,
                "expires_at": doc.get("expires_at") if doc is not None else None,
            }
            if self.storage.put_if_match(LOCK_KEY, self._body(now), etag):
                return self
            # Someone changed the lock in between (or our write landed): look again.
        raise RunInProgress(f"could not take {self.storage.url_for(LOCK_KEY)}: it keeps changing")

    def refresh(self) -> None:
        """Extend the lease by ``ttl`` from now; raises if the lock is no longer ours."""
        found = self._read()
        doc, etag = found if found is not None else (None, "")
        if doc is None or not self._held_by_me(doc):
            raise RunInProgress(f"lost {self.storage.url_for(LOCK_KEY)}: it is held by another")
        body = self._body(datetime.now(UTC), str(doc.get("acquired_at")))
        if not self.storage.put_if_match(LOCK_KEY, body, etag):
            raise RunInProgress(f"lost {self.storage.url_for(LOCK_KEY)} while refreshing it")

    def release(self) -> None:
        # Delete only our own lock. The check and the delete are two requests: if our lease
        # ran out in between and another run took over, we would delete its lock; refresh()
        # well within the ttl to keep that window closed.
        found = self._read()
        if found is not None and self._held_by_me(found[0]):
            self.storage.delete(LOCK_KEY)
            log.info("run lock released by %s", self.owner)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


# -- the seen URLs' format ------------------------------------------------------------


def load_seen(raw: bytes | None) -> dict[str, dict[str, Any]]:
    return json.loads(gzip.decompress(raw)) if raw else {}


def dump_seen(seen: dict[str, dict[str, Any]]) -> bytes:
    return gzip.compress(json.dumps(seen, separators=(",", ":")).encode(), compresslevel=6)


# The archives (WARC files) read in full into this output root: archive URI -> the run that
# read it and its counts (flows/archive_source.py). Carried over by every run's state commit.
STATE_ARCHIVES = "archives.json.gz"


def load_archives(raw: bytes | None) -> dict[str, dict[str, Any]]:
    if not raw:
        return {}
    value = json.loads(gzip.decompress(raw))
    if not isinstance(value, dict):
        raise ValueError(f"{STATE_ARCHIVES} holds no mapping of archives")
    return value


def dump_archives(archives: dict[str, dict[str, Any]]) -> bytes:
    return gzip.compress(
        json.dumps(archives, separators=(",", ":"), sort_keys=True).encode(), compresslevel=6
    )
