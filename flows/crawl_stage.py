"""The crawl stage as plain Python: crawl processes started and read through the crawler's
contract (crawlers/contract.py), killed at their hard timeout, their pages fed on to the
cleaning as each finishes. :mod:`flows.stages` re-exports it with the other stages."""

from __future__ import annotations

import gzip
import json
import logging
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawlers import settings as crawl_settings
from crawlers.contract import (
    PAGES_FILE,
    PARENT_PID_ENV,
    REJECTED_FILE,
    SEEN_FILE,
    STATS_FILE,
    VALIDATORS_FILE,
    crawl_command,
    process_failed,
    source_dir,
)
from crawlers.pipelines import salvage
from crawlers.records import Page, page_from_line
from crawlers.seeds import Source
from flows.defaults import CRAWL_TIMEOUT

log = logging.getLogger("newsdedup")


# -- crawl ----------------------------------------------------------------------------------


@dataclass
class CrawlOutcome:
    source: str
    ok: bool
    pages_path: str | None
    validators: dict[str, dict[str, Any]] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0
    # Pages the crawler fetched and judged no article (Rejected.to_dict() each): light records
    rejected: list[dict[str, Any]] = field(default_factory=list)


# Scrapy's start-up report (versions, settings, enabled components) is useful when debugging a
# crawl but buries the progress lines; it goes to the debug log only.
_STARTUP_NOISE = (
    "Scrapy ",
    "Versions:",
    "Enabled ",
    "Overridden settings",
    "Using reactor",
    "Using asyncio",
    "Telnet",
    "Spider opened",
    "Crawled 0 pages",
)


def is_noise(line: str) -> bool:
    """Continuation lines of multi-line dumps and the start-up report of a crawl process."""
    if not line or line[0] in " \t[{'\"]})":
        return True
    message = line.split("] ", 1)[1] if "] " in line else line
    message = message.split(": ", 1)[1] if message.startswith(("INFO: ", "DEBUG: ")) else message
    return message.startswith(_STARTUP_NOISE)


def soft_close(timeout: float, extra_settings: dict[str, Any] | None = None) -> float:
    """When a crawl process of ``timeout`` seconds closes its crawl itself: 10% before the
    hard kill, and at least a download timeout and some seconds more (as long as that leaves
    half the time), since the close waits for the downloads in flight."""
    download = float(
        (extra_settings or {}).get("DOWNLOAD_TIMEOUT", crawl_settings.DOWNLOAD_TIMEOUT)
    )
    margin = max(timeout * 0.1, min(timeout * 0.5, download + 10.0))
    return max(1.0, timeout - margin)


def _process_error(
    name: str, timeout: float, returncode: int | None, timed_out: bool, tail: list[str]
) -> str | None:
    """Why a crawl process failed as a whole, or None when it ran to its end."""
    if timed_out:
        return f"crawl of {name} killed after {timeout:.0f}s (hard timeout)"
    if process_failed(returncode):
        return f"crawl of {name} exited with status {returncode}: " + " | ".join(tail[-3:])
    return None


def _source_error(name: str, directory: Path, stats: dict[str, Any]) -> str | None:
    """Why one source of a crawl process that ran to its end failed, or None."""
    if not stats.get("reachable"):
        return str(stats.get("error") or f"no page of {name} could be fetched")
    if not (directory / PAGES_FILE).exists():
        return f"crawl of {name} wrote no pages file"
    return None


def _source_outcome(
    name: str, directory: Path, failure: str | None, seconds: float
) -> CrawlOutcome:
    """One source's outcome. When its process failed as a whole (killed at the hard timeout,
    crashed), a source whose spider had already closed keeps everything it wrote; one still
    running keeps the pages it had written before the kill (crawlers.pipelines.salvage) and
    counts as failed, with why: one source's trouble never costs another its pages."""
    stats = _read_json(directory / STATS_FILE)
    error: str | None
    salvaged = False
    if failure is None:
        error = _source_error(name, directory, stats)
    else:
        kept = salvage(directory)
        if kept is None and (directory / PAGES_FILE).exists():
            # Its spider closed (and wrote its files) before the process failed.
            error = _source_error(name, directory, stats)
        else:
            kept = kept or 0
            salvaged = kept > 0
            stats = {**stats, "finish_reason": "killed", "pages_salvaged": kept}
            stats.setdefault("articles", kept)
            error = f"{failure}; {name} was still crawling: {kept} pages fetched before, kept"
    keep = error is None or salvaged
    pages = directory / PAGES_FILE
    return CrawlOutcome(
        source=name,
        ok=error is None,
        pages_path=str(pages) if keep else None,
        validators=_read_json(directory / VALIDATORS_FILE) if keep else {},
        stats=stats,
        error=error,
        seconds=seconds,
        rejected=read_rejected([directory / REJECTED_FILE]) if keep else [],
    )


def crawl_groups(sources: Iterable[Source], width: int, per_process: int) -> list[list[Source]]:
    """Sources dealt round-robin into crawl processes of at most ``per_process`` sources, and
    into at least ``width`` processes (as many as run at once) when there are enough sources,
    so every core has a crawl to run."""
    sources = list(sources)
    if not sources:
        return []
    count = max(min(max(1, width), len(sources)), -(-len(sources) // max(1, per_process)))
    return [sources[i::count] for i in range(count)]


def crawl_sources(
    sources: list[Source],
    seeds_path: str,
    work_dir: Path,
    *,
    allow_private: bool = False,
    seen: dict[str, dict[str, Any]] | None = None,
    timeout: float = CRAWL_TIMEOUT,
    user_agent: str | None = None,
    extra_settings: dict[str, Any] | None = None,
    log_line: Callable[[str], None] | None = None,
    archive: bool = False,
) -> list[CrawlOutcome]:
    """Crawl several sources side by side in one child process (one Scrapy crawler each).

    One process start-up (about a second of CPU: Python, Scrapy, Twisted) serves the whole
    group, and the sources' polite, mostly idle crawls overlap. The process gets ``timeout``
    seconds; each crawl closes itself a little before, so a hard kill only happens when a
    crawl hangs past its own deadline, and then fails only the sources still crawling (which
    keep the pages they had written; see :func:`_source_outcome`).
    """
    lone = len(sources) == 1
    label = sources[0].name if lone else f"{sources[0].name} (+{len(sources) - 1})"
    out = work_dir / (sources[0].name if lone else f"group-{sources[0].name}")
    dirs = {s.name: source_dir(out, [x.name for x in sources], s.name) for s in sources}
    out.mkdir(parents=True, exist_ok=True)
    seen_path = out / SEEN_FILE
    seen_path.write_text(json.dumps(seen or {}))  # the crawl process splits it by source
    emit = log_line or (lambda line: log.info("[%s] %s", label, line))
    cmd = crawl_command(
        [s.name for s in sources], seeds_path, out, seen_path,
        # Scrapy closes the crawl cleanly a little before the hard kill.
        close_after=soft_close(timeout, extra_settings), allow_private=allow_private,
        archive=archive, user_agent=user_agent, frontier=None, extra_settings=extra_settings,
    )  # fmt: skip
    started = time.monotonic()
    returncode, timed_out, tail = _run_crawl(cmd, timeout, label, emit)
    seconds = round(time.monotonic() - started, 3)
    names = ", ".join(s.name for s in sources)
    failure = _process_error(names, timeout, returncode, timed_out, tail)
    return [_source_outcome(s.name, dirs[s.name], failure, seconds) for s in sources]


def crawl_source(
    source: Source,
    seeds_path: str,
    work_dir: Path,
    *,
    allow_private: bool = False,
    seen: dict[str, dict[str, Any]] | None = None,
    timeout: float = CRAWL_TIMEOUT,
    user_agent: str | None = None,
    extra_settings: dict[str, Any] | None = None,
    log_line: Callable[[str], None] | None = None,
    archive: bool = False,
    frontier: tuple[str, str] | None = None,
    processes: int = 1,
) -> CrawlOutcome:
    """Crawl one source: in one child process (:func:`crawl_sources`), or with a
    ``frontier`` (Redis URL, key) in ``processes`` children that share one request queue and
    seen-set (crawlers/frontier.py), whose pages, validators and counters are joined here.
    Each child gets ``timeout`` seconds; past that it is killed with its process group.
    """
    common: dict[str, Any] = {
        "allow_private": allow_private,
        "seen": seen,
        "timeout": timeout,
        "user_agent": user_agent,
        "extra_settings": extra_settings,
        "log_line": log_line,
        "archive": archive,
    }
    if not frontier or processes <= 1:
        return crawl_sources([source], seeds_path, work_dir, **common)[0]
    out = work_dir / source.name
    out.mkdir(parents=True, exist_ok=True)
    seen_path = out / SEEN_FILE
    seen_path.write_text(json.dumps(seen or {}))  # the crawl processes keep their source's
    emit = log_line or (lambda line: log.info("[%s] %s", source.name, line))
    parts = [out / f"part-{i}" for i in range(processes)]
    commands = [
        crawl_command(
            [source.name], seeds_path, part, seen_path,
            close_after=soft_close(timeout, extra_settings), allow_private=allow_private,
            archive=archive, user_agent=user_agent, frontier=frontier,
            extra_settings=extra_settings,
        )  # fmt: skip
        for part in parts
    ]
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=len(commands)) as pool:
            results = list(pool.map(lambda c: _run_crawl(c, timeout, source.name, emit), commands))
    finally:
        from crawlers.frontier import (
            clear,  # here: it loads Scrapy, which the flow otherwise never needs
        )

        clear(frontier[0], frontier[1])
    seconds = time.monotonic() - started

    errors = []
    part_stats = []
    for part, (returncode, timed_out, tail) in zip(parts, results, strict=True):
        failure = _process_error(source.name, timeout, returncode, timed_out, tail)
        part_outcome = _source_outcome(source.name, part, failure, seconds)
        part_stats.append(part_outcome.stats)
        if part_outcome.error:
            errors.append(part_outcome.error)
    # One process may find nothing left to do; the source failed only when none got through.
    ok = len(errors) < len(parts)
    pages = out / PAGES_FILE
    validators: dict[str, dict[str, Any]] = {}
    with open(pages, "wb") as joined:
        for part in parts:
            validators.update(_read_json(part / VALIDATORS_FILE))
            if (part / PAGES_FILE).exists():
                joined.write((part / PAGES_FILE).read_bytes())  # gzip members concatenate
    return CrawlOutcome(
        source=source.name,
        ok=ok,
        pages_path=str(pages) if ok else None,
        validators=validators if ok else {},
        stats=_sum_stats(part_stats),
        error=None if ok else "; ".join(dict.fromkeys(errors)),
        seconds=round(seconds, 3),
        rejected=read_rejected([part / REJECTED_FILE for part in parts]) if ok else [],
    )


def _sum_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Counters of several crawl processes of one source, added up (lists joined)."""
    total: dict[str, Any] = {}
    for stats in parts:
        for key, value in stats.items():
            if isinstance(value, bool) or not isinstance(value, int | float | dict | list):
                total.setdefault(key, value)
            elif isinstance(value, dict):
                total[key] = _sum_stats([total.get(key, {}), value])
            elif isinstance(value, list):
                total[key] = [*total.get(key, []), *value]
            else:
                total[key] = total.get(key, 0) + value
    return total


def _run_crawl(
    cmd: list[str], timeout: float, name: str, emit: Callable[[str], None]
) -> tuple[int | None, bool, list[str]]:
    """Run one crawl process; return its exit status, whether it was killed, its last lines."""
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,  # the hard timeout kills the crawl's whole process group
        env={**os.environ, PARENT_PID_ENV: str(os.getpid())},  # and it dies with the flow
    )
    tail: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip()
            if not line:
                continue
            tail.append(line)
            del tail[:-20]
            if is_noise(line):
                log.debug("[%s] %s", name, line)
            else:
                emit(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    reader.join(timeout=5)
    return proc.returncode, timed_out, tail


def read_rejected(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """The crawler's light records of fetched pages that are no article (missing files: none)."""
    rows: list[dict[str, Any]] = []
    for path in paths:
        if path.exists():
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                rows += [json.loads(line) for line in fh if line.strip()]
    return rows


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class PageFeed:
    """The pages of crawls as they finish: the crawl side ``put``s each finished page file and
    ``close``s the feed after the last; the clean side iterates, waiting for files to come.
    Built from ``paths``, the feed holds those files and is closed already."""

    def __init__(self, paths: Iterable[str] = ()) -> None:
        self._files: queue.Queue[str | None] = queue.Queue()
        if paths:
            for path in paths:
                self.put(path)
            self.close()

    def put(self, path: str) -> None:
        self._files.put(path)

    def close(self) -> None:
        self._files.put(None)

    def __iter__(self) -> Iterator[Page]:
        for line in self.records():
            yield page_from_line(line)

    def records(self) -> Iterator[bytes]:
        """The pages as their files hold them, one JSON line each, undecoded: the extraction
        workers decode them (flows.extraction.as_page), not the process that feeds them."""
        while (path := self._files.get()) is not None:
            yield from iter_records([path])


def iter_records(paths: Iterable[str]) -> Iterator[bytes]:
    """The lines of page files (``Page.to_dict()`` as JSON, UTF-8, its HTML there or in the
    crawl's archive: crawlers.records.page_from_line reads either), blank lines skipped."""
    for path in paths:
        with gzip.open(path, "rb") as fh:
            for line in fh:
                if line.strip():
                    yield line


def iter_pages(paths: Iterable[str]) -> Iterator[Page]:
    """The pages of page files, archived bodies read back (crawlers.records.page_from_line:
    a body that cannot be read raises UnreadablePage)."""
    for line in iter_records(paths):
        yield page_from_line(line)


# A link-found, unannounced article beyond this many times what the source published in
# its last runs (at most, per run; at least LINK_CAP_FLOOR) is not taken in this run: it is
# listed in `rejected` as source_cap and fetched again by a later run.
LINK_CAP_FACTOR = 5
LINK_CAP_FLOOR = 50


def link_article_caps(
    sources: Iterable[Source], history: dict[str, list[int]]
) -> dict[str, int]:
    """Per source with a history (:func:`flows.publish.recent_source_counts`), how many
    link-found, unannounced articles one run may take from it (never above ``max_pages``)."""
    caps = {}
    for source in sources:
        past = history.get(source.name)
        if past:
            cap = max(LINK_CAP_FLOOR, LINK_CAP_FACTOR * max(past))
            caps[source.name] = min(cap, source.max_pages)
    return caps
