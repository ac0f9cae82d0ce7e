"""``newsdedup run`` (crawl, or read archives with --warc) and ``newsdedup reextract``: the
flow runs, started in this process against a Prefect API.

The flows (flows.pipeline, which imports Prefect) are imported by ``_start``, after
``prefect_api()``: Prefect reads its API URL when it is imported, so the temporary server
that ends with this process must be set up first (flows/prefect_server.py)."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from crawlers import heap
from crawlers.seeds import Seeds, SeedsError, load_seeds
from flows.archive_source import ArchiveInputError, archives_per_run, resolve_archives
from flows.commands.common import (
    check_output,
    err,
    finish,
    flow_result,
    prefect_api,
    print_summary,
    progress,
)
from flows.config import resolve_settings
from flows.defaults import EXIT_BAD_INPUT, EXIT_FAILED


def cmd_run(args: argparse.Namespace) -> int:
    if getattr(args, "warc", None):
        return cmd_run_archives(args)
    if not args.seeds:
        err("run needs --seeds (sources to crawl) or --warc (archives to read)")
        return EXIT_BAD_INPUT
    for flag in ("warc_base", "only_seeded", "archives_per_run"):
        if getattr(args, flag, None):
            err(f"--{flag.replace('_', '-')} goes with --warc")
            return EXIT_BAD_INPUT
    try:
        seeds = load_seeds(args.seeds)
        seeds.select(args.source)
        settings = resolve_settings({"output": args.output}, seeds)
    except (SeedsError, ValueError) as exc:
        err(str(exc))
        return EXIT_BAD_INPUT
    state = _start(
        args,
        settings.output,
        "news_pipeline",
        seeds=str(args.seeds),
        sources=args.source or None,
        output=args.output,
        allow_private=args.allow_private,
        window_days=args.window_days,
    )
    return finish(state)


def cmd_run_archives(args: argparse.Namespace) -> int:
    """``run --warc``: read archives instead of crawling (flows/archive_source.py)."""
    try:
        seeds = load_seeds(args.seeds) if args.seeds else Seeds(path="", sources=())
        seeds.select(args.source)
        if args.source and not args.seeds:
            raise ValueError("--source names sources of a seeds file: give --seeds too")
        if args.only_seeded and not args.seeds:
            raise ValueError("--only-seeded keeps the hosts a seeds file lists: give --seeds")
        archives_per_run(args.archives_per_run)
        settings = resolve_settings({"output": args.output}, seeds)
        archives = resolve_archives(args.warc, args.warc_base)
    except (SeedsError, ValueError) as exc:  # ArchiveInputError is a ValueError
        err(str(exc) if not isinstance(exc, ArchiveInputError) else f"--warc: {exc}")
        return EXIT_BAD_INPUT
    state = _start(
        args,
        settings.output,
        "news_archive",
        archives=archives,
        seeds=str(args.seeds) if args.seeds else None,
        output=args.output,
        sources=args.source or None,
        only_seeded=args.only_seeded,
        per_run=args.archives_per_run,
        window_days=args.window_days,
    )
    return _finish_archives(state)


def _finish_archives(state: Any) -> int:
    """Exit status and summaries of an archive flow run: each run's table, then the archives
    read, with their records, pages, skips and errors."""
    result = flow_result(state)
    if isinstance(result, int):
        return result
    for summary in result["runs"]:
        print_summary(summary)
    if not result["report"]:
        print(
            f"all {result['archives']} archives named were read into {result['output']} "
            "before: nothing to do"
        )
        return 0
    print()
    print(f"{'archive':<60} {'status':<7} {'records':>8} {'pages':>7}  skipped")
    for entry in result["report"]:
        name = entry["archive"]
        name = name if len(name) <= 60 else "…" + name[-59:]
        skipped = ", ".join(f"{k} {v}" for k, v in entry.get("skipped", {}).items()) or "-"
        print(
            f"{name:<60} {entry['status']:<7} {entry['records']:>8} {entry['pages']:>7}  {skipped}"
        )
    print(
        f"archives: {result['archives']} named, {len(result['report'])} read in "
        f"{len(result['runs'])} runs, {result['already_read']} read into {result['output']} "
        f"before, {len(result['failed_archives'])} failed"
    )
    for error in result["failed_archives"].values():
        err(f"archive failed: {error}")
    for name, error in result["failed_sources"].items():
        err(f"source {name} failed: {error}")
    return EXIT_FAILED if result["failed_archives"] or result["failed_sources"] else 0


def cmd_reextract(args: argparse.Namespace) -> int:
    try:
        seeds = load_seeds(args.seeds)
        seeds.select(args.source)
        for value in (args.since, args.until):
            if value:
                date.fromisoformat(value)
        settings = resolve_settings({"output": args.output}, seeds)
    except (SeedsError, ValueError) as exc:
        err(str(exc))
        return EXIT_BAD_INPUT
    state = _start(
        args,
        settings.output,
        "news_reextract",
        seeds=str(args.seeds),
        since=args.since,
        until=args.until,
        raw_from=args.raw_from,
        output=args.output,
        sources=args.source or None,
    )
    return finish(state)


def _start(args: argparse.Namespace, root: str, flow: str, **params: Any) -> Any:
    """Run the flow ``flow`` of flows.pipeline in this process, with a status line on a
    terminal: its final Prefect state, or an exit status when the output root cannot take
    the run's output or there is no Prefect API for it (then nothing has started)."""
    if (failed := check_output(root)) is not None:
        return failed
    if (failed := prefect_api()) is not None:
        return failed
    from flows import pipeline  # after prefect_api(): see the module docstring

    heap.settle()  # start-up is over: see crawlers.heap
    with progress(args):
        return getattr(pipeline, flow)(**params, return_state=True)
