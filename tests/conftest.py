from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crawlers.records import Page
from flows.storage import LocalStorage, Storage, open_storage
from tests.servers import (
    PrefectServer,
    RedisServer,
    S3Server,
    start_prefect_server,
    start_redis,
    start_seaweedfs,
)


@pytest.fixture(scope="session", autouse=True)
def dedup_segment_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Workers cache dedup segments in the session's temp dir (pipelines started by the
    tests, in process or as a CLI, inherit it), not in ~/.cache."""
    import os

    if os.environ.get("NEWSDEDUP_DEDUP_CACHE"):
        yield
        return
    os.environ["NEWSDEDUP_DEDUP_CACHE"] = str(tmp_path_factory.mktemp("dedup-cache"))
    yield
    os.environ.pop("NEWSDEDUP_DEDUP_CACHE", None)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real SeaweedFS S3 server on loopback for the whole test session."""
    server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    server.stop()


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """Point boto3's standard environment at the test server."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    return s3_server


@pytest.fixture
def s3_prefix(s3_server: S3Server) -> str:
    """A fresh ``s3://bucket/prefix`` output root for one test."""
    return f"s3://{s3_server.bucket}/t-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server on loopback for the whole test session."""
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A real ``prefect server start`` on loopback with a temporary PREFECT_HOME."""
    server = start_prefect_server(tmp_path_factory.mktemp("prefect"))
    yield server
    server.stop()


FETCHED = datetime(2024, 2, 7, tzinfo=UTC)


def fetched_page(html: str, url: str, source: str, fetched_at: datetime = FETCHED) -> Page:
    """A page as the crawler writes it: fetched from ``url`` with status 200, no redirect."""
    return Page(url=url, final_url=url, source=source, status=200, fetched_at=fetched_at,
                html=html)  # fmt: skip


def data_path(*parts: str) -> Path:
    return Path(__file__).parent.joinpath("fixtures", *parts)


def plan_sites(root: str) -> set[str]:
    """The sites whose cleaning plans the run state under output root ``root`` keeps."""
    from crawlers.clean.templates import TemplateState
    from flows.lake import STATE_TEMPLATES
    from flows.state import StateStore

    blobs = StateStore(open_storage(root)).load()
    return set(TemplateState.from_bytes(blobs[STATE_TEMPLATES]).plans["sites"])


def load_rows(name: str) -> list[dict[str, Any]]:
    """Rows of a published-table fixture (tests/fixtures/publish/<name>.json)."""
    return json.loads(data_path("publish", f"{name}.json").read_text())


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """The same tests over a local directory and over the real S3 server."""
    if request.param == "local":
        return LocalStorage(tmp_path / "lake")
    request.getfixturevalue("s3_env")
    return open_storage(request.getfixturevalue("s3_prefix"))
