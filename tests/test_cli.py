"""The newsdedup command line over a published output root (local and S3)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from flows.publish import publish_run
from flows.storage import open_storage
from tests.conftest import load_rows

RUN_ID = "20250301T090000Z-abc123"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def lake(tmp_path):
    root = tmp_path / "lake"
    articles = load_rows("articles")
    duplicates = load_rows("duplicates")
    publish_run(open_storage(str(root)), RUN_ID, "2025-03-01T09:00:00+00:00", articles, duplicates)
    return root, articles, duplicates


def test_read_jsonl_csv_parquet_agree(lake, tmp_path):
    root, articles, _ = lake
    out = cli("read", str(root), "--table", "articles")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert sorted(r["article_id"] for r in rows) == sorted(a["article_id"] for a in articles)

    out = cli("read", str(root), "--format", "csv", "--columns", "article_id,source")
    assert out.returncode == 0, out.stderr
    parsed = list(csv.DictReader(io.StringIO(out.stdout)))
    assert set(parsed[0]) == {"article_id", "source"} and len(parsed) == len(articles)

    target = tmp_path / "a.parquet"
    out = cli("read", str(root), "--format", "parquet", "--out", str(target))
    assert out.returncode == 0, out.stderr
    assert pq.read_table(target).num_rows == len(articles)


def test_read_filters_by_source_and_date(lake):
    root, articles, _ = lake
    source = articles[0]["source"]
    out = cli("read", str(root), "--source", source)
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert rows and all(r["source"] == source for r in rows)
    out = cli("read", str(root), "--since", "2025-03-02")
    assert out.returncode == 0 and out.stdout == ""


def test_stats_counts_stories_and_duplicates(lake):
    root, articles, duplicates = lake
    out = cli("stats", str(root))
    assert out.returncode == 0, out.stderr
    total = out.stdout.strip().splitlines()[-1].split()
    assert (
        total[0] == "total" and int(total[1]) == len(articles) and int(total[2]) == len(duplicates)
    )


def test_read_from_s3(s3_server, s3_prefix):
    env = s3_server.env()
    articles = load_rows("articles")
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        publish_run(open_storage(s3_prefix), RUN_ID, "2025-03-01T09:00:00+00:00", articles, [])
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    out = cli("read", s3_prefix, "--columns", "article_id", env=env)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == len(articles)


def test_config_masks_secrets_and_reports_bad_values(tmp_path):
    env = {"NEWSDEDUP_REDIS_URL": "redis://user:s3cret@cache:6379/0", "NEWSDEDUP_WINDOW_DAYS": "7"}
    out = cli("config", env=env)
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["window_days"] == 7 and "s3cret" not in out.stdout
    out = cli("config", env={"NEWSDEDUP_WINDOW_DAYS": "seven"})
    assert out.returncode == 2 and "NEWSDEDUP_WINDOW_DAYS" in out.stderr


def test_compact_merges_a_days_runs_and_reads_stay_whole(lake):
    root, articles, _ = lake
    more = [dict(a, article_id=a["article_id"] + "-b", url=a["url"] + "?b") for a in articles]
    publish_run(
        open_storage(str(root)), "20250301T100000Z-def456", "2025-03-01T10:00:00+00:00", more, []
    )
    files = lambda: sorted(p.name for p in (root / "articles" / "dt=2025-03-01").glob("*.parquet"))  # noqa: E731
    assert len(files()) == 2
    out = cli("compact", str(root), "--before", "2025-03-02")
    assert out.returncode == 0, out.stderr
    assert len(files()) == 1
    rows = [json.loads(line) for line in cli("read", str(root)).stdout.splitlines()]
    assert len(rows) == 2 * len(articles)
    assert cli("compact", str(root), "--before", "not-a-date").returncode == 2


def test_prune_dry_run_reports_and_deletes_nothing(lake):
    root, _, _ = lake
    before = sorted(p for p in root.rglob("*") if p.is_file())
    out = cli("prune", str(root), "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "would delete" in out.stdout
    assert sorted(p for p in root.rglob("*") if p.is_file()) == before


def test_run_summary_table_shows_each_source_and_its_errors(capsys):
    from flows.commands.common import print_summary
    from flows.report import source_rows

    summary = {
        "run_id": RUN_ID,
        "status": "Partial",
        "seconds": 12.5,
        "output": "s3://news/x",
        "manifest": f"runs/{RUN_ID}.json",
        "pages": 7,
        "articles": 4,
        "duplicates": 2,
        "sources": {
            "alder": {
                "crawl": {"articles": 7, "not_modified": 1, "errors": {"http_404": 2}},
                "clean": {"extracted": 6, "dropped": {"too_short": 1}},
                "stories": 4,
                "duplicates": 2,
            },
            "down": {"error": "source 'down': connection refused"},
        },
    }
    rows = {r["source"]: r for r in source_rows(summary)}
    assert rows["alder"]["fetched"] == 7 and rows["alder"]["dropped"] == {"too_short": 1}
    assert rows["alder"]["errors"] == "http_404: 2"
    assert rows["down"]["errors"] == "source 'down': connection refused"
    print_summary(summary)
    out = capsys.readouterr().out.splitlines()
    alder = next(line for line in out if line.startswith("alder"))
    assert alder.split()[:7] == ["alder", "7", "1", "6", "1", "4", "2"]
    assert alder.endswith("http_404: 2")
    assert any(line.startswith("down") and "connection refused" in line for line in out)
    assert out[-1].startswith("total: 7 pages, 4 new stories, 2 duplicates")


# -- the command line as users of Unix tools expect ---------------------------------------


def test_read_into_a_closed_pipe_exits_quietly(lake):
    root, _, _ = lake
    # The reader is gone before the first write (as `| head -1` is after its line).
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "read", str(root)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err.decode() and "BrokenPipe" not in err.decode(), err.decode()
    assert proc.returncode == 141  # as a shell reports a process ended by SIGPIPE


def test_read_parquet_to_standard_output(lake):
    root, articles, _ = lake
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", "read", str(root), "--format", "parquet"],
        capture_output=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert pq.read_table(io.BytesIO(proc.stdout)).num_rows == len(articles)


def test_read_parquet_to_a_terminal_is_refused_cleanly(lake):
    import pty

    root, _, _ = lake
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "flows.cli", "read", str(root), "--format", "parquet"],
            stdout=follower, stderr=subprocess.PIPE, text=True, timeout=120,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 2, proc.stderr
    assert "--out" in proc.stderr and "terminate" not in proc.stderr


def test_read_unknown_column_names_it_and_lists_the_tables_columns(lake):
    root, _, _ = lake
    out = cli("read", str(root), "--columns", "url,no_such_column")
    assert out.returncode == 2
    assert "'no_such_column'" in out.stderr and "article_id" in out.stderr and "title" in out.stderr
    assert "unreadable" not in out.stderr and out.stdout == ""


def test_read_of_a_root_without_a_lake_says_so(tmp_path):
    (tmp_path / "empty").mkdir()
    for root in (tmp_path / "empty", tmp_path / "missing"):
        out = cli("read", str(root))
        assert out.returncode == 1, out.stderr
        assert "no newsdedup output" in out.stderr and str(root) in out.stderr
    out = cli("read", str(tmp_path / "empty"), "--since", "yesterday")
    assert out.returncode == 2 and "--since" in out.stderr
    out = cli("stats", str(tmp_path / "empty"))
    assert out.returncode == 1 and "no newsdedup output" in out.stderr


def test_crawl_into_a_file_is_refused(tmp_path):
    from tests.conftest import data_path

    target = tmp_path / "pages"
    target.write_text("a file")
    out = cli("crawl", "--seeds", str(data_path("seeds", "good.yaml")), "--output", str(target))
    assert out.returncode == 2 and str(target) in out.stderr and "Traceback" not in out.stderr


def _descendants(pid: int) -> list:  # type: ignore[type-arg]
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _cmdlines(procs: list) -> list[str]:  # type: ignore[type-arg]
    import psutil

    lines = []
    for p in procs:
        try:
            lines.append(" ".join(p.cmdline()))
        except psutil.Error:
            lines.append("")
    return lines


@pytest.mark.timeout(120)
def test_a_killed_run_leaves_no_prefect_server_or_crawl_behind(tmp_path):
    import signal
    import time

    import psutil

    from tests.silent_server import SilentServer

    with SilentServer() as site:
        seeds = tmp_path / "seeds.yaml"
        seeds.write_text(f"sources:\n  - name: hung\n    start_urls: ['{site.url}/']\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update({"PREFECT_HOME": str(tmp_path / "prefect"), "NEWSDEDUP_CRAWL_TIMEOUT": "60"})
        proc = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "run", "--seeds", str(seeds),
             "--output", str(tmp_path / "lake"), "--allow-private"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        seen: list = []  # type: ignore[type-arg]
        try:
            # Wait until the run is under way, its Prefect server started.
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and proc.poll() is None:
                seen = _descendants(proc.pid)
                if any("uvicorn" in c for c in _cmdlines(seen)):
                    time.sleep(2)
                    seen = _descendants(proc.pid)
                    break
                time.sleep(0.2)
            # Wait for the crawl process too (it hangs on the silent site).
            while time.monotonic() < deadline and not any(
                "crawlers.run" in c for c in _cmdlines(seen)
            ):
                time.sleep(0.2)
                seen = _descendants(proc.pid)
            servers = [p for p, c in zip(seen, _cmdlines(seen), strict=True) if "uvicorn" in c]
            assert servers, f"no temporary Prefect server among {_cmdlines(seen)}"
            crawls = [p for p, c in zip(seen, _cmdlines(seen), strict=True) if "crawlers.run" in c]
            assert crawls, f"no crawl process among {_cmdlines(seen)}"
            # It sends no telemetry (whose failure every run logged as an error).
            command = servers[0].cmdline()
            port = command[command.index("--port") + 1]
            settings = json.loads(_get(f"http://127.0.0.1:{port}/api/admin/settings"))
            assert settings["server"]["analytics_enabled"] is False
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            _, alive = psutil.wait_procs(servers, timeout=10)
            assert not alive, "the Prefect server outlived the killed run"
            _, alive = psutil.wait_procs(crawls, timeout=10)
            assert not alive, "the crawl process outlived the killed run"
        finally:
            if proc.poll() is None:
                proc.kill()
            for p in seen:
                with contextlib.suppress(psutil.Error):
                    p.kill()


def _get(url: str, timeout: float = 30.0) -> bytes:
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_the_clean_task_has_no_prefect_timeout_that_cannot_interrupt_it():
    # Prefect only warns that it cannot stop a task in a worker thread; pages are bounded
    # one by one instead (tests/test_extraction_limits.py).
    from flows.tasks import clean_task

    assert clean_task.timeout_seconds is None


def test_the_flow_process_loads_neither_the_extractor_nor_the_redis_client():
    """trafilatura is loaded by the extraction workers and the Redis client where a Redis
    URL is set: the flow process, which starts every run, imports neither."""
    code = (
        "import sys, flows.pipeline, flows.stages, flows.crawl_clean, flows.cli\n"
        "from crawlers.clean import EXTRACTOR, finish_source\n"
        "print(sorted(m for m in ('trafilatura', 'redis', 'scrapy') if m in sys.modules))\n"
        "from crawlers.clean import extract_page\n"
        "print('trafilatura' in sys.modules, EXTRACTOR.split()[1])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout.splitlines()
    import trafilatura

    assert out == ["[]", f"True {trafilatura.__version__}"]
