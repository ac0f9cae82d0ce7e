"""The reprint index in Redis, so several workers share one dedup state.

Key layout under ``basename`` (all values binary):

- ``{b}:meta``         hash: ``config`` (JSON of DedupConfig), ``lsh`` ("bands,rows")
- ``{b}:entry``        hash: story id -> signature (uint32 x num_perm) + shingle count
                       (uint32) + normalised-text hash (uint64), little-endian
- ``{b}:exact``        hash: normalised-text hash (8 bytes) -> story id
- ``{b}:band:{k}:{key}`` set of story ids whose band ``k`` has that key
- ``{b}:entered``      sorted set: story id scored by the time it entered the index

Decisions are made by the same code as :class:`dedup.ReprintIndex` (dedup.engine), so
both give the same answers for the same history.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import numpy as np
import redis

from dedup.batch import band_keys, lsh_params
from dedup.config import DedupConfig
from dedup.engine import Candidates, IndexBase
from dedup.index import check_compatible


class RedisReprintIndex(IndexBase):
    def __init__(
        self,
        redis_url: str,
        basename: str = "newsdedup",
        config: DedupConfig | None = None,
    ) -> None:
        # Responses are bytes (no decode_responses); redis-py types them as bytes | str.
        self.client: Any = redis.Redis.from_url(redis_url)
        self.base = basename
        meta_key = self._k("meta")
        stored = self.client.hget(meta_key, "config")
        if stored is not None:
            stored_cfg = DedupConfig.from_dict(json.loads(stored))
            check_compatible(stored_cfg, config)
            config = config or stored_cfg
        else:
            config = config or DedupConfig()
            self.client.hsetnx(meta_key, "config", json.dumps(config.to_dict()))
        super().__init__(config)
        self._bands, self._rows = lsh_params(config.lsh_threshold, config.num_perm)
        self.client.hsetnx(meta_key, "lsh", f"{self._bands},{self._rows}")
        p = config.num_perm
        self._entry_dtype = np.dtype([("sig", "<u4", (p,)), ("size", "<u4"), ("hash", "<u8")])

    def _k(self, *parts: object) -> str:
        return ":".join([self.base, *map(str, parts)])

    def _band_key(self, band: int, key: int) -> str:
        return self._k("band", band, format(key, "016x"))

    def __len__(self) -> int:
        return int(self.client.hlen(self._k("entry")))

    # --- lookups ---------------------------------------------------------------------
    def _known_ids(self, ids: list[str]) -> set[str]:
        staged = {e.id for e in self._staged}
        found = self.client.hmget(self._k("entry"), ids) if ids else []
        return {i for i, v in zip(ids, found, strict=True) if v is not None or i in staged}

    def _exact(self, text_hashes: np.ndarray) -> list[str | None]:
        fields = [int(h).to_bytes(8, "little") for h in text_hashes]
        got = self.client.hmget(self._k("exact"), fields) if fields else []
        out = [v.decode("utf-8") if v is not None else None for v in got]
        return self._with_staged_exact(text_hashes, out)

    def _candidates(self, keys: np.ndarray) -> Candidates:
        pipe = self.client.pipeline(transaction=False)
        for row in keys:
            for k in range(self._bands):
                pipe.smembers(self._band_key(k, int(row[k])))
        replies = pipe.execute()
        pairs: list[tuple[int, str]] = []
        for d in range(len(keys)):
            found: set[bytes] = set()
            for reply in replies[d * self._bands : (d + 1) * self._bands]:
                found |= reply
            pairs.extend((d, x.decode("utf-8")) for x in sorted(found))
        if pairs:
            ids = [p[1] for p in pairs]
            blobs = self.client.hmget(self._k("entry"), ids)
            keep = [j for j, b in enumerate(blobs) if b is not None]  # expired meanwhile
            rec = np.frombuffer(b"".join(blobs[j] for j in keep), dtype=self._entry_dtype)
            cand = Candidates(
                np.array([pairs[j][0] for j in keep], dtype=np.int64),
                [ids[j] for j in keep],
                rec["sig"].astype(np.uint32),
                rec["size"].astype(np.int64),
            )
        else:
            cand = Candidates(
                np.empty(0, np.int64),
                [],
                np.empty((0, self.config.num_perm), np.uint32),
                np.empty(0, np.int64),
            )
        return self._with_staged_candidates(keys, cand)

    # --- state changes ---------------------------------------------------------------
    def commit(self) -> int:
        """Write the staged canonical stories to Redis in one transaction."""
        staged, self._staged = self._staged, []
        if not staged:
            return 0
        keys = band_keys(np.stack([e.sig for e in staged]), self._bands, self._rows)
        pipe = self.client.pipeline(transaction=True)
        for e, row in zip(staged, keys, strict=True):
            rec = np.zeros(1, dtype=self._entry_dtype)
            rec["sig"][0] = e.sig
            rec["size"][0] = e.size
            rec["hash"][0] = e.text_hash
            pipe.hset(self._k("entry"), e.id, rec.tobytes())
            pipe.hsetnx(self._k("exact"), e.text_hash.to_bytes(8, "little"), e.id)
            for k in range(self._bands):
                pipe.sadd(self._band_key(k, int(row[k])), e.id)
            pipe.zadd(self._k("entered"), {e.id: e.entered_at})
        pipe.execute()
        return len(staged)

    def expire(self, now: datetime) -> int:
        """Drop stories that entered the index more than ``window_days`` before ``now``."""
        cutoff = now.timestamp() - self.config.window_days * 86400.0
        old = [
            x.decode("utf-8")
            for x in self.client.zrangebyscore(self._k("entered"), "-inf", f"({cutoff}")
        ]
        if not old:
            return 0
        blobs = self.client.hmget(self._k("entry"), old)
        pipe = self.client.pipeline(transaction=True)
        for eid, blob in zip(old, blobs, strict=True):
            pipe.zrem(self._k("entered"), eid)
            if blob is None:
                continue
            rec = np.frombuffer(blob, dtype=self._entry_dtype)
            for k, key in enumerate(band_keys(rec["sig"], self._bands, self._rows)[0]):
                pipe.srem(self._band_key(k, int(key)), eid)
            pipe.hdel(self._k("entry"), eid)
            hkey = int(rec["hash"][0]).to_bytes(8, "little")
            # Remove the exact-text pointer only if it still points at this story.
            if self.client.hget(self._k("exact"), hkey) == eid.encode("utf-8"):
                pipe.hdel(self._k("exact"), hkey)
        pipe.execute()
        return len(old)

    def clear(self) -> None:
        """Delete every key of this index (for tests and rebuilds)."""
        for key in self.client.scan_iter(match=f"{self.base}:*", count=1000):
            self.client.delete(key)
