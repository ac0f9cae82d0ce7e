"""A hostile news site on loopback for the crawler's tests (no tests in this module).

Each path answers from a route: fixed bytes, or a function of the request (for generated
sitemap tar-pits). A route may also hang: it holds the connection without answering until
the site stops (at most ``HANG_MAX`` seconds). Every request is recorded, including the
first bytes of what arrived, so a test can tell that nothing but HTTP ever reached the site.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.conftest import data_path

HANG_MAX = 60.0
ARTICLE = data_path("crawl", "article.html").read_bytes()
XML = {"Content-Type": "application/xml"}
TEXT = {"Content-Type": "text/plain"}
ROBOTS_OPEN = (200, TEXT, b"User-agent: *\nDisallow:\n")

Answer = tuple[int, dict[str, str], bytes]
Route = Answer | Callable[[str], Answer] | str  # "hang": never answer


@dataclass
class Hit:
    path: str
    status: int
    time: float


@dataclass
class HostileSite:
    routes: dict[str, Route] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        site = self
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 30  # a client that sends nothing (an FTP client waiting to be greeted)

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?")[0]
                route = site.routes.get(path)
                if route == "hang":
                    with site.lock:
                        site.hits.append(Hit(self.path, 0, time.time()))
                    site.stopping.wait(HANG_MAX)
                    return
                if route is None:
                    status, headers, body = 404, {}, b"not found"
                elif callable(route):
                    status, headers, body = route(self.path)
                else:
                    status, headers, body = route  # type: ignore[misc]
                with site.lock:
                    site.hits.append(Hit(self.path, status, time.time()))
                self.send_response(status)
                headers = {"Content-Type": "text/html; charset=utf-8", **headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> HostileSite:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> HostileSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def on(self, path: str, route: Route) -> None:
        self.routes[path] = route

    def paths(self) -> list[str]:
        with self.lock:
            return [h.path for h in self.hits]


def sitemap(urls: list[str], index: bool = False, lastmod: str | None = None) -> bytes:
    tag, item = ("sitemapindex", "sitemap") if index else ("urlset", "url")
    mod = f"<lastmod>{lastmod}</lastmod>" if lastmod else ""
    rows = "".join(f"<{item}><loc>{u}</loc>{mod}</{item}>" for u in urls)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><{tag} '
        f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</{tag}>'
    ).encode()


def seeds_file(path: object, name: str, **fields: object) -> None:
    """A one-source seeds file; list values are written as YAML flow lists."""
    lines = ["sources:", f"  - name: {name}"]
    for key, value in fields.items():
        if isinstance(value, list):
            value = "[" + ", ".join(f"'{v}'" for v in value) + "]"
        elif isinstance(value, bool):
            value = str(value).lower()
        lines.append(f"    {key}: {value}")
    from pathlib import Path

    Path(str(path)).write_text("\n".join(lines) + "\n")


def refuses_connections() -> int:
    """A loopback port with nothing listening."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
