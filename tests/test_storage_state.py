"""Versioned run state and the run lock, on a temp dir and real SeaweedFS."""

from __future__ import annotations

import json
import subprocess
import threading
from datetime import UTC, datetime, timedelta

import pytest

from flows.state import (
    LOCK_KEY,
    POINTER_KEY,
    RunInProgress,
    RunLock,
    StateConflict,
    StateError,
    StateStore,
)
from flows.storage import Storage


def test_commit_then_load(storage: Storage) -> None:
    state = StateStore(storage)
    assert state.load() == {}
    state.commit("20250301T090000Z-aaaaaa", {"seen": b"s1", "index": b"i1"})
    assert StateStore(storage).load() == {"seen": b"s1", "index": b"i1"}
    state.commit("20250302T090000Z-bbbbbb", {"seen": b"s2"})
    fresh = StateStore(storage)
    assert fresh.load() == {"seen": b"s2"}
    assert fresh.version == "20250302T090000Z-bbbbbb"
    pointer = json.loads(storage.get(POINTER_KEY))
    assert pointer["previous"] == "20250301T090000Z-aaaaaa"


def test_crash_between_blobs_and_pointer_keeps_old_state(storage: Storage) -> None:
    StateStore(storage).commit("20250301T090000Z-aaaaaa", {"seen": b"old"})
    state = StateStore(storage)
    state.load()

    def crash(*args: object, **kwargs: object) -> bool:
        raise ConnectionError("process died before the pointer moved")

    storage.put_if_match = crash  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        state.commit("20250302T090000Z-bbbbbb", {"seen": b"new"})
    del storage.put_if_match  # back to the class's method
    assert storage.exists("_state/v/20250302T090000Z-bbbbbb/seen")  # blobs landed ...
    assert StateStore(storage).load() == {"seen": b"old"}  # ... but are not current
    # The same run can commit after the crash; the leftover blobs are replaced.
    state.commit("20250302T090000Z-bbbbbb", {"seen": b"newer"})
    assert StateStore(storage).load() == {"seen": b"newer"}


def test_two_writers_from_the_same_state_cannot_both_win(storage: Storage) -> None:
    StateStore(storage).commit("20250301T090000Z-aaaaaa", {"seen": b"base"})
    a, b = StateStore(storage), StateStore(storage)
    a.load()
    b.load()
    a.commit("20250302T090000Z-aaaaaa", {"seen": b"a"})
    with pytest.raises(StateConflict, match="another run committed first"):
        b.commit("20250302T090000Z-bbbbbb", {"seen": b"b"})
    assert StateStore(storage).load() == {"seen": b"a"}


def test_first_commit_race_has_one_winner(storage: Storage) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def writer(i: int) -> None:
        state = StateStore(storage)
        state.load()
        barrier.wait()
        try:
            state.commit(f"20250301T09000{i}Z-00000{i}", {"who": str(i).encode()})
            outcomes.append("won")
        except StateConflict:
            outcomes.append("lost")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["lost", "lost", "lost", "won"]


def test_retried_commit_is_idempotent(storage: Storage) -> None:
    state = StateStore(storage)
    state.load()
    first = state.commit("20250301T090000Z-aaaaaa", {"seen": b"x"})
    assert state.commit("20250301T090000Z-aaaaaa", {"seen": b"x"}) == first
    with pytest.raises(StateConflict):
        state.commit("20250301T090000Z-aaaaaa", {"seen": b"other"})


def test_damaged_blob_is_detected(storage: Storage) -> None:
    StateStore(storage).commit("20250301T090000Z-aaaaaa", {"seen": b"good"})
    storage.put("_state/v/20250301T090000Z-aaaaaa/seen", b"bad")
    with pytest.raises(StateError, match="checksum"):
        StateStore(storage).load()


def test_prune_keeps_the_last_versions(storage: Storage) -> None:
    state = StateStore(storage)
    ids = [f"2025030{d}T090000Z-aaaaaa" for d in range(1, 7)]
    for i in ids:
        state.commit(i, {"seen": i.encode()})
    storage.put("_state/v/20250309T090000Z-ffffff/seen", b"a commit in progress")
    assert state.prune(keep=2) == ids[:4]
    assert state.versions() == [*ids[4:], "20250309T090000Z-ffffff"]
    assert StateStore(storage).load() == {"seen": ids[-1].encode()}


def test_lock_refuses_a_second_holder_with_a_clear_message(storage: Storage) -> None:
    with RunLock(storage, owner="run-A", ttl=600):
        with pytest.raises(RunInProgress) as err:
            RunLock(storage, owner="run-B", ttl=600).acquire()
        message = str(err.value)
        assert "run-A" in message and "since" in message and "_state/lock.json" in message
    assert not storage.exists(LOCK_KEY)
    with RunLock(storage, owner="run-B", ttl=600):
        assert json.loads(storage.get(LOCK_KEY))["owner"] == "run-B"


def test_stale_lock_is_taken_over_once(storage: Storage) -> None:
    stale = RunLock(storage, owner="crashed", ttl=timedelta(seconds=60))
    stale.acquire()
    doc = json.loads(storage.get(LOCK_KEY))
    doc["expires_at"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    storage.put(LOCK_KEY, json.dumps(doc).encode())

    winners: list[str] = []
    barrier = threading.Barrier(3)

    def contender(name: str) -> None:
        barrier.wait()
        try:
            RunLock(storage, owner=name, ttl=600).acquire()
            winners.append(name)
        except RunInProgress:
            pass

    threads = [threading.Thread(target=contender, args=(f"n{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert json.loads(storage.get(LOCK_KEY))["owner"] == winners[0]
    # The crashed holder no longer owns it: releasing is a no-op, refreshing fails.
    stale.release()
    assert storage.exists(LOCK_KEY)
    with pytest.raises(RunInProgress):
        stale.refresh()


def test_refresh_extends_the_lease(storage: Storage) -> None:
    lock = RunLock(storage, owner="long-run", ttl=30).acquire()
    before = json.loads(storage.get(LOCK_KEY))
    lock.refresh()
    after = json.loads(storage.get(LOCK_KEY))
    assert after["acquired_at"] == before["acquired_at"]
    assert after["expires_at"] >= before["expires_at"]
    lock.release()
    assert not storage.exists(LOCK_KEY)


HOLDER = """
import os, sys
from flows.publish import encode_parquet
from flows.schema import rows_to_table
from flows.state import RunLock
from flows.storage import open_storage
storage = open_storage(sys.argv[1])
RunLock(storage, owner=sys.argv[2], ttl=3600).acquire()
row = {"article_id": "x", "url": "https://x.example/1", "run_id": sys.argv[2]}
storage.put(f"articles/dt=2025-03-01/{sys.argv[2]}-0.parquet",
            encode_parquet(rows_to_table("articles", [row])))
print("locked", flush=True)
if sys.argv[3] == "crash":
    os._exit(70)
sys.stdin.read()  # hold the lock until the test closes our stdin
"""


def _holder(storage: Storage, owner: str, mode: str) -> subprocess.Popen:
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, storage.uri, owner, mode],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_lock_of_a_dead_process_is_taken_over_at_once(storage: Storage) -> None:
    """A run killed on this machine leaves its lock behind; the next run need not wait for
    the lease to run out, and its sweep removes the dead run's objects whatever their age."""
    from flows.publish import sweep_orphans

    live = _holder(storage, "20250301T080000Z-a11ve0", "hold")
    try:
        with pytest.raises(RunInProgress, match="a11ve0"):
            RunLock(storage, owner="next", ttl=600).acquire()
    finally:
        assert live.stdin is not None
        live.stdin.close()
        live.wait(timeout=30)
    # It ended without releasing (its stdin closed, the script just exits): the pid is gone.
    dead = _holder(storage, "20250301T090000Z-dead00", "crash")
    assert dead.wait(timeout=30) == 70
    lock = RunLock(storage, owner="20250301T100000Z-0a0a0a", ttl=600).acquire()
    doc = json.loads(storage.get(LOCK_KEY))
    assert doc["owner"] == "20250301T100000Z-0a0a0a"
    assert doc["took_over"]["owner"] == "20250301T090000Z-dead00"
    assert doc["took_over"]["reason"] == "holder-gone"
    assert lock.took_over == doc["took_over"]

    swept = sweep_orphans(storage)  # default age limit: six hours
    assert swept == ["articles/dt=2025-03-01/20250301T090000Z-dead00-0.parquet"]
    # The other holder's object is young and its run not known dead: kept.
    assert storage.exists("articles/dt=2025-03-01/20250301T080000Z-a11ve0-0.parquet")
    lock.refresh()
    assert json.loads(storage.get(LOCK_KEY))["took_over"] == doc["took_over"]
    lock.release()


def test_lock_held_elsewhere_is_not_taken_over_before_it_expires(storage: Storage) -> None:
    RunLock(storage, owner="other-host", ttl=600).acquire()
    doc = json.loads(storage.get(LOCK_KEY))
    doc.update(host="another-machine", pid=1)  # a pid that means nothing here
    storage.put(LOCK_KEY, json.dumps(doc).encode())
    with pytest.raises(RunInProgress, match="another-machine"):
        RunLock(storage, owner="next", ttl=600).acquire()
