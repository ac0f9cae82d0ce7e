"""The temporary Prefect server of a command-line run, tied to the run's life.

Without ``PREFECT_API_URL`` Prefect starts a temporary API server in a child process and
stops it at exit; but a run killed with SIGKILL cannot stop it, and the server lives on. The
CLI starts that server itself instead, the same way Prefect does, with the kernel told to kill
it when the run's process ends however it ends (``prctl(PR_SET_PDEATHSIG)``, Linux), and
points ``PREFECT_API_URL`` at it. Telemetry is off: it only logs an error on machines without
a route to Prefect's collector.
"""

from __future__ import annotations

import atexit
import importlib.util
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

log = logging.getLogger("newsdedup")

# Settings that keep a command-line run quiet: no telemetry from the temporary server, whose
# failure to reach Prefect's collector is logged as an error on machines without internet.
QUIET_PREFECT = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false"}

STARTUP_SECONDS = 90.0

# Run in the server's process before it becomes uvicorn: ask for SIGKILL when the parent dies,
# then make sure the parent did not die before the request was made.
_LAUNCH = (
    "import ctypes, os, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL\n"
    "if os.getppid() != int(sys.argv[1]): sys.exit(0)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


def quiet_prefect() -> None:
    for name, value in QUIET_PREFECT.items():
        os.environ.setdefault(name, value)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TemporaryServer:
    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.api_url = ""

    def start(self) -> TemporaryServer:
        spec = importlib.util.find_spec("prefect")
        assert spec is not None and spec.origin is not None
        app_dir = Path(spec.origin).parent.parent
        port = _free_port()
        command = [
            sys.executable, "-c", _LAUNCH, str(os.getpid()),
            sys.executable, "-m", "uvicorn", "--app-dir", str(app_dir),
            "--factory", "prefect.server.api.server:create_app",
            "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "error", "--lifespan", "on",
        ]  # fmt: skip
        env = {
            **os.environ,
            **QUIET_PREFECT,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)
        self.api_url = f"http://127.0.0.1:{port}/api"
        atexit.register(self.stop)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the temporary Prefect server exited with status {self.process.returncode}"
                )
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        log.info("temporary Prefect server on %s", self.api_url)
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the temporary Prefect server did not answer in {STARTUP_SECONDS:g}s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def ensure_api() -> TemporaryServer | None:
    """Point Prefect at a server for this process: the configured one (``PREFECT_API_URL``),
    or a temporary one that ends with this process. Call before Prefect is imported."""
    quiet_prefect()
    if os.environ.get("PREFECT_API_URL") or not sys.platform.startswith("linux"):
        return None  # elsewhere Prefect's own temporary server is used
    if "prefect" in sys.modules:
        log.debug("prefect imported before its API URL was set: its own server is used")
        return None
    server = TemporaryServer().start()
    os.environ["PREFECT_API_URL"] = server.api_url
    # It serves no UI: no "View at <link>" lines that lead nowhere.
    os.environ.setdefault("PREFECT_UI_URL", "")
    return server
