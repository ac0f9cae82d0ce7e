"""The cross-run reprint index as immutable segments in object storage (an LSM of LSH keys).

A run's cost depends on the run, not on the window: nothing loads the window into memory.

- **Segments.** Each commit writes one new *delta* segment holding the run's new stories.
  A segment is one immutable file, named by its content's SHA-256, under ``_state/dedup/``
  in the output root. It holds per story only what lookup needs: for each LSH band a
  29-bit hash of the band key, bucketed (a directory of ``2**P`` offsets, about 0.5-1 byte a
  story) with the story's row packed beside the hash's low bits into one uint32; the
  MinHash signature truncated to its low 16 bits (b-bit MinHash: unequal values agree with
  probability 2**-16, so the Jaccard estimate is the full signature's within 1e-5); the
  shingle count, the normalised-text hash (sorted, for exact matches), the entry time and
  the id (sorted by a 64-bit hash, for "is this story indexed"). About 530 bytes a story.
- **Lookup.** For every segment and band, a query's key hash picks a bucket through the
  directory and is compared with the bucket's few entries. Files are memory-mapped one
  band at a time, so a lookup touches only the pages its buckets fall in and the memory it
  holds is one band of one segment, whatever the window. Hash collisions only add
  candidates: every candidate is verified on its signature as before (dedup.engine).
- **Compaction.** Segments are kept in time order with a level each (a delta is level 0).
  Before a commit adds its delta, the oldest ``FANOUT`` segments of the newest run of
  equal-level segments are merged into one of the next level, as long as the result stays
  under ``MAX_SEGMENT_ROWS`` rows and spans at most an eighth of the window. The delta itself
  is never merged in the commit that writes it.
- **Expiry.** A segment whose newest story is older than the window is dropped from the
  manifest (its file deleted); stories past the window inside a live segment are skipped by
  every lookup. Nothing is rewritten to expire.
- **Manifest.** The list of live segments (name, key, rows, bytes, sha256, level, time
  span) with the pinned configuration is a small JSON blob, committed as the run's state
  blob: the state pointer, moved last, makes a commit's segments current at once.
- **Workers.** Each worker keeps the segment files in a local cache directory. Opening a
  manifest fetches only the segments the cache lacks; a segment made by compaction whose
  parts are all in the cache is rebuilt locally (merging is deterministic) and checked
  against the manifest's SHA-256 instead of being downloaded, so a warm worker reads about
  the new deltas only.

Framework-free: storage is anything with ``get``, ``put``, ``delete`` (see
:class:`SegmentStorage`), such as flows.storage's local and S3 stores.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from dedup.batch import lsh_params
from dedup.config import DedupConfig
from dedup.engine import Candidates, IndexBase
from dedup.index import IndexConfigError, ReprintIndex, check_compatible
from dedup.segment_file import (
    KEY_BITS,
    MANIFEST_FORMAT,
    SEGMENT_PREFIX,
    SIG_BITS,
    Columns,
    Segment,
    SegmentInfo,
    band_hashes,
    id_hashes,
    write_segment,
)

MANIFEST_VERSION = 1
# Merge policy, pinned in the manifest with the layout.
FANOUT = 4  # equal-level segments merged at a time
MAX_SEGMENT_ROWS = 1 << 20  # no merge makes a segment larger than this
MAX_SPAN_OF_WINDOW = 1 / 8  # no merge makes a segment span more than this share of the window


class SegmentStorage(Protocol):
    """What the index needs of a store: keys are relative to the output root."""

    def get(self, key: str) -> bytes: ...

    def put(self, key: str, data: bytes) -> None: ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str = "") -> Iterable[str]: ...


# Commits during which a merged segment keeps naming its parts (so a worker that fell a few
# runs behind can still rebuild it from its cache instead of downloading it).
PARTS_KEPT_FOR = 2


@dataclass
class SyncStats:
    downloaded_bytes: int = 0
    downloaded: int = 0
    rebuilt: int = 0
    cached: int = 0
    seconds: float = 0.0


def default_cache_dir(root_uri: str) -> Path:
    """``NEWSDEDUP_DEDUP_CACHE``, else ``~/.cache/newsdedup/segments``, else (a home that cannot
    be written) the temp dir; one subdirectory per output root."""
    base = os.environ.get("NEWSDEDUP_DEDUP_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "newsdedup", "segments"
    )
    path = Path(base) / hashlib.sha256(root_uri.encode()).hexdigest()[:16]
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        if os.environ.get("NEWSDEDUP_DEDUP_CACHE"):
            raise  # asked for explicitly: say so rather than work elsewhere
        path = Path(tempfile.gettempdir()) / "newsdedup-segments" / path.name
    return path


class SegmentedIndex(IndexBase):
    """The reprint index over immutable segments; decisions as :class:`ReprintIndex`'s.

    ``open`` it from the manifest blob of the current state (or ``None``), ``dedup``, then
    ``commit()`` (writes the new segments to storage) and store ``to_bytes()`` (the new
    manifest) as the state blob in the same state commit.
    """

    def __init__(
        self,
        storage: SegmentStorage,
        cache_dir: str | os.PathLike[str],
        config: DedupConfig | None = None,
        on_write: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(config or DedupConfig())
        self.storage = storage
        self.cache = Path(cache_dir)
        self.cache.mkdir(parents=True, exist_ok=True)
        self.on_write = on_write
        self._bands, self._rows = lsh_params(self.config.lsh_threshold, self.config.num_perm)
        self.segments: list[SegmentInfo] = []
        self._open: dict[str, Segment] = {}
        self._unwritten: set[str] = set()  # made here, not yet in storage
        self._base_refs: set[str] = set()  # what the state this was opened from references
        self.seq = 0
        self.sync_stats = SyncStats()
        self._cutoff: float | None = None
        self.migrated = False

    # --- opening ---------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        storage: SegmentStorage,
        blob: bytes | None,
        cache_dir: str | os.PathLike[str],
        config: DedupConfig | None = None,
        on_write: Callable[[str], None] | None = None,
    ) -> SegmentedIndex:
        """The index of a state blob: ``None`` (empty), a manifest, or an old-format npz
        index (migrated: written as segments by the next commit)."""
        if blob is None or not blob:
            return cls(storage, cache_dir, config, on_write)
        if blob[:1] != b"{":
            old = ReprintIndex.from_bytes(blob, config)
            index = cls(storage, cache_dir, old.config, on_write)
            index._migrate(old)
            return index
        try:
            manifest = json.loads(blob)
        except ValueError as exc:
            raise IndexConfigError(f"not a segmented index manifest: {exc}") from exc
        if (
            manifest.get("format") != MANIFEST_FORMAT
            or manifest.get("format_version") != MANIFEST_VERSION
        ):
            raise IndexConfigError(
                f"unsupported index format {manifest.get('format')!r} "
                f"version {manifest.get('format_version')!r}"
            )
        stored = DedupConfig.from_dict(manifest["config"])
        check_compatible(stored, config)
        for name, want in (("key_bits", KEY_BITS), ("sig_bits", SIG_BITS)):
            if manifest.get(name) != want:
                raise IndexConfigError(f"index has {name}={manifest.get(name)}, expected {want}")
        index = cls(storage, cache_dir, config or stored, on_write)
        if list(manifest.get("lsh", [])) != [index._bands, index._rows]:
            raise IndexConfigError(
                f"index was built with LSH bands/rows {manifest.get('lsh')}, "
                f"this configuration makes {[index._bands, index._rows]}"
            )
        index.seq = int(manifest.get("seq", 0))
        index.segments = [SegmentInfo.from_dict(s) for s in manifest["segments"]]
        index._base_refs = index._referenced()
        index.sync()
        return index

    @staticmethod
    def missing_segments(storage: Any, data: bytes) -> list[str]:
        """Keys of the segments a manifest names that ``storage`` lacks (an old whole-index
        blob names none)."""
        if data[:1] != b"{":
            return []
        keys = [SegmentInfo.from_dict(s).key for s in json.loads(data)["segments"]]
        return [k for k in keys if not storage.exists(k)]

    @staticmethod
    def check_blob(data: bytes, config: DedupConfig | None = None) -> None:
        """Raise unless ``data`` is a state blob this code can open (a manifest, or an old
        whole index to migrate); the segments themselves are not fetched."""
        if data[:1] != b"{":
            ReprintIndex.from_bytes(data, config)
            return
        manifest = json.loads(data)
        if (
            manifest.get("format") != MANIFEST_FORMAT
            or manifest.get("format_version") != MANIFEST_VERSION
        ):
            raise IndexConfigError(f"unsupported index format {manifest.get('format')!r}")
        check_compatible(DedupConfig.from_dict(manifest["config"]), config)
        [SegmentInfo.from_dict(s) for s in manifest["segments"]]

    def _path(self, name: str) -> Path:
        return self.cache / f"{name}.seg"

    def _store_local(self, data: bytes) -> tuple[str, Path]:
        digest = hashlib.sha256(data).hexdigest()
        name = digest[:32]
        path = self._path(name)
        if not (path.exists() and path.stat().st_size == len(data)):
            fd, tmp = tempfile.mkstemp(dir=self.cache, suffix=".part")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        return digest, path

    def sync(self) -> SyncStats:
        """Bring the local cache up to the manifest: fetch (or rebuild) what it lacks."""
        t0 = time.perf_counter()
        stats = SyncStats()
        have = {s.name for s in self.segments if self._path(s.name).exists()}
        for info in self.segments:
            path = self._path(info.name)
            if path.exists() and path.stat().st_size == info.bytes:
                stats.cached += 1
                continue
            if info.parts and all(self._path(p).exists() for p in info.parts):
                # A merge whose parts this worker holds: make it here, keep it if it is the
                # same file (merging is deterministic; a different build is simply fetched).
                cols = Columns.concat([Segment(self._path(p)).columns() for p in info.parts])
                digest, _ = self._write_local(cols)
                del cols
                if digest == info.sha256:
                    stats.rebuilt += 1
                    have.add(info.name)
                    continue
                self._path(digest[:32]).unlink(missing_ok=True)
            data = self.storage.get(info.key)
            if hashlib.sha256(data).hexdigest() != info.sha256:
                raise IndexConfigError(f"segment {info.key} does not match its checksum")
            stats.downloaded += 1
            stats.downloaded_bytes += len(data)
            self._store_local(data)
            del data
            have.add(info.name)
        self._clean_cache()
        stats.seconds = time.perf_counter() - t0
        self.sync_stats = stats
        return stats

    def _clean_cache(self) -> None:
        """Keep the live segments and the parts they name; drop other cached files."""
        keep = {s.name for s in self.segments} | {p for s in self.segments for p in s.parts}
        for path in self.cache.glob("*.seg"):
            if path.stem not in keep:
                path.unlink(missing_ok=True)
        self._open = {k: v for k, v in self._open.items() if k in keep}

    def _segment(self, name: str) -> Segment:
        seg = self._open.get(name)
        if seg is None:
            seg = self._open[name] = Segment(self._path(name))
        return seg

    def _write_local(self, cols: Columns) -> tuple[str, int]:
        """Write ``cols`` as a segment file into the cache; (sha256, bytes)."""
        fd, tmp = tempfile.mkstemp(dir=self.cache, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                write_segment(cols, self.config, fh)
            sha = hashlib.sha256()
            with open(tmp, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    sha.update(block)
            digest = sha.hexdigest()
            size = os.path.getsize(tmp)
            os.replace(tmp, self._path(digest[:32]))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return digest, size

    def _add_local(self, cols: Columns, level: int, parts: list[str]) -> SegmentInfo:
        digest, size = self._write_local(cols)
        info = SegmentInfo(
            name=digest[:32],
            rows=len(cols),
            bytes=size,
            sha256=digest,
            level=level,
            min_t=float(cols.entered.min()),
            max_t=float(cols.entered.max()),
            parts=parts,
            made=self.seq + 1,
        )
        self._unwritten.add(info.name)
        return info

    def _migrate(self, old: ReprintIndex) -> None:
        """Take over an old-format (npz) index: its stories become level-1 segments."""
        n = len(old)
        step = MAX_SEGMENT_ROWS // 4
        order = np.argsort(old.entered_at, kind="stable")
        for lo in range(0, n, step):
            rows = order[lo : lo + step]
            cols = Columns.from_signatures(
                [old.ids[i] for i in rows],
                old.sigs[rows],
                old.sizes[rows],
                old.text_hashes[rows],
                old.entered_at[rows],
                self.config,
            )
            self.segments.append(self._add_local(cols, 1, []))
        self.migrated = True

    # --- lookups ---------------------------------------------------------------------
    def __len__(self) -> int:
        return sum(s.rows for s in self.segments)

    def _live_cutoff(self) -> float:
        if self._cutoff is None:
            return time.time() - self.config.window_days * 86400.0
        return self._cutoff

    def _live(self) -> list[tuple[SegmentInfo, Segment]]:
        cutoff = self._live_cutoff()
        return [(s, self._segment(s.name)) for s in self.segments if s.max_t >= cutoff]

    def _fresh(self, seg: Segment, info: SegmentInfo, rows: np.ndarray) -> np.ndarray:
        """Mask of ``rows`` that entered within the window."""
        if info.min_t >= self._live_cutoff() or not len(rows):
            return np.ones(len(rows), dtype=bool)
        return np.asarray(seg.section("entered")[rows]) >= self._live_cutoff()

    def dedup(self, docs: list[Any], now: datetime) -> list[Any]:
        self._cutoff = now.timestamp() - self.config.window_days * 86400.0
        return super().dedup(docs, now)

    def _known_ids(self, ids: list[str]) -> set[str]:
        found = {e.id for e in self._staged} & set(ids)
        if not ids:
            return found
        want = id_hashes(ids)
        for info, seg in self._live():
            if not seg.rows:
                continue
            col = seg.section("idhash")
            pos = np.minimum(np.searchsorted(col, want), seg.rows - 1)
            hit = np.flatnonzero(np.asarray(col[pos]) == want)
            if not len(hit):
                continue
            rows = pos[hit]
            fresh = self._fresh(seg, info, rows)
            for i, got in zip(hit[fresh].tolist(), seg.ids_at(rows[fresh]), strict=True):
                if got == ids[i]:
                    found.add(got)
        return found

    def _exact(self, text_hashes: np.ndarray) -> list[str | None]:
        out: list[str | None] = [None] * len(text_hashes)
        want = np.asarray(text_hashes, dtype=np.uint64)
        for info, seg in self._live():  # oldest segment first: the first story to enter wins
            if not seg.rows:
                continue
            col = seg.section("th")
            lo = np.searchsorted(col, want, side="left")
            hi = np.searchsorted(col, want, side="right")
            for i in np.flatnonzero(hi > lo).tolist():
                if out[i] is not None:
                    continue
                rows = np.asarray(seg.section("th_rows")[lo[i] : hi[i]], dtype=np.int64)
                rows = rows[self._fresh(seg, info, rows)]
                if len(rows):
                    out[i] = seg.ids_at(rows[:1])[0]
        return self._with_staged_exact(text_hashes, out)

    def _candidates(self, keys: np.ndarray) -> Candidates:
        qhash = band_hashes(keys)
        docs: list[np.ndarray] = []
        ids: list[str] = []
        sigs: list[np.ndarray] = []
        sizes: list[np.ndarray] = []
        for info, seg in self._live():
            if not seg.rows:
                continue
            d, r = seg.lookup(qhash)
            keep = self._fresh(seg, info, r)
            d, r = d[keep], r[keep]
            if not len(d):
                continue
            order = np.argsort(r, kind="stable")  # read rows in file order
            d, r = d[order], r[order]
            docs.append(d)
            ids.extend(seg.ids_at(r))
            sigs.append(np.asarray(seg.section("sig16")[r]))
            sizes.append(np.asarray(seg.section("sizes")[r], dtype=np.int64))
        if docs:
            cand = Candidates(
                np.concatenate(docs), ids, np.concatenate(sigs), np.concatenate(sizes)
            )
        else:
            cand = Candidates(
                np.empty(0, np.int64),
                [],
                np.empty((0, self.config.num_perm), np.uint16),
                np.empty(0, np.int64),
            )
        return self._with_staged_candidates(keys, cand)

    # --- state changes ---------------------------------------------------------------
    def expire(self, now: datetime) -> int:
        """Drop the segments whose every story is older than the window; returns the
        stories dropped (stories past the window in live segments are skipped by lookups)."""
        self._cutoff = now.timestamp() - self.config.window_days * 86400.0
        dead = [s for s in self.segments if s.max_t < self._cutoff]
        self.segments = [s for s in self.segments if s.max_t >= self._cutoff]
        return sum(s.rows for s in dead)

    def _compact(self) -> None:
        """Merge FANOUT equal-level segments at the newest end while the result is small
        and short enough (see the module doc); repeat until nothing qualifies."""
        span_cap = self.config.window_days * 86400.0 * MAX_SPAN_OF_WINDOW
        while True:
            if not self.segments:
                return
            level = self.segments[-1].level
            run = 0
            while run < len(self.segments) and self.segments[-1 - run].level == level:
                run += 1
            if run < FANOUT:
                return
            start = len(self.segments) - run
            group = self.segments[start : start + FANOUT]
            rows = sum(s.rows for s in group)
            span = max(s.max_t for s in group) - min(s.min_t for s in group)
            if rows > MAX_SEGMENT_ROWS or span > span_cap:
                return
            cols = Columns.concat([self._segment(s.name).columns() for s in group])
            merged = self._add_local(cols, level + 1, [s.name for s in group])
            self.segments[start : start + FANOUT] = [merged]

    def commit(self) -> int:
        """Write this run's stories as a new delta segment (after expiring and compacting the
        older ones) to storage; the state commit of :meth:`to_bytes` then makes it current.
        Returns how many stories were added."""
        staged, self._staged = self._staged, []
        if self._cutoff is not None:
            self.segments = [s for s in self.segments if s.max_t >= self._cutoff]
        self._compact()
        if staged:
            cols = Columns.from_signatures(
                [e.id for e in staged],
                np.stack([e.sig for e in staged]),
                np.array([e.size for e in staged]),
                np.array([e.text_hash for e in staged], dtype=np.uint64),
                np.array([e.entered_at for e in staged]),
                self.config,
            )
            self.segments.append(self._add_local(cols, 0, []))
        self.seq += 1
        for info in self.segments:
            if info.made and self.seq - info.made >= PARTS_KEPT_FOR:
                info.parts = []
        for info in self.segments:
            if info.name in self._unwritten:
                self.storage.put(info.key, self._path(info.name).read_bytes())
                self._unwritten.discard(info.name)
                if self.on_write is not None:
                    self.on_write(info.key)
        self._collect_garbage()
        return len(staged)

    def _collect_garbage(self) -> None:
        """Delete segment files that neither the current state (the one this index was opened
        from) nor the one being committed references, live or as the parts of a recent merge:
        segments retired by the previous commit and leftovers of crashed commits. The current
        state stays whole, so a crash before the state pointer moves loses nothing."""
        keep = self._referenced() | self._base_refs
        for key in sorted(self.storage.list(SEGMENT_PREFIX)):
            name = key[len(SEGMENT_PREFIX) :].removesuffix(".seg")
            if name in keep or not key.endswith(".seg"):
                continue
            try:
                self.storage.delete(key)
            except Exception:  # noqa: BLE001 - a file left behind costs only space
                continue
            if self.on_write is not None:
                self.on_write(key)
        self._base_refs = self._referenced()
        self._clean_cache()

    def _referenced(self) -> set[str]:
        return {s.name for s in self.segments} | {p for s in self.segments for p in s.parts}

    def to_bytes(self) -> bytes:
        """The manifest of the committed segments (the state blob)."""
        if self._unwritten:
            raise RuntimeError("commit() the index before saving its manifest")
        manifest = {
            "format": MANIFEST_FORMAT,
            "format_version": MANIFEST_VERSION,
            "config": self.config.to_dict(),
            "lsh": [self._bands, self._rows],
            "key_bits": KEY_BITS,
            "sig_bits": SIG_BITS,
            "seq": self.seq,
            "stories": len(self),
            "segments": [s.to_dict() for s in self.segments],
        }
        return (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()

    def state_bytes(self) -> int:
        return sum(s.bytes for s in self.segments)
