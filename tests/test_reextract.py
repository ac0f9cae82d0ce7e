"""The raw archive: a run keeps its fetched pages as WARC, and reextract rebuilds the output
from them without crawling."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from flows.demo import DemoNetwork
from flows.read import read_table

pytestmark = pytest.mark.slow


def cli(args, env, cwd):
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=cwd,
        timeout=300,
    )


def decisions(root: str, table: str) -> list:
    rows = read_table(root, table=table).to_pylist()
    return sorted((r["article_id"], r["url"], r.get("duplicate_of"), r["text"]) for r in rows)


def test_reextract_rebuilds_the_output_without_crawling(prefect_server, tmp_path):
    first, rebuilt = str(tmp_path / "first"), str(tmp_path / "rebuilt")
    env = {**prefect_server.env(), "NEWSDEDUP_ARCHIVE_RAW": "true"}
    with DemoNetwork(ports=None) as net:
        seeds = net.write_seeds(tmp_path / "seeds.yaml")
        run = cli(
            ["run", "--seeds", str(seeds), "--output", first, "--allow-private"], env, tmp_path
        )
        assert run.returncode == 0, run.stderr[-2000:]
        served = len(net.requests)
        again = cli(
            [
                "reextract",
                "--seeds",
                str(seeds),
                "--since",
                "2000-01-01",
                "--from",
                first,
                "--output",
                rebuilt,
            ],
            env,
            tmp_path,
        )
        assert again.returncode == 0, again.stderr[-2000:]
        assert len(net.requests) == served  # nothing was fetched
    assert list((tmp_path / "first" / "raw").glob("dt=*/*.warc.gz"))
    assert decisions(first, "articles") == decisions(rebuilt, "articles")
    assert decisions(first, "duplicates") == decisions(rebuilt, "duplicates")
    # Into the same root nothing is new: every story is already published there.
    same = cli(
        ["reextract", "--seeds", str(seeds), "--since", "2000-01-01", "--output", first],
        env,
        tmp_path,
    )
    assert same.returncode == 0, same.stderr[-2000:]
    assert decisions(first, "articles") == decisions(rebuilt, "articles")
    assert decisions(first, "duplicates") == decisions(rebuilt, "duplicates")
