"""The segmented reprint index (dedup.segments) shared through Redis.

Redis holds the same segment files as an output root's ``_state/dedup/`` and the manifest
that names them, so a story costs what it costs there (about 560 bytes, plus the parts of
recent merges) instead of the ~13 KB of the per-story layout in dedup.redis_index. Workers
keep their local segment cache and fetch from Redis only the segments they lack.

Keys under ``basename``:

- ``{b}:manifest``            the manifest (JSON), replaced whole by each commit
- ``{b}:seg:<key>:<i>``       the segment file's bytes in pieces of at most 64 MB
  (a Redis string holds at most 512 MB); ``{b}:seg:<key>:n`` the number of pieces
- ``{b}:lock``                held (SET NX PX) while a commit replaces the manifest

Several pipelines may share one state: a commit takes the lock, and when the manifest
changed since this index opened it, it starts from the newer one (its delta is appended to
that; its own compaction is then decided on the newer segments). Segment deletions happen
under the lock, so no commit deletes what another is writing; a reader that finds a segment
gone (a commit deleted it after the reader read the manifest) reads the manifest again.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable
from typing import Any

from dedup.config import DedupConfig
from dedup.index import IndexConfigError
from dedup.segments import SegmentedIndex, SegmentInfo

PIECE = 64 << 20
LOCK_MS = 120_000


class RedisSegmentStore:
    """get/put/delete/list over Redis strings (dedup.segments.SegmentStorage)."""

    def __init__(self, client: Any, basename: str) -> None:
        self.client, self.base = client, basename

    def _k(self, key: str) -> str:
        return f"{self.base}:seg:{key}"

    def get(self, key: str) -> bytes:
        n = self.client.get(f"{self._k(key)}:n")
        if n is None:
            raise KeyError(key)
        pieces = self.client.mget([f"{self._k(key)}:{i}" for i in range(int(n))])
        if any(p is None for p in pieces):
            raise KeyError(key)
        return b"".join(pieces)

    def put(self, key: str, data: bytes) -> None:
        pipe = self.client.pipeline(transaction=True)
        count = max(1, -(-len(data) // PIECE))
        for i in range(count):
            pipe.set(f"{self._k(key)}:{i}", data[i * PIECE : (i + 1) * PIECE])
        pipe.set(f"{self._k(key)}:n", count)  # last: a reader sees all pieces or none
        pipe.execute()

    def exists(self, key: str) -> bool:
        return bool(self.client.exists(f"{self._k(key)}:n"))

    def delete(self, key: str) -> None:
        n = self.client.get(f"{self._k(key)}:n")
        names = [f"{self._k(key)}:n"] + [f"{self._k(key)}:{i}" for i in range(int(n or 0))]
        self.client.delete(*names)

    def list(self, prefix: str = "") -> Iterable[str]:
        head = self._k(prefix)
        cut = len(self._k(""))
        for raw in self.client.scan_iter(match=f"{head}*:n", count=1000):
            name = raw.decode() if isinstance(raw, bytes) else raw
            yield name[cut:-2]


class RedisSegmentedIndex(SegmentedIndex):
    """A :class:`SegmentedIndex` whose segments and manifest live in Redis. ``commit()``
    writes the delta and the manifest (there is no separate state blob to save)."""

    client: Any
    base: str
    _opened_manifest: bytes | None

    @classmethod
    def connect(
        cls,
        redis_url: str,
        basename: str,
        cache_dir: str | os.PathLike[str],
        config: DedupConfig | None = None,
    ) -> RedisSegmentedIndex:
        import redis

        client: Any = redis.Redis.from_url(redis_url)
        store = RedisSegmentStore(client, basename)
        for _ in range(5):
            blob: bytes | None = client.get(f"{basename}:manifest")  # bytes: no decoding
            try:
                index = cls.open(store, blob, cache_dir, config)
            except KeyError:
                continue  # a segment deleted by a commit after we read its manifest
            assert isinstance(index, RedisSegmentedIndex)
            index.client, index.base, index._opened_manifest = client, basename, blob
            return index
        raise IndexConfigError(f"{basename}: segments keep disappearing under the manifest")

    def _lock(self) -> str:
        token = uuid.uuid4().hex
        deadline = time.monotonic() + LOCK_MS / 1000
        while not self.client.set(f"{self.base}:lock", token, nx=True, px=LOCK_MS):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.base}:lock is held by another commit")
            time.sleep(0.05)
        return token

    def _unlock(self, token: str) -> None:
        # Delete the lock only if it is still ours (compare and delete in one step).
        self.client.eval(
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
            "end return 0",
            1,
            f"{self.base}:lock",
            token,
        )

    def commit(self) -> int:
        token = self._lock()
        try:
            current = self.client.get(f"{self.base}:manifest")
            if current != self._opened_manifest:
                # Another pipeline committed since we opened: build on its manifest.
                manifest = json.loads(current)
                self.segments = [SegmentInfo.from_dict(s) for s in manifest["segments"]]
                self.seq = int(manifest.get("seq", 0))
                self._base_refs = self._referenced()
                self.sync()
            added = super().commit()
            blob = self.to_bytes()
            self.client.set(f"{self.base}:manifest", blob)
            self._opened_manifest = blob
            return added
        finally:
            self._unlock(token)

    def clear(self) -> None:
        """Delete every key of this index (for tests and rebuilds)."""
        for key in self.client.scan_iter(match=f"{self.base}:*", count=1000):
            self.client.delete(key)
