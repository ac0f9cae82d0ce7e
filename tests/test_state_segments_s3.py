"""The segmented dedup state on real SeaweedFS: two workers share one output root, one
writes, the other's cache catches up by fetching only what it has not seen."""

from __future__ import annotations

from datetime import timedelta

from dedup.segments import SEGMENT_PREFIX, SegmentedIndex
from flows.state import StateStore
from flows.storage import open_storage
from tests.test_dedup_segments import T0, decisions, runs

BLOB = "dedup-index.bin"


def open_worker(storage, cache) -> tuple[StateStore, SegmentedIndex]:
    state = StateStore(storage)
    blobs = state.load()
    return state, SegmentedIndex.open(storage, blobs.get(BLOB), cache)


def test_a_second_worker_catches_up_fetching_only_new_segments(s3_env, s3_prefix, tmp_path):
    storage = open_storage(s3_prefix)
    batches = runs(11, 10, 15)
    probe = runs(12, 1, 20)[0]
    reader_cache = tmp_path / "reader"
    seen_by_reader: set[str] = set()
    rebuilt = 0
    for r, batch in enumerate(batches):
        now = T0 + timedelta(hours=r)
        state, writer = open_worker(storage, tmp_path / "writer")
        if r:
            # The writer's cache is warm: it fetched nothing, it made everything itself.
            assert writer.sync_stats.downloaded == 0
        writer.dedup(batch, now)
        writer.commit()
        state.commit(f"run-{r:02d}", {BLOB: writer.to_bytes()})
        new = {s.name for s in writer.segments} - seen_by_reader

        _, reader = open_worker(storage, reader_cache)
        stats = reader.sync_stats
        # Only segments the reader had not seen cross the network, and of those only the
        # deltas: merges of segments it holds are rebuilt from its cache.
        fetched = stats.downloaded + stats.rebuilt
        assert fetched == len(new), (r, stats, len(new))
        deltas = [s for s in writer.segments if s.name in new and s.level == 0]
        assert stats.downloaded == len(deltas), (r, stats)
        assert stats.downloaded_bytes == sum(s.bytes for s in deltas)
        rebuilt += stats.rebuilt
        seen_by_reader |= new
        # Both workers decide the same way.
        later = T0 + timedelta(hours=r, minutes=30)
        assert decisions(reader, probe, later) == decisions(writer, probe, later)
        reader.discard()
        writer.discard()
    assert rebuilt >= 2  # merges happened and were rebuilt, not downloaded
    # Segments no state references any more are gone from the bucket; the reader's cache
    # holds the live ones and the parts of recent merges only.
    _, last = open_worker(storage, reader_cache)
    live = {s.key for s in last.segments} | {
        f"{SEGMENT_PREFIX}{p}.seg" for s in last.segments for p in s.parts
    }
    assert set(storage.list(SEGMENT_PREFIX)) <= live | {
        f"{SEGMENT_PREFIX}{p}.seg"
        for p in last._base_refs  # noqa: SLF001
    }
    assert {p.stem for p in reader_cache.glob("*.seg")} <= {
        k[len(SEGMENT_PREFIX) : -4] for k in live
    }


def test_a_cold_worker_reads_the_whole_state_once(s3_env, s3_prefix, tmp_path):
    storage = open_storage(s3_prefix)
    state, writer = open_worker(storage, tmp_path / "writer")
    for r, batch in enumerate(runs(13, 5, 10)):
        writer.dedup(batch, T0 + timedelta(hours=r))
        writer.commit()
    state.commit("run-00", {BLOB: writer.to_bytes()})
    _, cold = open_worker(storage, tmp_path / "cold")
    assert cold.sync_stats.downloaded == len(writer.segments)
    assert cold.sync_stats.downloaded_bytes == writer.state_bytes()
    _, again = open_worker(storage, tmp_path / "cold")
    assert again.sync_stats.downloaded == 0 and again.sync_stats.cached == len(writer.segments)
