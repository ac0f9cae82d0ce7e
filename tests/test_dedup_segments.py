"""The segmented reprint index (dedup.segments) against the in-memory one and brute force.

Texts are drawn with a seeded generator from the words of the dedup fixture, so every run of
the test sees the same stories; reprints are word-level edits of earlier stories.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from dedup import DedupConfig, Document, IndexConfigError, ReprintIndex
from dedup.batch import prepare
from dedup.segments import SEGMENT_PREFIX, SegmentedIndex
from flows.state import StateStore
from flows.storage import LocalStorage, Storage
from tests.conftest import data_path

T0 = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
STORIES = json.loads(data_path("dedup", "stories.json").read_text(encoding="utf-8"))
VOCAB = sorted({w for lines in STORIES.values() for line in lines for w in line.split()})


class Texts:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def fresh(self, words: int = 120) -> str:
        return " ".join(self.rng.choice(VOCAB) for _ in range(words))

    def reprint(self, text: str, rate: float = 0.06) -> str:
        words = text.split()
        words = [self.rng.choice(VOCAB) if self.rng.random() < rate else w for w in words]
        cut = self.rng.randint(int(len(words) * 0.7), len(words))
        return " ".join(words[:cut])


def runs(seed: int, n_runs: int, per_run: int) -> list[list[Document]]:
    """Batches of fresh stories and reprints (of stories of earlier batches or this one)."""
    t = Texts(seed)
    earlier: list[str] = []
    out = []
    for r in range(n_runs):
        batch = []
        for i in range(per_run):
            if earlier and i % 3 == 0:
                text = t.reprint(t.rng.choice(earlier))
            elif i % 17 == 0 and batch:
                text = t.reprint(batch[-1].text)
            else:
                text = t.fresh()
            batch.append(Document(f"r{r:02d}-{i:03d}", text))
        earlier += [d.text for d in batch]
        out.append(batch)
    return out


def decisions(index, batch, now):
    return [(d.id, d.cluster_id, d.duplicate_of, d.reason) for d in index.dedup(batch, now)]


def reopen(index: SegmentedIndex, storage: Storage, cache: Path) -> SegmentedIndex:
    return SegmentedIndex.open(storage, index.to_bytes(), cache, index.config)


def test_decisions_across_segments_and_compactions_equal_the_in_memory_index(tmp_path):
    storage = LocalStorage(tmp_path / "root")
    seg = SegmentedIndex.open(storage, None, tmp_path / "cache")
    ref = ReprintIndex()
    levels = set()
    for r, batch in enumerate(runs(1, 14, 40)):
        now = T0 + timedelta(hours=r)
        assert decisions(seg, batch, now) == decisions(ref, batch, now), f"run {r}"
        seg.commit()
        ref.commit()
        levels |= {s.level for s in seg.segments}
        seg = reopen(seg, storage, tmp_path / "cache")
    assert {0, 1} <= levels  # deltas were merged on the way
    assert len(seg) == len(ref)


def brute_force_candidates(ref: ReprintIndex, keys: np.ndarray) -> set[tuple[int, str]]:
    stored = ref._band_sorted  # noqa: SLF001 - the reference's own key table
    out = set()
    for k in range(keys.shape[1]):
        for d in range(len(keys)):
            hit = np.flatnonzero(stored[k] == keys[d, k])
            out |= {(d, ref.ids[int(ref._band_order[k][h])]) for h in hit}  # noqa: SLF001
    return out


def test_candidates_are_those_of_brute_force_before_and_after_compaction(tmp_path):
    storage = LocalStorage(tmp_path / "root")
    seg = SegmentedIndex.open(storage, None, tmp_path / "cache")
    ref = ReprintIndex()
    batches = runs(2, 9, 30)
    query = prepare([d.text for d in batches[-1]], seg.config).keys
    for r, batch in enumerate(batches[:-1]):
        seg.dedup(batch, T0 + timedelta(hours=r))
        ref.dedup(batch, T0 + timedelta(hours=r))
        seg.commit()
        ref.commit()
        got = seg._candidates(query)  # noqa: SLF001
        found = set(zip(got.doc.tolist(), got.entry_ids, strict=True))
        expected = brute_force_candidates(ref, query)
        # Hash collisions may only add candidates (verification drops them); none here.
        assert found == expected, f"after run {r}, segments {[s.level for s in seg.segments]}"
    assert any(s.level > 0 for s in seg.segments)


def test_expiry_drops_whole_segments_and_skips_old_stories(tmp_path):
    config = DedupConfig(window_days=2)
    storage = LocalStorage(tmp_path / "root")
    seg = SegmentedIndex.open(storage, None, tmp_path / "cache", config)
    t = Texts(3)
    old = [Document(f"old-{i}", t.fresh()) for i in range(20)]
    new = [Document(f"new-{i}", t.fresh()) for i in range(20)]
    seg.dedup(old, T0)
    seg.commit()
    seg.dedup(new, T0 + timedelta(days=1.5))
    seg.commit()
    assert len(seg.segments) == 2
    seg = reopen(seg, storage, tmp_path / "cache")
    # Day 2.5: the first segment is past the window: lookups skip it at once ...
    again = [Document("x-old", old[0].text), Document("x-new", new[0].text)]
    dec = {d.id: d for d in seg.dedup(again, T0 + timedelta(days=2.5))}
    assert dec["x-old"].duplicate_of is None and dec["x-new"].duplicate_of == "new-0"
    assert seg.known_ids(["old-1", "new-1"]) == {"new-1"}
    # ... the commit drops it from the manifest, and the next one (when no current state
    # references it any more) from the store.
    seg.commit()
    assert [s.rows for s in seg.segments] == [20, 1]
    assert len(list(storage.list(SEGMENT_PREFIX))) == 3
    seg = reopen(seg, storage, tmp_path / "cache")
    seg.commit()
    assert len(list(storage.list(SEGMENT_PREFIX))) == 2


def test_signature_settings_are_pinned_in_the_manifest(tmp_path):
    storage = LocalStorage(tmp_path / "root")
    seg = SegmentedIndex.open(storage, None, tmp_path / "cache")
    seg.dedup([Document("a", Texts(4).fresh())], T0)
    seg.commit()
    blob = seg.to_bytes()
    for other in (
        DedupConfig(num_perm=64),
        DedupConfig(seed=2),
        DedupConfig(shingle_size=5),
        replace(DedupConfig(), scheme="someone-else/v0"),
    ):
        with pytest.raises(IndexConfigError):
            SegmentedIndex.open(storage, blob, tmp_path / "c2", other)
    with pytest.raises(IndexConfigError, match="bands"):
        SegmentedIndex.open(storage, blob, tmp_path / "c2", DedupConfig(lsh_threshold=0.5))
    manifest = json.loads(blob)
    manifest["key_bits"] = 32
    with pytest.raises(IndexConfigError):
        SegmentedIndex.open(storage, json.dumps(manifest).encode(), tmp_path / "c2")
    # Thresholds are the run's own: a different containment_min opens the same state.
    opened = SegmentedIndex.open(storage, blob, tmp_path / "c2", DedupConfig(containment_min=0.6))
    assert len(opened) == 1 and opened.config.containment_min == 0.6


def test_an_old_npz_state_is_migrated_once(tmp_path):
    storage = LocalStorage(tmp_path / "root")
    ref = ReprintIndex()
    batches = runs(5, 4, 30)
    for r, batch in enumerate(batches[:3]):
        ref.dedup(batch, T0 + timedelta(hours=r))
        ref.commit()
    old_blob = ref.to_bytes()
    seg = SegmentedIndex.open(storage, old_blob, tmp_path / "cache")
    assert seg.migrated and len(seg) == len(ref)
    now = T0 + timedelta(hours=3)
    assert decisions(seg, batches[3], now) == decisions(
        ReprintIndex.from_bytes(old_blob), batches[3], now
    )
    seg.commit()
    blob = seg.to_bytes()
    assert blob.startswith(b"{")  # the next state holds a manifest, not the npz
    again = SegmentedIndex.open(storage, blob, tmp_path / "other-cache")
    assert not again.migrated and len(again) == len(seg)
    assert again.sync_stats.downloaded == len(again.segments)


class CrashAt(Exception):
    pass


class CrashingStorage:
    """A real store whose ``n``-th write (put, conditional put or delete) dies."""

    def __init__(self, inner: Storage, n: int) -> None:
        self.inner, self.n, self.writes = inner, n, 0
        self.ops: list[str] = []

    def _write(self, op: str = "put") -> None:
        if self.writes == self.n:
            raise CrashAt(self.n)
        self.writes += 1
        self.ops.append(op)

    def put(self, key, data):
        self._write("put-segment" if key.startswith(SEGMENT_PREFIX) else "put")
        return self.inner.put(key, data)

    def put_if_absent(self, key, data):
        self._write()
        return self.inner.put_if_absent(key, data)

    def put_if_match(self, key, data, etag):
        self._write()
        return self.inner.put_if_match(key, data, etag)

    def delete(self, key):
        self._write("delete")
        return self.inner.delete(key)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def run_once(storage, cache: Path, run_id: str, batch, now) -> tuple:
    state = StateStore(storage)
    blobs = state.load()
    index = SegmentedIndex.open(storage, blobs.get("dedup"), cache)
    out = decisions(index, batch, now)
    index.commit()
    state.commit(run_id, {"dedup": index.to_bytes()})
    return out


def snapshot(storage: Storage, cache: Path, probe) -> tuple:
    """What a fresh worker sees: the state version and the decisions for ``probe``."""
    state = StateStore(storage)
    blobs = state.load()
    index = SegmentedIndex.open(storage, blobs.get("dedup"), cache)
    return state.version, len(index), decisions(index, probe, T0 + timedelta(days=1))


def test_a_crash_between_any_two_writes_of_a_commit_leaves_a_whole_state(tmp_path):
    """Every write of nine commits (deltas, merges, deletions of retired segments, the state
    blob, the pointer) is a crash point: after it, a fresh worker sees the last good state
    whole, and a rerun of the run lands the state an uninterrupted run would have."""
    batches = runs(6, 9, 12)
    probe = [Document(f"p-{d.id}", Texts(9).reprint(d.text)) for b in batches for d in b[::6]]
    (tmp_path / "root").mkdir()
    counting = CrashingStorage(LocalStorage(tmp_path / "root"), 10**9)
    first_write, views = [], []
    for r, batch in enumerate(batches):
        shutil.copytree(tmp_path / "root", tmp_path / f"snap-{r}", dirs_exist_ok=True)
        first_write.append(counting.writes)
        views.append(snapshot(counting.inner, tmp_path / f"v-{r}", probe))
        run_once(counting, tmp_path / "cc", f"run-{r:02d}", batch, T0 + timedelta(hours=r))
    views.append(snapshot(counting.inner, tmp_path / "v-end", probe))
    first_write.append(counting.writes)
    # The commits merged segments and deleted retired ones, not only added deltas.
    seg = SegmentedIndex.open(
        counting.inner, StateStore(counting.inner).load()["dedup"], tmp_path / "cc"
    )
    assert any(s.level > 0 for s in seg.segments)
    assert "delete" in counting.ops
    assert counting.ops.count("put-segment") > len(batches)
    for n in range(first_write[1], first_write[-1]):
        r = max(i for i, w in enumerate(first_write[:-1]) if w <= n)
        root = tmp_path / f"crash-{n}"
        shutil.copytree(tmp_path / f"snap-{r}", root)
        storage = CrashingStorage(LocalStorage(root), n - first_write[r])
        now = T0 + timedelta(hours=r)
        with pytest.raises(CrashAt):
            run_once(storage, tmp_path / f"wc-{n}", f"run-{r:02d}", batches[r], now)
        # A fresh worker sees the last good state, whole; the rerun then lands.
        assert snapshot(storage.inner, tmp_path / f"f-{n}", probe) == views[r], f"write {n}"
        run_once(storage.inner, tmp_path / f"wc-{n}", f"run-{r:02d}", batches[r], now)
        assert snapshot(storage.inner, tmp_path / f"g-{n}", probe) == views[r + 1], f"write {n}"
        shutil.rmtree(root)


def test_state_check_names_missing_segments_and_repair_goes_back_to_a_whole_version(tmp_path):
    import gzip

    from flows.repair import check_state, repair_state

    # The blob names the pipeline commits (flows.repair.PARSERS reads them back).
    STATE_DEDUP, STATE_SEEN = "dedup-index.bin", "seen.json.gz"  # noqa: N806

    storage = LocalStorage(tmp_path / "root")
    for r, batch in enumerate(runs(8, 3, 10)):
        state = StateStore(storage)
        index = SegmentedIndex.open(storage, state.load().get(STATE_DEDUP), tmp_path / "c")
        index.dedup(batch, T0 + timedelta(hours=r))
        index.commit()
        state.commit(f"run-{r}", {STATE_SEEN: gzip.compress(b"{}"), STATE_DEDUP: index.to_bytes()})
    assert check_state(storage).sound
    newest = index.segments[-1]  # the last run's delta: only the current version names it
    storage.delete(newest.key)
    report = check_state(storage)
    assert not report.sound and "segment" in report.problems[0]
    assert repair_state(storage).version == "run-1"
    state = StateStore(storage)
    again = SegmentedIndex.open(storage, state.load()[STATE_DEDUP], tmp_path / "fresh")
    assert state.version == "run-1" and len(again) == len(index) - newest.rows
