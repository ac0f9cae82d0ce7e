"""A demo site's answer to one request, as the demo network's HTTP handler sends it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Response:
    status: int
    body: bytes | None = None
    content_type: str = "text/html; charset=utf-8"
    last_modified: datetime | None = None
    headers: dict[str, str] = field(default_factory=dict)
    stream: tuple[int, Iterable[bytes]] | None = None  # (length, chunks) for huge bodies
    etag: str | None = None

    def __post_init__(self) -> None:
        if self.etag is None and self.body is not None:
            self.etag = '"' + hashlib.sha1(self.body).hexdigest()[:20] + '"'
