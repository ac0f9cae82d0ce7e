"""Reprint dedup benchmark: quality against gold clusters and speed, this project vs a
plain datasketch baseline in the same run, plus save/load of a 500,000-story index.

    python bench/dedup_bench.py DATA.jsonl.gz [--reps 5] [--state-n 500000]

DATA lines: {"id", "cluster", "kind", "tier", "text"} (see the dev set's README).
Prints a table and writes bench-results/dedup.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dedup import DedupConfig, Document, ReprintIndex, dedup_batch  # noqa: E402
from dedup.batch import prepare  # noqa: E402


def load(path: str) -> list[dict]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# --- scoring -------------------------------------------------------------------------
def comb2(x):
    x = np.asarray(x, dtype=np.float64)
    return x * (x - 1) / 2


def pair_scores(gold: list, pred: list) -> dict[str, float]:
    joint = Counter(zip(gold, pred, strict=True))
    tp = comb2(list(joint.values())).sum()
    gp = comb2(list(Counter(gold).values())).sum()
    pp = comb2(list(Counter(pred).values())).sum()
    precision = tp / pp if pp else 1.0
    recall = tp / gp if gp else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    total = comb2(len(gold))
    expected = gp * pp / total
    max_index = (gp + pp) / 2
    ari = (tp - expected) / (max_index - expected) if max_index != expected else 1.0
    return {"precision": precision, "recall": recall, "f1": f1, "ari": ari}


def tier_recall(rows: list[dict], pred: list) -> dict[str, float]:
    """Share of gold pairs (reprint of a tier, any other copy of its story) recovered."""
    members = defaultdict(list)
    for i, r in enumerate(rows):
        members[r["cluster"]].append(i)
    hit: Counter = Counter()
    tot: Counter = Counter()
    for i, r in enumerate(rows):
        if r.get("kind") != "reprint":
            continue
        for j in members[r["cluster"]]:
            if j != i:
                tot[r["tier"]] += 1
                hit[r["tier"]] += pred[i] == pred[j]
    return {t: hit[t] / tot[t] for t in sorted(tot)}


# --- baseline: plain datasketch --------------------------------------------------------
def baseline_signatures_lsh(texts: list[str]):
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.7, num_perm=128)
    sigs = []
    for i, t in enumerate(texts):
        w = t.lower().split()
        m = MinHash(num_perm=128)
        for k in range(max(1, len(w) - 4)):
            m.update(" ".join(w[k : k + 5]).encode("utf-8"))
        lsh.insert(str(i), m)
        sigs.append(m)
    cands = [lsh.query(m) for m in sigs]
    return cands


def baseline_clusters(texts: list[str]) -> list[int]:
    cands = baseline_signatures_lsh(texts)
    parent = list(range(len(texts)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, found in enumerate(cands):
        for key in found:
            a, b = find(i), find(int(key))
            if a != b:
                parent[a] = b
    return [find(i) for i in range(len(texts))]


# --- this project ------------------------------------------------------------------------
def project_signatures_lsh(texts: list[str], config: DedupConfig) -> int:
    """Signatures + LSH: shingle, MinHash, band keys, index the batch and query it."""
    prep = prepare(texts, config)
    index = ReprintIndex(config)
    index.sigs = prep.sigs
    index.ids = [str(i) for i in range(len(texts))]
    index.sizes = prep.sizes.astype(np.uint32)
    index.text_hashes = prep.text_hashes
    index.entered_at = np.zeros(len(texts))
    index._rebuild()
    return len(index._candidates(prep.keys).doc)


def segmented_runs(rows: list[dict], config: DedupConfig, t0) -> list:
    """The saved-index mode over dedup.segments: 4 runs, each opening the last manifest."""
    import tempfile
    from datetime import timedelta

    from dedup.segments import SegmentedIndex
    from flows.storage import LocalStorage

    out: list = []
    with tempfile.TemporaryDirectory() as tmp:
        storage = LocalStorage(Path(tmp) / "root")
        blob = None
        for b, chunk in enumerate(np.array_split(np.arange(len(rows)), 4)):
            index = SegmentedIndex.open(storage, blob, Path(tmp) / "cache", config)
            batch = [Document(rows[i]["id"], rows[i]["text"]) for i in chunk]
            out += index.dedup(batch, t0 + timedelta(days=b))
            index.commit()
            blob = index.to_bytes()
    return out


def timed(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


# --- state at scale (run in a subprocess so peak RSS is the state's own) ---------------------
STATE_SCRIPT = r"""
import json, resource, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from dedup import ReprintIndex
mode, path, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
if mode == "save":
    rng = np.random.default_rng(0)
    index = ReprintIndex()
    index.ids = [f"story-{i:09d}" for i in range(n)]
    index.sigs = rng.integers(0, 2**32, (n, index.config.num_perm), dtype=np.uint32)
    index.sizes = rng.integers(20, 2000, n).astype(np.uint32)
    index.text_hashes = rng.integers(0, 2**63, n).astype(np.uint64)
    index.entered_at = rng.uniform(0, 30 * 86400, n)
    t = time.perf_counter()
    data = index.to_bytes()
    with open(path, "wb") as fh:
        fh.write(data)
    secs = time.perf_counter() - t
else:
    t = time.perf_counter()
    with open(path, "rb") as fh:
        index = ReprintIndex.from_bytes(fh.read())
    secs = time.perf_counter() - t
    assert len(index) == n
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": secs, "peak_rss_mb": rss}))
"""


def state_bench(n: int, tmp: Path) -> dict:
    root = str(Path(__file__).resolve().parents[1])
    out = {}
    path = tmp / "state.npz"
    for mode in ("save", "load"):
        res = subprocess.run(
            [sys.executable, "-c", STATE_SCRIPT, root, mode, str(path), str(n)],
            check=True,
            capture_output=True,
            text=True,
        )
        out[mode] = json.loads(res.stdout)
    out["bytes"] = path.stat().st_size
    path.unlink()
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--baseline-reps", type=int, default=3)
    ap.add_argument("--state-n", type=int, default=500_000)
    ap.add_argument("--out", default="bench-results/dedup.json")
    args = ap.parse_args()

    rows = load(args.data)
    texts = [r["text"] for r in rows]
    gold = [r["cluster"] for r in rows]
    config = DedupConfig()
    n = len(rows)

    decisions = dedup_batch([Document(r["id"], r["text"]) for r in rows], config)
    pred = [d.cluster_id for d in decisions]
    ours = pair_scores(gold, pred)
    ours_tiers = tier_recall(rows, pred)
    base_pred = baseline_clusters(texts)
    base = pair_scores(gold, base_pred)
    base_tiers = tier_recall(rows, base_pred)

    # The same decisions made across runs: the set split into 4 batches, each decided
    # against the index of the earlier ones (estimated containment instead of exact).
    index = ReprintIndex(config)
    streamed: list = []
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    for b, chunk in enumerate(np.array_split(np.arange(n), 4)):
        batch = [Document(rows[i]["id"], rows[i]["text"]) for i in chunk]
        streamed += index.dedup(batch, t0 + timedelta(days=b))
        index.commit()
    stream = pair_scores(gold, [d.cluster_id for d in streamed])
    # The same 4 runs through the segmented state (16-bit signatures, one segment a run,
    # each run opening the previous run's manifest from storage).
    seg_streamed = segmented_runs(rows, config, t0)
    seg_stream = pair_scores(gold, [d.cluster_id for d in seg_streamed])

    ours_s = timed(lambda: project_signatures_lsh(texts, config), args.reps)
    full_s = timed(
        lambda: dedup_batch([Document(r["id"], r["text"]) for r in rows], config), args.reps
    )
    base_s = timed(lambda: baseline_signatures_lsh(texts), args.baseline_reps)
    ours_dps, base_dps = n / ours_s, n / base_s

    out_dir = Path(args.out).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    state = state_bench(args.state_n, out_dir)

    print(f"reprint dedup benchmark: {args.data} ({n} docs, {len(set(gold))} gold clusters)")
    print(f"config: {json.dumps(config.to_dict())}")
    print()
    hdr = f"{'':34}{'newsdedup':>12}{'baseline':>12}{'ratio':>9}"
    print(hdr)
    print("-" * len(hdr))
    for key in ("precision", "recall", "f1", "ari"):
        print(
            f"{'pairwise ' + key if key != 'ari' else 'adjusted Rand index':34}"
            f"{ours[key]:12.4f}{base[key]:12.4f}"
        )
    for tier in ours_tiers:
        print(
            f"{'recall, ' + tier + ' reprints':34}{ours_tiers[tier]:12.4f}"
            f"{base_tiers.get(tier, float('nan')):12.4f}"
        )
    print(
        f"{'docs/s, signatures + LSH (median)':34}{ours_dps:12.0f}{base_dps:12.0f}"
        f"{ours_dps / base_dps:8.1f}x"
    )
    print(f"{'docs/s, full dedup_batch':34}{n / full_s:12.0f}")
    print(
        f"{'F1 in 4 runs via saved index':34}{stream['f1']:12.4f}   "
        f"(precision {stream['precision']:.4f}, recall {stream['recall']:.4f})"
    )
    print(
        f"{'F1 in 4 runs via segmented state':34}{seg_stream['f1']:12.4f}   "
        f"(precision {seg_stream['precision']:.4f}, recall {seg_stream['recall']:.4f})"
    )
    print()
    print(f"state for {args.state_n:,} stories ({state['bytes'] / 1e6:.0f} MB npz):")
    print(
        f"  save {state['save']['seconds']:.2f} s (peak RSS {state['save']['peak_rss_mb']:.0f} MB)"
        f", load {state['load']['seconds']:.2f} s (peak RSS {state['load']['peak_rss_mb']:.0f} MB)"
    )

    result = {
        **{k: round(v, 4) for k, v in ours.items()},
        "recall_by_tier": {k: round(v, 4) for k, v in ours_tiers.items()},
        "docs_per_s": round(ours_dps, 1),
        "full_dedup_docs_per_s": round(n / full_s, 1),
        "streamed_4_runs": {k: round(v, 4) for k, v in stream.items()},
        "segmented_4_runs": {k: round(v, 4) for k, v in seg_stream.items()},
        "baseline": {
            **{k: round(v, 4) for k, v in base.items()},
            "recall_by_tier": {k: round(v, 4) for k, v in base_tiers.items()},
            "docs_per_s": round(base_dps, 1),
        },
        "ratio": round(ours_dps / base_dps, 2),
        "state_stories": args.state_n,
        "state_save_s": round(state["save"]["seconds"], 3),
        "state_load_s": round(state["load"]["seconds"], 3),
        "state_peak_rss_mb": round(
            max(state["save"]["peak_rss_mb"], state["load"]["peak_rss_mb"]), 1
        ),
        "config": config.to_dict(),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
