"""An output root that cannot take a run's output is refused before any work, with what is
wrong and where; an S3 endpoint that never answers fails within the documented budget."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import boto3
import pytest

from flows.storage import OutputRootError, S3Storage, StorageError, check_output_root
from flows.storage_s3 import s3_client_config
from tests.conftest import data_path
from tests.silent_server import SilentServer

GOOD_SEEDS = str(data_path("seeds", "good.yaml"))


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60):
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )
    return proc, time.monotonic() - started


def test_an_output_root_that_is_a_file_is_refused_at_once(tmp_path):
    target = tmp_path / "lake"
    target.write_text("not a directory")
    for output in (target, target / "sub"):
        proc, seconds = run_cli("run", "--seeds", GOOD_SEEDS, "--output", str(output))
        assert proc.returncode == 2, proc.stderr
        assert "a file, not a directory" in proc.stderr and str(target) in proc.stderr
        assert "Traceback" not in proc.stderr and seconds < 10
    assert target.read_text() == "not a directory"


def test_an_output_root_that_cannot_be_written_is_refused(tmp_path):
    if os.geteuid() == 0:
        root = "/sys/newsdedup-lake"  # root may write anywhere but where the kernel forbids
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        root = str(locked / "lake")
    with pytest.raises(OutputRootError, match="not writable") as err:
        check_output_root(root)
    assert err.value.bad_input and root in str(err.value)
    proc, seconds = run_cli("run", "--seeds", GOOD_SEEDS, "--output", root)
    assert proc.returncode == 2 and "not writable" in proc.stderr and seconds < 10


def test_a_good_output_root_is_created_and_left_clean(tmp_path):
    root = tmp_path / "new" / "lake"
    check_output_root(str(root))
    assert root.is_dir() and list(root.iterdir()) == []


@pytest.fixture
def hung_s3(monkeypatch):
    """An S3 endpoint that accepts connections and never answers, with a small budget."""
    env = {
        "AWS_ENDPOINT_URL_S3": "",
        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "NEWSDEDUP_S3_CONNECT_TIMEOUT": "1", "NEWSDEDUP_S3_READ_TIMEOUT": "1",
        "NEWSDEDUP_S3_MAX_ATTEMPTS": "2", "NEWSDEDUP_S3_OUTAGE_SECONDS": "3",
    }
    with SilentServer() as server:
        env["AWS_ENDPOINT_URL_S3"] = server.url
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield server, env


@pytest.mark.timeout(60)
def test_a_hung_s3_endpoint_fails_within_the_budget_then_at_once(hung_s3):
    server, _ = hung_s3
    client = boto3.session.Session().client(
        "s3", endpoint_url=server.url, config=s3_client_config()
    )
    store = S3Storage("s3://news/lake", client=client)
    started = time.monotonic()
    with pytest.raises(StorageError, match="timeout"):
        store.put("runs/x.json", b"{}")
    first = time.monotonic() - started
    # Budget: 3 s of retries, begun by one botocore call of 2 tries of 1 s each (plus backoff).
    assert server.accepted >= 2 and 2.0 <= first < 12, first
    started = time.monotonic()
    with pytest.raises(StorageError):
        store.get("_state/lock.json")  # what a failed run's clean-up does next
    assert time.monotonic() - started < 1.0


@pytest.mark.timeout(90)
def test_run_against_a_hung_s3_endpoint_exits_with_a_message(hung_s3):
    _, env = hung_s3
    proc, seconds = run_cli("run", "--seeds", GOOD_SEEDS, "--output", "s3://news/lake", env=env)
    assert proc.returncode == 1, proc.stderr
    assert "s3://news/lake" in proc.stderr and "timeout" in proc.stderr.lower()
    assert "Traceback" not in proc.stderr and seconds < 30
