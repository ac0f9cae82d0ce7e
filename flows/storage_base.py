"""The storage interface (:class:`Storage`) and its errors, which every backend implements:
get, put, conditional put, list, delete over keys relative to the output root."""

from __future__ import annotations

import hashlib
import io
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime


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
