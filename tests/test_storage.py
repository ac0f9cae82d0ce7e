"""The storage interface against a temp directory and a real SeaweedFS server."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from flows.storage import LocalStorage, NotFound, S3Storage, Storage, StorageError, open_storage


def test_put_get_exists_delete(storage: Storage) -> None:
    assert not storage.exists("a/b.txt")
    with pytest.raises(NotFound) as err:
        storage.get("a/b.txt")
    assert "a/b.txt" in str(err.value) and "get" in str(err.value)
    storage.put("a/b.txt", b"one")
    assert storage.exists("a/b.txt")
    assert storage.get("a/b.txt") == b"one"
    storage.put("a/b.txt", b"two")
    assert storage.get("a/b.txt") == b"two"
    storage.delete("a/b.txt")
    storage.delete("a/b.txt")  # absent: not an error
    assert not storage.exists("a/b.txt")


def test_put_if_absent_writes_once(storage: Storage) -> None:
    assert storage.put_if_absent("runs/x.json", b"first") is True
    assert storage.put_if_absent("runs/x.json", b"second") is False
    assert storage.put_if_absent("runs/x.json", b"first") is False
    assert storage.get("runs/x.json") == b"first"


def test_put_if_absent_race_has_one_winner(storage: Storage) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(6)

    def contender(i: int) -> None:
        barrier.wait()
        results.append(storage.put_if_absent("lock", f"writer {i}".encode()))

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 5 + [True]
    assert storage.get("lock").startswith(b"writer ")


def test_put_if_match_is_compare_and_swap(storage: Storage) -> None:
    storage.put("ptr", b"v1")
    data, etag = storage.get_with_etag("ptr")
    assert data == b"v1"
    assert storage.put_if_match("ptr", b"v2", etag) is True
    # The old etag no longer matches: a second writer that read v1 loses.
    assert storage.put_if_match("ptr", b"v2-other", etag) is False
    assert storage.get("ptr") == b"v2"
    _, etag2 = storage.get_with_etag("ptr")
    assert etag2 != etag
    assert storage.put_if_match("missing", b"x", etag2) is False
    assert not storage.exists("missing")


def test_list_is_a_string_prefix_in_key_order(storage: Storage) -> None:
    for key in ["articles/dt=2025-01-02/r2-0.parquet", "articles/dt=2025-01-01/r1-0.parquet",
                "articles/dt=2025-01-01/r1-1.parquet", "runs/r1.json", "articlesX"]:
        storage.put(key, b"x")
    assert list(storage.list("articles/")) == [
        "articles/dt=2025-01-01/r1-0.parquet",
        "articles/dt=2025-01-01/r1-1.parquet",
        "articles/dt=2025-01-02/r2-0.parquet",
    ]
    assert list(storage.list("articles/dt=2025-01-01/r1-1")) == [
        "articles/dt=2025-01-01/r1-1.parquet"
    ]
    assert "articlesX" in list(storage.list("articles"))
    assert list(storage.list("nothing/")) == []
    infos = list(storage.list_info("runs/"))
    assert [(i.key, i.size) for i in infos] == [("runs/r1.json", 1)]
    assert infos[0].last_modified.tzinfo is not None


def test_keys_are_relative_and_checked(storage: Storage) -> None:
    for bad in ["", "/abs", "a/../b", "a//b", "dir/"]:
        with pytest.raises(ValueError):
            storage.put(bad, b"x")


def test_url_for_names_the_object(storage: Storage) -> None:
    url = storage.url_for("runs/r1.json")
    assert url.endswith("/runs/r1.json")
    assert url.startswith("s3://" if isinstance(storage, S3Storage) else "file://")


def test_local_writes_leave_no_temp_files(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    store.put("a/b", b"1")
    store.put_if_absent("a/b", b"2")
    store.put_if_absent("a/c", b"3")
    _, etag = store.get_with_etag("a/c")
    store.put_if_match("a/c", b"4", etag)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b", "c"]
    store.delete("a/b")
    store.delete("a/c")
    assert not (tmp_path / "a").exists()  # empty partitions go away with their last file


def test_open_storage_picks_the_backend(tmp_path: Path, s3_env: object) -> None:
    assert isinstance(open_storage(str(tmp_path)), LocalStorage)
    assert isinstance(open_storage(f"file://{tmp_path}"), LocalStorage)
    s3 = open_storage("s3://news/some/prefix/")
    assert isinstance(s3, S3Storage) and s3.uri == "s3://news/some/prefix"
    assert open_storage(s3) is s3
    with pytest.raises(ValueError):
        open_storage("gs://bucket/x")


def test_s3_errors_name_operation_location_and_cause(
    s3_env: object, s3_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    store = open_storage(s3_prefix)
    with pytest.raises(StorageError) as err:
        store.put("runs/x.json", b"{}")
    message = str(err.value)
    assert message.startswith(f"storage put {s3_prefix}/runs/x.json failed: ")
    assert "Signature" in message or "Access" in message


def test_s3_unreachable_endpoint_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.servers import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = S3Storage("s3://news/p", max_attempts=2, outage_seconds=0)
    with pytest.raises(StorageError) as err:
        store.get("runs/x.json")
    assert "get s3://news/p/runs/x.json" in str(err.value)
    assert "connect" in str(err.value).lower()


def test_s3_fallback_when_conditional_writes_are_rejected(s3_env: object, s3_prefix: str) -> None:
    """A store that answers 501 to If-None-Match gets the checked head+put+verify path.

    The real server supports the header, so a botocore hook on the real client turns
    conditional PutObject calls into the 501 such a store sends; everything else is real.
    """
    store = open_storage(s3_prefix)
    assert isinstance(store, S3Storage)
    from botocore.awsrequest import AWSPreparedRequest, AWSResponse

    def reject_conditional(request: AWSPreparedRequest, **_: object) -> AWSResponse | None:
        if "If-None-Match" in request.headers or "If-Match" in request.headers:
            body = b"<Error><Code>NotImplemented</Code><Message>no conditions</Message></Error>"
            return AWSResponse(request.url, 501, {}, _Raw(body))
        return None

    store.client.meta.events.register("before-send.s3.PutObject", reject_conditional)
    assert store.put_if_absent("k", b"1") is True
    assert store.conditional_writes_supported is False
    assert store.put_if_absent("k", b"2") is False
    assert store.get("k") == b"1"
    _, etag = store.get_with_etag("k")
    assert store.put_if_match("k", b"3", etag) is True
    assert store.put_if_match("k", b"4", etag) is False
    assert store.get("k") == b"3"


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: object):  # noqa: ANN201
        yield self.body


def test_ranged_reads_fetch_only_what_is_read(storage: Storage) -> None:
    data = bytes(range(256)) * 4000
    storage.put("articles/dt=2025-03-01/big.bin", data)
    with storage.open_ranged("articles/dt=2025-03-01/big.bin", len(data)) as fh:
        fh.seek(-10, 2)
        assert fh.read() == data[-10:]
        fh.seek(1000)
        assert fh.read(7) == data[1000:1007] and fh.tell() == 1007
        buf = bytearray(5)
        assert fh.readinto(buf) == 5 and bytes(buf) == data[1007:1012]
    with pytest.raises(NotFound):
        with storage.open_ranged("articles/dt=2025-03-01/gone.bin", 100) as fh:
            fh.read(10)


def test_some_columns_of_a_big_file_come_from_ranged_reads(storage: Storage) -> None:
    """Reading a few small columns of a large Parquet file fetches its footer and those
    columns, not the text that makes up most of the file; the rows are the same."""
    import random

    from flows.publish import publish_run
    from flows.read import RANGED_MIN_BYTES, read_table

    rng = random.Random(3)
    words = ["".join(rng.choices("abcdefghij", k=rng.randint(3, 9))) for _ in range(4000)]
    rows = [{"article_id": f"a-{i:05d}", "url": f"https://x.example/{i}", "source": f"s{i % 4}",
             "title": f"title {i}", "text": " ".join(rng.choices(words, k=300))}
            for i in range(2000)]
    manifest = publish_run(storage, "20250301T090000Z-abcdef", None, rows, [], {}, {})
    size = manifest["objects"][0]["bytes"]
    assert size > 4 * RANGED_MIN_BYTES
    fetched: list[int] = []
    if isinstance(storage, S3Storage):
        real_range = storage.get_range

        def get_range(key: str, start: int, length: int) -> bytes:
            data = real_range(key, start, length)
            fetched.append(len(data))
            return data

        storage.get_range = get_range  # type: ignore[method-assign]
    few = read_table(storage, columns=["article_id", "source", "title"])
    whole = read_table(storage)
    assert few.equals(whole.select(["article_id", "source", "title"]))
    if isinstance(storage, S3Storage):
        assert 2 <= len(fetched) <= 4  # footer, then the column chunks (coalesced)
        assert sum(fetched) < size / 4, (fetched, size)
