"""The S3 backend of :class:`~flows.storage_base.Storage` (boto3): an output root under
``s3://bucket/prefix``, with conditional writes and ranged reads."""

from __future__ import annotations

import io
import logging
import os
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

from flows.storage_base import NotFound, ObjectInfo, Storage, StorageError, _check_key

log = logging.getLogger(__name__)

_PRECONDITION_CODES = {"PreconditionFailed", "412"}
_NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound"}
# Answers of stores that do not implement conditional headers.
_UNSUPPORTED_CODES = {"NotImplemented", "501"}


def s3_error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    if not code:
        code = str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return code


# How long S3 requests may take, so that an endpoint that is down, or that accepts connections
# and never answers, fails a run in about a minute instead of holding it (README, "Writing to
# S3"). Each request waits at most CONNECT seconds to connect and READ seconds for each
# answer; botocore makes up to MAX_ATTEMPTS tries (backoff with jitter on throttling, 5xx,
# resets, timeouts); an operation that still meets a dead endpoint is tried again until
# OUTAGE seconds have passed since it started (a restart of the store is waited out), and then
# fails. After that, operations of the same storage fail at once (no retries) for OUTAGE
# seconds, so that the clean-up of a failed run does not wait the budget out again.
S3_CONNECT_TIMEOUT = 5.0  # NEWSDEDUP_S3_CONNECT_TIMEOUT
S3_READ_TIMEOUT = 20.0  # NEWSDEDUP_S3_READ_TIMEOUT
S3_MAX_ATTEMPTS = 3  # NEWSDEDUP_S3_MAX_ATTEMPTS
S3_OUTAGE_SECONDS = 60.0  # NEWSDEDUP_S3_OUTAGE_SECONDS


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw[:40]!r} is not a number") from None
    if value < 0:
        raise ValueError(f"{name}={raw[:40]!r} must not be negative")
    return value


def s3_client_config(max_attempts: int | None = None) -> Any:
    """Retries with exponential backoff and jitter on throttling, 5xx, resets and refused
    connections (botocore's ``standard`` mode), and timeouts so that a hung endpoint fails."""
    from botocore.config import Config

    attempts = max_attempts or int(_env_number("NEWSDEDUP_S3_MAX_ATTEMPTS", S3_MAX_ATTEMPTS))
    return Config(
        # total_max_attempts counts the first try too (botocore's max_attempts does not).
        retries={"mode": "standard", "total_max_attempts": max(1, attempts)},
        connect_timeout=_env_number("NEWSDEDUP_S3_CONNECT_TIMEOUT", S3_CONNECT_TIMEOUT),
        read_timeout=_env_number("NEWSDEDUP_S3_READ_TIMEOUT", S3_READ_TIMEOUT),
        tcp_keepalive=True,
    )


_sessions = threading.local()


def _session() -> Any:
    """This thread's boto3 session for the current AWS settings. A session's first client
    loads botocore's data files (endpoints, the S3 model), about 0.1 s of CPU that its later
    clients skip; sessions are not to be shared between threads, and one is made again
    whenever an ``AWS_`` variable of the environment changed since."""
    import boto3

    key = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
    held = getattr(_sessions, "held", None)
    if held is None or held[0] != key:
        held = _sessions.held = (key, boto3.session.Session())
    return held[1]


class S3Storage(Storage):
    """``s3://bucket/prefix`` through boto3 and the standard AWS environment (credential chain,
    ``AWS_ENDPOINT_URL_S3``, ``AWS_DEFAULT_REGION``)."""

    def __init__(
        self,
        uri: str,
        client: Any | None = None,
        max_attempts: int | None = None,
        outage_seconds: float | None = None,
    ) -> None:
        if not uri.startswith("s3://"):
            raise ValueError(f"not an s3:// URI: {uri!r}")
        rest = uri[len("s3://") :].strip("/")
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise ValueError(f"no bucket in {uri!r}")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        if client is None:
            client = _session().client("s3", config=s3_client_config(max_attempts))
        self.client = client
        # How long an unreachable endpoint is waited out beyond botocore's own retries.
        self.outage_seconds = float(
            outage_seconds
            if outage_seconds is not None
            else _env_number("NEWSDEDUP_S3_OUTAGE_SECONDS", S3_OUTAGE_SECONDS)
        )
        # Set when an operation gave up on a dead endpoint: until then, fail without retrying.
        self._down_until = 0.0
        self._down_error: BaseException | None = None
        # Set once the store has answered that it does not implement conditional writes.
        self.conditional_writes_supported = True

    def _retry(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call ``fn``; when botocore's own retries end on a connection-level error (endpoint
        down or unreachable), keep retrying with capped exponential backoff and jitter until
        ``outage_seconds`` have passed, then let the error through.

        Repeating a request whose earlier try may have been applied is safe here: plain puts
        and deletes are idempotent, and callers of the conditional puts tell "already there"
        from "ours" by reading the object back."""
        import botocore.exceptions as bce

        retryable = (
            bce.EndpointConnectionError,
            bce.ConnectionClosedError,
            bce.ConnectTimeoutError,
            bce.ReadTimeoutError,
        )
        started = time.monotonic()
        self._fail_if_down()
        deadline = started + self.outage_seconds
        delay = 0.5
        while True:
            try:
                result = fn(*args, **kwargs)
                self._down_until, self._down_error = 0.0, None
                return result
            except retryable as exc:
                if time.monotonic() + delay > deadline:
                    self._down_until = time.monotonic() + self.outage_seconds
                    self._down_error = exc
                    log.error(
                        "S3 endpoint %s gave no answer for %.0fs: giving up",
                        getattr(self.client.meta, "endpoint_url", "?"),
                        time.monotonic() - started,
                    )
                    raise
                log.warning("S3 endpoint unreachable (%s); retrying in %.1fs", exc, delay)
                time.sleep(delay * (0.5 + random.random() / 2))
                delay = min(delay * 2, 10.0)

    def _fail_if_down(self) -> None:
        if time.monotonic() < self._down_until and self._down_error is not None:
            raise self._down_error  # given up on moments ago: do not wait the budget out again

    def _full(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _loc(self, key: str) -> str:
        return f"{self.uri}/{key}"

    def _wrap(self, op: str, key: str, exc: Exception) -> StorageError:
        if s3_error_code(exc) in _NOT_FOUND_CODES:
            return NotFound(op, self._loc(key))
        return StorageError(op, self._loc(key), exc)

    def _errors(self) -> tuple[type[BaseException], ...]:
        import botocore.exceptions

        return (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)

    def get_with_etag(self, key: str) -> tuple[bytes, str]:
        try:

            def fetch() -> tuple[bytes, str]:
                resp = self.client.get_object(Bucket=self.bucket, Key=self._full(key))
                return resp["Body"].read(), resp["ETag"]

            return self._retry(fetch)
        except self._errors() as exc:
            raise self._wrap("get", key, exc) from exc  # type: ignore[arg-type]

    def get(self, key: str) -> bytes:
        return self.get_with_etag(key)[0]

    def put(self, key: str, data: bytes) -> None:
        try:
            self._retry(self.client.put_object, Bucket=self.bucket, Key=self._full(key), Body=data)
        except self._errors() as exc:
            raise self._wrap("put", key, exc) from exc  # type: ignore[arg-type]

    def _conditional_put(self, op: str, key: str, data: bytes, **cond: str) -> bool | None:
        """True written, False precondition failed, None when the store rejects the header."""
        try:
            self._retry(
                self.client.put_object, Bucket=self.bucket, Key=self._full(key), Body=data, **cond
            )
            return True
        except self._errors() as exc:
            code = s3_error_code(exc)  # type: ignore[arg-type]
            if code in _PRECONDITION_CODES:
                return False
            if code in ("ConditionalRequestConflict", "409"):
                # A concurrent conditional write to the same key is in flight; someone wins it.
                return False
            if code in _UNSUPPORTED_CODES:
                return None
            raise self._wrap(op, key, exc) from exc  # type: ignore[arg-type]

    def put_if_absent(self, key: str, data: bytes) -> bool:
        if self.conditional_writes_supported:
            result = self._conditional_put("put_if_absent", key, data, IfNoneMatch="*")
            if result is not None:
                return result
            self.conditional_writes_supported = False
            log.warning(
                "%s does not support conditional writes; falling back to head+put+verify, "
                "which is not safe against concurrent writers",
                self.uri,
            )
        # Checked fallback: a concurrent writer can still slip in between head and put, but
        # the read-back tells us when the stored bytes are not ours.
        if self.exists(key):
            return False
        self.put(key, data)
        if self.get(key) != data:
            raise StorageError(
                "put_if_absent", self._loc(key), "another writer replaced the object concurrently"
            )
        return True

    def put_if_match(self, key: str, data: bytes, etag: str) -> bool:
        if self.conditional_writes_supported:
            result = self._conditional_put("put_if_match", key, data, IfMatch=etag)
            if result is not None:
                return result
            self.conditional_writes_supported = False
        try:
            _, current = self.get_with_etag(key)
        except NotFound:
            return False
        if current != etag:
            return False
        self.put(key, data)
        if self.get(key) != data:
            raise StorageError(
                "put_if_match", self._loc(key), "another writer replaced the object concurrently"
            )
        return True

    def list_info(self, prefix: str = "") -> Iterator[ObjectInfo]:
        full_prefix = f"{self.prefix}/{prefix}" if self.prefix else prefix
        strip = len(self.prefix) + 1 if self.prefix else 0
        try:
            self._fail_if_down()
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix):
                for obj in page.get("Contents", []):
                    key = obj["Key"][strip:]
                    if not key or key.endswith("/"):
                        continue  # directory markers some stores create
                    yield ObjectInfo(key, int(obj["Size"]), obj["LastModified"], obj.get("ETag"))
        except self._errors() as exc:
            raise StorageError("list", f"{self.uri}/{prefix}", exc) from exc

    def delete(self, key: str) -> None:
        try:
            self._retry(self.client.delete_object, Bucket=self.bucket, Key=self._full(key))
        except self._errors() as exc:
            if s3_error_code(exc) in _NOT_FOUND_CODES:  # type: ignore[arg-type]
                return
            raise self._wrap("delete", key, exc) from exc  # type: ignore[arg-type]

    def exists(self, key: str) -> bool:
        try:
            self._retry(self.client.head_object, Bucket=self.bucket, Key=self._full(key))
            return True
        except self._errors() as exc:
            if s3_error_code(exc) in _NOT_FOUND_CODES:  # type: ignore[arg-type]
                return False
            raise self._wrap("exists", key, exc) from exc  # type: ignore[arg-type]

    def url_for(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full(key)}"

    def get_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes of the object from offset ``start`` (one ranged GET)."""
        if length <= 0:
            return b""
        try:

            def fetch() -> bytes:
                resp = self.client.get_object(
                    Bucket=self.bucket,
                    Key=self._full(key),
                    Range=f"bytes={start}-{start + length - 1}",
                )
                return bytes(resp["Body"].read())

            return bytes(self._retry(fetch))
        except self._errors() as exc:
            raise self._wrap("get", key, exc) from exc  # type: ignore[arg-type]

    def open_ranged(self, key: str, size: int) -> io.IOBase:
        return _RangedObject(self, key, size)


class _RangedObject(io.RawIOBase):
    """A read-only, seekable view of an S3 object: each read is one ranged GET."""

    def __init__(self, storage: S3Storage, key: str, size: int) -> None:
        self._storage, self._key, self._size, self._pos = storage, key, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        end = self._size if size is None or size < 0 else min(self._size, self._pos + size)
        data = self._storage.get_range(self._key, self._pos, end - self._pos)
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
