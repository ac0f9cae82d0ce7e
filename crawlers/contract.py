"""The crawl process's contract: how to start ``python -m crawlers.run`` and how to read what
it leaves behind. The crawler owns it; the flow (flows/stages.py) only calls it.

A crawl of one source writes into its output folder (``--out``; with several sources,
``--out/<source>/``, see :func:`source_dir`):

- :data:`PAGES_FILE`: every article page fetched (crawlers.records.Page per line), written as
  ``<PAGES_FILE>.part`` while the crawl runs (:func:`part_file`; crawlers.pipelines.salvage);
  with an archive, a line names the page's body in the WARC files rather than holding its
  HTML, so the files are read together (crawlers.records.page_from_line);
- :data:`REJECTED_FILE`: the fetched pages the crawler judged no article (Rejected per line);
- :data:`VALIDATORS_FILE`: ETag / Last-Modified / announced date per URL, for the next run;
- :data:`STATS_FILE`: the per-source counters (crawlers.run.summarise), ``reachable`` included;
- with an archive: the raw responses as WARC files in ``<out>/`` :data:`WARC_DIR`.

Its exit status is :data:`EXIT_OK`, :data:`EXIT_UNREACHABLE` (some source could not be
reached: its stats say so) or :data:`EXIT_USAGE` (a bad seeds file or arguments); anything
else means the process failed as a whole (:func:`process_failed`).

This module imports nothing (no Scrapy), so the flow can use it cheaply.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

PAGES_FILE = "pages.jsonl.gz"
REJECTED_FILE = "rejected.jsonl.gz"  # crawlers.records.Rejected per line, stage "crawl"
VALIDATORS_FILE = "validators.json"
STATS_FILE = "stats.json"
SEEN_FILE = "seen.json"  # the validators of earlier runs handed to a crawl (--seen)
WARC_DIR = "warc"

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

# The parent (the flow) names itself here; a crawl process whose parent dies, kill -9
# included, is then killed by the kernel too instead of crawling on to its own timeout.
PARENT_PID_ENV = "NEWSDEDUP_PARENT_PID"


def part_file(name: str) -> str:
    """The name a file has while the crawl still writes it."""
    return f"{name}.part"


def source_dir(out: Path, names: Iterable[str], name: str) -> Path:
    """Where source ``name`` of a crawl of ``names`` writes: ``out`` itself for a lone
    source, ``out/<name>/`` when several share the process."""
    return out if len(list(names)) == 1 else out / name


def crawl_command(
    source_names: Iterable[str],
    seeds_path: str,
    out: Path,
    seen_path: Path,
    *,
    close_after: float,
    allow_private: bool = False,
    archive: bool = False,
    user_agent: str | None = None,
    frontier: tuple[str, str] | None = None,
    extra_settings: Mapping[str, Any] | None = None,
) -> list[str]:
    """The command line of a crawl process: ``close_after`` seconds until the crawl closes
    itself, ``frontier`` a (Redis URL, key) shared with other processes of the source."""
    cmd = [
        sys.executable, "-m", "crawlers.run",
        "--seeds", str(seeds_path), "--out", str(out), "--seen", str(seen_path),
        "--timeout", str(close_after),
    ]  # fmt: skip
    for name in source_names:
        cmd += ["--source", name]
    if allow_private:
        cmd.append("--allow-private")
    if archive:
        cmd += ["--warc-dir", str(out / WARC_DIR)]
    if user_agent:
        cmd += ["--user-agent", user_agent]
    if frontier:
        cmd += ["--frontier-redis", frontier[0], "--frontier-key", frontier[1]]
    for name, value in (extra_settings or {}).items():
        cmd += ["-s", f"{name}={value}"]
    return cmd


def process_failed(returncode: int | None) -> bool:
    """Whether a crawl process that ran to its end failed as a whole (a source it could not
    reach is that source's failure, read from its stats, not the process's)."""
    return returncode not in (EXIT_OK, EXIT_UNREACHABLE)
