"""Damaged run state: every kind of damage is named with the way to recover, and
``newsdedup state repair`` brings the root back to a state the next run can use."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest

from crawlers.clean import TemplateState
from dedup import ReprintIndex
from flows.config import PipelineSettings
from flows.lake import STATE_DEDUP, STATE_SEEN, STATE_TEMPLATES
from flows.maintenance import runs_since_state
from flows.publish import publish_run
from flows.repair import check_state, repair_state
from flows.run_state import read_state
from flows.state import POINTER_KEY, StateError, StateStore, dump_seen
from flows.storage import Storage
from tests.conftest import load_rows

V1, V2 = "20250301T090000Z-aaaaaa", "20250302T090000Z-bbbbbb"


def blobs(urls: list[str]) -> dict[str, bytes]:
    return {
        STATE_SEEN: dump_seen({u: {"kind": "article"} for u in urls}),
        STATE_TEMPLATES: TemplateState.empty().to_bytes(),
        STATE_DEDUP: ReprintIndex().to_bytes(),
    }


def committed(storage: Storage) -> Storage:
    """Two committed state versions, and a published run after the second."""
    StateStore(storage).commit(V1, blobs(["https://a.example/1"]))
    StateStore(storage).commit(V2, blobs(["https://a.example/1", "https://a.example/2"]))
    publish_run(storage, "20250303T090000Z-cccccc", "2025-03-03T09:00:00+00:00",
                load_rows("articles"), [])
    return storage


def pointer(storage: Storage) -> dict:  # type: ignore[type-arg]
    return json.loads(storage.get(POINTER_KEY))


def rewrite_pointer(storage: Storage, change: Callable[[dict], None]) -> None:  # type: ignore[type-arg]
    doc = pointer(storage)
    change(doc)
    storage.put(POINTER_KEY, json.dumps(doc).encode())


def replace_blob(storage: Storage, name: str, data: bytes) -> None:
    """A blob replaced, with the pointer's checksum made to match (damage the checksum misses)."""
    import hashlib

    key = f"_state/v/{V2}/{name}"
    storage.put(key, data)
    rewrite_pointer(storage, lambda d: d["blobs"][name].update(
        sha256=hashlib.sha256(data).hexdigest(), bytes=len(data)))


def index_of_another_format() -> bytes:
    header = json.dumps({"format": "newsdedup-reprint-index", "format_version": 999}).encode()
    buf = io.BytesIO()
    np.savez(buf, header=np.frombuffer(header, dtype=np.uint8))
    return buf.getvalue()


DAMAGE: dict[str, Callable[[Storage], None]] = {
    "pointer truncated": lambda s: s.put(POINTER_KEY, s.get(POINTER_KEY)[:40]),
    "pointer garbage": lambda s: s.put(POINTER_KEY, b"\x00\xffnot json at all"),
    "pointer without blobs": lambda s: rewrite_pointer(s, lambda d: d.pop("blobs")),
    "blob missing": lambda s: s.delete(f"_state/v/{V2}/{STATE_SEEN}"),
    "checksum mismatch": lambda s: s.put(f"_state/v/{V2}/{STATE_TEMPLATES}", b"tampered"),
    "index of another format version": lambda s: replace_blob(
        s, STATE_DEDUP, index_of_another_format()),
    "seen urls not gzip": lambda s: replace_blob(s, STATE_SEEN, b"{not gzipped json"),
}


def load_as_a_run(storage: Storage) -> tuple[StateStore, tuple]:  # type: ignore[type-arg]
    state = StateStore(storage)
    found = read_state(state, state.load(), PipelineSettings(output=storage.uri))
    return state, found


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damage_is_named_with_the_way_to_recover_and_repaired(tmp_path, kind):
    from flows.storage import LocalStorage

    storage = committed(LocalStorage(tmp_path / "lake"))
    DAMAGE[kind](storage)

    with pytest.raises(StateError) as err:
        load_as_a_run(storage)
    message = str(err.value)
    assert f"newsdedup state repair {storage.uri}" in message
    assert "Recovering damaged state" in message
    assert "_state/" in message  # names the damaged object
    assert not check_state(storage).sound

    # Back to the newest version whose blobs all read: V2 when only the pointer was hit.
    good, urls = (V2, 2) if kind.startswith("pointer") else (V1, 1)
    report = repair_state(storage)
    assert report.version == good, report.lines()
    state, (seen, _, _) = load_as_a_run(storage)
    assert state.version == good and len(seen) == urls
    # The next run replays what was published after the good version.
    assert [m["run_id"] for m in runs_since_state(storage, state.version)] == [
        "20250303T090000Z-cccccc"
    ]
    assert repair_state(storage).lines()[-1].strip() == "nothing to repair"
    assert check_state(storage).sound
    assert len(list(storage.list("_state/damaged/"))) == 1  # the damaged pointer, kept


def test_without_a_good_version_the_pointer_goes_aside_and_runs_rebuild(storage):
    committed(storage)
    for version in (V1, V2):
        storage.put(f"_state/v/{version}/{STATE_SEEN}", b"garbage")
    report = repair_state(storage)
    assert "no good state version" in "\n".join(report.lines())
    assert not storage.exists(POINTER_KEY) and list(storage.list("_state/damaged/"))
    state, (seen, _, _) = load_as_a_run(storage)
    assert state.version is None and seen == {}
    assert len(runs_since_state(storage, None)) == 1  # every published run is replayed


def test_state_check_and_repair_from_the_command_line(tmp_path):
    from flows.storage import LocalStorage

    root = tmp_path / "lake"
    storage = committed(LocalStorage(root))
    DAMAGE["checksum mismatch"](storage)

    def cli(action: str, *flags: str) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
        command = [sys.executable, "-m", "flows.cli", "state", action, str(root), *flags]
        return subprocess.run(command,
                              capture_output=True, text=True, timeout=60, env=os.environ.copy())

    out = cli("check")
    assert out.returncode == 1 and "checksum" in out.stdout and "state repair" in out.stderr
    out = cli("repair", "--dry-run")
    assert out.returncode == 0 and f"would move the pointer to version {V1}" in out.stdout
    assert pointer(storage)["version"] == V2
    out = cli("repair")
    assert out.returncode == 0 and f"pointer moved to version {V1}" in out.stdout, out.stderr
    out = cli("check")
    assert out.returncode == 0 and "sound" in out.stdout
    assert gzip.decompress(storage.get(f"_state/v/{V1}/{STATE_SEEN}"))  # untouched


def test_prune_of_damaged_state_says_how_to_recover(tmp_path):
    from flows.storage import LocalStorage

    root = tmp_path / "lake"
    storage = committed(LocalStorage(root))
    DAMAGE["pointer garbage"](storage)
    out = subprocess.run([sys.executable, "-m", "flows.cli", "prune", str(root)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "current.json is damaged" in out.stderr and "state repair" in out.stderr


@pytest.mark.timeout(120)
def test_a_run_on_damaged_state_names_it_without_a_traceback(tmp_path, prefect_server):
    from flows.storage import LocalStorage
    from tests.conftest import data_path

    root = tmp_path / "lake"
    storage = committed(LocalStorage(root))
    DAMAGE["checksum mismatch"](storage)
    out = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", "--seeds", str(data_path("seeds", "good.yaml")),
         "--output", str(root)],
        capture_output=True, text=True, timeout=110,
        env={**os.environ, **prefect_server.env()},
    )
    assert out.returncode == 1, out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("newsdedup: run failed: StateError:") and "templates.bin" in last
    assert f"newsdedup state repair {root}" in last and "Traceback" not in out.stderr
