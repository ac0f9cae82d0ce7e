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
import io
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from flows.defaults import DEFAULT_OUTPUT
from flows.storage_base import NotFound, ObjectInfo, Storage, StorageError, _check_key, _md5_etag
from flows.storage_s3 import S3Storage, s3_error_code

__all__ = [
    "NotFound",
    "ObjectInfo",
    "Storage",
    "StorageError",
    "S3Storage",
    "LocalStorage",
    "OutputRootError",
    "check_output_root",
    "open_storage",
    "crash_point",
]

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


class OutputRootError(ValueError):
    """The output root cannot take a run's output. ``bad_input`` tells a root that is wrong as
    given (a file, not writable, no such bucket, access denied) from one that did not answer."""

    def __init__(self, message: str, bad_input: bool = True) -> None:
        super().__init__(message)
        self.bad_input = bad_input


_BAD_INPUT_CODES = {
    "NoSuchBucket",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AllAccessDisabled",
    "InvalidBucketName",
    "403",
}


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
        code = s3_error_code(cause) if cause is not None else ""
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
