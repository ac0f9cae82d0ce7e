"""The segmented index shared through a real redis-server: decisions, concurrent commits of
two pipelines, what a second worker fetches, and the bytes a story costs in Redis."""

from __future__ import annotations

import uuid
from datetime import timedelta

import redis

from dedup import ReprintIndex
from dedup.redis_segments import RedisSegmentedIndex
from tests.test_dedup_segments import T0, decisions, runs


def connect(redis_url, base, cache):
    return RedisSegmentedIndex.connect(redis_url, base, cache)


def test_decisions_equal_the_in_memory_index_and_a_second_worker_catches_up(redis_url, tmp_path):
    base = f"t-{uuid.uuid4().hex[:10]}"
    ref = ReprintIndex()
    seen: set[str] = set()
    for r, batch in enumerate(runs(21, 9, 20)):
        now = T0 + timedelta(hours=r)
        writer = connect(redis_url, base, tmp_path / "w")
        assert decisions(writer, batch, now) == decisions(ref, batch, now), f"run {r}"
        writer.commit()
        ref.commit()
        reader = connect(redis_url, base, tmp_path / "r")
        new = {s.name for s in reader.segments} - seen
        assert reader.sync_stats.downloaded + reader.sync_stats.rebuilt == len(new)
        assert reader.sync_stats.downloaded == sum(
            1 for s in reader.segments if s.name in new and s.level == 0
        )
        seen |= new
    assert any(s.level > 0 for s in reader.segments)
    assert len(reader) == len(ref)


def test_two_pipelines_committing_at_once_keep_both_runs(redis_url, tmp_path):
    base = f"t-{uuid.uuid4().hex[:10]}"
    first, second = runs(22, 2, 25)
    a = connect(redis_url, base, tmp_path / "a")
    b = connect(redis_url, base, tmp_path / "b")
    a.dedup(first, T0)
    b.dedup(second, T0)
    kept_a, kept_b = set(a.staged_ids()), set(b.staged_ids())
    a.commit()
    b.commit()  # opened before a's commit: it builds on a's manifest, not over it
    c = connect(redis_url, base, tmp_path / "c")
    assert c.expire(T0 + timedelta(hours=1)) == 0  # the window as of the runs
    assert c.known_ids([d.id for d in first + second]) == kept_a | kept_b
    assert len(c.segments) == 2 and len(c) == len(kept_a) + len(kept_b)


def test_a_story_costs_in_redis_what_it_costs_in_segment_files(redis_url, tmp_path):
    base = f"t-{uuid.uuid4().hex[:10]}"
    index = connect(redis_url, base, tmp_path / "w")
    for r, batch in enumerate(runs(23, 3, 100)):
        index.dedup(batch, T0 + timedelta(hours=r))
        index.commit()
    client = redis.Redis.from_url(redis_url)
    used = sum(client.memory_usage(k) or 0 for k in client.scan_iter(match=f"{base}:*"))
    per_story = used / len(index)
    file_per_story = index.state_bytes() / len(index)
    assert per_story <= 1.3 * file_per_story, (per_story, file_per_story)
    index.clear()
    assert not list(client.scan_iter(match=f"{base}:*"))
