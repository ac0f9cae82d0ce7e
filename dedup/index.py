"""The cross-run reprint index kept in memory and saved as a versioned npz file.

State holds only what matching needs, one row per canonical story: MinHash signature
(uint32 matrix), number of distinct shingles, normalised-text hash, entry time and id.
LSH bands are not saved: they are rebuilt on load as one sorted uint64 key array per
band (binary search instead of millions of dict entries), which takes about a second
at 500,000 stories.
"""

from __future__ import annotations

import io
import json
from datetime import datetime

import numpy as np

from dedup.batch import band_keys, lsh_params
from dedup.config import SCHEME, DedupConfig
from dedup.engine import Candidates, IndexBase

FORMAT = "newsdedup-reprint-index"
FORMAT_VERSION = 1


class IndexConfigError(ValueError):
    """A saved index was made with a different signature scheme or parameters."""


def check_compatible(stored: DedupConfig, wanted: DedupConfig | None) -> None:
    if stored.scheme != SCHEME:
        raise IndexConfigError(
            f"index was built with signature scheme {stored.scheme!r}, this code makes "
            f"{SCHEME!r}; its signatures are not comparable: rebuild the index"
        )
    if wanted is not None and stored.signature_fields() != wanted.signature_fields():
        raise IndexConfigError(
            "index was built with signature settings "
            f"{stored.signature_fields()} but {wanted.signature_fields()} were asked for; "
            "signatures made with different settings are not comparable"
        )


class ReprintIndex(IndexBase):
    def __init__(self, config: DedupConfig | None = None) -> None:
        super().__init__(config or DedupConfig())
        self._bands, self._rows = lsh_params(self.config.lsh_threshold, self.config.num_perm)
        p = self.config.num_perm
        self.ids: list[str] = []
        self.sigs = np.empty((0, p), dtype=np.uint32)
        self.sizes = np.empty(0, dtype=np.uint32)
        self.text_hashes = np.empty(0, dtype=np.uint64)
        self.entered_at = np.empty(0, dtype=np.float64)
        self._rebuild()

    # --- lookup structures -------------------------------------------------------
    def _rebuild(self) -> None:
        self._row_of = {eid: i for i, eid in enumerate(self.ids)}
        n = len(self.ids)
        self._band_order = np.empty((self._bands, n), dtype=np.int32)
        self._band_sorted = np.empty((self._bands, n), dtype=np.uint64)
        step = 1 << 16  # rows per slice: keeps temporary key arrays small
        for k in range(self._bands):
            keys = np.empty(n, dtype=np.uint64)
            for s in range(0, n, step):
                block = self.sigs[s : s + step, k * self._rows : (k + 1) * self._rows]
                keys[s : s + step] = band_keys(block, 1, self._rows)[:, 0]
            order = np.argsort(keys)
            self._band_order[k] = order
            self._band_sorted[k] = keys[order]
        self._hash_order = np.argsort(self.text_hashes, kind="stable")
        self._hash_sorted = self.text_hashes[self._hash_order]

    def __len__(self) -> int:
        return len(self.ids)

    def _known_ids(self, ids: list[str]) -> set[str]:
        staged = {e.id for e in self._staged}
        return {i for i in ids if i in self._row_of or i in staged}

    def _exact(self, text_hashes: np.ndarray) -> list[str | None]:
        out: list[str | None] = [None] * len(text_hashes)
        if len(self.ids):
            pos = np.searchsorted(self._hash_sorted, text_hashes)
            pos = np.minimum(pos, len(self._hash_sorted) - 1)
            hit = self._hash_sorted[pos] == text_hashes
            for i in np.flatnonzero(hit):
                out[i] = self.ids[int(self._hash_order[pos[i]])]
        return self._with_staged_exact(text_hashes, out)

    def _candidates(self, keys: np.ndarray) -> Candidates:
        docs: list[np.ndarray] = []
        rows: list[np.ndarray] = []
        if len(self.ids):
            for k in range(self._bands):
                sk = self._band_sorted[k]
                lo = np.searchsorted(sk, keys[:, k], side="left")
                hi = np.searchsorted(sk, keys[:, k], side="right")
                cnt = hi - lo
                hit = np.flatnonzero(cnt)
                if not len(hit):
                    continue
                c = cnt[hit]
                d = np.repeat(hit, c)
                # Positions lo..hi-1 of every hit, flattened.
                start = np.repeat(lo[hit] - np.cumsum(c) + c, c) + np.arange(c.sum())
                docs.append(d)
                rows.append(self._band_order[k][start].astype(np.int64))
        if docs:
            # Distinct (doc, row) pairs, as one sorted int64 key per pair.
            width = np.int64(max(1, len(self.ids)))
            pair = np.sort(np.concatenate(docs) * width + np.concatenate(rows))
            pair = pair[np.r_[True, pair[1:] != pair[:-1]]]
            d_idx, r_idx = pair // width, pair % width
        else:
            d_idx = r_idx = np.empty(0, dtype=np.int64)
        cand = Candidates(
            d_idx,
            [self.ids[r] for r in r_idx],
            self.sigs[r_idx],
            self.sizes[r_idx].astype(np.int64),
        )
        return self._with_staged_candidates(keys, cand)

    # --- state changes -----------------------------------------------------------
    def commit(self) -> int:
        """Merge the staged canonical stories into the index; returns how many."""
        staged, self._staged = self._staged, []
        if not staged:
            return 0
        self.ids = self.ids + [e.id for e in staged]
        self.sigs = np.concatenate([self.sigs, np.stack([e.sig for e in staged])])
        self.sizes = np.concatenate([self.sizes, np.array([e.size for e in staged], np.uint32)])
        self.text_hashes = np.concatenate(
            [self.text_hashes, np.array([e.text_hash for e in staged], np.uint64)]
        )
        self.entered_at = np.concatenate(
            [self.entered_at, np.array([e.entered_at for e in staged], np.float64)]
        )
        self._rebuild()
        return len(staged)

    def expire(self, now: datetime) -> int:
        """Drop stories that entered the index more than ``window_days`` before ``now``."""
        cutoff = now.timestamp() - self.config.window_days * 86400.0
        keep = self.entered_at >= cutoff
        dropped = int(len(keep) - keep.sum())
        if dropped:
            self.ids = [eid for eid, k in zip(self.ids, keep, strict=True) if k]
            self.sigs = self.sigs[keep]
            self.sizes = self.sizes[keep]
            self.text_hashes = self.text_hashes[keep]
            self.entered_at = self.entered_at[keep]
            self._rebuild()
        return dropped

    # --- persistence ---------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The committed state as an uncompressed npz (staged entries are not saved)."""
        header = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "config": self.config.to_dict(),
            "lsh": [self._bands, self._rows],
            "count": len(self.ids),
        }
        encoded = [i.encode("utf-8") for i in self.ids]
        id_offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=id_offsets[1:])
        buf = io.BytesIO()
        np.savez(
            buf,
            header=np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8),
            sigs=self.sigs,
            sizes=self.sizes,
            text_hashes=self.text_hashes,
            entered_at=self.entered_at,
            id_blob=np.frombuffer(b"".join(encoded), dtype=np.uint8),
            id_offsets=id_offsets,
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, config: DedupConfig | None = None) -> ReprintIndex:
        """Load a saved index. With ``config`` given, its signature settings must match
        the saved ones; the saved thresholds are then replaced by ``config``'s."""
        try:
            npz = np.load(io.BytesIO(data), allow_pickle=False)
            header = json.loads(npz["header"].tobytes().decode("utf-8"))
        except Exception as exc:  # noqa: BLE001 - any parse failure means "not an index"
            raise IndexConfigError(f"not a saved reprint index: {exc}") from exc
        if header.get("format") != FORMAT or header.get("format_version") != FORMAT_VERSION:
            raise IndexConfigError(
                f"unsupported index format {header.get('format')!r} "
                f"version {header.get('format_version')!r} (expected {FORMAT!r} v{FORMAT_VERSION})"
            )
        stored = DedupConfig.from_dict(header["config"])
        check_compatible(stored, config)
        index = cls(config or stored)
        blob = npz["id_blob"].tobytes().decode("utf-8")
        # Offsets count UTF-8 bytes; decode per id only when the blob is not ASCII.
        offs = npz["id_offsets"]
        if blob.isascii():
            index.ids = [blob[offs[i] : offs[i + 1]] for i in range(len(offs) - 1)]
        else:
            raw = npz["id_blob"].tobytes()
            index.ids = [raw[offs[i] : offs[i + 1]].decode("utf-8") for i in range(len(offs) - 1)]
        index.sigs = npz["sigs"]
        index.sizes = npz["sizes"]
        index.text_hashes = npz["text_hashes"]
        index.entered_at = npz["entered_at"]
        if index.sigs.shape != (len(index.ids), index.config.num_perm):
            raise IndexConfigError(f"corrupt index: signature matrix {index.sigs.shape}")
        index._rebuild()
        return index


def dedup_batch(docs: list, config: DedupConfig | None = None) -> list:
    """Decide one batch on its own (no state kept)."""
    from datetime import UTC

    return ReprintIndex(config).dedup(docs, datetime.now(UTC))
