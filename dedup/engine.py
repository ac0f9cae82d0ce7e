"""The decision procedure shared by the in-memory and the Redis index.

1. A document whose id is already indexed is that story again (never demoted).
2. Exact duplicates (same normalised-text hash) of an indexed story short-cut to it.
3. LSH candidates from the index are verified (MinHash Jaccard estimate and the
   containment it implies given both shingle counts); the best verified indexed story
   becomes the document's original.
4. The rest of the batch is clustered among itself: identical texts are grouped, LSH
   candidate pairs are verified exactly on their shingle sets, and clusters are built
   as stars around canonical documents chosen in preference order. A document joins a
   cluster only through a verified pair with that cluster's canonical document, so a
   chain A~B~C never puts A and C together on the strength of B alone.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np

from dedup.batch import PreparedBatch, band_keys, lsh_params, prepare, sorted_distinct
from dedup.config import DedupConfig
from dedup.model import Decision, Document
from dedup.text import normalise


@dataclass
class Candidates:
    """Pairs (batch document, indexed entry) proposed by the index's LSH bands."""

    doc: np.ndarray  # int64 positions in the queried rows
    entry_ids: list[str]
    sigs: np.ndarray  # (k, num_perm) uint32
    sizes: np.ndarray  # (k,) int64


@dataclass
class StagedEntry:
    id: str
    sig: np.ndarray
    size: int
    text_hash: int
    entered_at: float


def accept(
    config: DedupConfig,
    size_a: np.ndarray,
    size_b: np.ndarray,
    jaccard: np.ndarray,
    containment: np.ndarray,
) -> np.ndarray:
    """Whether candidate pairs are reprints of each other (vectorised)."""
    small = np.minimum(size_a, size_b) < config.min_shingles
    normal = (containment >= config.containment_min) | (jaccard >= config.jaccard_min)
    return np.where(small, jaccard >= config.short_jaccard_min, normal)


def estimated_containment(
    jaccard: np.ndarray, size_a: np.ndarray, size_b: np.ndarray
) -> np.ndarray:
    """|A ∩ B| / min(|A|, |B|) from a Jaccard estimate: |A ∩ B| = J (|A| + |B|) / (1 + J)."""
    inter = jaccard / (1.0 + jaccard) * (size_a + size_b)
    return np.minimum(1.0, inter / np.maximum(1, np.minimum(size_a, size_b)))


# A pair is verified exactly when its MinHash estimates come within this margin of a
# threshold. With 128 permutations a Jaccard estimate's standard deviation is at most
# 0.044, and the containment estimate derived from it at most about twice that, so 0.2 is
# over two standard deviations of the containment estimate: a pair it skips is a near
# certain non-reprint.
VERIFY_MARGIN = 0.2
# Why a decision makes a duplicate (Decision.reason).
EXACT = "exact"
NEAR = "near_duplicate"
# Pairs whose signatures are compared at a time: each pair takes two rows of num_perm uint32
# (1 KB at 128), so a chunk is about 8 MB.
_PAIR_CHUNK = 8_192
# Candidate pair codes held before they are folded to distinct ones (8 bytes each).
_FOLD_PAIRS = 1 << 19


@lru_cache(maxsize=64)
def _upper_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.triu_indices(n, 1)``: every pair (i < j) of ``n`` places (read-only: shared)."""
    iu, ju = np.triu_indices(n, 1)
    iu.flags.writeable = ju.flags.writeable = False
    return iu, ju


def _candidate_pairs(keys: np.ndarray, reps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct pairs (a < b) of ``reps`` sharing a band key, as two index arrays."""
    empty = np.empty(0, dtype=np.int64)
    if len(reps) < 2:
        return empty, empty
    m = int(reps.max()) + 1
    codes: list[np.ndarray] = []
    held, n_held, fold_at = 0, 0, _FOLD_PAIRS
    for k in range(keys.shape[1]):
        order = np.argsort(keys[:, k], kind="stable")
        sk = keys[order, k]
        bounds = np.flatnonzero(sk[1:] != sk[:-1]) + 1
        starts = np.r_[0, bounds]
        ends = np.r_[bounds, len(sk)]
        lengths = ends - starts
        # Runs of two (most of them) in one vector operation, longer runs one vector
        # operation per length: a story reprinted by many sites makes many runs of three,
        # four... in every band.
        two = starts[lengths == 2]
        if len(two):
            x, y = reps[order[two]], reps[order[two + 1]]
            codes.append(np.minimum(x, y) * m + np.maximum(x, y))
        for length in np.unique(lengths[lengths > 2]).tolist():
            at = starts[lengths == length]
            groups = np.sort(reps[order[at[:, None] + np.arange(length)]], axis=1)
            iu, ju = _upper_pairs(length)
            codes.append((groups[:, iu] * m + groups[:, ju]).ravel())
        held += sum(len(c) for c in codes[n_held:])
        n_held = len(codes)
        if held > fold_at:
            # The same pair comes back from many bands: fold the list when it has doubled,
            # so it holds about the distinct pairs rather than one entry per band they share.
            codes = [sorted_distinct(np.concatenate(codes))]
            held, n_held = len(codes[0]), 1
            fold_at = max(fold_at, 2 * held)
    if not codes:
        return empty, empty
    unique = sorted_distinct(np.concatenate(codes))
    return unique // m, unique % m


def _maybe_reprints(
    config: DedupConfig, prep: Any, pair_a: np.ndarray, pair_b: np.ndarray
) -> np.ndarray:
    """Pairs whose signature estimates could pass :func:`accept` (within the margin)."""
    keep = np.empty(len(pair_a), dtype=bool)
    for lo in range(0, len(pair_a), _PAIR_CHUNK):
        a, b = pair_a[lo : lo + _PAIR_CHUNK], pair_b[lo : lo + _PAIR_CHUNK]
        # The share of equal values (count / num_perm: exactly what .mean() gives, faster).
        jac = np.count_nonzero(prep.sigs[a] == prep.sigs[b], axis=1) / prep.sigs.shape[1]
        size_a, size_b = prep.sizes[a], prep.sizes[b]
        con = estimated_containment(jac, size_a, size_b)
        small = np.minimum(size_a, size_b) < config.min_shingles
        normal = (con >= config.containment_min - VERIFY_MARGIN) | (
            jac >= config.jaccard_min - VERIFY_MARGIN
        )
        keep[lo : lo + _PAIR_CHUNK] = np.where(
            small, jac >= config.short_jaccard_min - VERIFY_MARGIN, normal
        )
    return keep


@lru_cache(maxsize=4096)  # a run names the same few outlets on page after page
def _outlet_key(name: str) -> str:
    """ "The Riverton Courier", "Riverton Courier" and "riverton-courier" name one outlet."""
    key = normalise(name)
    key = key[4:] if key.startswith("the ") else key
    return "".join(ch for ch in key if ch.isalnum())


def _timestamp(d: datetime | None) -> float:
    return d.timestamp() if d is not None else math.inf


def _day(d: datetime | None) -> float:
    """Publication dates compare by UTC day first: many pages give only a date (from the URL
    or a dateline without time), which must not beat a full timestamp of the same day."""
    return math.floor(d.timestamp() / 86400) if d is not None else math.inf


class IndexBase(ABC):
    """Shared dedup logic; subclasses provide storage of indexed stories."""

    config: DedupConfig

    def __init__(self, config: DedupConfig) -> None:
        self.config = config
        self._staged: list[StagedEntry] = []

    # --- storage hooks -------------------------------------------------------------
    @abstractmethod
    def _known_ids(self, ids: list[str]) -> set[str]: ...

    @abstractmethod
    def _exact(self, text_hashes: np.ndarray) -> list[str | None]: ...

    @abstractmethod
    def _candidates(self, keys: np.ndarray) -> Candidates: ...

    def _with_staged_exact(
        self, text_hashes: np.ndarray, out: list[str | None]
    ) -> list[str | None]:
        staged = {e.text_hash: e.id for e in reversed(self._staged)}
        for i, h in enumerate(text_hashes):
            if out[i] is None and int(h) in staged:
                out[i] = staged[int(h)]
        return out

    def _with_staged_candidates(self, keys: np.ndarray, cand: Candidates) -> Candidates:
        """Add entries staged by earlier dedup() calls on this object (not committed)."""
        if not self._staged:
            return cand
        b, r = lsh_params(self.config.lsh_threshold, self.config.num_perm)
        skeys = band_keys(np.stack([e.sig for e in self._staged]), b, r)
        match = (keys[:, None, :] == skeys[None, :, :]).any(axis=2)
        qd, se = np.nonzero(match)
        if not len(qd):
            return cand
        return Candidates(
            np.concatenate([cand.doc, qd]),
            cand.entry_ids + [self._staged[s].id for s in se],
            np.concatenate(
                [cand.sigs, np.stack([self._staged[s].sig for s in se]).astype(cand.sigs.dtype)]
            ),
            np.concatenate([cand.sizes, [self._staged[s].size for s in se]]).astype(np.int64),
        )

    # --- staging -------------------------------------------------------------------
    def staged_ids(self) -> list[str]:
        return [e.id for e in self._staged]

    def known_ids(self, ids: list[str]) -> set[str]:
        """Those of ``ids`` that are indexed stories (committed or staged)."""
        wanted = set(ids)
        return self._known_ids(list(wanted)) | (wanted & set(self.staged_ids()))

    def discard(self) -> None:
        """Forget entries staged by dedup() that were not committed."""
        self._staged = []

    # --- the decision --------------------------------------------------------------
    def dedup(self, docs: list[Document], now: datetime) -> list[Decision]:
        """Decide ``docs`` against the index and among themselves.

        Returns one decision per document, in order, and stages the batch's new
        canonical stories; :meth:`commit` makes them part of the index. Staged
        entries are already visible to later ``dedup`` calls on this object.
        """
        cfg = self.config
        m = len(docs)
        decisions: list[Decision | None] = [None] * m
        if m == 0:
            return []
        prep = prepare([d.text for d in docs], cfg)
        nonempty = prep.n_words > 0

        known = self._known_ids([d.id for d in docs])
        for i, d in enumerate(docs):
            if d.id in known:
                decisions[i] = Decision(d.id, d.id, None, None)

        exact = self._exact(prep.text_hashes)
        for i, d in enumerate(docs):
            if decisions[i] is None and nonempty[i] and exact[i] is not None:
                decisions[i] = Decision(d.id, exact[i], exact[i], 1.0, EXACT)  # type: ignore[arg-type]

        pending = np.array(
            [i for i in range(m) if decisions[i] is None and prep.sizes[i] > 0], dtype=np.int64
        )
        if len(pending):
            cand = self._candidates(prep.keys[pending])
            if len(cand.doc):
                rows = pending[cand.doc]
                # An index may keep only the low bits of each MinHash value (b-bit MinHash,
                # dedup.segments): compare the batch's signatures truncated the same way.
                mine = prep.sigs[rows].astype(cand.sigs.dtype, copy=False)
                jac = np.count_nonzero(cand.sigs == mine, axis=1) / cfg.num_perm
                size_doc = prep.sizes[rows]
                con = estimated_containment(jac, size_doc, cand.sizes)
                ok = accept(cfg, size_doc, cand.sizes, jac, con)
                best: dict[int, tuple[float, str]] = {}
                for k in np.flatnonzero(ok):
                    i = int(rows[k])
                    score = (float(con[k]), cand.entry_ids[k])
                    cur = best.get(i)
                    # Highest similarity wins; ties go to the smaller id, for determinism.
                    if (
                        cur is None
                        or score[0] > cur[0]
                        or (score[0] == cur[0] and score[1] < cur[1])
                    ):
                        best[i] = score
                for i, (sim, eid) in best.items():
                    decisions[i] = Decision(docs[i].id, eid, eid, round(sim, 4), NEAR)

        rest = [i for i in range(m) if decisions[i] is None]
        now_ts = now.timestamp()
        for i, dec in self._cluster_batch(docs, prep, rest).items():
            decisions[i] = dec
            if dec.duplicate_of is None and nonempty[i]:
                self._staged.append(
                    StagedEntry(
                        docs[i].id,
                        prep.sigs[i].copy(),
                        int(prep.sizes[i]),
                        int(prep.text_hashes[i]),
                        now_ts,
                    )
                )
        assert all(d is not None for d in decisions)
        return decisions  # type: ignore[return-value]

    def _cluster_batch(
        self, docs: list[Document], prep: PreparedBatch, rest: list[int]
    ) -> dict[int, Decision]:
        cfg = self.config
        # Nodes: groups of identical (normalised) texts; empty texts stay alone.
        node_of: dict[int, int] = {}
        members: list[list[int]] = []
        by_hash: dict[int, int] = {}
        for i in rest:
            if prep.n_words[i] == 0:
                node_of[i] = len(members)
                members.append([i])
                continue
            h = int(prep.text_hashes[i])
            node = by_hash.get(h)
            if node is None:
                node = by_hash[h] = len(members)
                members.append([])
            members[node].append(i)
            node_of[i] = node

        # Candidate pairs between node representatives from equal band keys.
        reps = np.array([g[0] for g in members if prep.sizes[g[0]] > 0], dtype=np.int64)
        pair_a, pair_b = _candidate_pairs(prep.keys[reps], reps)

        edges: dict[int, dict[int, float]] = defaultdict(dict)
        if len(pair_a):
            # Signatures settle most candidates: only pairs whose estimated similarity is
            # within VERIFY_MARGIN of a threshold are checked exactly on their shingle sets.
            keep = _maybe_reprints(cfg, prep, pair_a, pair_b)
            ka, kb = pair_a[keep], pair_b[keep]
            inter = np.array(
                [
                    len(np.intersect1d(prep.sets[a], prep.sets[b], assume_unique=True))
                    for a, b in zip(ka.tolist(), kb.tolist(), strict=True)
                ],
                dtype=np.float64,
            )
            size_a, size_b = prep.sizes[ka].astype(np.float64), prep.sizes[kb].astype(np.float64)
            union = size_a + size_b - inter
            jac = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
            con = inter / np.maximum(1.0, np.minimum(size_a, size_b))
            ok = accept(cfg, size_a, size_b, jac, con)
            for a, b, c in zip(ka[ok].tolist(), kb[ok].tolist(), con[ok].tolist(), strict=True):
                na, nb = node_of[a], node_of[b]
                edges[na][nb] = edges[nb][na] = c

        # A document is credited when a document it is verified against (or identical
        # to) names its outlet as the source.
        outlets = {i: {_outlet_key(o) for o in docs[i].outlet_names if o} for i in rest}
        credits = {i: _outlet_key(c) for i in rest if (c := docs[i].credited_source)}
        credited: set[int] = set()
        for node, group in enumerate(members):
            near = [node, *edges.get(node, {})]
            crediting = [credits[x] for n in near for x in members[n] if x in credits]
            if not crediting:
                continue
            for y in group:
                if outlets[y] & set(crediting):
                    credited.add(y)

        def pref(i: int) -> tuple:
            d = docs[i]
            return (
                0 if i in credited else 1,
                _day(d.published_at),
                -d.source_priority,
                _timestamp(d.published_at),
                -int(prep.n_words[i]),
                d.id,
            )

        for group in members:
            group.sort(key=pref)
        order = sorted(range(len(members)), key=lambda n: pref(members[n][0]))
        out: dict[int, Decision] = {}
        assigned = [False] * len(members)
        for node in order:
            if assigned[node]:
                continue
            assigned[node] = True
            canon = members[node][0]
            cid = docs[canon].id
            out[canon] = Decision(cid, cid, None, None)
            for x in members[node][1:]:
                out[x] = Decision(docs[x].id, cid, cid, 1.0, EXACT)
            for nb, sim in sorted(edges.get(node, {}).items()):
                if assigned[nb]:
                    continue
                assigned[nb] = True
                for x in members[nb]:
                    out[x] = Decision(docs[x].id, cid, cid, round(float(sim), 4), NEAR)
        return out
