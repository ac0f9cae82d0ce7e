"""Archive benchmark: ``newsdedup run --warc`` over a WARC of a generated news network, beside
a crawl of the same network and warcio + trafilatura alone over the same WARC, in one run.

    python bench/archive_bench.py [--articles 5000] [--sites 20] [--out bench-results/archive.json]

Serves the generated demo network of ``make bench`` (``bench/_e2e_network.py``: 20 sites, 30%
reprints) in its own process, fetches every article page once (originals and reprints) and
writes them with warcio into one ``.warc.gz`` as a crawler archives them (a request and a
response record each). Then, each measured from outside its process tree as ``make bench``
measures (``bench/e2e_bench.py``: wall time from exec to exit, CPU of the tree, peak RSS of
the tree sampled every 0.2 s), with SeaweedFS (S3) as the output root and a Prefect server up:

- ``archive``: ``newsdedup run --warc net.warc.gz --seeds seeds.yaml --output s3://…``: read,
  clean, near-duplicate dedup, Parquet on S3, state commit; records/s counts every record
  the manifest says was read;
- ``crawl``: ``newsdedup run --seeds seeds.yaml --output s3://…`` on the same pages (robots,
  feeds, sitemaps, AutoThrottle): ``make bench``'s run, once;
- ``baseline``: ``bench/_archive_baseline.py``: warcio's iterator and ``trafilatura.extract``
  in a pool of one process per core, exact-text dedup.

Prints a table with the ratios and writes ``bench-results/archive.json``. Both pipeline runs
must publish the same stories and duplicates (checked); reprints caught are counted against
the network's truth.
"""

from __future__ import annotations

import argparse
import io
import json
import signal
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import e2e_bench as e2e  # noqa: E402
from flows.local_servers import start_prefect_server, start_seaweedfs  # noqa: E402


def write_warc(urls: list[str], path: Path, threads: int = 8) -> dict[str, Any]:
    """Fetch every URL once and archive request + response with warcio; returns counts."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    def fetch(url: str) -> tuple[str, int, list[tuple[str, str]], bytes]:
        with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - the local network
            return url, resp.status, list(resp.headers.items()), resp.read()

    t0 = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        fetched = list(pool.map(fetch, urls))
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for url, status, headers, body in fetched:
            host_path = url.split("/", 3)[3] if url.count("/") >= 3 else ""
            req = StatusAndHeaders(f"GET /{host_path} HTTP/1.1", [("User-Agent", "bench")],
                                   is_http_request=True)
            writer.write_record(writer.create_warc_record(url, "request", http_headers=req))
            http = StatusAndHeaders(f"{status} OK", [(k, v) for k, v in headers
                                                     if k.lower() != "transfer-encoding"],
                                    protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), length=len(body), http_headers=http
            ))
    return {"pages": len(fetched), "bytes": path.stat().st_size,
            "seconds": round(time.monotonic() - t0, 2)}


def manifests(s3: Any, prefix: str) -> list[dict[str, Any]]:
    client = s3.client()
    listed = client.list_objects_v2(Bucket=s3.bucket, Prefix=f"{prefix}/runs/")
    out = []
    for obj in listed.get("Contents", []):
        if obj["Key"].endswith(".json"):
            body = client.get_object(Bucket=s3.bucket, Key=obj["Key"])["Body"].read()
            out.append(json.loads(body))
    return sorted(out, key=lambda m: m["run_id"])


def decisions(uri: str) -> tuple[list[Any], list[Any]]:
    from flows.read import read_table

    arts = read_table(uri, table="articles", columns=["article_id", "url"]).to_pylist()
    dups = read_table(uri, table="duplicates", columns=["url", "duplicate_of"]).to_pylist()
    return (sorted((r["article_id"], r["url"]) for r in arts),
            sorted((r["url"], r["duplicate_of"]) for r in dups))


def measured(run: Any, pages: int, records: int | None = None) -> dict[str, Any]:
    out = {
        "wall_seconds": round(run.wall, 2),
        "pages": pages,
        "pages_per_s": round(pages / run.wall, 2),
        "peak_rss_mb": round(run.sampler.peak_sum / e2e.MB, 1),
        "largest_process_mb": round(run.sampler.peak_single / e2e.MB, 1),
        "cpu_seconds": round(run.cpu_seconds, 2),
        "cpu_ms_per_page": round(1000 * run.cpu_seconds / max(pages, 1), 3),
        "cpu_utilisation": round(run.cpu_utilisation, 3),
        "others_cpu_seconds": round(run.others_cpu, 1),
    }
    if records is not None:
        out["records"] = records
        out["records_per_s"] = round(records / run.wall, 2)
    return out


def pipeline(cmd_tail: list[str], name: str, s3: Any, env: dict[str, str], work: Path,
             helpers: dict[str, int | None]) -> tuple[dict[str, Any], str]:
    uri = f"s3://{s3.bucket}/{name}"
    cmd = [e2e.PY, "-m", "flows.cli", "run", *cmd_tail, "--output", uri]
    run = e2e.measure(cmd, env, work / f"{name}.log", helpers)
    if run.returncode != 0:
        tail = "\n".join(run.log.splitlines()[-25:])
        raise RuntimeError(f"{name} run failed with status {run.returncode}:\n{tail}")
    runs = manifests(s3, name)
    pages = sum(int(m["counts"]["pages"]) for m in runs)
    archives = [a for m in runs for a in m.get("extra", {}).get("archives", [])]
    records = sum(a["records"] for a in archives) if archives else None
    result = measured(run, pages, records)
    result.update(
        runs=len(runs),
        stories=sum(int(m["counts"]["articles"]) for m in runs),
        duplicates=sum(int(m["counts"]["duplicates"]) for m in runs),
        stage_seconds=[m.get("extra", {}).get("stage_seconds", {}) for m in runs],
    )
    if archives:
        result["archives"] = archives
    return result, uri


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "archive.json")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    print(f"archive bench: {e2e.load_line()} at start")
    signal.signal(signal.SIGTERM, e2e._interrupt)
    work = Path(tempfile.mkdtemp(prefix="newsdedup-archive-bench-"))
    s3 = prefect = net = None
    try:
        s3 = start_seaweedfs(work / "s3")
        prefect = start_prefect_server(work / "prefect")
        env, _ = e2e.child_env(s3, prefect, None)
        import os

        os.environ.update(s3.env())  # for reading the published tables back
        net = e2e.Network(args.articles, args.sites, work)
        truth = net.truth
        urls = list(truth["originals"]) + list(truth["reprints"])
        warc = work / "net.warc.gz"
        written = write_warc(urls, warc)
        print(f"WARC: {written['pages']} pages ({len(truth['reprints'])} reprints), "
              f"{written['bytes'] / e2e.MB:.1f} MB, written in {written['seconds']}s")
        helpers = {"network": net.pid, "s3": s3.proc.pid if s3.proc else None,
                   "prefect": prefect.proc.pid}
        archive, archive_uri = pipeline(
            ["--warc", str(warc), "--seeds", str(net.seeds), "--archives-per-run", "1"],
            "archive", s3, env, work, helpers,
        )
        print(f"archive: {archive['records_per_s']} records/s, {archive['peak_rss_mb']} MB peak")
        crawl, crawl_uri = pipeline(
            ["--seeds", str(net.seeds), "--allow-private"], "crawl", s3, env, work, helpers
        )
        print(f"crawl: {crawl['pages_per_s']} pages/s, {crawl['peak_rss_mb']} MB peak")
        out = work / "baseline.json"
        run = e2e.measure([e2e.PY, str(ROOT / "bench" / "_archive_baseline.py"), str(warc),
                           "--out", str(out)], env, work / "baseline.log", helpers)
        if run.returncode != 0:
            raise RuntimeError(f"baseline failed: {run.log[-2000:]}")
        base_out = json.loads(out.read_text())
        baseline = measured(run, base_out["records"], base_out["records"])
        baseline["exact_duplicates"] = base_out["duplicates"]
        print(f"baseline: {baseline['records_per_s']} records/s")

        same = decisions(archive_uri) == decisions(crawl_uri)
        clusters = e2e.project_clusters(archive_uri)
        quality = e2e.reprint_quality(truth, {**dict.fromkeys(urls), **clusters})
        result = {
            "articles": args.articles,
            "warc": written,
            "archive": archive,
            "crawl": crawl,
            "baseline": baseline,
            "archive_vs_crawl": round(archive["pages_per_s"] / crawl["pages_per_s"], 3),
            "archive_vs_baseline": round(
                archive["records_per_s"] / baseline["records_per_s"], 3
            ),
            "same_output_as_crawl": same,
            "archive_quality": quality,
            "cores": e2e.CORES,
            "load_at_end": e2e.load_line(),
        }
        print_table(result)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.out}")
        return 0 if same else 1
    finally:
        for proc in list(e2e.RUNNING):
            e2e.kill_tree(proc)
        if net is not None:
            net.stop()
        if prefect is not None:
            prefect.stop()
        if s3 is not None:
            s3.stop()
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def print_table(r: dict[str, Any]) -> None:
    print()
    print(f"{'run':<34} {'records/s':>10} {'pages/s':>8} {'wall s':>7} {'cpu ms/page':>12} "
          f"{'peak MB':>8}  stories  dups")
    rows = [
        ("newsdedup run --warc (archive)", r["archive"]),
        ("newsdedup run (crawl, same pages)", r["crawl"]),
        ("warcio + trafilatura alone", r["baseline"]),
    ]
    for label, x in rows:
        dups = x.get("duplicates", x.get("exact_duplicates", "-"))
        print(f"{label:<34} {x.get('records_per_s', '-'):>10} {x['pages_per_s']:>8} "
              f"{x['wall_seconds']:>7} {x['cpu_ms_per_page']:>12} {x['peak_rss_mb']:>8}  "
              f"{x.get('stories', '-'):>7} {dups:>5}")
    q = r["archive_quality"]
    print(f"archive/crawl pages/s: {r['archive_vs_crawl']}x; archive/baseline records/s: "
          f"{r['archive_vs_baseline']}x; same stories and duplicates as the crawl: "
          f"{r['same_output_as_crawl']}; reprints caught {q['caught']}/{q['reprints']}, "
          f"pages in mixed clusters {q['pages_in_mixed_clusters']}")


if __name__ == "__main__":
    raise SystemExit(main())
