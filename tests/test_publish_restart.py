"""Publishing while the S3 server goes away: retried through or failed loudly, never half done.

Each test starts its own SeaweedFS so that stopping it does not disturb the shared server.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from flows.publish import publish_run
from flows.read import read_table
from flows.storage import S3Storage, StorageError
from tests.conftest import load_rows
from tests.servers import S3Server, start_seaweedfs

pytestmark = pytest.mark.slow

STARTED = datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC)
RUN_ID = "20250301T090000Z-5e5e5e"


@pytest.fixture
def own_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    server = start_seaweedfs(tmp_path / "seaweedfs")
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    yield server
    server.stop()


def publish(store: S3Storage) -> dict[str, Any]:
    return publish_run(store, RUN_ID, STARTED, load_rows("articles"), load_rows("duplicates"),
                       {"stories": 3, "duplicates": 1}, {})


def assert_every_row_once(store: S3Storage) -> None:
    articles = read_table(store, "articles", check_strays=False)
    assert sorted(articles["article_id"].to_pylist()) == ["a-001", "a-002", "a-003"]
    assert read_table(store, "duplicates", check_strays=False).num_rows == 1
    # Glob readers too: exactly one object per table, the ones the manifest lists.
    manifest = json.loads(store.get(f"runs/{RUN_ID}.json"))
    listed = sorted(o["key"] for o in manifest["objects"])
    assert sorted(store.list("articles/")) + sorted(store.list("duplicates/")) == listed


def test_server_restart_during_publish(own_server: S3Server) -> None:
    store = S3Storage(f"s3://{own_server.bucket}/lake")
    sends: list[str] = []
    restarter: list[threading.Thread] = []

    def bounce(request: Any, **_: Any) -> None:
        sends.append(request.url)
        if not restarter and "/articles/" in request.url:
            own_server.stop()  # this very request meets a dead endpoint
            thread = threading.Thread(target=own_server.start)
            thread.start()
            restarter.append(thread)

    store.client.meta.events.register("before-send.s3.PutObject", bounce)
    t0 = time.monotonic()
    try:
        manifest = publish(store)
        outcome = "retried through"
        assert manifest["rows"] == {"articles": 3, "duplicates": 1, "rejected": 0}
    except StorageError as exc:  # retries exhausted before the server was back
        outcome = "failed loudly"
        assert "put_if_absent" in str(exc) and "/articles/" in str(exc)
    elapsed = time.monotonic() - t0
    restarter[0].join()
    article_sends = sum("/articles/" in url for url in sends)
    print(f"publish {outcome} after {elapsed:.1f}s, {article_sends} tries of the articles object")
    assert article_sends >= 2  # the request that met the dead server was retried

    publish(store)  # re-publish: a no-op after success, a completion after failure
    assert_every_row_once(store)


def test_publish_fails_loudly_when_retries_run_out_and_republish_is_exact(
    own_server: S3Server,
) -> None:
    store = S3Storage(f"s3://{own_server.bucket}/lake", max_attempts=2, outage_seconds=0)
    first_data: list[str] = []

    def stop_after_articles(request: Any, **_: Any) -> None:
        # Let the articles object land, then take the server away before the duplicates.
        if "/duplicates/" in request.url and not first_data:
            first_data.append(request.url)
            own_server.stop()

    store.client.meta.events.register("before-send.s3.PutObject", stop_after_articles)
    with pytest.raises(StorageError) as err:
        publish(store)
    assert "duplicates/dt=2025-03-01/" in str(err.value)
    own_server.start()
    # The crashed attempt left an articles object but no manifest: invisible to readers.
    assert list(store.list("articles/")) and not store.exists(f"runs/{RUN_ID}.json")
    assert read_table(store, check_strays=False).num_rows == 0

    publish(store)
    assert_every_row_once(store)


def test_outage_longer_than_botocore_retries_is_waited_out(own_server: S3Server) -> None:
    """botocore alone gives up after two tries here; the storage's outage window carries on."""
    store = S3Storage(f"s3://{own_server.bucket}/lake", max_attempts=2, outage_seconds=60)
    restarter: list[threading.Thread] = []

    def bounce(request: Any, **_: Any) -> None:
        if not restarter and "/duplicates/" in request.url:
            own_server.stop()
            thread = threading.Thread(target=lambda: (time.sleep(3), own_server.start()))
            thread.start()
            restarter.append(thread)

    store.client.meta.events.register("before-send.s3.PutObject", bounce)
    t0 = time.monotonic()
    manifest = publish(store)
    print(f"publish waited out an outage of >3s in {time.monotonic() - t0:.1f}s")
    restarter[0].join()
    assert manifest["rows"] == {"articles": 3, "duplicates": 1, "rejected": 0}
    assert_every_row_once(store)
