"""Dedup state at scale: one run's cost against windows of 0.5 to 5 million stories.

For each window size the command builds a synthetic window in an output root (segments as
the compaction policy leaves them in steady state: as many 640,000-story level-2 segments
as fit, then 160,000-story level-1 and 40,000-story level-0 ones, entry times over the
past 29 days). Window signatures are random, except for the originals of the run's
near-duplicates, which are real texts. Then, each in a subprocess of its own so that
peak RSS is the run's:

- **run**: a warm writer (its cache holds the window) opens the state, deduplicates a run of
  new texts (a known share are edited copies of window stories: their recall is reported),
  commits the delta and the state;
- **warm**: a second worker whose cache held the window opens the new state: bytes read;
- **cold**: a worker with an empty cache opens it: seconds (every segment fetched and checked);
- **baseline** (smallest window only): today's whole index (dedup.ReprintIndex, npz under
  _state/) loaded, the same run deduplicated, committed and saved.

Prints a table and writes bench-results/state.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dedup import DedupConfig, Document, ReprintIndex  # noqa: E402
from dedup.batch import prepare  # noqa: E402
from dedup.segment_file import (  # noqa: E402
    SEGMENT_PREFIX,
    Columns,
    SegmentInfo,
    encode_segment,
)
from dedup.segments import SegmentedIndex  # noqa: E402

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
VOCAB_SIZE = 30_000
WORDS = 260
LEVEL_ROWS = [(2, 640_000), (1, 160_000), (0, 40_000)]
CHUNK = 160_000  # window rows generated at a time
STATE_BLOB = "dedup-index.bin"  # flows.lake.STATE_DEDUP


# --------------------------------------------------------------------------- texts
def vocabulary(rng: np.random.Generator) -> list[str]:
    letters = np.array(list("etaoinshrdlucmfwypvbgkjqxz"))
    out, seen = [], set()
    while len(out) < VOCAB_SIZE:
        w = "".join(rng.choice(letters, rng.integers(2, 10)))
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def make_texts(rng: np.random.Generator, vocab: list[str], n: int) -> list[str]:
    # Word frequencies follow Zipf's law, as in prose: common trigrams then meet in LSH
    # bands as they do in real news, which makes candidates to verify.
    p = 1.0 / np.arange(1, len(vocab) + 1)
    p /= p.sum()
    idx = rng.choice(len(vocab), size=(n, WORDS), p=p)
    return [" ".join(vocab[i] for i in row) for row in idx]


def near_copy(rng: np.random.Generator, vocab: list[str], text: str) -> str:
    """A syndicated copy: 1-8% of words replaced, possibly cut to 65-100% of its length."""
    words = text.split()
    rate = rng.uniform(0.01, 0.08)
    for i in np.flatnonzero(rng.random(len(words)) < rate):
        words[i] = vocab[int(rng.integers(len(vocab)))]
    cut = len(words) if rng.random() < 0.5 else int(len(words) * rng.uniform(0.65, 1.0))
    return "Agency report. " + " ".join(words[:cut])


# --------------------------------------------------------------------------- the window
def segment_plan(n: int) -> list[tuple[int, int]]:
    plan = []
    left = n
    for level, rows in LEVEL_ROWS:
        while left >= rows or (level == 0 and left > 0):
            plan.append((level, min(rows, left)))
            left -= min(rows, left)
    return plan


def build_window(
    n: int, root: Path, cache: Path, originals: list[str], seed: int, config: DedupConfig
) -> dict:
    """Write the window's segments and manifest (state version "window") into ``root``."""
    from flows.state import StateStore
    from flows.storage import LocalStorage

    rng = np.random.default_rng(seed)
    storage = LocalStorage(root)
    cache.mkdir(parents=True, exist_ok=True)
    prep = prepare(originals, config)
    plan = segment_plan(n)
    # Where the originals go: spread over the window at random rows.
    orig_rows = np.sort(rng.choice(n, size=len(originals), replace=False))
    span = 29 * 86400.0
    start_t = NOW.timestamp() - span - 3600
    infos = []
    row0 = 0
    t0 = time.perf_counter()
    for level, rows in plan:
        parts = []
        for lo in range(0, rows, CHUNK):
            m = min(CHUNK, rows - lo)
            g0 = row0 + lo
            sigs = rng.integers(0, 2**32, (m, config.num_perm), dtype=np.uint32)
            sizes = rng.integers(40, 900, m).astype(np.uint32)
            ths = rng.integers(0, 2**63, m, dtype=np.int64).astype(np.uint64)
            ids = [f"{i:016x}" for i in range(g0, g0 + m)]
            sel = np.flatnonzero((orig_rows >= g0) & (orig_rows < g0 + m))
            for j in sel:
                r = int(orig_rows[j] - g0)
                sigs[r] = prep.sigs[j]
                sizes[r] = prep.sizes[j]
                ths[r] = prep.text_hashes[j]
            entered = start_t + (g0 + np.arange(m)) / n * span
            parts.append(Columns.from_signatures(ids, sigs, sizes, ths, entered, config))
            del sigs
        cols = Columns.concat(parts) if len(parts) > 1 else parts[0]
        del parts
        data = encode_segment(cols, config)
        import hashlib

        digest = hashlib.sha256(data).hexdigest()
        info = SegmentInfo(
            name=digest[:32],
            rows=len(cols),
            bytes=len(data),
            sha256=digest,
            level=level,
            min_t=float(cols.entered.min()),
            max_t=float(cols.entered.max()),
        )
        del cols
        storage.put(info.key, data)
        os.link(root / info.key, cache / f"{info.name}.seg")
        del data
        infos.append(info)
        row0 += rows
    index = SegmentedIndex(storage, cache, config)
    index.segments = infos
    StateStore(storage).commit("window", {STATE_BLOB: index.to_bytes()})
    ids_of_originals = [f"{int(r):016x}" for r in orig_rows]
    return {"build_seconds": time.perf_counter() - t0, "original_ids": ids_of_originals}


def build_baseline(n: int, path: Path, originals: list[str], seed: int, config: DedupConfig):
    """The same window as today's npz index (random rows, the same originals)."""
    rng = np.random.default_rng(seed + 1)
    prep = prepare(originals, config)
    index = ReprintIndex(config)
    sigs = rng.integers(0, 2**32, (n, config.num_perm), dtype=np.uint32)
    sizes = rng.integers(40, 900, n).astype(np.uint32)
    ths = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64)
    orig_rows = np.sort(rng.choice(n, size=len(originals), replace=False))
    sigs[orig_rows] = prep.sigs
    sizes[orig_rows] = prep.sizes
    ths[orig_rows] = prep.text_hashes
    index.ids = [f"{i:016x}" for i in range(n)]
    index.sigs, index.sizes, index.text_hashes = sigs, sizes, ths
    index.entered_at = NOW.timestamp() - 29 * 86400.0 + np.arange(n) / n * 29 * 86400.0
    path.write_bytes(index.to_bytes())
    return [f"{int(r):016x}" for r in orig_rows]


# --------------------------------------------------------------------------- the run
def run_docs(spec: dict) -> tuple[list[Document], dict[str, str]]:
    rng = np.random.default_rng(spec["seed"] + 7)
    vocab = vocabulary(np.random.default_rng(spec["seed"]))
    originals = spec["originals"]
    orig_ids = spec["original_ids"]
    n_near = spec["near"]
    fresh = make_texts(rng, vocab, spec["run"] - n_near)
    pick = rng.choice(len(originals), size=n_near, replace=n_near > len(originals))
    docs = [Document(f"near-{i:06d}", near_copy(rng, vocab, originals[j])) for i, j in
            enumerate(pick)]
    want = {d.id: orig_ids[j] for d, j in zip(docs, pick, strict=True)}
    docs += [Document(f"new-{i:06d}", t) for i, t in enumerate(fresh)]
    order = rng.permutation(len(docs))
    return [docs[i] for i in order], want


def score(docs: list[Document], decisions: list, want: dict[str, str]) -> dict:
    by_id = {d.id: d for d in decisions}
    hit = sum(1 for i, o in want.items() if by_id[i].duplicate_of == o)
    fresh = [d.id for d in docs if d.id not in want]
    wrong = sum(1 for i in fresh if by_id[i].duplicate_of is not None)
    return {"recall": hit / max(1, len(want)), "fresh_marked_duplicate": wrong}


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM: ru_maxrss would carry the parent's peak over the
    fork and exec that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_run(spec: dict) -> dict:
    from flows.state import StateStore
    from flows.storage import LocalStorage

    storage = LocalStorage(spec["root"])
    docs, want = run_docs(spec)
    now = NOW
    t0 = time.perf_counter()
    state = StateStore(storage)
    blobs = state.load()
    index = SegmentedIndex.open(storage, blobs[STATE_BLOB], spec["cache"])
    t_open = time.perf_counter() - t0
    before = {s.name for s in index.segments}
    # The run's dedup (signatures, lookups, verification, clustering) `reps` times over: a
    # shared 2-core machine's load moves single timings by tens of percent.
    times, cpu = [], []
    for rep in range(spec.get("reps", 1)):
        if rep:
            index.discard()
        t0, c0 = time.perf_counter(), time.process_time()
        decisions = index.dedup(docs, now)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    t_dedup = statistics.median(times)
    t0 = time.perf_counter()
    index.commit()
    state.commit("run-1", {STATE_BLOB: index.to_bytes()})
    t_commit = time.perf_counter() - t0
    new = [s for s in index.segments if s.name not in before]
    return {
        "open_seconds": t_open,
        "dedup_seconds": t_dedup,
        "dedup_cpu_seconds": statistics.median(cpu),
        "commit_seconds": t_commit,
        "delta_bytes": sum(s.bytes for s in new),
        "new_segments": len(new),
        "segments": len(index.segments),
        "peak_rss_mb": peak_rss_mb(),
        **score(docs, decisions, want),
    }


def child_open(spec: dict) -> dict:
    from flows.state import StateStore
    from flows.storage import LocalStorage

    storage = LocalStorage(spec["root"])
    t0 = time.perf_counter()
    blobs = StateStore(storage).load()
    index = SegmentedIndex.open(storage, blobs[STATE_BLOB], spec["cache"])
    return {
        "seconds": time.perf_counter() - t0,
        "bytes_read": index.sync_stats.downloaded_bytes,
        "downloaded": index.sync_stats.downloaded,
        "rebuilt": index.sync_stats.rebuilt,
        "peak_rss_mb": peak_rss_mb(),
    }


def child_baseline(spec: dict) -> dict:
    docs, want = run_docs(spec)
    t0 = time.perf_counter()
    index = ReprintIndex.from_bytes(Path(spec["npz"]).read_bytes())
    t_open = time.perf_counter() - t0
    times = []
    for rep in range(spec.get("reps", 1)):
        if rep:
            index.discard()
        t0 = time.perf_counter()
        decisions = index.dedup(docs, NOW)
        times.append(time.perf_counter() - t0)
    t_dedup = statistics.median(times)
    t0 = time.perf_counter()
    index.commit()
    Path(spec["npz"]).write_bytes(index.to_bytes())
    t_commit = time.perf_counter() - t0
    return {
        "open_seconds": t_open,
        "dedup_seconds": t_dedup,
        "commit_seconds": t_commit,
        "peak_rss_mb": peak_rss_mb(),
        **score(docs, decisions, want),
    }


def in_child(kind: str, spec: dict) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(spec, fh)
    try:
        res = subprocess.run(
            [sys.executable, __file__, "--child", kind, fh.name],
            capture_output=True,
            text=True,
        )
    finally:
        os.unlink(fh.name)
    if res.returncode != 0:
        raise RuntimeError(f"{kind} child failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--windows", default="500000,2000000,5000000")
    ap.add_argument("--run", type=int, default=40_000)
    ap.add_argument("--near-share", type=float, default=0.1)
    ap.add_argument("--baseline-max", type=int, default=500_000)
    ap.add_argument("--reps", type=int, default=3, help="dedup timings per run (median)")
    ap.add_argument("--work", default=None, help="scratch directory (default: a temp dir)")
    ap.add_argument("--out", default="bench-results/state.json")
    ap.add_argument("--child", nargs=2, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, spec = args.child[0], json.loads(Path(args.child[1]).read_text())
        fn = {"run": child_run, "open": child_open, "baseline": child_baseline}[kind]
        print(json.dumps(fn(spec)))
        return 0

    config = DedupConfig()
    seed = 20261
    near = int(args.run * args.near_share)
    vocab = vocabulary(np.random.default_rng(seed))
    originals = make_texts(np.random.default_rng(seed + 3), vocab, min(near, 4000))
    scratch = Path(args.work or tempfile.mkdtemp(prefix="state-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    rows = []
    print(
        f"dedup state benchmark: a run of {args.run:,} new stories ({near:,} near-duplicates of "
        f"window stories) against each window; {os.cpu_count()} cores",
        flush=True,
    )
    for n in [int(x) for x in args.windows.split(",")]:
        work = scratch / f"w{n}"
        shutil.rmtree(work, ignore_errors=True)
        root, cache, warm, cold = (work / x for x in ("root", "cache", "warm", "cold"))
        built = build_window(n, root, cache, originals, seed, config)
        warm.mkdir(parents=True)
        for f in cache.glob("*.seg"):
            os.link(f, warm / f.name)
        window_bytes = dir_bytes(root / SEGMENT_PREFIX)
        spec = {
            "root": str(root),
            "cache": str(cache),
            "seed": seed,
            "run": args.run,
            "near": near,
            "originals": originals,
            "original_ids": built["original_ids"],
            "reps": args.reps,
        }
        run = in_child("run", spec)
        w = in_child("open", {**spec, "cache": str(warm)})
        c = in_child("open", {**spec, "cache": str(cold)})
        total = n + args.run - run["fresh_marked_duplicate"] - int(run["recall"] * near)
        row = {
            "stories": n,
            "run_new": args.run,
            "dedup_seconds": round(run["dedup_seconds"], 2),
            "dedup_cpu_seconds": round(run["dedup_cpu_seconds"], 2),
            "open_seconds": round(run["open_seconds"], 2),
            "commit_seconds": round(run["commit_seconds"], 2),
            "peak_rss_mb": round(run["peak_rss_mb"], 1),
            "bytes_per_story": round(window_bytes / n, 1),
            "state_bytes_after": dir_bytes(root / SEGMENT_PREFIX),
            "stories_after": total,
            "warm_bytes_read": w["bytes_read"],
            "warm_segments_rebuilt": w["rebuilt"],
            "delta_bytes": run["delta_bytes"],
            "cold_seconds": round(c["seconds"], 2),
            "cold_bytes_read": c["bytes_read"],
            "recall": round(run["recall"], 4),
            "fresh_marked_duplicate": run["fresh_marked_duplicate"],
            "segments": run["segments"],
            "build_seconds": round(built["build_seconds"], 1),
        }
        if n <= args.baseline_max:
            npz = work / "baseline.npz"
            base_ids = build_baseline(n, npz, originals, seed, config)
            b = in_child("baseline", {**spec, "npz": str(npz), "original_ids": base_ids})
            row["baseline"] = {
                "dedup_seconds": round(b["dedup_seconds"], 2),
                "open_seconds": round(b["open_seconds"], 2),
                "commit_seconds": round(b["commit_seconds"], 2),
                "peak_rss_mb": round(b["peak_rss_mb"], 1),
                "bytes_per_story": round(npz.stat().st_size / (n + args.run), 1),
                "recall": round(b["recall"], 4),
            }
        rows.append(row)
        print(json.dumps(row), flush=True)
        shutil.rmtree(work, ignore_errors=True)

    print()
    hdr = (
        f"{'window':>10}{'dedup s':>9}{'cpu s':>7}{'open s':>8}{'commit s':>9}{'peak MB':>9}"
        f"{'B/story':>9}"
        f"{'warm read':>11}{'delta':>10}{'warm/delta':>11}{'cold s':>8}{'recall':>8}{'segs':>6}"
    )
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(
            f"{r['stories']:>10,}{r['dedup_seconds']:>9.1f}{r['dedup_cpu_seconds']:>7.1f}"
            f"{r['open_seconds']:>8.2f}"
            f"{r['commit_seconds']:>9.1f}{r['peak_rss_mb']:>9.0f}{r['bytes_per_story']:>9.0f}"
            f"{r['warm_bytes_read'] / 1e6:>9.1f}MB{r['delta_bytes'] / 1e6:>8.1f}MB"
            f"{r['warm_bytes_read'] / max(1, r['delta_bytes']):>10.2f}x"
            f"{r['cold_seconds']:>8.1f}{r['recall']:>8.4f}{r['segments']:>6}"
        )
        if "baseline" in r:
            b = r["baseline"]
            seg_total = r["open_seconds"] + r["dedup_seconds"] + r["commit_seconds"]
            base_total = b["open_seconds"] + b["dedup_seconds"] + b["commit_seconds"]
            print(
                f"{'baseline':>10}{b['dedup_seconds']:>9.1f}{'':>7}{b['open_seconds']:>8.2f}"
                f"{b['commit_seconds']:>9.1f}{b['peak_rss_mb']:>9.0f}{b['bytes_per_story']:>9.0f}"
                f"{'(whole index loaded and saved)':>41}{'':>8}{b['recall']:>8.4f}"
            )
            print(
                f"{'':>10}open+dedup+commit: segments {seg_total:.1f} s, whole index "
                f"{base_total:.1f} s ({base_total / seg_total:.2f}x); peak RSS "
                f"{r['peak_rss_mb']:.0f} vs {b['peak_rss_mb']:.0f} MB"
            )
    if len(rows) >= 2:
        a, z = rows[0], rows[-1]
        slope = (z["dedup_seconds"] - a["dedup_seconds"]) / (z["stories"] - a["stories"])
        at30 = z["dedup_seconds"] + slope * (30_000_000 - z["stories"])
        print()
        cpu_slope = (z["dedup_cpu_seconds"] - a["dedup_cpu_seconds"]) / (
            z["stories"] - a["stories"]
        )
        print(
            f"dedup seconds {z['stories']:,} vs {a['stories']:,}: "
            f"{z['dedup_seconds'] / a['dedup_seconds']:.2f}x (CPU seconds "
            f"{z['dedup_cpu_seconds'] / a['dedup_cpu_seconds']:.2f}x, "
            f"{cpu_slope * 1e6:.2f} s per million stories); slope {slope * 1e6:.2f} s per "
            f"million stories; at 30,000,000 stories about {at30:.0f} s, "
            f"{z['bytes_per_story'] * 30e6 / 1e9:.1f} GB of state"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    keys = ("stories", "run_new", "dedup_seconds", "peak_rss_mb", "bytes_per_story",
            "warm_bytes_read", "delta_bytes", "cold_seconds", "recall")
    doc = {
        "windows": [{**{k: r[k] for k in keys}, "detail": r} for r in rows],
        "config": config.to_dict(),
        "run": args.run,
        "near_duplicates": near,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    if not args.work:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
