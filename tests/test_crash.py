"""Kill the real CLI at each stage boundary, run it again, and check the bucket.

For every crash point (``NEWSDEDUP_CRASH_AT``) the pipeline runs on the demo network into a
fresh S3 prefix and dies there with status 70 (``os._exit``: no clean-up, the run lock left
behind); a normal run follows and must exit 0. Then the bucket must hold every story exactly
once: the same URLs as one clean run publishes, no article id or URL twice, for manifest
readers and for readers that glob the data files alike, and every object a committed
manifest lists present with the size it records.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from flows.demo import DemoNetwork
from flows.publish import load_catalog
from flows.read import read_table
from flows.schema import TABLES
from flows.storage import CRASH_ENV, CRASH_EXIT_STATUS, CRASH_POINTS, S3Storage, Storage

pytestmark = pytest.mark.slow


def run_cli(args: list[str], env: dict[str, str], cwd: Path,
            timeout: float = 600) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout,
    )


def tail(proc: subprocess.CompletedProcess) -> str:
    return f"status {proc.returncode}\n--- stdout\n{proc.stdout[-2500:]}\n--- stderr\n" \
           f"{proc.stderr[-4000:]}"


@pytest.fixture(scope="module")
def demo(s3_server, prefect_server, tmp_path_factory):
    work = tmp_path_factory.mktemp("crash")
    with DemoNetwork(ports=None) as network:
        seeds = network.write_seeds(work / "seeds.yaml")
        env = {**s3_server.env(), **prefect_server.env()}
        yield network, seeds, env, work


def run_into(demo: Any, output: str, crash_at: str | None = None) -> subprocess.CompletedProcess:
    _, seeds, env, work = demo
    extra = {CRASH_ENV: crash_at} if crash_at else {}
    return run_cli(["run", "--seeds", str(seeds), "--output", output, "--allow-private"],
                   {**env, **extra}, work)


def bucket(s3_server: Any, output: str) -> Storage:
    return S3Storage(output, client=s3_server.client())


def published(store: Storage) -> dict[str, list[Any]]:
    articles = read_table(store, "articles", columns=["article_id", "url"], check_strays=False)
    dups = read_table(store, "duplicates", columns=["url", "duplicate_of"], check_strays=False)
    return {
        "article_ids": articles["article_id"].to_pylist(),
        "article_urls": articles["url"].to_pylist(),
        "duplicate_urls": dups["url"].to_pylist(),
        "duplicate_of": dups["duplicate_of"].to_pylist(),
    }


def twice(values: list[Any]) -> list[Any]:
    return sorted(v for v, n in Counter(values).items() if n > 1)


@pytest.fixture(scope="module")
def clean_run(demo, s3_server) -> dict[str, list[Any]]:
    """What one uninterrupted run of the demo network publishes."""
    output = f"s3://{s3_server.bucket}/crash-clean"
    proc = run_into(demo, output)
    assert proc.returncode == 0, tail(proc)
    got = published(bucket(s3_server, output))
    assert got["article_ids"] and got["duplicate_urls"]
    return got


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_rerun_after_a_crash_publishes_every_story_once(
    point: str, demo, clean_run, s3_server, tmp_path
) -> None:
    output = f"s3://{s3_server.bucket}/crash-{point}"
    crashed = run_into(demo, output, crash_at=point)
    assert crashed.returncode == CRASH_EXIT_STATUS, tail(crashed)
    store = bucket(s3_server, output)
    runs_before = {k for k in store.list("runs/")}

    rerun = run_into(demo, output)
    assert rerun.returncode == 0, tail(rerun)

    got = published(store)
    # Every story exactly once, for readers that go through the manifests.
    assert twice(got["article_ids"]) == [] and twice(got["article_urls"]) == []
    assert twice(got["duplicate_urls"]) == []
    assert not set(got["article_urls"]) & set(got["duplicate_urls"])
    assert set(got["duplicate_of"]) <= set(got["article_ids"])
    # Nothing lost, nothing extra: the same pages as one clean run.
    assert sorted(got["article_urls"] + got["duplicate_urls"]) == sorted(
        clean_run["article_urls"] + clean_run["duplicate_urls"]
    )
    assert len(got["article_ids"]) == len(clean_run["article_ids"])

    # Manifests consistent: every committed manifest's objects exist, with their sizes; and
    # glob readers see exactly those objects (no orphan of the crashed attempt left).
    catalog = load_catalog(store)
    assert catalog.malformed == []
    ok_runs = [m for m in catalog.runs.values() if m["status"] == "ok"]
    assert ok_runs
    for manifest in ok_runs:
        for obj in manifest["objects"]:
            assert len(store.get(obj["key"])) == obj["bytes"], obj["key"]
    data_objects = sorted(k for t in TABLES for k in store.list(f"{t}/"))
    assert data_objects == sorted(catalog.live)
    # The crashed run's manifest, when it got that far, is still there and still readable.
    if point in ("after-manifest", "during-state"):
        assert len(runs_before) == 1
        assert json.loads(store.get(sorted(runs_before)[0]))["status"] == "ok"
    elif point == "after-crawl":
        assert runs_before == set()
    # The state now records the rerun, and the lock is free.
    pointer = json.loads(store.get("_state/current.json"))
    assert pointer["version"] == max(catalog.runs)
    assert not store.exists("_state/lock.json")
    dedup_state_is_whole(store, pointer, tmp_path)


def dedup_state_is_whole(store: Storage, pointer: dict[str, Any], tmp_path: Path) -> None:
    """The committed dedup state is a segment manifest whose every segment is in the bucket
    as recorded, and a worker with an empty cache opens it and finds every story."""
    import hashlib

    from dedup.segments import SegmentedIndex

    blob = store.get(pointer["blobs"]["dedup-index.bin"]["key"])
    manifest = json.loads(blob)
    assert manifest["segments"]
    for seg in manifest["segments"]:
        data = store.get(seg["key"])
        assert len(data) == seg["bytes"] and hashlib.sha256(data).hexdigest() == seg["sha256"]
    index = SegmentedIndex.open(store, blob, tmp_path / "fresh-cache")
    ids = read_table(store, "articles", columns=["article_id"], check_strays=False)
    article_ids = ids["article_id"].to_pylist()
    assert len(index) == manifest["stories"] >= len(set(article_ids))
    assert index.known_ids(article_ids) == set(article_ids)
