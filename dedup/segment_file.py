"""The segment file of the cross-run reprint index (see :mod:`dedup.segments` for the index).

One segment is one immutable file, named by its content's SHA-256: per story, for each LSH
band a 29-bit hash of the band key, bucketed through a directory of ``2**P`` offsets, with
the story's row packed beside the hash's low bits into one uint32; the MinHash signature's
low 16 bits (b-bit MinHash); the shingle count, the normalised-text hash (sorted, for exact
matches), the entry time and the id (sorted by a 64-bit hash). This module writes and reads
that file (:func:`encode_segment`, :class:`Segment`) and describes it in a manifest
(:class:`SegmentInfo`); it knows nothing of windows, merges or storage.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from dedup.batch import band_keys, lsh_params
from dedup.config import DedupConfig
from dedup.index import IndexConfigError

MANIFEST_FORMAT = "newsdedup-segmented-index"  # the format name, in segments and manifest
SEGMENT_MAGIC = b"NDSEG001"
SEGMENT_PREFIX = "_state/dedup/"
# Pinned layout parameters (written into every segment and the index's manifest; a change
# is a new format version, not something read from configuration).
KEY_BITS = 29  # bits of each band key's hash that are kept
SIG_BITS = 16  # low bits of each MinHash value that are kept for verification
_IDHASH_SEED = 0x6E657773  # "news"
_BAND_SALT = np.uint64(0x9E3779B97F4A7C15)
_ALIGN = 64


# --------------------------------------------------------------------------- hashing


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: MinHash values are minima (small numbers), so band keys are
    mixed before their top bits are used as buckets."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def band_hashes(keys: np.ndarray) -> np.ndarray:
    """(n, bands) uint64 band keys -> (bands, n) uint32 hashes of KEY_BITS bits."""
    out = np.empty((keys.shape[1], keys.shape[0]), dtype=np.uint32)
    with np.errstate(over="ignore"):
        for k in range(keys.shape[1]):
            salted = keys[:, k] ^ (np.uint64(k + 1) * _BAND_SALT)
            out[k] = (_mix64(salted) >> np.uint64(64 - KEY_BITS)).astype(np.uint32)
    return out


def id_hashes(ids: Iterable[str]) -> np.ndarray:
    h = xxhash.xxh64_intdigest
    return np.fromiter((h(i.encode("utf-8"), _IDHASH_SEED) for i in ids), dtype=np.uint64)


def truncate(sigs: np.ndarray) -> np.ndarray:
    return (sigs & np.uint32((1 << SIG_BITS) - 1)).astype(np.uint16)


# --------------------------------------------------------------------------- columns


@dataclass
class Columns:
    """A segment's stories in memory, rows in any order (the writer sorts them)."""

    ids: list[str]
    sizes: np.ndarray  # uint32
    text_hashes: np.ndarray  # uint64
    entered: np.ndarray  # float64, seconds since the epoch
    sig16: np.ndarray  # (n, num_perm) uint16
    bands: np.ndarray  # (bands, n) uint32 band hashes

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_signatures(
        cls,
        ids: list[str],
        sigs: np.ndarray,
        sizes: np.ndarray,
        text_hashes: np.ndarray,
        entered: np.ndarray,
        config: DedupConfig,
    ) -> Columns:
        b, r = lsh_params(config.lsh_threshold, config.num_perm)
        return cls(
            list(ids),
            np.asarray(sizes, dtype=np.uint32),
            np.asarray(text_hashes, dtype=np.uint64),
            np.asarray(entered, dtype=np.float64),
            truncate(sigs),
            band_hashes(band_keys(sigs, b, r)),
        )

    @classmethod
    def concat(cls, parts: list[Columns]) -> Columns:
        return cls(
            [i for p in parts for i in p.ids],
            np.concatenate([p.sizes for p in parts]),
            np.concatenate([p.text_hashes for p in parts]),
            np.concatenate([p.entered for p in parts]),
            np.concatenate([p.sig16 for p in parts]),
            np.concatenate([p.bands for p in parts], axis=1),
        )


def _bucket_bits(n: int) -> int:
    """Directory size 2**P with 4 to 8 rows a bucket: the row then fits beside the hash's
    KEY_BITS - P low bits in one uint32 (P + 3 row bits)."""
    return max(0, math.ceil(math.log2(max(n, 1))) - 3)


def encode_segment(cols: Columns, config: DedupConfig) -> bytes:
    """The segment file for ``cols`` (deterministic: the same columns give the same bytes)."""
    buf = io.BytesIO()
    write_segment(cols, config, buf)
    return buf.getvalue()


def write_segment(cols: Columns, config: DedupConfig, out: Any) -> None:
    """Write the segment file for ``cols`` to the binary file ``out``, section by section
    (a merged segment is hundreds of MB: no second copy of it is made in memory)."""
    n = len(cols)
    if n >= 1 << 32:
        raise ValueError("segment too large")
    all_hashes = id_hashes(cols.ids)
    order = np.argsort(all_hashes, kind="stable")
    ids = [cols.ids[i] for i in order]
    idhash = all_hashes[order]
    del all_hashes
    encoded = [i.encode("utf-8") for i in ids]
    id_offsets = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum([len(e) for e in encoded], out=id_offsets[1:])
    entered = cols.entered[order]
    th = cols.text_hashes[order]
    # Exact matches prefer the story that entered first, as ReprintIndex does.
    th_rows = np.lexsort((entered, th)).astype(np.uint32)
    p = _bucket_bits(n)
    rem_bits = KEY_BITS - p
    row_bits = 32 - rem_bits
    nb = cols.bands.shape[0]
    directory = np.empty((nb, (1 << p) + 1), dtype=np.uint32)
    entries = np.empty((nb, n), dtype=np.uint32)
    rows = np.arange(n, dtype=np.uint64)
    for k in range(nb):
        composite = np.sort((cols.bands[k][order].astype(np.uint64) << np.uint64(32)) | rows)
        h = composite >> np.uint64(32)
        directory[k] = np.searchsorted(h >> np.uint64(rem_bits), np.arange((1 << p) + 1))
        rem = h & np.uint64((1 << rem_bits) - 1)
        entries[k] = ((rem << np.uint64(row_bits)) | (composite & np.uint64(0xFFFFFFFF))).astype(
            np.uint32
        )
    b, r = lsh_params(config.lsh_threshold, config.num_perm)
    sections: dict[str, np.ndarray] = {
        "idhash": idhash,
        "id_offsets": id_offsets,
        "id_blob": np.frombuffer(b"".join(encoded), dtype=np.uint8),
        "sizes": cols.sizes[order],
        "entered": entered,
        "th": th[th_rows],
        "th_rows": th_rows,
        "sig16": np.ascontiguousarray(cols.sig16[order]),
        "dir": directory,
        "ent": entries,
    }
    header: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "rows": n,
        "num_perm": config.num_perm,
        "lsh": [b, r],
        "key_bits": KEY_BITS,
        "sig_bits": SIG_BITS,
        "bucket_bits": p,
        "min_t": float(entered.min()) if n else 0.0,
        "max_t": float(entered.max()) if n else 0.0,
        "sections": {},
    }
    # Offsets depend on the header's length; two passes settle it (the header is padded).
    start = 0
    for _ in range(3):
        offset = start
        for name, arr in sections.items():
            header["sections"][name] = [offset, arr.dtype.str, list(arr.shape)]
            offset += -(-arr.nbytes // _ALIGN) * _ALIGN
        raw = json.dumps(header, sort_keys=True).encode()
        need = -(-(len(SEGMENT_MAGIC) + 8 + len(raw)) // _ALIGN) * _ALIGN
        if need == start:
            break
        start = need
    out.write(SEGMENT_MAGIC)
    out.write(len(raw).to_bytes(8, "little"))
    out.write(raw)
    out.write(b"\0" * (start - len(SEGMENT_MAGIC) - 8 - len(raw)))
    for name in list(sections):
        arr = np.ascontiguousarray(sections.pop(name))
        out.write(arr.data.cast("B"))
        out.write(b"\0" * (-arr.nbytes % _ALIGN))
        del arr


class Segment:
    """A segment file in the local cache, read through memory maps one section at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with open(path, "rb") as fh:
            if fh.read(len(SEGMENT_MAGIC)) != SEGMENT_MAGIC:
                raise IndexConfigError(f"{path} is not a dedup segment")
            length = int.from_bytes(fh.read(8), "little")
            self.header = json.loads(fh.read(length))
        self.rows: int = self.header["rows"]
        self.bucket_bits: int = self.header["bucket_bits"]
        self.rem_bits = KEY_BITS - self.bucket_bits
        self.row_bits = 32 - self.rem_bits

    def section(self, name: str, index: int | None = None) -> np.ndarray:
        """A section (or row ``index`` of a 2-D one) as a read-only memory map."""
        offset, dtype, shape = self.header["sections"][name]
        dt = np.dtype(dtype)
        if index is not None:
            width = int(np.prod(shape[1:]))
            offset += index * width * dt.itemsize
            shape = shape[1:]
        if int(np.prod(shape)) == 0:
            return np.empty(shape, dtype=dt)
        return np.memmap(self.path, dtype=dt, mode="r", offset=offset, shape=tuple(shape))

    def read(self, name: str, index: int | None = None) -> np.ndarray:
        """A section (or row ``index`` of a 2-D one) read into memory in one sequential read:
        a lookup gathers from every band's arrays at thousands of places, which costs more
        through a memory map (page faults, memmap indexing) than reading the band once."""
        offset, dtype, shape = self.header["sections"][name]
        dt = np.dtype(dtype)
        if index is not None:
            width = int(np.prod(shape[1:]))
            offset += index * width * dt.itemsize
            shape = shape[1:]
        count = int(np.prod(shape))
        if count == 0:
            return np.empty(shape, dtype=dt)
        with open(self.path, "rb") as fh:
            return np.fromfile(fh, dtype=dt, count=count, offset=offset).reshape(shape)

    def ids_at(self, rows: np.ndarray) -> list[str]:
        offs = self.section("id_offsets")
        blob = self.section("id_blob")
        return [bytes(blob[int(offs[r]) : int(offs[r + 1])]).decode("utf-8") for r in rows.tolist()]

    def columns(self) -> Columns:
        """Every story of the segment in memory (for merging)."""
        n = self.rows
        bands = np.empty((self.header["lsh"][0], n), dtype=np.uint32)
        rowmask = np.uint32((1 << self.row_bits) - 1)
        for k in range(bands.shape[0]):
            d = np.asarray(self.section("dir", k))
            e = np.asarray(self.section("ent", k))
            bucket = np.repeat(np.arange(len(d) - 1, dtype=np.uint32), np.diff(d))
            bands[k, e & rowmask] = (bucket << np.uint32(self.rem_bits)) | (
                e >> np.uint32(self.row_bits)
            )
        return Columns(
            self.ids_at(np.arange(n)),
            np.array(self.section("sizes")),
            np.array(self.section("th"))[np.argsort(self.section("th_rows"), kind="stable")],
            np.array(self.section("entered")),
            np.array(self.section("sig16")),
            bands,
        )

    def lookup(self, qhash: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query, row) pairs whose band hash equals the query's in some band (distinct).

        ``qhash``: (bands, m) uint32 band hashes of the queries."""
        docs: list[np.ndarray] = []
        rows: list[np.ndarray] = []
        shift = np.uint32(self.rem_bits)
        remmask = np.uint32((1 << self.rem_bits) - 1)
        rowmask = np.uint32((1 << self.row_bits) - 1)
        for k in range(qhash.shape[0]):
            d = self.read("dir", k)
            bucket = (qhash[k] >> shift).astype(np.int64)
            lo = d[bucket].astype(np.int64)
            hi = d[bucket + 1].astype(np.int64)
            cnt = hi - lo
            hit = np.flatnonzero(cnt)
            if not len(hit):
                continue
            c = cnt[hit]
            q = np.repeat(hit, c)
            pos = np.repeat(lo[hit] - np.cumsum(c) + c, c) + np.arange(int(c.sum()))
            ent = self.read("ent", k)[pos]
            ok = (ent >> np.uint32(self.row_bits)) == (qhash[k][q] & remmask)
            docs.append(q[ok])
            rows.append((ent[ok] & rowmask).astype(np.int64))
        if not docs:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        width = np.int64(max(1, self.rows))
        pair = np.sort(np.concatenate(docs) * width + np.concatenate(rows))
        pair = pair[np.r_[True, pair[1:] != pair[:-1]]] if len(pair) else pair
        return pair // width, pair % width


# --------------------------------------------------------------------------- the index


@dataclass
class SegmentInfo:
    name: str
    rows: int
    bytes: int
    sha256: str
    level: int
    min_t: float
    max_t: float
    parts: list[str] = field(default_factory=list)  # for a merge made in the last commits
    made: int = 0  # the commit sequence number that made it

    @property
    def key(self) -> str:
        return f"{SEGMENT_PREFIX}{self.name}.seg"

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["key"] = self.key
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SegmentInfo:
        return cls(**{k: v for k, v in d.items() if k != "key"})
