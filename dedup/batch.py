"""From texts to what matching needs: signatures, shingle sets, band keys, text hashes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from dedup.config import DedupConfig
from dedup.signature import signatures
from dedup.text import shingle_batch

_BAND_MULT = np.uint64(0xBF58476D1CE4E5B9)


# lsh_params of the default configuration (DedupConfig: lsh_threshold 0.15, num_perm 128),
# as datasketch computes it: opening an index then imports neither datasketch nor
# scipy.integrate (about 0.9 s of CPU in every process that opens one).
# tests/test_dedup_core.py checks every entry against datasketch.
KNOWN_LSH_PARAMS: dict[tuple[float, int], tuple[int, int]] = {(0.15, 128): (51, 2)}


@lru_cache(maxsize=16)
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) minimising the equally weighted false positive and false negative
    probability at ``threshold``: datasketch's own choice, ``MinHashLSH`` with
    ``weights=(0.5, 0.5)`` (``datasketch.lsh._optimal_param``)."""
    known = KNOWN_LSH_PARAMS.get((threshold, num_perm))
    if known is not None:
        return known
    from datasketch.lsh import _optimal_param  # scipy: only for other configurations

    return tuple(_optimal_param(threshold, num_perm, 0.5, 0.5))  # type: ignore[return-value]


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One uint64 key per (document, band). With rows <= 2 the band's hash values are
    packed exactly; longer bands are combined polynomially (a 64-bit collision only
    adds a candidate, which verification then rejects)."""
    n = sigs.shape[0]
    keys = np.empty((n, bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(bands):
            # Convert one band at a time: a uint64 copy of the whole signature matrix
            # would double peak memory at index scale.
            cols = sigs[:, k * rows : (k + 1) * rows].astype(np.uint64)
            acc = cols[:, 0].copy()
            if rows == 2:
                acc = (acc << np.uint64(32)) | cols[:, 1]
            elif rows > 2:
                for j in range(1, rows):
                    acc = acc * _BAND_MULT + cols[:, j]
            keys[:, k] = acc
    return keys


def sorted_distinct(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` by sort and neighbour comparison: numpy 2's np.unique takes a
    hash-based path on integer arrays that measured six times slower on 20 million values."""
    values = np.sort(values)
    if len(values) == 0:
        return values
    return values[np.r_[True, values[1:] != values[:-1]]]


@dataclass
class PreparedBatch:
    sigs: np.ndarray  # (m, num_perm) uint32
    sizes: np.ndarray  # (m,) int64: distinct shingles
    text_hashes: np.ndarray  # (m,) uint64
    n_words: np.ndarray  # (m,) int64
    keys: np.ndarray  # (m, bands) uint64
    sets: list[np.ndarray]  # sorted distinct shingle hashes of each text


# Texts shingled at a time. Shingling holds every word of its texts as a bytes object and
# several arrays per shingle; chunks keep that working set the same however large the batch.
PREPARE_CHUNK = 1024


def prepare(texts: list[str], config: DedupConfig) -> PreparedBatch:
    if len(texts) <= PREPARE_CHUNK:
        return _prepare(texts, config)
    parts = [
        _prepare(texts[i : i + PREPARE_CHUNK], config) for i in range(0, len(texts), PREPARE_CHUNK)
    ]
    return PreparedBatch(
        np.concatenate([p.sigs for p in parts]),
        np.concatenate([p.sizes for p in parts]),
        np.concatenate([p.text_hashes for p in parts]),
        np.concatenate([p.n_words for p in parts]),
        np.concatenate([p.keys for p in parts]),
        [s for p in parts for s in p.sets],
    )


def _prepare(texts: list[str], config: DedupConfig) -> PreparedBatch:
    sb = shingle_batch(texts, config.shingle_size)
    sigs = signatures(sb.shingles, sb.offsets, config.num_perm, config.seed)
    m = len(texts)
    # Distinct shingles per text with one sort over the whole batch: the text index
    # goes in the high 32 bits, the shingle hash in the low ones.
    doc_of = np.repeat(np.arange(m, dtype=np.uint64), np.diff(sb.offsets))
    combined = sorted_distinct((doc_of << np.uint64(32)) | sb.shingles.astype(np.uint64))
    owner = (combined >> np.uint64(32)).astype(np.int64)
    bounds = np.searchsorted(owner, np.arange(m + 1))
    low = (combined & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    sets = [low[bounds[i] : bounds[i + 1]] for i in range(m)]
    sizes = np.diff(bounds).astype(np.int64)
    b, r = lsh_params(config.lsh_threshold, config.num_perm)
    keys = band_keys(sigs, b, r)
    return PreparedBatch(sigs, sizes, sb.text_hashes, sb.n_words, keys, sets)
