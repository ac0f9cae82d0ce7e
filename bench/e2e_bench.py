"""End-to-end benchmark: the whole pipeline against a generated local news network, beside
trafilatura alone over the same network, in the same run.

    python bench/e2e_bench.py [--articles 5000] [--sizes 1000,5000] [--repeats 1]
                              [--baseline both|pool|threads] [--out bench-results/e2e.json]

Starts SeaweedFS (S3) and a Prefect server (``prefect server start``, so the flow does not
pay for an ephemeral one) in a temporary directory, serves a generated demo network
(``DemoNetwork.generated``: 20 sites, 30% reprints) from its own process
(``bench/_e2e_network.py``), and runs ``python -m flows.cli run --output s3://...`` on it
as a subprocess: crawl, clean, dedup, publish to S3, commit state. Measured from outside
the command's process tree:

- pages per second: article pages fetched (the run manifest's count) / wall time of the
  command from exec to exit;
- peak memory: RSS of the command and all its descendants (crawl processes, the clean pool),
  sampled with psutil every 0.2 s: the peak of the sum and the largest single process (a
  child between fork and exec, which still maps its parent's pages, is not counted twice);
- CPU utilisation: CPU seconds of the whole tree (``wait4`` rusage: every descendant the tree
  reaped) / (wall time x cores);
- ``cpu_ms_per_page``: those CPU seconds plus the network server's meanwhile, per published
  page: counted as the floor is (below), so the two compare directly (``floor_ratio``);
- time per stage: from the timestamps of the flow's log lines (start-up, crawl, clean, dedup,
  publish, state, tear-down), with CPU seconds and peak RSS per stage from the samples,
  beside the manifest's ``stage_seconds`` and each source's crawl seconds.

The baseline, on the same network in the same run (``bench/_e2e_baseline.py``): the URLs
the sitemaps list, fetched with ``trafilatura.fetch_url`` (SSRF protection off), extracted
with ``trafilatura.extract`` (default options), deduplicated by a hash of the text.
``pool``: one spawned process per core fetching and extracting; ``threads``: trafilatura's
threaded downloads with extraction on one core; ``both`` (default) runs each and compares
with the faster. Measured the same way; its pages are the truth's article URLs it fetched
(the sitemaps also list each home page).

With ``--repeats N`` every figure is the run with the median pages/s (the lower middle one
for an even N). At the main size, one source is also crawled alone by ``crawlers.run`` with
and without AutoThrottle (the pipeline passes no Scrapy settings through), to show what
throttling costs on loopback; and ``bench/_e2e_floor.py`` measures the CPU per page of a bare
Scrapy spider, of the server meanwhile and of ``trafilatura.extract(fast=True)``: the ceiling
any pipeline built on those two parts has on this machine. The floor runs once in every repeat,
right after that repeat's pipeline and baseline runs, so the three share the machine's mood;
``floor_ratio`` is the median pipeline's CPU per page over the floor's medians, and
``floor_ratio_by_repeat`` sets each repeat's pipeline run against that repeat's floor. The
floor's parts run one process at a time, while the pipeline runs its crawl processes and its
extraction workers one per core; the floor run also measures each part that way (one process
per core at once, ``side_sum_ms_per_page``), and ``side_floor_ratio_paired_median`` sets the
pipeline against it, for information: the target is set against the floor. ``marginal``
splits the pipeline's CPU into what one more page costs and what a run costs whatever its
size (start-up, and what is paid per site), from the median runs of the smallest and the
largest network, also for information.

The machine is shared: the load average and busy processes at start and, for every measured
run and stage, the CPU seconds the rest of the machine used meanwhile are printed. Prints
tables and writes ``bench-results/e2e.json``. Every server and process it started is stopped
on exit, failure and SIGTERM included.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawlers.contract import STATS_FILE  # noqa: E402
from flows.config import PipelineSettings  # noqa: E402
from flows.local_servers import start_prefect_server, start_seaweedfs  # noqa: E402
from flows.stages import crawl_groups  # noqa: E402

PY = sys.executable
CORES = len(os.sched_getaffinity(0))
SAMPLE_EVERY = 0.2
MB = 1024 * 1024


# -- measuring a process tree ------------------------------------------------------------------


def role_of(pid: int, cmdline: list[str], root_pid: int) -> str:
    if pid == root_pid:
        return "main"
    cmd = " ".join(cmdline)
    if "crawlers.run" in cmd:
        return "crawl"
    if "multiprocessing" in cmd:
        return "pool"
    return "other"


class TreeSampler(threading.Thread):
    """RSS and CPU of a process and all its descendants, every ``SAMPLE_EVERY`` seconds."""

    def __init__(self, root_pid: int) -> None:
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.stop_event = threading.Event()
        # (t, rss of the tree, largest process rss, cumulative cpu of the tree as last seen,
        #  busy cpu seconds of the whole machine)
        self.samples: list[tuple[float, int, int, float, float]] = []
        self.cpu: dict[tuple[int, float], float] = {}  # (pid, create time) -> cpu seconds
        self.roles: dict[tuple[int, float], str] = {}
        self.peak_sum = 0
        self.peak_single = 0
        self.peak_single_role = ""
        self.peak_by_role: dict[str, int] = {}
        self.max_procs = 0

    def run(self) -> None:
        try:
            root = psutil.Process(self.root_pid)
        except psutil.NoSuchProcess:
            return
        while not self.stop_event.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            total = 0
            largest = 0
            role_rss: dict[str, int] = {}
            alive = 0
            seen: dict[int, list[str]] = {}
            for p in procs:
                try:
                    with p.oneshot():
                        key = (p.pid, p.create_time())
                        rss = p.memory_info().rss
                        t = p.cpu_times()
                        ppid = p.ppid()
                    cmdline = p.cmdline()
                except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                    continue
                seen[p.pid] = cmdline
                alive += 1
                role = role_of(p.pid, cmdline, self.root_pid)
                if role == "other" and key in self.roles:
                    # An exiting process shows an empty command line: keep what it was.
                    role = self.roles[key]
                self.roles[key] = role
                self.cpu[key] = t.user + t.system
                # A child between fork and exec still shows its parent's command line and
                # maps the parent's pages: counting its RSS would count them twice.
                if p.pid != self.root_pid and seen.get(ppid) == cmdline:
                    continue
                total += rss
                role_rss[role] = role_rss.get(role, 0) + rss
                if rss > largest:
                    largest = rss
                if rss > self.peak_single:
                    self.peak_single, self.peak_single_role = rss, role
            self.max_procs = max(self.max_procs, alive)
            self.peak_sum = max(self.peak_sum, total)
            for role, rss in role_rss.items():
                self.peak_by_role[role] = max(self.peak_by_role.get(role, 0), rss)
            self.samples.append(
                (time.time(), total, largest, sum(self.cpu.values()), machine_cpu_seconds())
            )
            self.stop_event.wait(SAMPLE_EVERY)

    def cpu_by_role(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, seconds in self.cpu.items():
            role = self.roles.get(key, "other")
            out[role] = out.get(role, 0.0) + seconds
        return {k: round(v, 2) for k, v in sorted(out.items())}

    def window(self, start: float, end: float) -> dict[str, float]:
        """CPU of the tree (seconds, utilisation of all cores), CPU the rest of the machine
        used, and peak RSS of the tree between two wall-clock times."""
        nan = float("nan")
        inside = [s for s in self.samples if start <= s[0] <= end]
        before = [s for s in self.samples if s[0] < start]
        if not inside:
            return {"cpu_seconds": nan, "cpu_utilisation": nan, "rest_cpu_seconds": nan,
                    "peak_rss_mb": nan, "largest_process_mb": nan}  # fmt: skip
        first = before[-1] if before else inside[0]
        last = inside[-1]
        span = last[0] - first[0]
        cpu = last[3] - first[3]
        return {
            "cpu_seconds": round(cpu, 2),
            "cpu_utilisation": round(cpu / (span * CORES), 3) if span > 0 else nan,
            "rest_cpu_seconds": round(max(0.0, last[4] - first[4] - cpu), 2),
            "peak_rss_mb": round(max(s[1] for s in inside) / MB, 1),
            "largest_process_mb": round(max(s[2] for s in inside) / MB, 1),
        }


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (every process, ours included)."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0)


def proc_cpu(pid: int | None) -> float:
    """CPU seconds of a long-running helper (network server, S3, Prefect) and its children."""
    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        total = 0.0
        for p in [root, *root.children(recursive=True)]:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total
    except psutil.Error:
        return 0.0


@dataclass
class Measured:
    """One measured command: wall time, CPU of its tree, memory, its log, the helpers' CPU."""

    returncode: int
    wall: float
    started: float
    ended: float
    cpu_seconds: float
    maxrss_rusage_mb: float
    sampler: TreeSampler
    log: str
    helpers_cpu: dict[str, float] = field(default_factory=dict)
    machine_cpu: float = 0.0

    @property
    def cpu_utilisation(self) -> float:
        return self.cpu_seconds / (self.wall * CORES)

    @property
    def others_cpu(self) -> float:
        """CPU seconds used meanwhile by everything but this tree and our helper servers."""
        return max(0.0, self.machine_cpu - self.cpu_seconds - sum(self.helpers_cpu.values()))


RUNNING: list[subprocess.Popen] = []  # commands being measured, for the clean-up


def measure(
    cmd: list[str], env: dict[str, str], log_path: Path, helpers: dict[str, int | None]
) -> Measured:
    helpers_before = {k: proc_cpu(pid) for k, pid in helpers.items()}
    machine_before = machine_cpu_seconds()
    with open(log_path, "wb") as log:
        started = time.time()
        t0 = time.monotonic()
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True
        )
        RUNNING.append(proc)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        # wait4: the rusage of the command and of every descendant it (transitively) reaped.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t0
        ended = time.time()
        proc.returncode = os.waitstatus_to_exitcode(status)
        RUNNING.remove(proc)
    sampler.stop_event.set()
    sampler.join(timeout=5)
    machine = machine_cpu_seconds() - machine_before
    helpers_cpu = {k: round(proc_cpu(pid) - helpers_before[k], 2) for k, pid in helpers.items()}
    return Measured(
        returncode=proc.returncode,
        wall=wall,
        started=started,
        ended=ended,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        maxrss_rusage_mb=usage.ru_maxrss / 1024,
        sampler=sampler,
        log=log_path.read_text(errors="replace"),
        helpers_cpu=helpers_cpu,
        machine_cpu=machine,
    )


# -- the network --------------------------------------------------------------------------------


class Network:
    """``bench/_e2e_network.py`` in its own process."""

    def __init__(self, articles: int, sites: int, work: Path) -> None:
        self.dir = work / f"net-{articles}"
        self.proc = subprocess.Popen(
            [
                PY,
                str(ROOT / "bench" / "_e2e_network.py"),
                "--articles",
                str(articles),
                "--sites",
                str(sites),
                "--out",
                str(self.dir),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            rest = self.proc.stdout.read() if self.proc.poll() is not None else ""
            self.stop()
            raise RuntimeError(f"the demo network did not start: {line} {rest}")
        self.seeds = self.dir / "seeds.yaml"
        self.truth_path = self.dir / "truth.json"
        self.truth = json.loads(self.truth_path.read_text())

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- the pipeline's log -------------------------------------------------------------------------

LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ [\w.]+: (.*)$")
MARKS = {
    "flow": re.compile(r"^run \S+: \d+ sources ->"),
    "crawled": re.compile(r"^crawl(?:ed| of) \S+"),
    "cleaned": re.compile(r"^cleaned: "),
    "dedup": re.compile(r"^dedup: "),
    "published": re.compile(r"^published run "),
    "state": re.compile(r"^state version \S+ committed"),
}


def log_marks(log: str) -> dict[str, float]:
    """Wall-clock time of the first (last, for crawls) log line of each kind."""
    marks: dict[str, float] = {}
    for line in log.splitlines():
        m = LOG_TIME.match(line)
        if not m:
            continue
        message = m.group(2)
        for name, pattern in MARKS.items():
            if pattern.match(message) and (name == "crawled" or name not in marks):
                marks[name] = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return marks


STAGES = ["startup", "crawl", "clean", "dedup", "publish", "state", "teardown"]


def stage_windows(run: Measured) -> dict[str, tuple[float, float]]:
    marks = log_marks(run.log)
    points = [
        ("startup", run.started),
        ("crawl", marks.get("flow")),
        ("clean", marks.get("crawled")),
        ("dedup", marks.get("cleaned")),
        ("publish", marks.get("dedup")),
        ("state", marks.get("published")),
        ("teardown", marks.get("state")),
    ]
    if any(t is None for _, t in points):
        missing = [n for n, t in points if t is None]
        raise RuntimeError(f"log lines missing for stages {missing}")
    out: dict[str, tuple[float, float]] = {}
    for i, (name, start) in enumerate(points):
        end = points[i + 1][1] if i + 1 < len(points) else run.ended
        out[name] = (start, end)  # type: ignore[assignment]
    return out


# -- S3 output ----------------------------------------------------------------------------------


def read_manifest(s3: Any, prefix: str, log: str) -> dict[str, Any]:
    m = re.search(r"manifest (runs/\S+\.json)", log)
    if not m:
        raise RuntimeError("the run printed no manifest")
    body = s3.client().get_object(Bucket=s3.bucket, Key=f"{prefix}/{m.group(1)}")["Body"].read()
    return json.loads(body)


def project_clusters(uri: str) -> dict[str, str]:
    from flows.read import read_table

    out: dict[str, str] = {}
    for table in ("articles", "duplicates"):
        for row in read_table(uri, table=table, columns=["url", "cluster_id"]).to_pylist():
            out[row["url"]] = row["cluster_id"]
    return out


def reprint_quality(truth: dict[str, Any], clusters: dict[str, str | None]) -> dict[str, Any]:
    """Reprints put in the same cluster as their original, and pages merged with a page of
    another story (``clusters``: URL -> predicted cluster, None when nothing was kept)."""
    group = {u: u for u in truth["originals"]}
    group.update(truth["reprints"])
    members: dict[str, set[str]] = {}
    for url, c in clusters.items():
        if c is not None and url in group:
            members.setdefault(c, set()).add(group[url])
    caught = sum(
        1
        for rep, orig in truth["reprints"].items()
        if clusters.get(rep) is not None and clusters.get(rep) == clusters.get(orig)
    )
    wrong = sum(
        1
        for url, c in clusters.items()
        if c is not None and url in group and len(members.get(c, ())) > 1
    )
    by_cluster: dict[str, list[str]] = {}
    for url, c in clusters.items():
        if c is not None and len(members.get(c, ())) > 1:
            by_cluster.setdefault(c, []).append(url)
    return {
        "reprints": len(truth["reprints"]),
        "caught": caught,
        "mixed_cluster_examples": [sorted(urls) for urls in list(by_cluster.values())[:5]],
        "pages_in_mixed_clusters": wrong,
        "pages_with_text": sum(1 for u, c in clusters.items() if c is not None and u in group),
    }


# -- one pipeline run, one baseline run ---------------------------------------------------------


def run_pipeline(
    net: Network,
    size: int,
    rep: int,
    s3: Any,
    env: dict[str, str],
    work: Path,
    helpers: dict[str, int | None],
) -> dict[str, Any]:
    prefix = f"e2e-{size}-{rep}"
    uri = f"s3://{s3.bucket}/{prefix}"
    cmd = [
        PY,
        "-m",
        "flows.cli",
        "run",
        "--seeds",
        str(net.seeds),
        "--output",
        uri,
        "--allow-private",
    ]
    run = measure(cmd, env, work / f"pipeline-{size}-{rep}.log", helpers)
    if run.returncode != 0:
        tail = "\n".join(run.log.splitlines()[-25:])
        raise RuntimeError(f"pipeline run failed with status {run.returncode}:\n{tail}")
    manifest = read_manifest(s3, prefix, run.log)
    counts = manifest["counts"]
    pages = int(counts["pages"])
    windows = stage_windows(run)
    stages = {}
    for name in STAGES:
        start, end = windows[name]
        stages[name] = {"seconds": round(end - start, 2), **run.sampler.window(start, end)}
    per_source = {
        name: {
            "crawl_seconds": s.get("crawl_seconds", 0.0),
            "articles": s.get("crawl", {}).get("articles", 0),
            "requests": s.get("crawl", {}).get("requests", 0),
            "listing_pages": s.get("crawl", {}).get("listing_pages", 0),
            "discovery_documents": s.get("crawl", {}).get("discovery_documents", 0),
        }
        for name, s in counts["sources"].items()
    }
    width = int(env.get("NEWSDEDUP_CONCURRENCY") or CORES)
    per_process = int(
        env.get("NEWSDEDUP_SOURCES_PER_CRAWL") or PipelineSettings().sources_per_crawl
    )
    processes = len(crawl_groups(list(per_source), width, per_process))
    secs = [v["crawl_seconds"] for v in per_source.values()]  # a group's sources share one
    truth_urls = set(net.truth["originals"]) | set(net.truth["reprints"])
    clusters: dict[str, str | None] = dict.fromkeys(truth_urls)
    clusters.update(project_clusters(uri))
    return {
        "size": size,
        "repeat": rep,
        "pages": pages,
        "requests": sum(v["requests"] for v in per_source.values()),
        "wall_seconds": round(run.wall, 2),
        "pages_per_s": round(pages / run.wall, 2),
        "flow_pages_per_s": round(pages / (run.ended - windows["crawl"][0]), 2),
        "peak_rss_mb": round(run.sampler.peak_sum / MB, 1),
        "largest_process_mb": round(run.sampler.peak_single / MB, 1),
        "largest_process_role": run.sampler.peak_single_role,
        "peak_rss_mb_by_role": {k: round(v / MB, 1) for k, v in run.sampler.peak_by_role.items()},
        "maxrss_rusage_mb": round(run.maxrss_rusage_mb, 1),
        "cpu_seconds": round(run.cpu_seconds, 2),
        # Counted like the floor: the whole process tree plus the network server, per page.
        "cpu_ms_per_page": round(
            1000 * (run.cpu_seconds + run.helpers_cpu.get("network", 0.0)) / max(pages, 1), 3
        ),
        "cpu_seconds_sampled_by_role": run.sampler.cpu_by_role(),
        "cpu_utilisation": round(run.cpu_utilisation, 3),
        "stages": stages,
        "manifest_stage_seconds": manifest.get("extra", {}).get("stage_seconds", {}),
        "cleaning_plans": manifest.get("counts", {}).get("cleaning_plans", {}),
        "crawl": {
            "sources": len(per_source),
            "parallel": width,
            "sum_source_seconds": round(sum(secs), 2),
            "mean_source_seconds": round(statistics.mean(secs), 2) if secs else 0.0,
            "max_source_seconds": round(max(secs), 2) if secs else 0.0,
            "processes": processes,
            "sources_per_process": per_process,
            "per_source": per_source,
        },
        "dedup_counts": counts.get("dedup", {}),
        "stories": counts.get("articles"),
        "duplicates": counts.get("duplicates"),
        "quality": reprint_quality(net.truth, clusters),
        "helpers_cpu_seconds": run.helpers_cpu,
        "others_cpu_seconds": round(run.others_cpu, 1),
        "max_processes": run.sampler.max_procs,
    }


def run_baseline(
    net: Network,
    size: int,
    rep: int,
    mode: str,
    env: dict[str, str],
    work: Path,
    helpers: dict[str, int | None],
) -> dict[str, Any]:
    out = work / f"baseline-{mode}-{size}-{rep}.json"
    cmd = [
        PY,
        str(ROOT / "bench" / "_e2e_baseline.py"),
        "--truth",
        str(net.truth_path),
        "--out",
        str(out),
        "--mode",
        mode,
    ]
    run = measure(cmd, env, work / f"baseline-{mode}-{size}-{rep}.log", helpers)
    if run.returncode != 0:
        raise RuntimeError(f"baseline failed with status {run.returncode}: {run.log[-2000:]}")
    result = json.loads(out.read_text())
    truth_urls = set(net.truth["originals"]) | set(net.truth["reprints"])
    fetched = {u for u, (ok, _) in result["pages"].items() if ok}
    pages = len(fetched & truth_urls)
    clusters: dict[str, str | None] = dict.fromkeys(truth_urls)
    clusters.update({u: h for u, (_, h) in result["pages"].items() if u in truth_urls})
    return {
        "size": size,
        "repeat": rep,
        "mode": mode,
        "listed": result["listed"],
        "fetched": result["fetched"],
        "pages": pages,
        "failed_fetches": result["listed"] - result["fetched"],
        "exact_duplicates": result["duplicates"],
        "wall_seconds": round(run.wall, 2),
        "pages_per_s": round(pages / run.wall, 2),
        "peak_rss_mb": round(run.sampler.peak_sum / MB, 1),
        "largest_process_mb": round(run.sampler.peak_single / MB, 1),
        "maxrss_rusage_mb": round(run.maxrss_rusage_mb, 1),
        "cpu_seconds": round(run.cpu_seconds, 2),
        "cpu_ms_per_page": round(
            1000 * (run.cpu_seconds + run.helpers_cpu.get("network", 0.0)) / max(pages, 1), 3
        ),
        "cpu_utilisation": round(run.cpu_utilisation, 3),
        "quality": reprint_quality(net.truth, clusters),
        "helpers_cpu_seconds": run.helpers_cpu,
        "others_cpu_seconds": round(run.others_cpu, 1),
    }


# -- what AutoThrottle costs on loopback --------------------------------------------------------


PROBE_REPEATS = 3


def throttle_probe(net: Network, work: Path, env: dict[str, str]) -> dict[str, Any]:
    """The largest publisher crawled alone by ``crawlers.run``, with the project's settings and
    with AutoThrottle off, ``PROBE_REPEATS`` times each, interleaved (the pipeline passes no
    Scrapy settings through, so this is measured apart). Reports the median of each."""
    site = max(
        (s for s in net.truth["sites"] if s["role"] == "original"),
        key=lambda s: sum(1 for u in net.truth["originals"] if u.startswith(s["url"] + "/")),
    )["name"]
    variants = {"default": [], "autothrottle_off": ["-s", "AUTOTHROTTLE_ENABLED=False"]}
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in variants}
    for i in range(PROBE_REPEATS):
        for label, extra in variants.items():
            d = work / f"probe-{label}-{i}"
            cmd = [PY, "-m", "crawlers.run", "--seeds", str(net.seeds), "--source", site,
                   "--out", str(d), "--allow-private", *extra]  # fmt: skip
            run = measure(cmd, env, work / f"probe-{label}-{i}.log", {})
            stats_path = d / STATS_FILE
            stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
            runs[label].append(
                {
                    "returncode": run.returncode,
                    "wall_seconds": round(run.wall, 2),
                    "cpu_seconds": round(run.cpu_seconds, 2),
                    "articles": stats.get("articles", 0),
                    "requests": stats.get("requests", 0),
                    "others_cpu_seconds": round(run.others_cpu, 1),
                }
            )
    out: dict[str, Any] = {"source": site, "repeats": PROBE_REPEATS}
    for label, rows in runs.items():
        out[label] = {
            "wall_seconds": statistics.median(r["wall_seconds"] for r in rows),
            "cpu_seconds": statistics.median(r["cpu_seconds"] for r in rows),
            "articles": rows[0]["articles"],
            "requests": rows[0]["requests"],
            "runs": rows,
        }
    return out


# -- the floor: what Scrapy and trafilatura cost before the project adds anything --------------


FLOOR_PARTS = ("scrapy_ms_per_page", "server_ms_per_page", "extract_ms_per_page")
SIDE_PARTS = tuple(f"side_{k}" for k in FLOOR_PARTS)  # the same, one process per core at once


def floor_run(net: Network, work: Path, env: dict[str, str], i: int) -> dict[str, Any]:
    """One run of ``bench/_e2e_floor.py`` on the network: CPU ms per page of each part."""
    out = work / f"floor-{i}.json"
    cmd = [PY, str(ROOT / "bench" / "_e2e_floor.py"), "--truth", str(net.truth_path),
           "--server-pid", str(net.pid), "--out", str(out), "--cores", str(CORES)]  # fmt: skip
    run = measure(cmd, env, work / f"floor-{i}.log", {})
    if run.returncode != 0:
        raise RuntimeError(f"floor probe failed ({run.returncode}): {run.log[-2000:]}")
    row: dict[str, Any] = json.loads(out.read_text())
    row["repeat"] = i
    row["sum_ms_per_page"] = round(sum(row[k] for k in FLOOR_PARTS), 3)
    if all(k in row for k in SIDE_PARTS):
        row["side_sum_ms_per_page"] = round(sum(row[k] for k in SIDE_PARTS), 3)
    return row


def floor_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each part over the floor's runs (one run per repeat, taken right after
    that repeat's pipeline and baseline runs, so all three see the same machine)."""
    med = {k: round(statistics.median(r[k] for r in rows), 3) for k in FLOOR_PARTS}
    total = sum(med.values())
    side = {}
    if all("side_sum_ms_per_page" in r for r in rows):
        side = {
            k: round(statistics.median(r[k] for r in rows), 3)
            for k in (*SIDE_PARTS, "side_sum_ms_per_page")
        }
    return {
        **med,
        **side,
        "sum_ms_per_page": round(total, 3),
        "ceiling_pages_per_s": round(1000 * CORES / total, 1),
        "repeats": len(rows),
        "runs": rows,
    }


# -- output -------------------------------------------------------------------------------------


def fmt(v: Any, spec: str = "") -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and v != v:
        return "-"
    return format(v, spec)


def median_by(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def pick(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median pages/s (the lower middle one for an even count)."""
    ordered = sorted(rows, key=lambda r: r["pages_per_s"])
    return ordered[(len(ordered) - 1) // 2]


def marginal_cost(runs: list[dict[str, Any]], floor_ms: float | None) -> dict[str, Any] | None:
    """What one more page costs, against what a run costs whatever its size: the median CPU
    (process tree and network server) of the smallest and the largest network, as a line
    through the two. The runs differ only in the number of articles (same sites, same
    servers), so the intercept is the start-up and every cost paid per site (robots, feeds
    and sitemaps, listing pages, the pages a site's plan is learned on), and the slope is
    the cost per page. None with a single size."""
    sizes = sorted({r["size"] for r in runs})
    if len(sizes) < 2:
        return None

    def total(size: int) -> tuple[float, float]:
        rows = [r for r in runs if r["size"] == size]
        cpu = statistics.median(r["cpu_ms_per_page"] * r["pages"] / 1000 for r in rows)
        return statistics.median(r["pages"] for r in rows), cpu

    def parts(size: int) -> dict[str, float]:
        """Median CPU seconds of each process kind (sampled) and of the network server."""
        rows = [r for r in runs if r["size"] == size]
        seconds = [
            {**r["cpu_seconds_sampled_by_role"],
             "network server": r["helpers_cpu_seconds"]["network"]}
            for r in rows
        ]  # fmt: skip
        kinds = sorted(set().union(*seconds))
        return {k: statistics.median(s.get(k, 0.0) for s in seconds) for k in kinds}

    (n0, c0), (n1, c1) = total(sizes[0]), total(sizes[-1])
    per_page_ms = 1000 * (c1 - c0) / (n1 - n0)
    p0, p1 = parts(sizes[0]), parts(sizes[-1])
    by_kind = {}
    for kind in sorted(set(p0) | set(p1)):
        slope = 1000 * (p1.get(kind, 0.0) - p0.get(kind, 0.0)) / (n1 - n0)
        by_kind[kind] = {
            "marginal_cpu_ms_per_page": round(slope, 3),
            "fixed_cpu_seconds": round(p0.get(kind, 0.0) - slope * n0 / 1000, 2),
        }
    return {
        "sizes": [sizes[0], sizes[-1]],
        "marginal_cpu_ms_per_page": round(per_page_ms, 3),
        "fixed_cpu_seconds": round(c0 - per_page_ms * n0 / 1000, 2),
        "marginal_floor_ratio": round(per_page_ms / floor_ms, 3) if floor_ms else None,
        # The same line per process kind (sampled CPU, so the parts need not add up exactly
        # to the tree's): where the cost per page and the cost per run are paid.
        "by_kind": by_kind,
    }


def print_report(result: dict[str, Any]) -> None:
    main_size = result["articles"]
    proj = pick([r for r in result["pipeline_runs"] if r["size"] == main_size])
    base = result["baseline_best"]
    print()
    print(
        f"== end to end, {proj['pages']} article pages "
        f"({result['sites']} sites, {CORES} cores; median of {result['repeats']} run(s)) =="
    )
    print(f"{'':28} {'newsdedup':>12} {'baseline':>12} {'ratio':>8}")
    rows = [
        ("article pages fetched", proj["pages"], base["pages"], "d"),
        ("wall time, s", proj["wall_seconds"], base["wall_seconds"], ".1f"),
        ("pages per second", proj["pages_per_s"], base["pages_per_s"], ".1f"),
        ("peak RSS, tree sum, MB", proj["peak_rss_mb"], base["peak_rss_mb"], ".0f"),
        ("largest process, MB", proj["largest_process_mb"], base["largest_process_mb"], ".0f"),
        ("CPU seconds (tree)", proj["cpu_seconds"], base["cpu_seconds"], ".1f"),
        ("CPU utilisation", proj["cpu_utilisation"], base["cpu_utilisation"], ".0%"),
        (
            "CPU seconds per 1000 pages",
            1000 * proj["cpu_seconds"] / proj["pages"],
            1000 * base["cpu_seconds"] / base["pages"],
            ".1f",
        ),
        ("others' CPU meanwhile, s", proj["others_cpu_seconds"], base["others_cpu_seconds"], ".0f"),
    ]
    for label, a, b, spec in rows:
        ratio = f"{a / b:.2f}x" if label == "pages per second" and b else ""
        print(f"{label:28} {fmt(a, spec):>12} {fmt(b, spec):>12} {ratio:>8}")
    print(f"baseline: {base['mode']} ({result['baseline_modes_note']})")
    ceil_p = CORES * proj["pages"] / proj["cpu_seconds"]
    ceil_b = CORES * base["pages"] / base["cpu_seconds"]
    print(
        f"CPU-bound ceiling (all {CORES} cores busy, same CPU per page): newsdedup "
        f"{ceil_p:.0f} p/s, baseline {ceil_b:.0f} p/s ({ceil_p / ceil_b:.2f}x)"
    )
    target = "met" if result["ratio"] >= 2 else "NOT met"
    print(f"target >= 2.0x baseline pages/s: {target} ({result['ratio']:.2f}x)")
    print(f"network server CPU during the newsdedup run: {proj['helpers_cpu_seconds']} s")

    print()
    print("== newsdedup time per stage (from the flow's log lines) ==")
    print(
        f"{'stage':10} {'seconds':>8} {'share':>6} {'CPU s':>7} {'CPU util':>9} "
        f"{'rest of machine CPU s':>22} {'peak RSS MB':>12} {'largest MB':>11}"
    )
    total = sum(s["seconds"] for s in proj["stages"].values())
    for name, s in proj["stages"].items():
        print(
            f"{name:10} {s['seconds']:>8.1f} {s['seconds'] / total:>6.0%} "
            f"{fmt(s['cpu_seconds'], '.1f'):>7} {fmt(s['cpu_utilisation'], '.0%'):>9} "
            f"{fmt(s['rest_cpu_seconds'], '.1f'):>22} {fmt(s['peak_rss_mb'], '.0f'):>12} "
            f"{fmt(s['largest_process_mb'], '.0f'):>11}"
        )
    print(f"manifest stage_seconds: {proj['manifest_stage_seconds']}")
    print(f"pages by cleaning plan (\"full\": every pass, a site learned or checked): "
          f"{proj['cleaning_plans']}")  # fmt: skip
    c = proj["crawl"]
    print(
        f"crawl: {c['sources']} sources in {c['processes']} crawl processes (up to "
        f"{c['sources_per_process']} sources each, {c['parallel']} processes at a time); "
        f"longest process {c['max_source_seconds']}s; {proj['requests']} requests for "
        f"{proj['pages']} articles; extraction starts on a process's pages when it ends"
    )
    per = c["per_source"].values()
    listing = sum(v.get("listing_pages", 0) for v in per)
    discovery = sum(v.get("discovery_documents", 0) for v in per)
    other = proj["requests"] - proj["pages"] - listing - discovery  # robots.txt, errors
    print(
        f"requests per article: {proj['requests'] / proj['pages']:.3f} = 1 article + "
        f"{listing / proj['pages']:.3f} listing pages (links followed from start URLs) + "
        f"{discovery / proj['pages']:.3f} feeds and sitemaps + {other / proj['pages']:.3f} "
        f"robots.txt and other"
    )
    print(f"CPU seconds by process kind (sampled): {proj['cpu_seconds_sampled_by_role']}")
    sampled = proj["cpu_seconds_sampled_by_role"]
    print(
        "CPU ms per page by process kind (sampled): "
        + ", ".join(f"{k} {1000 * v / proj['pages']:.2f}" for k, v in sorted(sampled.items()))
    )
    print(f"peak RSS by process kind, MB: {proj['peak_rss_mb_by_role']}")

    print()
    print("== memory as the network grows ==")
    print(
        f"{'articles':>8} {'pages':>6} {'wall s':>7} {'pages/s':>8} {'peak RSS MB':>12} "
        f"{'largest MB':>11} {'CPU util':>9} {'base p/s':>9} {'ratio':>6}"
    )
    for size in result["sizes"]:
        p = pick([r for r in result["pipeline_runs"] if r["size"] == size])
        b = result["baseline_best_by_size"][str(size)]
        print(
            f"{size:>8} {p['pages']:>6} {p['wall_seconds']:>7.1f} {p['pages_per_s']:>8.1f} "
            f"{p['peak_rss_mb']:>12.0f} {p['largest_process_mb']:>11.0f} "
            f"{p['cpu_utilisation']:>9.0%} {b['pages_per_s']:>9.1f} "
            f"{p['pages_per_s'] / b['pages_per_s']:>5.2f}x"
        )
    sizes = result["sizes"]
    if len(sizes) > 1:
        lo, hi = (
            result["peak_rss_mb_by_size"][str(sizes[0])],
            result["peak_rss_mb_by_size"][str(sizes[-1])],
        )
        print(
            f"peak RSS {sizes[0]} -> {sizes[-1]} articles: {lo:.0f} -> {hi:.0f} MB "
            f"({hi / lo:.2f}x for {sizes[-1] / sizes[0]:.0f}x the pages)"
        )

    print()
    print("== reprints found (quality sanity check, against the network's truth) ==")
    q, bq = proj["quality"], base["quality"]
    print(
        f"newsdedup: {q['caught']}/{q['reprints']} reprints in their original's cluster; "
        f"{q['pages_in_mixed_clusters']} pages in clusters that mix stories; "
        f"{q['pages_with_text']} pages published"
    )
    print(
        f"baseline exact-text dedup: {bq['caught']}/{bq['reprints']} reprints caught; "
        f"{bq['pages_in_mixed_clusters']} pages in mixed clusters"
    )
    floor = result.get("floor")
    if floor:
        ceiling = floor["ceiling_pages_per_s"]
        print()
        print(
            f"== the floor: CPU per page of Scrapy and trafilatura alone on this network "
            f"(bench/_e2e_floor.py, median of {floor['repeats']}, one run per repeat) =="
        )
        for label, key in (
            ("bare Scrapy spider, fetch only", "scrapy_ms_per_page"),
            ("network server meanwhile", "server_ms_per_page"),
            ("trafilatura.extract(fast=True)", "extract_ms_per_page"),
            ("sum", "sum_ms_per_page"),
        ):
            print(f"{label:32} {floor[key]:>6.2f} ms")
        print(
            f"ceiling with all {CORES} cores busy on nothing else: {ceiling:.0f} pages/s = "
            f"{ceiling / base['pages_per_s']:.2f}x the baseline's measured "
            f"{base['pages_per_s']:.0f} (the target is 2x); newsdedup reaches "
            f"{proj['pages_per_s'] / ceiling:.0%} of it"
        )
        ratio = proj["cpu_ms_per_page"] / floor["sum_ms_per_page"]
        helpers = proj["helpers_cpu_seconds"]
        print(
            f"newsdedup cpu_ms_per_page (process tree + network server, per published page): "
            f"{proj['cpu_ms_per_page']:.2f} ms = {ratio:.2f}x the floor's "
            f"{floor['sum_ms_per_page']:.2f} ms (target <= 1.5x: "
            f"{'met' if ratio <= 1.5 else 'NOT met'}); pages/s {proj['pages_per_s']:.1f} = "
            f"{proj['pages_per_s'] / base['pages_per_s']:.2f}x trafilatura alone "
            f"({base['pages_per_s']:.1f}, {base['cpu_ms_per_page']:.2f} ms per page)"
        )
        pairs = [f"{f['pipeline_cpu_ms_per_page']:.2f}/{f['sum_ms_per_page']:.2f}"
                 for f in floor["runs"]]  # fmt: skip
        print(
            f"per repeat (newsdedup/floor, same repeat): {', '.join(pairs)} = "
            f"{result['floor_ratio_by_repeat']}; median "
            f"{result['floor_ratio_paired_median']:.2f}x"
        )
        marginal = result.get("marginal")
        if marginal and marginal["marginal_floor_ratio"] is not None:
            lo, hi = marginal["sizes"]
            print(
                f"from {lo} to {hi} articles (median CPU of each size): each more page costs "
                f"{marginal['marginal_cpu_ms_per_page']:.2f} ms = "
                f"{marginal['marginal_floor_ratio']:.2f}x the floor, and a run "
                f"{marginal['fixed_cpu_seconds']:.1f} s whatever its size (start-up, and what "
                f"is paid per site) = {1000 * marginal['fixed_cpu_seconds'] / proj['pages']:.2f} "
                f"ms of the {proj['cpu_ms_per_page']:.2f} per page at {proj['pages']} "
                f"(for information: the target is the total)"
            )
            kinds = "; ".join(
                f"{kind} {part['marginal_cpu_ms_per_page']:.2f} ms + "
                f"{part['fixed_cpu_seconds']:.1f} s"
                for kind, part in marginal["by_kind"].items()
            )
            print(f"  by process kind (sampled), per more page + per run: {kinds}")
        if "side_sum_ms_per_page" in floor:
            print(
                f"the floor's parts run as the pipeline runs them, "
                f"{floor['runs'][0]['side_processes']} processes at once "
                f"(median of {floor['repeats']}):"
            )
            for label, key in (
                ("bare Scrapy spiders", "side_scrapy_ms_per_page"),
                ("network server meanwhile", "side_server_ms_per_page"),
                ("trafilatura.extract(fast=True)", "side_extract_ms_per_page"),
                ("sum", "side_sum_ms_per_page"),
            ):
                print(f"{label:32} {floor[key]:>6.2f} ms")
            print(
                f"side by side the parts cost "
                f"{floor['side_sum_ms_per_page'] / floor['sum_ms_per_page']:.2f}x what they cost "
                f"alone; newsdedup per repeat against it: "
                f"{[f['side_ratio'] for f in floor['runs']]}; median "
                f"{result['side_floor_ratio_paired_median']:.2f}x "
                f"(for information: the target is against the floor alone)"
            )
        print(
            f"not counted above: the S3 and Prefect servers' CPU during the run, "
            f"{1000 * helpers.get('s3', 0.0) / proj['pages']:.2f} and "
            f"{1000 * helpers.get('prefect', 0.0) / proj['pages']:.2f} ms per page"
        )
    probe = result.get("throttle_probe")
    if probe:
        d, o = probe["default"], probe["autothrottle_off"]
        print()
        print(
            f"== AutoThrottle on loopback: one source ({probe['source']}) crawled alone by "
            f"crawlers.run, median of {probe['repeats']} =="
        )
        for label, r in (("project settings", d), ("AUTOTHROTTLE_ENABLED=False", o)):
            print(
                f"{label:28} {r['wall_seconds']:>6.1f}s  {r['articles']} articles, "
                f"{r['requests']} requests, {r['cpu_seconds']:.1f} CPU s"
            )
        if o["wall_seconds"]:
            print(
                f"AutoThrottle makes this crawl {d['wall_seconds'] / o['wall_seconds']:.2f}x "
                f"as long (walls {[r['wall_seconds'] for r in d['runs']]} vs "
                f"{[r['wall_seconds'] for r in o['runs']]})"
            )


# -- main ---------------------------------------------------------------------------------------


def progress(label: str, r: dict[str, Any]) -> None:
    print(
        f"{label:17} {r['pages']:>5} pages {r['wall_seconds']:>7.1f}s "
        f"{r['pages_per_s']:>6.1f} p/s  peak {r['peak_rss_mb']:.0f} MB  "
        f"CPU {r['cpu_utilisation']:.0%}  others' CPU {r['others_cpu_seconds']:.0f}s",
        flush=True,
    )


def load_line() -> str:
    la = os.getloadavg()
    return f"load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} on {CORES} cores"


def busy_processes(exclude: set[int]) -> list[str]:
    """Processes using CPU right now (a 1 s sample), not ours."""
    procs = []
    for p in psutil.process_iter(["pid", "name", "cmdline"]):
        if p.pid in exclude:
            continue
        try:
            p.cpu_percent(None)
            procs.append(p)
        except psutil.Error:
            pass
    time.sleep(1.0)
    busy = []
    for p in procs:
        try:
            pct = p.cpu_percent(None)
        except psutil.Error:
            continue
        if pct >= 5:
            cmd = " ".join(p.info["cmdline"] or [p.info["name"] or "?"])
            busy.append((pct, f"{pct:5.0f}%  {cmd[:110]}"))
    return [line for _, line in sorted(busy, reverse=True)[:10]]


def child_env(s3: Any, prefect: Any, concurrency: int | None) -> tuple[dict[str, str], list[str]]:
    env = dict(os.environ)
    dropped = sorted(k for k in env if k.startswith("NEWSDEDUP_"))
    for k in dropped:
        env.pop(k)
    env.update(s3.env())
    env.update(prefect.env())
    env["PREFECT_LOGGING_LEVEL"] = "INFO"
    if concurrency:
        env["NEWSDEDUP_CONCURRENCY"] = str(concurrency)
    env["PYTHONPATH"] = str(ROOT)
    return env, dropped


def kill_tree(proc: subprocess.Popen) -> None:
    """A measured command still running (we failed): end it and every descendant, by pid."""
    try:
        procs = [psutil.Process(proc.pid)]
        procs += procs[0].children(recursive=True)
    except psutil.Error:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    try:
        os.waitpid(proc.pid, 0)
    except ChildProcessError:
        pass


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=5000, help="size of the main run")
    parser.add_argument("--sizes", default="1000,5000", help="network sizes for the memory table")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--baseline", choices=["both", "pool", "threads"], default="both")
    parser.add_argument("--concurrency", type=int, help="NEWSDEDUP_CONCURRENCY for the pipeline")
    parser.add_argument("--no-throttle-probe", action="store_true")
    parser.add_argument("--no-floor", action="store_true", help="skip the Scrapy+trafilatura floor")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "e2e.json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()} | {args.articles})
    modes = ["pool", "threads"] if args.baseline == "both" else [args.baseline]

    print(f"e2e bench: {load_line()} at start")
    busy = busy_processes({os.getpid()})
    if busy:
        print("other processes busy at start (CPU% over 1 s):")
        for line in busy:
            print("  " + line)

    # SIGTERM (e.g. make interrupted) unwinds through the clean-up below.
    signal.signal(signal.SIGTERM, _interrupt)
    work = Path(tempfile.mkdtemp(prefix="newsdedup-e2e-"))
    s3 = prefect = None
    networks: list[Network] = []
    result: dict[str, Any] = {}
    try:
        t0 = time.monotonic()
        s3 = start_seaweedfs(work / "s3")
        prefect = start_prefect_server(work / "prefect")
        print(f"SeaweedFS and Prefect server up in {time.monotonic() - t0:.1f}s ({work})")
        env, dropped = child_env(s3, prefect, args.concurrency)
        if dropped:
            print(f"not passed to the pipeline: {', '.join(dropped)}")
        os.environ.update(s3.env())  # for reading the published tables back
        pipeline_runs: list[dict[str, Any]] = []
        baseline_runs: list[dict[str, Any]] = []
        probe = floor = None
        floor_rows: list[dict[str, Any]] = []
        for size in sizes:
            net = Network(size, args.sites, work)
            networks.append(net)
            helpers = {
                "network": net.pid,
                "s3": s3.proc.pid if s3.proc else None,
                "prefect": prefect.proc.pid,
            }
            print(
                f"\n-- {size} articles: network of {len(net.truth['sites'])} sites, "
                f"{len(net.truth['originals'])} originals, {len(net.truth['reprints'])} reprints "
                f"({load_line()})"
            )
            with_floor = size == args.articles and not args.no_floor
            for rep in range(args.repeats):
                r = run_pipeline(net, size, rep, s3, env, work, helpers)
                pipeline_runs.append(r)
                progress("newsdedup", r)
                for mode in modes:
                    b = run_baseline(net, size, rep, mode, env, work, helpers)
                    baseline_runs.append(b)
                    progress(f"baseline {mode}", b)
                if with_floor:
                    # The floor runs in every repeat, right after the runs it is set against:
                    # the machine's speed drifts between phases more than the ratio moves.
                    f = floor_run(net, work, env, rep)
                    f["pipeline_cpu_ms_per_page"] = r["cpu_ms_per_page"]
                    f["ratio"] = round(r["cpu_ms_per_page"] / f["sum_ms_per_page"], 3)
                    if "side_sum_ms_per_page" in f:
                        f["side_ratio"] = round(r["cpu_ms_per_page"] / f["side_sum_ms_per_page"], 3)
                    floor_rows.append(f)
                    print(
                        f"  floor            {f['sum_ms_per_page']:.2f} ms/page (Scrapy "
                        f"{f['scrapy_ms_per_page']:.2f}, server {f['server_ms_per_page']:.2f}, "
                        f"trafilatura {f['extract_ms_per_page']:.2f}); newsdedup this repeat "
                        f"{r['cpu_ms_per_page']:.2f} = {f['ratio']:.2f}x"
                    )
                    if "side_sum_ms_per_page" in f:
                        print(
                            f"  floor, {f['side_processes']} at once "
                            f"{f['side_sum_ms_per_page']:.2f} ms/page "
                            f"(Scrapy {f['side_scrapy_ms_per_page']:.2f}, server "
                            f"{f['side_server_ms_per_page']:.2f}, trafilatura "
                            f"{f['side_extract_ms_per_page']:.2f})"
                        )
            if with_floor:
                floor = floor_summary(floor_rows)
            if size == args.articles and not args.no_throttle_probe:
                probe = throttle_probe(net, work, env)
            net.stop()

        def best_baseline(size: int) -> dict[str, Any]:
            by_mode = {
                m: pick([b for b in baseline_runs if b["size"] == size and b["mode"] == m])
                for m in modes
            }
            return max(by_mode.values(), key=lambda b: b["pages_per_s"])

        main_proj = pick([r for r in pipeline_runs if r["size"] == args.articles])
        main_base = best_baseline(args.articles)
        result = {
            "pages": main_proj["pages"],
            "pages_per_s": main_proj["pages_per_s"],
            "baseline_pages_per_s": main_base["pages_per_s"],
            "ratio": round(main_proj["pages_per_s"] / main_base["pages_per_s"], 3),
            "peak_rss_mb": main_proj["peak_rss_mb"],
            "cpu_ms_per_page": main_proj["cpu_ms_per_page"],
            "baseline_cpu_ms_per_page": main_base["cpu_ms_per_page"],
            "floor_ratio": (
                round(main_proj["cpu_ms_per_page"] / floor["sum_ms_per_page"], 3) if floor else None
            ),
            "floor_ratio_by_repeat": [f["ratio"] for f in floor_rows],
            "floor_ratio_paired_median": (
                round(statistics.median(f["ratio"] for f in floor_rows), 3) if floor_rows else None
            ),
            "side_floor_ratio_paired_median": (
                round(statistics.median(f["side_ratio"] for f in floor_rows), 3)
                if floor and "side_sum_ms_per_page" in floor
                else None
            ),
            "cpu_utilisation": main_proj["cpu_utilisation"],
            "stage_seconds": {k: v["seconds"] for k, v in main_proj["stages"].items()},
            "manifest_stage_seconds": main_proj["manifest_stage_seconds"],
            "peak_rss_mb_by_size": {
                str(s): pick([r for r in pipeline_runs if r["size"] == s])["peak_rss_mb"]
                for s in sizes
            },
            "largest_process_mb_by_size": {
                str(s): pick([r for r in pipeline_runs if r["size"] == s])["largest_process_mb"]
                for s in sizes
            },
            "pages_per_s_by_size": {
                str(s): pick([r for r in pipeline_runs if r["size"] == s])["pages_per_s"]
                for s in sizes
            },
            "baseline_best": main_base,
            "baseline_best_by_size": {str(s): best_baseline(s) for s in sizes},
            "baseline_mode": main_base["mode"],
            "baseline_modes_note": (
                "pool = one process per core fetching and extracting; threads = trafilatura's "
                "buffered_downloads (4 threads) with extraction on one core; the faster is shown"
                if len(modes) > 1
                else f"only {modes[0]} run"
            ),
            "articles": args.articles,
            "sizes": sizes,
            "sites": args.sites,
            "repeats": args.repeats,
            "cores": CORES,
            "load_average_at_start": list(os.getloadavg()),
            "busy_at_start": busy,
            "notes": [
                "network served from its own process with TCP_NODELAY (see bench/_e2e_network.py)",
                "Prefect: a local `prefect server start` (not the ephemeral one)",
                "wall time = the CLI command from exec to exit",
            ],
            "pipeline_runs": pipeline_runs,
            "baseline_runs": baseline_runs,
            "throttle_probe": probe,
            "floor": floor,
            "marginal": marginal_cost(pipeline_runs, floor["sum_ms_per_page"] if floor else None),
        }
        print_report(result)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(
            f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}"
        )
        print(f"e2e bench: {load_line()} at the end")
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        for proc in list(RUNNING):
            kill_tree(proc)
        for net in networks:
            net.stop()
        if prefect is not None:
            prefect.stop()
        if s3 is not None:
            s3.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
