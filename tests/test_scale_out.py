"""Scaling out: a sharded run on two process workers, with the dedup index in Redis, decides
exactly what a single-process run of the same sites decides."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from flows.demo import DemoNetwork
from flows.read import read_table
from tests.conftest import plan_sites

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent

DEPLOY = """
import sys
from prefect import flow
flow.from_source(source=sys.argv[1], entrypoint="flows/pipeline.py:news_shard").deploy(
    name=sys.argv[2], work_pool_name=sys.argv[3], print_next_steps=False
)
"""

POOL_RUNS = """
import sys
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import WorkPoolFilter, WorkPoolFilterName
with get_client(sync_client=True) as client:
    runs = client.read_flow_runs(
        work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[sys.argv[1]]))
    )
for run in runs:
    print(run.id, run.state_type.value if run.state_type else None)
"""


def _env(*parts: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    for part in parts:
        env.update(part)
    return env


def _tables(output: str, env: dict[str, str], monkeypatch) -> tuple[list, list]:
    for key, value in env.items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    articles = read_table(output, table="articles").to_pylist()
    duplicates = read_table(output, table="duplicates").to_pylist()
    return (
        sorted((r["article_id"], r["url"], r["cluster_id"]) for r in articles),
        sorted((r["url"], r["duplicate_of"], r["cluster_id"]) for r in duplicates),
    )


def test_two_workers_publish_what_one_process_publishes(
    prefect_server, s3_server, redis_url, tmp_path, monkeypatch
):
    pool = f"scale-{uuid.uuid4().hex[:6]}"
    base = _env(prefect_server.env(), s3_server.env())
    prefect = str(Path(sys.executable).with_name("prefect"))
    subprocess.run(
        [prefect, "work-pool", "create", pool, "--type", "process"],
        env=base,
        check=True,
        capture_output=True,
        timeout=120,
    )
    subprocess.run(
        [sys.executable, "-c", DEPLOY, str(ROOT), "shard", pool],
        env=base,
        check=True,
        capture_output=True,
        timeout=120,
        cwd=ROOT,
    )
    workers = [
        subprocess.Popen(
            [prefect, "worker", "start", "--pool", pool, "--limit", "1", "--name", f"w{i}"],
            # Poll every second, so an idle worker takes the second shard while the first
            # worker is busy with the other one.
            env={**base, "PREFECT_WORKER_QUERY_SECONDS": "1"},
            cwd=tmp_path,
            stdout=open(tmp_path / f"worker{i}.log", "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for i in range(2)
    ]
    try:
        with DemoNetwork(ports=None) as net:
            seeds = net.write_seeds(tmp_path / "seeds.yaml")
            names = [s.name for s in net.sites if s.role == "original"][:2] + [
                s.name for s in net.sites if s.role == "aggregator"
            ][:2]
            args = ["run", "--seeds", str(seeds), "--allow-private"]
            for name in names:
                args += ["--source", name]
            single = f"s3://{s3_server.bucket}/single-{uuid.uuid4().hex[:6]}"
            sharded = f"s3://{s3_server.bucket}/sharded-{uuid.uuid4().hex[:6]}"
            one = subprocess.run(
                [sys.executable, "-m", "flows.cli", *args, "--output", single],
                env=base,
                capture_output=True,
                text=True,
                timeout=300,
                cwd=ROOT,
            )
            assert one.returncode == 0, one.stderr[-3000:]
            shard_env = _env(
                base,
                {
                    "NEWSDEDUP_SHARDS": "2",
                    "NEWSDEDUP_SHARD_DEPLOYMENT": "news-shard/shard",
                    "NEWSDEDUP_REDIS_URL": redis_url,
                },
            )
            two = subprocess.run(
                [sys.executable, "-m", "flows.cli", *args, "--output", sharded],
                env=shard_env,
                capture_output=True,
                text=True,
                timeout=600,
                cwd=ROOT,
            )
            assert two.returncode == 0, two.stderr[-3000:]
    finally:
        for w in workers:
            os.killpg(w.pid, 15)
        for w in workers:
            try:
                w.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, 9)

    single_tables = _tables(single, base, monkeypatch)
    sharded_tables = _tables(sharded, base, monkeypatch)
    assert single_tables[0] and single_tables[1]
    assert sharded_tables == single_tables
    # The two shards ran as flow runs of the pool, picked up by its workers. Which worker
    # takes which shard is the pool's business (a worker that finishes first may take both,
    # and two workers may race for one run and one of them back off), so ask the server.
    runs = subprocess.run(
        [sys.executable, "-c", POOL_RUNS, pool],
        env=base,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.split()
    logs = "\n".join((tmp_path / f"worker{i}.log").read_text(errors="replace") for i in range(2))
    assert runs[1::2] == ["COMPLETED", "COMPLETED"], logs[-3000:]
    # The shards' hand-over files are gone once the run committed.
    client = s3_server.client()
    prefix = sharded.split("/", 3)[3] + "/_work/"
    assert client.list_objects_v2(Bucket=s3_server.bucket, Prefix=prefix).get("KeyCount", 0) == 0
    # The sharded run's dedup index lives in Redis, named after its output root.
    import redis

    assert any(k.startswith(b"newsdedup:") for k in redis.Redis.from_url(redis_url).keys("*"))
    # Each shard's cleaning plans reached the run state, as a single run's do.
    from urllib.parse import urlsplit

    assert plan_sites(sharded) == plan_sites(single)
    assert {urlsplit(row[1]).netloc for row in single_tables[0]} <= plan_sites(sharded)
