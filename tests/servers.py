"""Real servers for the tests: the S3, Redis and Prefect servers are the project's
(flows.local_servers, shared with the benchmarks); the fixture sites are the tests' own."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.local_servers import (
    PrefectServer,
    RedisServer,
    S3Server,
    find_weed,
    free_port,
    http_ok,
    start_prefect_server,
    start_redis,
    start_seaweedfs,
    wait_for_port,
)

__all__ = [
    "FixtureSites",
    "PrefectServer",
    "RedisServer",
    "S3Server",
    "find_weed",
    "free_port",
    "http_ok",
    "prefect_api",
    "start_prefect_server",
    "start_redis",
    "start_seaweedfs",
    "wait_for_port",
]


def prefect_api(server: PrefectServer, timeout: float = 15.0) -> Any:
    """An httpx client of the Prefect server's REST API that, like Prefect's own client,
    retries a request answered 503: the server's SQLite store answers a write that met a
    locked database with 503 "Service Unavailable", which is a retry, not a failure (seen
    under the test suite's load)."""
    import httpx

    class RetryUnavailable(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            for wait in (0.25, 0.5, 1.0, 2.0, 4.0, 8.0):
                response = super().handle_request(request)
                if response.status_code != 503:
                    return response
                response.read()
                response.close()
                time.sleep(wait)
            return super().handle_request(request)

    return httpx.Client(base_url=server.api_url, timeout=timeout, transport=RetryUnavailable())


@dataclass
class FixtureSites:
    """Static sites from ``tests/fixtures/sites/<name>/`` on loopback, one port each.

    Each folder's ``routes.yaml`` maps a request path with its query (``/?p=101``) to a file,
    or to ``{file, type}`` for another Content-Type than HTML; a key ``re:<pattern>`` matches
    whole paths, and ``{1}``, ``{2}``... in its file are the pattern's groups. ``{<site
    name>}`` in a file is that site's base URL. Unknown paths are 404s; ``robots.txt``
    allows everything unless a route gives one. Every request is logged in ``requests`` as
    (site, path, status).
    """

    names: list[str]
    ports: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    _servers: list = field(default_factory=list)

    def base_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self) -> FixtureSites:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        import yaml

        root = Path(__file__).parent / "fixtures" / "sites"
        servers = {name: ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
                   for name in self.names}
        self.ports = {name: s.server_address[1] for name, s in servers.items()}
        bases = {name: self.base_url(name) for name in self.names}
        sites = self

        def page(name: str, path: str) -> tuple[int, str, bytes]:
            routes = yaml.safe_load((root / name / "routes.yaml").read_text())
            # Like most servers, ignore the tracking parameters a link may carry.
            path = re.sub(r"[?&](?:utm_[a-z]+|fbclid)=[^&]*", "", path)
            path = path if "?" in path or "&" not in path else path.replace("&", "?", 1)
            route, groups = routes.get(path), ()
            for key, target in routes.items():  # "re:<pattern>": {1}... in the file are groups
                if route is None and key.startswith("re:") and (m := re.fullmatch(key[3:], path)):
                    route, groups = target, m.groups()
            if route is None:
                if path == "/robots.txt":
                    return 200, "text/plain", b"User-agent: *\nAllow: /\n"
                return 404, "text/html", b"<html><body>Not found</body></html>"
            file, ctype = (route, "text/html; charset=utf-8") if isinstance(route, str) else (
                route["file"], route["type"])
            text = (root / name / file).read_text(encoding="utf-8")
            for i, group in enumerate(groups, 1):
                text = text.replace("{" + str(i) + "}", group)
            for site, base in bases.items():
                text = text.replace("{" + site + "}", base)
            return 200, ctype, text.encode("utf-8")

        for name, server in servers.items():

            class Handler(BaseHTTPRequestHandler):
                site = name

                def do_GET(self) -> None:  # noqa: N802 - http.server's name
                    status, ctype, body = page(self.site, self.path)
                    sites.requests.append((self.site, self.path, status))
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

                def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                    pass

            server.RequestHandlerClass = Handler
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self._servers.append(server)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def __enter__(self) -> FixtureSites:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
