"""The pinned parameters of the dedup stage.

Everything that changes a signature or a decision lives in :class:`DedupConfig`; its
values are written into the saved index and the run manifest, and an index is only
ever compared with signatures made under the same values (see ``signature_fields``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

# Name and version of the text -> shingle-hash -> MinHash scheme. Bump the version
# whenever normalisation, tokenisation or shingle hashing changes, so that old saved
# indexes are refused instead of silently compared with incompatible signatures.
SCHEME = "newsdedup-word-ngram-xxh64/datasketch-affine32/v1"


@dataclass(frozen=True)
class DedupConfig:
    # MinHash: 128 permutations give a Jaccard estimate with standard error
    # sqrt(J(1-J)/128) <= 0.044, enough to verify reprints without the full text.
    num_perm: int = 128
    seed: int = 1
    # Word 3-grams: long enough that stories about the same event rarely share them,
    # short enough that a 1-6% word edit rate leaves most shingles intact.
    shingle_size: int = 3
    # LSH finds candidates only; every candidate is verified, so the threshold is low.
    # A pair on the verification boundary (half of the shorter text contained in a
    # text twice as long) has Jaccard 0.2; 0.15 leaves a margin for estimation noise.
    lsh_threshold: float = 0.15
    # Verification: a pair is a reprint when most (containment_min) of the shorter
    # text's word 3-grams occur verbatim in the longer. Syndication edits (a few percent
    # of words changed, sentences dropped or added, truncation) keep a majority of
    # 3-grams; independent reports of one event share quotes and names, rarely half
    # their 3-grams. Since containment >= Jaccard, jaccard_min only matters when set
    # below containment_min; it is kept as an explicit second criterion.
    jaccard_min: float = 0.5
    containment_min: float = 0.5
    # Texts with fewer distinct shingles than this match only on near-identity
    # (Jaccard >= short_jaccard_min), never via containment: a headline or a
    # one-line brief is contained in many articles without being a reprint of them.
    min_shingles: int = 20
    short_jaccard_min: float = 0.9
    # Rolling window of the cross-run index, counted from when a story entered it.
    window_days: float = 30.0
    scheme: str = SCHEME

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DedupConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown DedupConfig fields: {sorted(unknown)}")
        return cls(**data)

    def signature_fields(self) -> dict[str, Any]:
        """Values that must agree for two signatures to be comparable."""
        return {
            "num_perm": self.num_perm,
            "seed": self.seed,
            "shingle_size": self.shingle_size,
            "scheme": self.scheme,
        }
