"""Reading published output: the project's API against DuckDB on the same files.

Generates synthetic stories (default 100,000 over 30 days, a few runs a day, plus reprints
in ``duplicates``), publishes them with ``publish_run`` to a local directory and, with
``--s3``, to a SeaweedFS server this command starts on loopback. Then it times reading the
``articles`` table for one day and for all 30 days, every column and three columns:

- API: ``flows.read.read_table`` (lists and reads the run manifests, then the objects they
  list; returns a pyarrow Table);
- DuckDB (baseline): ``read_parquet('<root>/articles/*/*.parquet', hive_partitioning = true)``
  with a ``dt`` filter, materialised as a pyarrow Table. Over S3 only when DuckDB's httpfs
  extension loads (the PyPI package duckdb-ext-httpfs, see ``flows.read.load_duckdb_httpfs``).

Each figure is the median of ``--repeats`` timed reads after one untimed warm-up read.
Prints a table and writes ``bench-results/read.json``.

    python bench/read_bench.py [--stories 100000] [--days 30] [--s3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flows.publish import publish_run, software_versions  # noqa: E402
from flows.read import load_duckdb_httpfs, read_table  # noqa: E402
from flows.storage import Storage, open_storage  # noqa: E402

FIRST_DAY = datetime(2025, 3, 1, tzinfo=UTC)
NARROW = ["article_id", "source", "title"]


# --------------------------------------------------------------------------- data


def make_vocabulary(rng: np.random.Generator, size: int = 6000) -> np.ndarray:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(2, 11, size=size)
    return np.array(["".join(rng.choice(letters, n)) for n in lengths])


def generate(stories: int, days: int, runs_per_day: int, dup_share: float,
             seed: int) -> list[tuple[str, datetime, list[dict], list[dict]]]:
    """(run_id, started_at, articles, duplicates) per run, stories spread evenly."""
    rng = np.random.default_rng(seed)
    vocab = make_vocabulary(rng)
    sources = [f"source-{i:02d}" for i in range(20)]
    runs = []
    per_run = np.array_split(np.arange(stories), days * runs_per_day)
    for r, ids in enumerate(per_run):
        day, slot = divmod(r, runs_per_day)
        started = FIRST_DAY + timedelta(days=day, hours=2 + slot * (22 // runs_per_day))
        run_id = f"{started:%Y%m%dT%H%M%SZ}-{r:06x}"
        articles, dups = [], []
        for i in ids:
            i = int(i)
            words = vocab[rng.integers(0, len(vocab), size=int(rng.integers(150, 600)))]
            text = " ".join(words)
            source = sources[i % len(sources)]
            row = {
                "article_id": f"{i:016x}",
                "url": f"https://{source}.example/news/{i}",
                "canonical_url": f"https://{source}.example/news/{i}",
                "domain": f"{source}.example",
                "source": source,
                "title": " ".join(words[:8]).capitalize(),
                "authors": [f"Author {i % 97}"],
                "published_at": started - timedelta(minutes=int(rng.integers(0, 600))),
                "fetched_at": started + timedelta(seconds=int(rng.integers(0, 900))),
                "language": "en" if i % 3 else "id",
                "text": text,
                "word_count": len(words),
                "cluster_id": f"{i:016x}",
                "section": ("news", "business", "tech", "sport")[i % 4],
                "tags": ["bench"],
                "extractor": "trafilatura",
                "site_name": source.replace("-", " ").title(),
            }
            articles.append(row)
            if rng.random() < dup_share:
                other = sources[(i + 7) % len(sources)]
                dups.append({
                    **row,
                    "url": f"https://{other}.example/reprint/{i}",
                    "domain": f"{other}.example",
                    "source": other,
                    "text": "Reprinted. " + text,
                    "duplicate_of": row["article_id"],
                    "similarity": 0.97,
                    "article_id": f"r{i:015x}",
                })
        runs.append((run_id, started, articles, dups))
    return runs


def publish_all(storage: Storage, runs: list[tuple[str, datetime, list[dict], list[dict]]]
                ) -> float:
    t0 = time.perf_counter()
    for run_id, started, articles, dups in runs:
        publish_run(storage, run_id, started, articles, dups, {"stories": len(articles)}, {})
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- timing


def median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, int]:
    rows = fn().num_rows  # warm-up, and the row count for the table
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), rows


def duckdb_reader(glob: str, setup: Callable[[Any], None] | None = None
                  ) -> Callable[[str | None, list[str] | None], Any]:
    import duckdb

    con = duckdb.connect()
    if setup is not None:
        setup(con)

    def read(day: str | None, columns: list[str] | None) -> Any:
        cols = ", ".join(columns) if columns else "* EXCLUDE (dt)"
        where = f"WHERE dt = DATE '{day}'" if day else ""
        return con.sql(
            f"SELECT {cols} FROM read_parquet('{glob}', hive_partitioning = true) {where}"
        ).to_arrow_table()

    return read


def api_reader(storage: Storage) -> Callable[[str | None, list[str] | None], Any]:
    def read(day: str | None, columns: list[str] | None) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return read_table(storage, "articles", since=day, until=day, columns=columns)

    return read


def measure(backend: str, api: Callable, duck: Callable | None, duck_note: str,
            one_day: str, days: int, repeats: int) -> list[dict[str, Any]]:
    results = []
    for label, day in ((f"1 day ({one_day})", one_day), (f"{days} days", None)):
        for cols_label, cols in (("all", None), ("3 columns", NARROW)):
            api_s, api_rows = median_time(lambda d=day, c=cols: api(d, c), repeats)
            entry: dict[str, Any] = {
                "backend": backend, "query": label, "columns": cols_label,
                "rows": api_rows, "api_s": round(api_s, 4),
            }
            if duck is not None:
                duck_s, duck_rows = median_time(lambda d=day, c=cols: duck(d, c), repeats)
                if duck_rows != api_rows:
                    raise SystemExit(f"row counts differ: API {api_rows}, DuckDB {duck_rows}")
                entry.update(duckdb_s=round(duck_s, 4), ratio=round(api_s / duck_s, 2))
            else:
                entry.update(duckdb_s=None, ratio=None, note=duck_note)
            results.append(entry)
            print(f"  {backend:<6} {label:<20} {cols_label:<10} done", file=sys.stderr)
    return results


def print_table(results: list[dict[str, Any]]) -> None:
    head = (f"{'backend':<8} {'read':<20} {'columns':<10} {'rows':>8} {'API s':>8} "
            f"{'DuckDB s':>9} {'API/DuckDB':>11}")
    print(head)
    print("-" * len(head))
    for r in results:
        duck = f"{r['duckdb_s']:>9.3f}" if r["duckdb_s"] is not None else f"{'n/a':>9}"
        ratio = f"{r['ratio']:>10.2f}x" if r["ratio"] is not None else f"{'n/a':>11}"
        print(f"{r['backend']:<8} {r['query']:<20} {r['columns']:<10} {r['rows']:>8} "
              f"{r['api_s']:>8.3f} {duck} {ratio}")
    notes = {r["note"] for r in results if r.get("note")}
    for note in sorted(notes):
        print(f"DuckDB n/a: {note}")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs-per-day", type=int, default=2)
    parser.add_argument("--duplicates", type=float, default=0.15,
                        help="share of stories that also get a reprint row")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--s3", action="store_true", help="also publish to and read from "
                        "a SeaweedFS server started for the benchmark")
    parser.add_argument("--out", default="bench-results/read.json")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    runs = generate(args.stories, args.days, args.runs_per_day, args.duplicates, args.seed)
    gen_s = time.perf_counter() - t0
    n_dups = sum(len(d) for *_, d in runs)
    print(f"generated {args.stories} stories and {n_dups} reprints in {len(runs)} runs over "
          f"{args.days} days ({gen_s:.1f}s)", file=sys.stderr)
    one_day = (FIRST_DAY + timedelta(days=args.days // 2)).date().isoformat()

    import duckdb

    results: list[dict[str, Any]] = []
    setup: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="read-bench-") as tmp:
        local_root = Path(tmp) / "lake"
        local = open_storage(local_root)
        setup["publish_local_s"] = round(publish_all(local, runs), 2)
        size = sum(i.size for i in local.list_info("articles/"))
        files = sum(1 for _ in local.list("articles/"))
        setup.update(articles_bytes=size, articles_files=files)
        print(f"published locally in {setup['publish_local_s']}s: {files} article files, "
              f"{size / 1e6:.1f} MB", file=sys.stderr)
        results += measure("local", api_reader(local),
                           duckdb_reader(f"{local_root}/articles/*/*.parquet"), "",
                           one_day, args.days, args.repeats)

        if args.s3:
            from flows.local_servers import start_seaweedfs

            server = start_seaweedfs(Path(tmp) / "seaweedfs")
            try:
                os.environ.update(server.env())
                uri = f"s3://{server.bucket}/bench"
                s3 = open_storage(uri)
                setup["publish_s3_s"] = round(publish_all(s3, runs), 2)
                print(f"published to SeaweedFS in {setup['publish_s3_s']}s", file=sys.stderr)
                duck: Callable | None = None
                note = ""
                try:
                    host = server.endpoint.removeprefix("http://")

                    def s3_setup(con: Any) -> None:
                        load_duckdb_httpfs(con)
                        con.execute(
                            f"CREATE SECRET (TYPE s3, KEY_ID '{server.access_key}', "
                            f"SECRET '{server.secret_key}', ENDPOINT '{host}', "
                            "URL_STYLE 'path', USE_SSL false, REGION 'us-east-1')"
                        )

                    duck = duckdb_reader(f"{uri}/articles/*/*.parquet", s3_setup)
                except RuntimeError as exc:
                    note = str(exc).splitlines()[0]
                results += measure("s3", api_reader(s3), duck, note, one_day, args.days,
                                   args.repeats)
            finally:
                server.stop()

    print()
    print(f"{args.stories} stories over {args.days} days, {len(runs)} runs; "
          f"median of {args.repeats} reads after a warm-up")
    print_table(results)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "benchmark": "read",
        "created_at": datetime.now(UTC).isoformat(),
        "config": {k: v for k, v in vars(args).items() if k != "out"},
        "data": {"runs": len(runs), "reprints": n_dups, "one_day": one_day, **setup},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "versions": {**software_versions(), "duckdb": duckdb.__version__},
        "results": results,
    }
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
