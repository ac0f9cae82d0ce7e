"""Behaviour of one dedup batch: normalisation, signatures, verification, clustering."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from datasketch import MinHash

from dedup import DedupConfig, Document, dedup_batch
from dedup.batch import prepare
from dedup.signature import signatures
from dedup.text import normalise, shingle_batch, shingle_hash_py, words
from tests.conftest import data_path

STORIES = json.loads(data_path("dedup", "stories.json").read_text(encoding="utf-8"))
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def text(name: str, start: int = 0, end: int | None = None) -> str:
    return " ".join(STORIES[name][start:end])


def by_id(decisions):
    return {d.id: d for d in decisions}


def test_normalise_folds_case_quotes_punctuation_space_and_nfkc():
    a = "“Trump’s”  pick —  Neil\u00a0GORSUCH!!\n(ﬁrst) ＡＢＣ"
    b = '"trump\'s" pick - neil gorsuch (first) abc'
    assert normalise(a) == normalise(b) == "trump s pick neil gorsuch first abc"
    assert normalise("  ,;  ") == ""
    assert normalise("snake_case") == "snake case"  # underscore separates, like punctuation


def test_signature_equals_datasketch_minhash():
    cfg = DedupConfig()
    sample = text("bridge_original")
    sb = shingle_batch([sample, "", "two words"], cfg.shingle_size)
    sigs = signatures(sb.shingles, sb.offsets, cfg.num_perm, cfg.seed)
    toks = words(sample)
    n = cfg.shingle_size
    m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed, hashfunc=shingle_hash_py)
    for i in range(len(toks) - n + 1):
        m.update(tuple(toks[i : i + n]))
    assert m.scheme == "affine32"
    np.testing.assert_array_equal(sigs[0], m.hashvalues)
    # An empty text is an empty MinHash; a text shorter than n words is one shingle.
    np.testing.assert_array_equal(sigs[1], MinHash(num_perm=cfg.num_perm, seed=cfg.seed).hashvalues)
    short = MinHash(num_perm=cfg.num_perm, seed=cfg.seed, hashfunc=shingle_hash_py)
    short.update((b"two", b"words"))
    np.testing.assert_array_equal(sigs[2], short.hashvalues)


def test_exact_duplicate_short_cuts_with_similarity_one():
    original = text("other_story")
    copy = original.upper().replace(".", " . ")
    dec = by_id(dedup_batch([Document("x", original), Document("y", copy)]))
    assert {dec["x"].cluster_id, dec["y"].cluster_id} == {dec["x"].cluster_id}
    dup = dec["y"] if dec["y"].duplicate_of else dec["x"]
    assert dup.similarity == 1.0


def test_excerpt_with_read_more_is_a_reprint_via_containment():
    full = text("bridge_original")
    excerpt = text("bridge_original", 0, 2) + " Read the full story at the Alder Gazette."
    cfg = DedupConfig()
    prep = prepare([full, excerpt], cfg)
    inter = len(np.intersect1d(prep.sets[0], prep.sets[1]))
    jaccard = inter / (prep.sizes[0] + prep.sizes[1] - inter)
    assert jaccard < cfg.jaccard_min  # Jaccard alone would miss it
    dec = by_id(dedup_batch([Document("full", full), Document("excerpt", excerpt)]))
    assert dec["excerpt"].duplicate_of == "full"  # the longer, more complete text is kept
    assert dec["full"].duplicate_of is None
    assert dec["excerpt"].similarity >= cfg.containment_min


def lightly_edit(t: str) -> str:
    t = t.replace('"', "\u201c", 1).replace('"', "\u201d", 1).replace("'", "\u2019")
    t = t.replace("routine", "regular").replace("narrow", "small").replace("bakery", "cafe")
    t = t.replace("eighteen months", "a year and a half")
    return (
        "PORT ALDER, May 1 (Wire) \u2014 "
        + t
        + " Copyright 2024 Wire Service. All rights reserved."
    )


def test_lightly_edited_reprint_is_detected():
    original = text("bridge_original")
    dec = by_id(
        dedup_batch(
            [
                Document("orig", original, published_at=T0),
                Document("reprint", lightly_edit(original), published_at=T0 + timedelta(hours=3)),
                Document("sharks", text("other_story")),
            ]
        )
    )
    assert dec["reprint"].duplicate_of == "orig"
    assert dec["reprint"].cluster_id == "orig"
    assert 0.5 < dec["reprint"].similarity < 1.0
    assert dec["sharks"].duplicate_of is None and dec["sharks"].cluster_id == "sharks"


def test_independent_stories_about_the_same_event_stay_apart():
    dec = by_id(
        dedup_batch(
            [
                Document("gazette", text("bridge_original")),
                Document("herald", text("bridge_same_event")),
            ]
        )
    )
    assert dec["gazette"].duplicate_of is None
    assert dec["herald"].duplicate_of is None
    assert dec["gazette"].cluster_id != dec["herald"].cluster_id


def test_no_bridge_merging_through_a_verified_middle_document():
    first, second = text("bridge_original", 0, 3), text("other_story")
    a = Document("A", first, published_at=T0)
    b = Document("B", first + " " + second, published_at=T0 + timedelta(hours=1))
    c = Document("C", second, published_at=T0 + timedelta(hours=2))
    dec = by_id(dedup_batch([c, b, a]))
    # A is earliest, so canonical; B contains A (verified); C is contained in B but
    # shares nothing with A, so it must not be pulled into A's cluster through B.
    assert dec["A"].duplicate_of is None
    assert dec["B"].duplicate_of == "A"
    assert dec["C"].cluster_id != "A"
    assert dec["C"].duplicate_of is None
    # Without dates the longest text B is canonical and both verify against it.
    dec = by_id(dedup_batch([Document("A", a.text), Document("B", b.text), Document("C", c.text)]))
    assert dec["A"].duplicate_of == "B" and dec["C"].duplicate_of == "B"


@pytest.mark.parametrize(
    ("expected", "docs"),
    [
        # credited outlet beats an earlier date, a higher priority and a longer text
        (
            "gazette",
            [
                Document(
                    "wire",
                    text("bridge_original"),
                    published_at=T0,
                    source_priority=9,
                    credited_source="ALDER gazette!",
                ),
                Document(
                    "gazette",
                    text("bridge_original", 0, 5),
                    published_at=T0 + timedelta(days=1),
                    outlet_names=("Alder Gazette",),
                ),
            ],
        ),
        # an earlier day beats priority and length
        (
            "early",
            [
                Document(
                    "late",
                    text("bridge_original"),
                    published_at=T0 + timedelta(days=1, hours=1),
                    source_priority=5,
                ),
                Document("early", text("bridge_original", 0, 5), published_at=T0),
            ],
        ),
        # within one UTC day, priority beats the clock: a date-only page (URL date,
        # dateline without time) reads as midnight and must not beat the original's time
        (
            "orig",
            [
                Document(
                    "copy", text("bridge_original"), published_at=T0.replace(hour=0, minute=0)
                ),
                Document(
                    "orig",
                    text("bridge_original", 0, 5),
                    published_at=T0.replace(hour=9),
                    source_priority=5,
                ),
            ],
        ),
        # same day and priority: the earlier time wins
        (
            "first",
            [
                Document("second", text("bridge_original"), published_at=T0.replace(hour=9)),
                Document("first", text("bridge_original", 0, 5), published_at=T0.replace(hour=8)),
            ],
        ),
        # higher priority beats length when dates are missing
        (
            "prio",
            [
                Document("long", text("bridge_original")),
                Document("prio", text("bridge_original", 0, 5), source_priority=3),
            ],
        ),
        # the most complete text when nothing else tells them apart
        (
            "long",
            [
                Document("short", text("bridge_original", 0, 5)),
                Document("long", text("bridge_original")),
            ],
        ),
    ],
)
def test_canonical_selection_order(expected, docs):
    dec = dedup_batch(docs)
    assert {d.cluster_id for d in dec} == {expected}
    for d in dec:
        assert d.duplicate_of == (None if d.id == expected else expected)


def test_short_texts_do_not_match_on_a_few_shared_words():
    s = STORIES["short_texts"]
    dec = dedup_batch(
        [Document(str(i), t) for i, t in enumerate(s)] + [Document("long", text("bridge_original"))]
    )
    assert all(d.duplicate_of is None for d in dec)
    # ...but an identical short text is still an exact duplicate.
    dec = by_id(dedup_batch([Document("p", s[0]), Document("q", s[0].lower())]))
    assert dec["q"].duplicate_of == "p" or dec["p"].duplicate_of == "q"


def test_empty_texts_are_never_duplicates():
    dec = dedup_batch([Document("e1", ""), Document("e2", " ... ")])
    assert [d.duplicate_of for d in dec] == [None, None]


def test_prepare_in_chunks_equals_one_batch(monkeypatch):
    import dedup.batch as batch

    cfg = DedupConfig()
    texts = [text("bridge_original"), "", "two words", text("bridge_original", 0, 2)] * 3
    whole = prepare(texts, cfg)
    monkeypatch.setattr(batch, "PREPARE_CHUNK", 5)  # 12 texts: chunks of 5, 5 and 2
    chunked = prepare(texts, cfg)
    for name in ("sigs", "sizes", "text_hashes", "n_words", "keys"):
        assert np.array_equal(getattr(whole, name), getattr(chunked, name)), name
    assert len(chunked.sets) == len(texts)
    assert all(np.array_equal(a, b) for a, b in zip(whole.sets, chunked.sets, strict=True))


def test_candidate_pairs_fold_as_they_grow_without_changing_the_pairs(monkeypatch):
    import dedup.engine as engine

    rng = np.random.default_rng(7)
    keys = rng.integers(0, 6, size=(40, 9)).astype(np.uint64)  # many shared keys, long runs
    reps = np.arange(100, 140, dtype=np.int64)
    a0, b0 = engine._candidate_pairs(keys, reps)
    monkeypatch.setattr(engine, "_FOLD_PAIRS", 1)  # fold after every band
    a1, b1 = engine._candidate_pairs(keys, reps)
    assert np.array_equal(a0, a1) and np.array_equal(b0, b1)
    expected = {
        (int(reps[i]), int(reps[j]))
        for i in range(40)
        for j in range(i + 1, 40)
        if (keys[i] == keys[j]).any()
    }
    assert set(zip(a1.tolist(), b1.tolist(), strict=True)) == expected


@pytest.mark.parametrize("distinct", [3, 20, 60, 400])
def test_candidate_pairs_are_every_pair_sharing_a_band_key(distinct):
    # Runs of every length (one key: one run of all; many keys: mostly runs of one and two).
    import dedup.engine as engine

    rng = np.random.default_rng(distinct)
    n = 90
    keys = rng.integers(0, distinct, size=(n, 7)).astype(np.uint64)
    reps = rng.permutation(np.arange(1000, 1000 + 3 * n, 3, dtype=np.int64))
    a, b = engine._candidate_pairs(keys, reps)
    expected = sorted(
        (min(int(reps[i]), int(reps[j])), max(int(reps[i]), int(reps[j])))
        for i in range(n)
        for j in range(i + 1, n)
        if (keys[i] == keys[j]).any()
    )
    assert list(zip(a.tolist(), b.tolist(), strict=True)) == expected


def test_known_lsh_params_are_datasketchs_choice():
    from datasketch.lsh import _optimal_param

    from dedup.batch import KNOWN_LSH_PARAMS, lsh_params

    config = DedupConfig()
    assert (config.lsh_threshold, config.num_perm) in KNOWN_LSH_PARAMS
    for (threshold, num_perm), params in KNOWN_LSH_PARAMS.items():
        assert params == tuple(_optimal_param(threshold, num_perm, 0.5, 0.5))
        assert lsh_params(threshold, num_perm) == params
    # Any other configuration is computed by datasketch.
    assert lsh_params(0.5, 128) == tuple(_optimal_param(0.5, 128, 0.5, 0.5))
