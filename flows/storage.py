"""One small storage interface over a local directory or an S3 prefix.

Every key is relative to the output root (``articles/dt=2025-01-01/x.parquet``,
``_state/current.json``). Writes are atomic in both backends: a reader sees the old object or
the new one, never a torn one. Conditional writes (``put_if_absent``, ``put_if_match``) are the
only coordination primitive the rest of the project uses: manifests, the state pointer and the
run lock are all built on them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import logging
import os
import random
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flows.defaults import DEFAULT_OUTPUT

log = logging.getLogger(__name__)

DEFAULT_LOCAL_ROOT = DEFAULT_OUTPUT

# Crash-test hook: ``NEWSDEDUP_CRASH_AT=<point>`` makes the process exit on the spot (no
# clean-up, no exception handlers, no lock release) when it reaches that point, the way a
# killed worker would. Points: after-crawl, after-data, after-manifest, during-state.
CRASH_ENV = "NEWSDEDUP_CRASH_AT"
CRASH_EXIT_STATUS = 70
CRASH_POINTS = ("after-crawl", "after-data", "after-manifest", "during-state")


def crash_point(name: str) -> None:
    """Exit the process with status 70 if ``NEWSDEDUP_CRASH_AT`` names this point."""
    if name not in CRASH_POINTS:
        raise ValueError(f"unknown crash point {name!r}; known: {', '.join(CRASH_POINTS)}")
    if os.environ.get(CRASH_ENV) == name:
        log.error("crash point %s reached: exiting with status %d", name, CRASH_EXIT_STATUS)
        for handler in logging.getLogger().handlers:
            with contextlib.suppress(Exception):
                handler.flush()
        os._exit(CRASH_EXIT_STATUS)


class StorageError(RuntimeError):
    """A storage operation failed; the message names the operation, the location and the cause."""

    def __init__(self, op: str, location: str, cause: object) -> None:
        self.op = op
        self.location = location
        self.cause = cause
        super().__init__(f"storage {op} {location} failed: {cause}")


class NotFound(StorageError):
    """The key does not exist."""

    def __init__(self, op: str, location: str) -> None:
        super().__init__(op, location, "no such key")


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    last_modified: datetime
    etag: str | None = None


def _check_key(key: str) -> str:
    if not key or key.startswith("/") or key.endswith("/"):
        raise ValueError(f"invalid storage key {key!r}: must be relative and name an object")
    parts = key.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid storage key {key!r}: empty, '.' or '..' segment")
    return key


def _md5_etag(data: bytes) -> str:
    return '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'


class Storage(ABC):
    """Keys are '/'-separated paths relative to :attr:`uri`."""

    uri: str

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The object's bytes; raises :class:`NotFound` when absent."""

    @abstractmethod
    def get_with_etag(self, key: str) -> tuple[bytes, str]:
        """The object's bytes and an etag to pass to :meth:`put_if_match`."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Write (or replace) the object atomically."""

    @abstractmethod
    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Write only if no object exists under ``key``; False (and nothing written) otherwise.

        A True answer means this call created the object. A retried request whose first try
        was applied server-side can answer False for a write that is in fact ours: callers
        that need to know compare the stored bytes (see :func:`flows.publish.publish_run`).
        """

    @abstractmethod
    def put_if_match(self, key: str, data: bytes, etag: str) -> bool:
        """Replace the object only if its current etag is ``etag``; False otherwise."""

    @abstractmethod
    def list_info(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects whose key starts with ``prefix`` (a plain string prefix), in key order."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; deleting an absent key is not an error."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def url_for(self, key: str) -> str:
        """A URI for humans and other tools (``s3://…`` or ``file://…``)."""

    def list(self, prefix: str = "") -> Iterator[str]:
        for info in self.list_info(prefix):
            yield info.key

    def open_ranged(self, key: str, size: int) -> io.IOBase:
        """A seekable read-only file over the object of ``size`` bytes that fetches only the
        byte ranges read from it (for Parquet readers that need a footer and some columns).
        Raises :class:`NotFound` on the first read when the object is gone. This default
        fetches the whole object."""
        return io.BytesIO(self.get(key))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri!r})"


# --------------------------------------------------------------------------- local directory


class LocalStorage(Storage):
    """A directory tree. Writes go to a temp file in the target directory, then ``os.replace``
    (or ``os.link`` for if-absent, which fails atomically when the name exists). Compare-and-swap
    for ``put_if_match`` holds an ``flock`` on a lock file at the root, so it is safe between
    processes on one machine (not across NFS clients)."""

    _TMP_PREFIX = ".tmp-"
    _LOCK_NAME = ".newsdedup.lock"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self.uri = str(self.root)
        self._thread_lock = threading.Lock()

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*_check_key(key).split("/"))

    def _loc(self, key: str) -> str:
        return f"{self.root}/{key}"

    def _read(self, op: str, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(op, self._loc(key)) from None
        except OSError as exc:
            raise StorageError(op, self._loc(key), exc) from exc

    def get(self, key: str) -> bytes:
        return self._read("get", key)

    def get_with_etag(self, key: str) -> tuple[bytes, str]:
        data = self._read("get", key)
        return data, _md5_etag(data)

    def _write_tmp(self, path: Path, data: bytes) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{self._TMP_PREFIX}{path.name}.{uuid.uuid4().hex}")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return tmp

    def _fsync_dir(self, path: Path) -> None:
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            tmp = self._write_tmp(path, data)
            os.replace(tmp, path)
            self._fsync_dir(path.parent)
        except OSError as exc:
            raise StorageError("put", self._loc(key), exc) from exc

    def put_if_absent(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        tmp: Path | None = None
        try:
            tmp = self._write_tmp(path, data)
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            self._fsync_dir(path.parent)
            return True
        except OSError as exc:
            raise StorageError("put_if_absent", self._loc(key), exc) from exc
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    tmp.unlink()

    @contextlib.contextmanager
    def _cas_lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, open(self.root / self._LOCK_NAME, "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def put_if_match(self, key: str, data: bytes, etag: str) -> bool:
        path = self._path(key)
        try:
            with self._cas_lock():
                try:
                    current = path.read_bytes()
                except FileNotFoundError:
                    return False
                if _md5_etag(current) != etag:
                    return False
                tmp = self._write_tmp(path, data)
                os.replace(tmp, path)
                self._fsync_dir(path.parent)
                return True
        except OSError as exc:
            raise StorageError("put_if_match", self._loc(key), exc) from exc

    def list_info(self, prefix: str = "") -> Iterator[ObjectInfo]:
        # Walk only the deepest directory that the prefix names completely.
        base_parts = prefix.split("/")[:-1]
        base = self.root.joinpath(*base_parts) if base_parts else self.root
        if not base.is_dir():
            return
        found: list[ObjectInfo] = []
        try:
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames[:] = [d for d in dirnames if not d.startswith(self._TMP_PREFIX)]
                rel_dir = Path(dirpath).relative_to(self.root).as_posix()
                for name in filenames:
                    if name.startswith(self._TMP_PREFIX) or name == self._LOCK_NAME:
                        continue
                    key = name if rel_dir == "." else f"{rel_dir}/{name}"
                    if not key.startswith(prefix):
                        continue
                    try:
                        st = os.stat(os.path.join(dirpath, name))
                    except FileNotFoundError:
                        continue  # deleted while we walked
                    found.append(
                        ObjectInfo(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))
                    )
        except OSError as exc:
            raise StorageError("list", f"{self.root}/{prefix}", exc) from exc
        found.sort(key=lambda i: i.key)
        yield from found

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError("delete", self._loc(key), exc) from exc
        # Drop directories left empty so that partitions vanish with their last file.
        parent = path.parent
        while parent != self.root:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def open_ranged(self, key: str, size: int) -> io.IOBase:
        try:
            return open(self._path(key), "rb", buffering=0)  # noqa: SIM115 - the caller closes
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound("get", self._loc(key)) from None
        except OSError as exc:
            raise StorageError("get", self._loc(key), exc) from exc

    def url_for(self, key: str) -> str:
        return self._path(key).as_uri()


# --------------------------------------------------------------------------- S3


_PRECONDITION_CODES = {"PreconditionFailed", "412"}
_NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound"}
# Answers of stores that do not implement conditional headers.
_UNSUPPORTED_CODES = {"NotImplemented", "501"}


def _error_code(exc: Exception) -> str:
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
            import boto3

            client = boto3.session.Session().client("s3", config=s3_client_config(max_attempts))
        self.client = client
        # How long an unreachable endpoint is waited out beyond botocore's own retries.
        self.outage_seconds = float(
            outage_seconds if outage_seconds is not None
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

        retryable = (bce.EndpointConnectionError, bce.ConnectionClosedError,
                     bce.ConnectTimeoutError, bce.ReadTimeoutError)
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
                    log.error("S3 endpoint %s gave no answer for %.0fs: giving up",
                              getattr(self.client.meta, "endpoint_url", "?"),
                              time.monotonic() - started)
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
        if _error_code(exc) in _NOT_FOUND_CODES:
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
            code = _error_code(exc)  # type: ignore[arg-type]
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
            if _error_code(exc) in _NOT_FOUND_CODES:  # type: ignore[arg-type]
                return
            raise self._wrap("delete", key, exc) from exc  # type: ignore[arg-type]

    def exists(self, key: str) -> bool:
        try:
            self._retry(self.client.head_object, Bucket=self.bucket, Key=self._full(key))
            return True
        except self._errors() as exc:
            if _error_code(exc) in _NOT_FOUND_CODES:  # type: ignore[arg-type]
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
                resp = self.client.get_object(Bucket=self.bucket, Key=self._full(key),
                                              Range=f"bytes={start}-{start + length - 1}")
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


class OutputRootError(ValueError):
    """The output root cannot take a run's output. ``bad_input`` tells a root that is wrong as
    given (a file, not writable, no such bucket, access denied) from one that did not answer."""

    def __init__(self, message: str, bad_input: bool = True) -> None:
        super().__init__(message)
        self.bad_input = bad_input


_BAD_INPUT_CODES = {"NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                    "AllAccessDisabled", "InvalidBucketName", "403"}


def check_output_root(uri: str | os.PathLike[str] | Storage | None) -> Storage:
    """The output root's storage, once it has shown it can be written: a directory is created
    if need be and a probe file written and removed; a bucket is listed. Raises
    :class:`OutputRootError` saying what is wrong where, before a run starts any work."""
    try:
        storage = open_storage(uri)
    except ValueError as exc:
        raise OutputRootError(str(exc)) from None
    if isinstance(storage, LocalStorage):
        root = storage.root
        blocker = next((p for p in (root, *root.parents) if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            where = "is" if blocker == root else f"is under {blocker}, which is"
            raise OutputRootError(f"output root {root} {where} a file, not a directory")
        probe = root / f".newsdedup-probe-{uuid.uuid4().hex}"
        try:
            root.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise OutputRootError(
                f"output root {root} is not writable: {exc.strerror or exc}"
            ) from None
        return storage
    try:
        next(iter(storage.list("_state/")), None)
    except StorageError as exc:
        cause = exc.cause if isinstance(exc.cause, Exception) else None
        code = _error_code(cause) if cause is not None else ""
        raise OutputRootError(
            f"output root {storage.uri} cannot be used: {exc.cause}",
            bad_input=code in _BAD_INPUT_CODES,
        ) from None
    return storage


def open_storage(uri: str | os.PathLike[str] | Storage | None = None) -> Storage:
    """``s3://bucket/prefix`` → :class:`S3Storage`; a path or ``file://`` URI →
    :class:`LocalStorage` (default ``./data/lake``); a :class:`Storage` is returned as it is."""
    if isinstance(uri, Storage):
        return uri
    text = os.fspath(uri) if uri is not None else DEFAULT_LOCAL_ROOT
    if text.startswith("s3://"):
        return S3Storage(text)
    if text.startswith("file://"):
        text = text[len("file://") :]
    if "://" in text:
        raise ValueError(f"unsupported storage URI {text!r}: use a path or s3://bucket/prefix")
    return LocalStorage(text)
