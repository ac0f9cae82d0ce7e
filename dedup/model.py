"""Records the dedup stage takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Document:
    id: str
    text: str
    published_at: datetime | None = None
    source_priority: int = 0
    # The outlet this text says it comes from ("Source: CNBC Indonesia").
    credited_source: str | None = None
    # Names of the outlet that published this document (matched against other
    # documents' credited_source, ignoring case and punctuation).
    outlet_names: tuple[str, ...] = field(default_factory=tuple)


@dataclass
class Decision:
    id: str
    # The story cluster: the canonical document's id (for a match against the index,
    # the indexed story's cluster id).
    cluster_id: str
    # None for a kept (canonical) story, else the id of the story it reprints.
    duplicate_of: str | None
    # For duplicates: share of the shorter text's shingles found in the longer one
    # (exact within a batch, estimated from MinHash against the index); 1.0 for an
    # exact duplicate. None for kept stories.
    similarity: float | None
    # For duplicates, why: "exact" (the same normalised text) or "near_duplicate" (verified
    # by Jaccard or containment). None for kept stories.
    reason: str | None = None
