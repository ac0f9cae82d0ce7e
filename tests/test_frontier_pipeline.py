"""The pipeline with a shared Redis crawl frontier (two crawl processes per source) publishes
what it publishes with one process per source, and leaves no frontier keys behind."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import redis

from flows.demo import DemoNetwork
from flows.read import read_table

pytestmark = pytest.mark.slow


def test_two_processes_per_source_publish_the_same(prefect_server, redis_url, tmp_path):
    outputs = {1: str(tmp_path / "one"), 2: str(tmp_path / "shared")}
    with DemoNetwork(ports=None) as net:
        seeds = net.write_seeds(tmp_path / "seeds.yaml")
        for processes, output in outputs.items():
            env = {
                **os.environ,
                **prefect_server.env(),
                "NEWSDEDUP_FRONTIER_PROCESSES": str(processes),
                "NEWSDEDUP_REDIS_URL": redis_url,
            }
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "flows.cli",
                    "run",
                    "--seeds",
                    str(seeds),
                    "--output",
                    output,
                    "--allow-private",
                ],
                capture_output=True,
                text=True,
                env=env,
                timeout=300,
            )
            assert proc.returncode == 0, proc.stderr[-3000:]

    def table(output: str, name: str) -> list:
        rows = read_table(output, table=name).to_pylist()
        return sorted((r["url"], r["article_id"], r.get("duplicate_of")) for r in rows)

    assert table(outputs[1], "articles") == table(outputs[2], "articles")
    assert table(outputs[1], "duplicates") == table(outputs[2], "duplicates")
    assert table(outputs[2], "articles")
    assert not redis.Redis.from_url(redis_url).keys("newsdedup:frontier:*")
