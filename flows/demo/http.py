"""The demo network's HTTP side: one threaded server per site, a handler that answers from the
network (conditional requests get 304) and the log of answered requests."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from flows.demo import render
from flows.demo.response import Response


@dataclass
class RecordedRequest:
    """One request a demo site answered."""

    site: str
    method: str
    path: str  # path plus query, as sent
    headers: dict[str, str]
    status: int
    time: float

    def header(self, name: str) -> str | None:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "DemoNews/1.0"
    timeout = 15  # idle keep-alive connections close after this
    # Headers and body go out in two writes; with Nagle's algorithm on, every keep-alive
    # response would then wait for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, head: bool) -> None:
        network: Any = self.server.network  # type: ignore[attr-defined]  # a DemoNetwork
        site: Any = self.server.site  # type: ignore[attr-defined]  # a DemoSite
        try:
            resp = network._respond(site, self.path)
        except Exception as exc:  # a bug in the demo must not hang the client
            resp = Response(500, f"demo server error: {exc!r}\n".encode(), "text/plain")
        status = resp.status
        if status == 200 and self._not_modified(resp):
            status = 304
        network._record(
            RecordedRequest(
                site.name, self.command, self.path, dict(self.headers.items()), status, time.time()
            )
        )
        try:
            self.send_response(status)
            self.send_header("Content-Type", resp.content_type)
            if resp.etag:
                self.send_header("ETag", resp.etag)
            if resp.last_modified:
                self.send_header("Last-Modified", render.http_date(resp.last_modified))
            for k, v in resp.headers.items():
                self.send_header(k, v)
            if status == 304:
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            length = resp.stream[0] if resp.stream else len(resp.body or b"")
            self.send_header("Content-Length", str(length))
            self.end_headers()
            if head:
                return
            if resp.stream:
                for chunk in resp.stream[1]:
                    self.wfile.write(chunk)
            elif resp.body:
                self.wfile.write(resp.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _not_modified(self, resp: Response) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
            return "*" in tags or (resp.etag is not None and resp.etag in tags)
        ims = self.headers.get("If-Modified-Since")
        if ims and resp.last_modified:
            try:
                since = parsedate_to_datetime(ims)
            except (TypeError, ValueError):
                return False
            if since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
            return resp.last_modified.replace(microsecond=0) <= since
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
