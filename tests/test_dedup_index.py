"""The cross-run reprint index: save/load, later reprints, expiry, config checks, Redis."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dedup import DedupConfig, Document, IndexConfigError, RedisReprintIndex, ReprintIndex
from tests.conftest import data_path

STORIES = json.loads(data_path("dedup", "stories.json").read_text(encoding="utf-8"))
DAY1 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def text(name: str, start: int = 0, end: int | None = None) -> str:
    return " ".join(STORIES[name][start:end])


def first_run() -> list[Document]:
    return [
        Document("orig", text("bridge_original"), published_at=DAY1),
        Document("sharks", text("other_story"), published_at=DAY1),
        Document("sharks-copy", text("other_story", 0, 3) + " Read the full story online."),
    ]


def second_run() -> list[Document]:
    # A reprint published *earlier* than the indexed story still becomes its duplicate:
    # published stories are never demoted.
    return [
        Document(
            "reprint",
            "PORT ALDER (Wire) - " + text("bridge_original", 0, 4),
            published_at=DAY1 - timedelta(days=1),
        ),
        Document("herald", text("bridge_same_event")),
        Document("sharks-again", text("other_story").upper()),
        Document("orig", text("bridge_original")),  # the same story seen again
    ]


def test_save_load_then_later_reprint_is_duplicate_of_indexed_story():
    index = ReprintIndex()
    first = index.dedup(first_run(), DAY1)
    assert [d.duplicate_of for d in first] == [None, None, "sharks"]
    assert len(index) == 0  # staged, not committed
    index.commit()
    assert len(index) == 2
    loaded = ReprintIndex.from_bytes(index.to_bytes())
    assert len(loaded) == 2 and loaded.config == index.config
    dec = {d.id: d for d in loaded.dedup(second_run(), DAY1 + timedelta(days=2))}
    assert dec["reprint"].duplicate_of == "orig" and dec["reprint"].cluster_id == "orig"
    assert dec["sharks-again"].duplicate_of == "sharks" and dec["sharks-again"].similarity == 1.0
    assert dec["herald"].duplicate_of is None
    assert dec["orig"].duplicate_of is None and dec["orig"].cluster_id == "orig"
    assert loaded.staged_ids() == ["herald"]


def test_window_counts_from_entry_time_not_publication():
    index = ReprintIndex(DedupConfig(window_days=30))
    old = Document("orig", text("bridge_original"), published_at=DAY1 - timedelta(days=365))
    index.dedup([old], DAY1)
    index.commit()
    # Published a year ago but entered on DAY1: still inside the window 29 days later.
    assert index.expire(DAY1 + timedelta(days=29)) == 0
    later = Document("reprint", text("bridge_original", 0, 4))
    assert index.dedup([later], DAY1 + timedelta(days=29))[0].duplicate_of == "orig"
    index.discard()
    assert index.expire(DAY1 + timedelta(days=31)) == 1
    assert len(index) == 0
    assert index.dedup([later], DAY1 + timedelta(days=31))[0].duplicate_of is None


def test_loading_an_index_with_a_different_scheme_raises():
    index = ReprintIndex()
    index.dedup(first_run(), DAY1)
    index.commit()
    data = index.to_bytes()
    with pytest.raises(IndexConfigError, match="num_perm"):
        ReprintIndex.from_bytes(data, DedupConfig(num_perm=64))
    with pytest.raises(IndexConfigError, match="shingle_size"):
        ReprintIndex.from_bytes(data, DedupConfig(shingle_size=5))
    other = ReprintIndex(replace(DedupConfig(), scheme="someone-else/v0"))
    with pytest.raises(IndexConfigError, match="scheme"):
        ReprintIndex.from_bytes(other.to_bytes())
    with pytest.raises(IndexConfigError):
        ReprintIndex.from_bytes(b"not an index")
    # Thresholds are not part of the signature scheme and may change.
    assert len(ReprintIndex.from_bytes(data, DedupConfig(containment_min=0.6))) == 2


def test_redis_index_gives_the_same_decisions_as_the_memory_index(redis_url):
    memory = ReprintIndex()
    shared = RedisReprintIndex(redis_url, basename=f"t-{uuid.uuid4().hex[:10]}")
    for now, batch in ((DAY1, first_run()), (DAY1 + timedelta(days=2), second_run())):
        expected = memory.dedup(batch, now)
        assert shared.dedup(batch, now) == expected
        memory.commit()
        shared.commit()
        assert len(shared) == len(memory)
    # A second worker on the same basename sees the committed state.
    worker = RedisReprintIndex(redis_url, basename=shared.base)
    probe = [Document("probe", text("bridge_same_event", 0, 4))]
    assert worker.dedup(probe, DAY1)[0].duplicate_of == "herald"
    worker.discard()
    # Expiry drops everything that entered more than the window ago.
    later = DAY1 + timedelta(days=31)
    assert shared.expire(later) == memory.expire(later) == 2
    assert len(shared) == len(memory) == 1
    assert shared.dedup(probe, later) == memory.dedup(probe, later)
    with pytest.raises(IndexConfigError):
        RedisReprintIndex(redis_url, basename=shared.base, config=DedupConfig(seed=2))
    shared.clear()
