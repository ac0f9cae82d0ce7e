"""Crawl benchmark: this project's crawler vs trafilatura's ``fetch_url``, in the same run.

    python bench/crawl_bench.py [--articles 5000] [--sites 20] [--repeats 3] [--parallel 2]
                                [--baseline-threads 4] [--server-nodelay] [--out FILE]

A generated demo network (``DemoNetwork.generated``) is served from a child process, so
that rendering pages neither runs in nor holds the GIL of the processes being measured.

Project side: one ``python -m crawlers.run`` per site, ``--parallel`` at a time (as the
pipeline runs them), each site discovered through its RSS feed and sitemap (link-following
off), robots.txt obeyed, at most 2 requests in flight per site. Two settings rows:

- "loopback politeness" (the headline): AutoThrottle off and no download delay, because on
  loopback AutoThrottle's latency-based delay measures the test machine rather than a site;
  robots.txt Crawl-delay would still apply (the generated sites set none).
- "shipped defaults": the settings the crawler ships with (AutoThrottle on, start delay 1 s).

Baseline side: trafilatura 2.3.1's ``fetch_url`` (its SSRF check switched off with
``SSRF_PROTECTION = off``, since the sites are on 127.0.0.1) over the same article URLs,
handed over as a list (courlan rejects ``IP:port`` hosts, so trafilatura's own discovery
cannot be used). Rows: sequential (how ``fetch_url`` is used by default) and trafilatura's
own thread pool ``buffered_downloads`` with ``--baseline-threads`` threads (4 = the most
requests the project side has in flight), without its per-domain back-off.

Measured: article pages per second (wall time from the first request to the last, process
start-up included for the project), peak RSS (project: the crawl processes summed over their
process trees; trafilatura: the benchmark process that runs it; sampled every 50 ms with
psutil), robots.txt violations (requests to paths the site's
robots.txt disallows, from the server's request log), duplicate fetches (the same URL
requested twice by one side in one run). Medians over ``--repeats`` runs, sides interleaved.

The demo server sends response headers and body in separate TCP segments, which with
Nagle's algorithm and delayed ACKs costs a sequential client about 40 ms per response on
Linux loopback - a latency comparable to a nearby real site. ``--server-nodelay`` sets
TCP_NODELAY on the server (in the server process only) to measure a zero-latency network.

Writes ``bench-results/crawl.json``: pages, pages_per_s, baseline_pages_per_s, ratio,
peak_rss_mb, robots_violations, duplicate_fetches (the headline pair), plus every row.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawlers.contract import PAGES_FILE  # noqa: E402

BENCH_UA = "newsdedup-bench/0.1 (+https://github.com/newsdedup/newsdedup)"
LOOPBACK_POLITENESS = {"AUTOTHROTTLE_ENABLED": "False", "DOWNLOAD_DELAY": "0"}


# -- the network, in its own process ----------------------------------------------------------


def serve(args: argparse.Namespace) -> int:
    """Child process: serve the network; answer ``dump PATH`` on stdin with the request log."""
    from flows.demo import DemoNetwork
    from flows.demo import network as demo_network

    if args.server_nodelay:
        demo_network._Handler.disable_nagle_algorithm = True
    net = DemoNetwork.generated(n_articles=args.articles, n_sites=args.sites, seed=args.seed)
    net.start()
    try:
        out = Path(args.serve)
        lines = ["sources:"]
        for site in net.sites:
            lines += [
                f"  - name: {site.name}",
                f"    feeds: [{', '.join(site.feed_urls)}]",
                f"    sitemaps: [{', '.join(site.sitemap_urls)}]",
                "    follow_links: false",
            ]
        (out / "seeds.yaml").write_text("\n".join(lines) + "\n")
        info = {
            "sites": {s.name: s.base_url for s in net.sites},
            "urls": net.truth.article_urls,
        }
        (out / "network.json").write_text(json.dumps(info))
        print("ready", flush=True)
        for line in sys.stdin:
            command, _, arg = line.strip().partition(" ")
            if command == "dump":
                rows = [
                    {"site": r.site, "path": r.path, "status": r.status,
                     "ua": r.header("User-Agent") or ""}
                    for r in net.requests
                ]  # fmt: skip
                net.clear_requests()
                Path(arg).write_text(json.dumps(rows))
                print("ok", flush=True)
            elif command == "quit":
                break
    finally:
        net.stop()
    return 0


class Network:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        cmd = [sys.executable, __file__, "--serve", str(work), "--articles", str(args.articles),
               "--sites", str(args.sites), "--seed", str(args.seed)]  # fmt: skip
        if args.server_nodelay:
            cmd.append("--server-nodelay")
        self.work = work
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the demo network did not start")
        info = json.loads((work / "network.json").read_text())
        self.sites: dict[str, str] = info["sites"]
        self.urls: list[str] = info["urls"]
        self.seeds = work / "seeds.yaml"
        self._n = 0

    def requests(self) -> list[dict[str, Any]]:
        """Requests served since the last call."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._n += 1
        path = self.work / f"requests-{self._n}.json"
        self.proc.stdin.write(f"dump {path}\n")
        self.proc.stdin.flush()
        self.proc.stdout.readline()
        return json.loads(path.read_text())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=30)


# -- measurements -----------------------------------------------------------------------------


class RssSampler:
    """Peak of the summed RSS of some processes and all their descendants."""

    def __init__(self) -> None:
        import psutil

        self.psutil = psutil
        self.pids: set[int] = set()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            total = 0
            for pid in list(self.pids):
                try:
                    proc = self.psutil.Process(pid)
                    total += proc.memory_info().rss
                    for child in proc.children(recursive=True):
                        total += child.memory_info().rss
                except self.psutil.Error:
                    continue
            self.peak = max(self.peak, total)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def robots_rules(sites: dict[str, str]) -> dict[str, Any]:
    import urllib.request

    from protego import Protego

    rules = {}
    for name, base in sites.items():
        with urllib.request.urlopen(base + "/robots.txt", timeout=10) as fh:
            rules[name] = (base, Protego.parse(fh.read().decode("utf-8")))
    return rules


def violations(requests: list[dict[str, Any]], rules: dict[str, Any]) -> int:
    bad = 0
    for r in requests:
        base, parser = rules[r["site"]]
        if r["path"] != "/robots.txt" and not parser.can_fetch(base + r["path"], r["ua"]):
            bad += 1
    return bad


def duplicates(requests: list[dict[str, Any]]) -> int:
    counts = Counter((r["site"], r["path"]) for r in requests)
    return sum(n - 1 for n in counts.values() if n > 1)


def crawl_project(net: Network, work: Path, parallel: int, settings: dict[str, str]) -> dict:
    """Every site in its own crawlers.run process, ``parallel`` at a time."""
    names = list(net.sites)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    running: list[tuple[str, subprocess.Popen]] = []
    failed = []
    extra = [a for name, value in settings.items() for a in ("-s", f"{name}={value}")]
    with RssSampler() as rss:
        started = time.perf_counter()
        while names or running:
            while names and len(running) < parallel:
                name = names.pop(0)
                out = work / name
                cmd = [sys.executable, "-m", "crawlers.run", "--seeds", str(net.seeds),
                       "--source", name, "--out", str(out), "--allow-private",
                       "--user-agent", BENCH_UA, "--log-level", "WARNING", *extra]  # fmt: skip
                proc = subprocess.Popen(
                    cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
                )  # fmt: skip
                rss.pids.add(proc.pid)
                running.append((name, proc))
            for item in list(running):
                name, proc = item
                if proc.poll() is not None:
                    running.remove(item)
                    rss.pids.discard(proc.pid)
                    if proc.returncode != 0:
                        failed.append((name, proc.returncode, proc.stderr.read()[-500:]))
                    proc.stderr.close()
            time.sleep(0.02)
        seconds = time.perf_counter() - started
    pages = 0
    for name in net.sites:
        emitted = work / name / PAGES_FILE
        if emitted.exists():
            with gzip.open(emitted, "rt", encoding="utf-8") as fh:
                pages += sum(1 for _ in fh)
    requests = [r for r in net.requests() if r["ua"] == BENCH_UA]
    return {
        "pages": pages,
        "seconds": seconds,
        "pages_per_s": pages / seconds,
        "requests": len(requests),
        "peak_rss_mb": rss.peak / 2**20,
        "requests_list": requests,
        "failed": failed,
    }


def fetch_baseline(net: Network, threads: int) -> dict:
    from trafilatura import fetch_url
    from trafilatura.downloads import buffered_downloads
    from trafilatura.settings import Extractor, use_config

    config = use_config()
    config.set("DEFAULT", "SSRF_PROTECTION", "off")
    with RssSampler() as rss:
        rss.pids.add(os.getpid())
        started = time.perf_counter()
        if threads <= 1:
            fetched = sum(1 for url in net.urls if fetch_url(url, config=config))
        else:
            options = Extractor(config=config)
            fetched = sum(1 for _, html in buffered_downloads(net.urls, threads, options) if html)
        seconds = time.perf_counter() - started
    requests = [r for r in net.requests() if r["ua"].startswith("trafilatura")]
    return {
        "pages": fetched,
        "seconds": seconds,
        "pages_per_s": fetched / seconds,
        "requests": len(requests),
        "peak_rss_mb": rss.peak / 2**20,
        "requests_list": requests,
    }


# -- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=2, help="crawl processes at a time")
    parser.add_argument("--baseline-threads", type=int, default=4)
    parser.add_argument("--server-nodelay", action="store_true")
    parser.add_argument("--no-defaults-row", action="store_true",
                        help="skip the row with the crawler's shipped settings")  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "crawl.json")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args)

    rows: dict[str, list[dict]] = {}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="crawl-bench-") as tmp:
        work = Path(tmp)
        (work / "net").mkdir()
        net = Network(args, work / "net")
        try:
            rules = robots_rules(net.sites)
            net.requests()  # forget the robots.txt fetches above
            nodelay = " (server TCP_NODELAY)" if args.server_nodelay else ""
            print(f"network: {len(net.sites)} sites, {len(net.urls)} pages{nodelay}", flush=True)
            plans: list[tuple[str, Any]] = [
                ("project, loopback politeness", lambda d: crawl_project(
                    net, d, args.parallel, LOOPBACK_POLITENESS)),
                ("trafilatura fetch_url, sequential", lambda d: fetch_baseline(net, 1)),
            ]  # fmt: skip
            if not args.no_defaults_row:
                plans.append(("project, shipped defaults",
                              lambda d: crawl_project(net, d, args.parallel, {})))  # fmt: skip
            if args.baseline_threads > 1:
                label = f"trafilatura buffered_downloads, {args.baseline_threads} threads"
                plans.append((label, lambda d: fetch_baseline(net, args.baseline_threads)))
            for rep in range(args.repeats):
                for label, run in plans:
                    out = work / f"run-{rep}-{len(rows.get(label, []))}-{abs(hash(label))}"
                    out.mkdir()
                    row = run(out)
                    served = row.pop("requests_list")
                    row["robots_violations"] = violations(served, rules)
                    row["duplicate_fetches"] = duplicates(served)
                    rows.setdefault(label, []).append(row)
                    print(f"  repeat {rep + 1}: {label}: {row['pages']} pages in "
                          f"{row['seconds']:.1f}s", flush=True)  # fmt: skip
        finally:
            net.close()

    table = summarise(rows, len(net.urls))
    load = (round(load_before, 2), round(os.getloadavg()[0], 2))
    print_table(table, args)
    print(f"machine load (1-min average) at start / end: {load[0]} / {load[1]} "
          f"on {os.cpu_count()} cores; the project side is CPU-bound, so shared-machine "
          "load moves its figures more than the baseline's")  # fmt: skip
    headline = table["project, loopback politeness"]
    baseline = table["trafilatura fetch_url, sequential"]
    result = {
        "pages": headline["pages"],
        "pages_per_s": round(headline["pages_per_s"], 2),
        "baseline_pages_per_s": round(baseline["pages_per_s"], 2),
        "ratio": round(headline["pages_per_s"] / baseline["pages_per_s"], 3),
        "peak_rss_mb": round(headline["peak_rss_mb"], 1),
        "robots_violations": headline["robots_violations"],
        "duplicate_fetches": headline["duplicate_fetches"],
        "articles_served": len(net.urls),
        "repeats": args.repeats,
        "server_nodelay": args.server_nodelay,
        "load_average_start_end": load,
        "project_settings": {
            "parallel_processes": args.parallel,
            "concurrent_requests_per_site": 2,
            **LOOPBACK_POLITENESS,
        },  # fmt: skip
        "rows": {
            k: {m: (round(v, 3) if isinstance(v, float) else v) for m, v in r.items()}
            for k, r in table.items()
        },  # fmt: skip
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return 0


def summarise(rows: dict[str, list[dict]], served: int) -> dict[str, dict]:
    table = {}
    for label, runs in rows.items():
        med = {
            "pages": int(statistics.median(r["pages"] for r in runs)),
            "seconds": statistics.median(r["seconds"] for r in runs),
            "pages_per_s": statistics.median(r["pages_per_s"] for r in runs),
            "requests": int(statistics.median(r["requests"] for r in runs)),
            "robots_violations": max(r["robots_violations"] for r in runs),
            "duplicate_fetches": max(r.get("duplicate_fetches", 0) for r in runs),
            "failed_sites": max(len(r.get("failed", [])) for r in runs),
        }
        med["peak_rss_mb"] = statistics.median(r["peak_rss_mb"] for r in runs)
        med["served"] = served
        table[label] = med
    return table


def print_table(table: dict[str, dict], args: argparse.Namespace) -> None:
    base = table["trafilatura fetch_url, sequential"]["pages_per_s"]
    print()
    print(
        f"crawl benchmark: {args.articles} generated articles on {args.sites} sites, "
        f"median of {args.repeats} runs{', server TCP_NODELAY' if args.server_nodelay else ''}"
    )
    header = (f"{'':42} {'pages':>6} {'secs':>7} {'pages/s':>8} {'x seq':>6} {'requests':>8} "
              f"{'RSS MB':>7} {'robots':>6} {'dups':>5}")  # fmt: skip
    print(header)
    for label, r in table.items():
        rss = r["peak_rss_mb"]
        print(f"{label:42} {r['pages']:>6} {r['seconds']:>7.1f} {r['pages_per_s']:>8.1f} "
              f"{r['pages_per_s'] / base:>6.2f} {r['requests']:>8} {rss:>7.0f} "
              f"{r['robots_violations']:>6} {r['duplicate_fetches']:>5}")  # fmt: skip
    print(
        "project: one crawlers.run process per site, "
        f"{args.parallel} at a time, <=2 requests in flight per site, robots.txt obeyed, "
        "discovery by feed + sitemap; 'loopback politeness' = AutoThrottle off, "
        "DOWNLOAD_DELAY 0; 'shipped defaults' = crawlers/settings.py as is.\n"
        "RSS: project = peak of the summed RSS of its crawl processes; trafilatura = peak RSS "
        "of the benchmark process that runs it. 'x seq' = pages/s over fetch_url sequential."
    )


if __name__ == "__main__":
    raise SystemExit(main())
