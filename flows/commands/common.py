"""What the commands share: error lines, the output root a reading command works on, the
pre-run checks (output root, Prefect API) and a finished flow run's summary and exit status."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Any, cast

from flows.defaults import DEFAULT_OUTPUT, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_LOCKED
from flows.prefect_server import ensure_api
from flows.progress import StatusLine
from flows.report import RunSummary, source_rows
from flows.state import RunInProgress
from flows.storage import OutputRootError, Storage, check_output_root, open_storage


def err(message: str) -> None:
    print(f"newsdedup: {message}", file=sys.stderr)


def open_output(uri: str | None) -> Storage | None:
    """The output root a reading command reads, or None (after saying so) when it holds no
    newsdedup output. Storage errors are raised, for the command to report."""
    storage = open_storage(output_root(uri))
    if next(iter(storage.list("runs/")), None) is None:
        err(f"{storage.uri} holds no newsdedup output (no run manifests under runs/)")
        return None
    return storage


def output_root(uri: str | None) -> str:
    """The output root a reading command works on."""
    return uri or os.environ.get("NEWSDEDUP_OUTPUT") or DEFAULT_OUTPUT


def print_summary(summary: RunSummary) -> None:
    print()
    print(f"run {summary['run_id']}: {summary['status']} in {summary['seconds']}s", end="")
    print(f" -> {summary['output']}")
    print(f"{'source':<24} {'pages':>6} {'304':>5} {'articles':>8} {'dropped':>8}", end="")
    print(f" {'stories':>8} {'dups':>5}  errors")
    for r in source_rows(summary):
        print(
            f"{r['source']:<24} {r['fetched']:>6} {r['not_modified']:>5} {r['extracted']:>8} "
            f"{sum(r['dropped'].values()):>8} {r['stories']:>8} {r['duplicates']:>5}  {r['errors']}"
        )
    print(
        f"total: {summary['pages']} pages, {summary['articles']} new stories, "
        f"{summary['duplicates']} duplicates, {summary.get('rejected', 0)} rejected "
        f"(read --table rejected); manifest {summary['manifest']}"
    )


def progress(args: argparse.Namespace) -> contextlib.AbstractContextManager[Any]:
    """A status line on a terminal (the stage, sources crawled, pages fetched and extracted),
    in place of the INFO log lines unless --verbose; nothing when stderr is not a terminal."""
    if not StatusLine.wanted():
        return contextlib.nullcontext()
    return StatusLine(quiet_info=not getattr(args, "verbose", False))


def check_output(uri: str) -> int | None:
    """Refuse an output root that cannot take the run's output before any work starts: exit 2
    for a file, an unwritable directory, a missing bucket; 1 for a store that does not answer
    (within the S3 time budget, see flows/storage.py)."""
    try:
        check_output_root(uri)
    except OutputRootError as exc:
        err(str(exc))
        return EXIT_BAD_INPUT if exc.bad_input else EXIT_FAILED
    return None


def prefect_api() -> int | None:
    """A Prefect API for the flow run: ``PREFECT_API_URL``, or a temporary server that cannot
    outlive this process (see flows/prefect_server.py). An exit status when there is none."""
    try:
        ensure_api()
    except (OSError, RuntimeError) as exc:
        err(f"cannot start a temporary Prefect server ({exc}); set PREFECT_API_URL")
        return EXIT_FAILED
    return None


def flow_result(state: Any) -> dict[str, Any] | int:
    """A finished flow run's result (its Prefect state's), or the exit status when it has
    none: 3 when another run held the lock, 1 when the run failed (the message says why).
    An exit status in place of a state (the run never started) is passed on."""
    if isinstance(state, int):
        return state
    try:
        result = state.result(raise_on_failure=False)
    except Exception as exc:  # noqa: BLE001 - a result that cannot be read is a failed run
        result = exc
    if isinstance(result, RunInProgress):
        err(str(result))
        return EXIT_LOCKED
    if isinstance(result, BaseException) or not isinstance(result, dict):
        detail = (
            f"{type(result).__name__}: {result}"
            if isinstance(result, BaseException)
            else state.message
        )
        err(f"run failed: {detail}")
        return EXIT_FAILED
    return result


def finish(state: Any) -> int:
    """Exit status and summary of a finished flow run (its Prefect state)."""
    result = flow_result(state)
    if isinstance(result, int):
        return result
    summary = cast(RunSummary, result)
    print_summary(summary)
    if summary["failed_sources"]:
        for name, error in summary["failed_sources"].items():
            err(f"source {name} failed: {error}")
        return EXIT_FAILED
    return 0
