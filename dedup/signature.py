"""MinHash signatures computed with numpy, equal to datasketch's ``MinHash``.

datasketch 2.0's default "affine32" scheme pre-mixes each 32-bit input hash with the
MurmurHash3 finalizer, then applies ``a_k * h + b_k mod 2**32`` (``a_k`` odd) for every
permutation ``k`` and keeps the minimum. The ``a``/``b`` parameters come from
``np.random.RandomState(seed)`` exactly as in ``MinHash._init_permutations``, so a
signature here equals ``datasketch.MinHash(num_perm, seed, hashfunc=<our shingle hash>)``
updated with the same shingles (checked in tests/test_dedup_signature.py).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_U32 = np.uint32
EMPTY = np.uint32(0xFFFFFFFF)


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) as datasketch.MinHash(num_perm, seed, scheme="affine32") draws them."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 32-bit finalizer (datasketch.minhash._fmix for width 32)."""
    h = h ^ (h >> _U32(16))
    h = h * _U32(0x85EBCA6B)
    h = h ^ (h >> _U32(13))
    h = h * _U32(0xC2B2AE35)
    return h ^ (h >> _U32(16))


def signatures(
    shingles: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int, chunk: int = 8192
) -> np.ndarray:
    """Signatures for many documents at once.

    ``shingles`` holds every document's 32-bit shingle hashes back to back; document
    ``i`` owns ``shingles[offsets[i]:offsets[i+1]]``. Returns a ``(n_docs, num_perm)``
    uint32 matrix; a document without shingles gets the all-0xFFFFFFFF signature, as an
    empty datasketch MinHash does.
    """
    n_docs = len(offsets) - 1
    out = np.full((num_perm, n_docs), EMPTY, dtype=np.uint32)
    if n_docs == 0 or len(shingles) == 0:
        return out.T.copy()
    a, b = permutations(num_perm, seed)
    bcol = b[:, None]
    mixed = fmix32(shingles.astype(np.uint32, copy=False))
    nonempty = np.flatnonzero(np.diff(offsets) > 0)
    starts = offsets[nonempty]
    ends = offsets[nonempty + 1]
    # Work on groups of documents holding about `chunk` shingles: the
    # (num_perm x chunk) block then stays cache-sized (4 MB), and the permutation
    # axis first keeps the per-document min-reduction contiguous in memory.
    i = 0
    while i < len(nonempty):
        s0 = starts[i]
        j = int(np.searchsorted(ends, s0 + chunk, side="right"))
        j = max(j, i + 1)
        block = np.multiply.outer(a, mixed[s0 : ends[j - 1]])
        block += bcol
        out[:, nonempty[i:j]] = np.minimum.reduceat(block, starts[i:j] - s0, axis=1)
        i = j
    return np.ascontiguousarray(out.T)
