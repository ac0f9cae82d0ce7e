"""Text normalisation and word n-gram shingle hashes.

Normalisation folds away what syndication changes without changing the story: Unicode
compatibility forms (NFKC), case, quote and dash styles, punctuation and whitespace.
A token is a maximal run of alphanumeric characters (``str.isalnum``), the same as the
regex ``[^\\W_]+``. Shingles are word n-grams; each gets a 32-bit hash built from 64-bit
xxhash token hashes combined with polynomial arithmetic in numpy (uint64 wrap-around),
so shingling a whole batch is a few vector operations instead of a Python call per
shingle.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
import xxhash

# Odd 64-bit multiplier for combining token hashes into an n-gram hash (a fixed
# constant: it is part of the scheme recorded in DedupConfig.scheme).
_NGRAM_MULT = np.uint64(0x9E3779B97F4A7C15)
_MASK64 = (1 << 64) - 1

# ASCII bytes: letters lower-cased, digits kept, everything else a separator. Bytes
# >= 0x80 (parts of UTF-8 multi-byte letters) are kept unchanged.
_ASCII_TABLE = bytes(
    (b + 32 if 65 <= b <= 90 else b) if (chr(b).isalnum() or b >= 0x80) else 32 for b in range(256)
)


def words(text: str) -> list[bytes]:
    """Normalised tokens of ``text`` as UTF-8 bytes."""
    if not text.isascii():
        # NFKC maps compatibility forms (full-width letters, ligatures, non-breaking
        # spaces) to plain ones; casefold is the Unicode-aware lower(). Non-ASCII
        # punctuation (curly quotes, dashes, guillemets...) becomes a separator, so
        # every quote style tokenises the same way: "Trump’s" == "Trump's".
        text = unicodedata.normalize("NFKC", text).casefold()
        for ch in set(text):
            if not ch.isascii() and not ch.isalnum():
                text = text.replace(ch, " ")
    return text.encode("utf-8").translate(_ASCII_TABLE).split()


def normalise(text: str) -> str:
    """Lower-case words separated by single spaces; punctuation and quote styles dropped."""
    return b" ".join(words(text)).decode("utf-8")


def text_hash(text: str) -> int:
    """64-bit hash of the normalised text: equal values short-cut to exact duplicates."""
    return xxhash.xxh64_intdigest(b" ".join(words(text)))


@dataclass
class ShingledBatch:
    """Shingle hashes of many texts, back to back (text ``i`` owns
    ``shingles[offsets[i]:offsets[i+1]]``, duplicates kept)."""

    shingles: np.ndarray  # uint32
    offsets: np.ndarray  # int64, len n+1
    text_hashes: np.ndarray  # uint64, hash of each normalised text
    n_words: np.ndarray  # int64


def shingle_batch(texts: list[str], n: int) -> ShingledBatch:
    per_doc = [words(t) for t in texts]
    n_words = np.fromiter((len(w) for w in per_doc), dtype=np.int64, count=len(per_doc))
    h = xxhash.xxh64_intdigest
    text_hashes = np.fromiter(
        (h(b" ".join(w)) for w in per_doc), dtype=np.uint64, count=len(per_doc)
    )
    flat = [w for ws in per_doc for w in ws]
    th = np.fromiter(map(h, flat), dtype=np.uint64, count=len(flat))
    # Word offsets of each text in `th`.
    woff = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(n_words, out=woff[1:])
    # Each text contributes max(len - n + 1, 1) shingles, or none if it is empty; a
    # text shorter than n words gives a single shingle of all its words.
    n_sh = np.where(n_words >= n, n_words - n + 1, np.minimum(n_words, 1))
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(n_sh, out=offsets[1:])
    total = int(offsets[-1])
    if total == 0:
        return ShingledBatch(np.empty(0, np.uint32), offsets, text_hashes, n_words)
    # Start word of every shingle, and how many words it spans (n, or fewer for short texts).
    doc_of = np.repeat(np.arange(len(texts)), n_sh)
    starts = woff[doc_of] + (np.arange(total) - offsets[doc_of])
    span = np.minimum(n_words[doc_of], n)
    padded = np.concatenate([th, np.zeros(n, dtype=np.uint64)])
    with np.errstate(over="ignore"):
        acc = padded[starts].copy()
        for i in range(1, n):
            # Extend only shingles that span more than i words.
            more = span > i
            step = acc * _NGRAM_MULT + padded[starts + i]
            acc = np.where(more, step, acc)
    return ShingledBatch((acc >> np.uint64(32)).astype(np.uint32), offsets, text_hashes, n_words)


def shingle_hash_py(shingle: tuple[bytes, ...] | list[bytes]) -> int:
    """Reference (pure Python) hash of one shingle; equals :func:`shingle_batch`'s."""
    acc = 0
    mult = int(_NGRAM_MULT)
    for i, w in enumerate(shingle):
        t = xxhash.xxh64_intdigest(w)
        acc = t if i == 0 else (acc * mult + t) & _MASK64
    return acc >> 32
