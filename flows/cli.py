"""The ``newsdedup`` command line: a thin layer over the flows and stages.

Exit status: 0 success, 1 a run or stage failed (the message says which), 2 bad input
(seeds file, arguments), 3 another run holds the output root's lock.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, cast

from crawlers.seeds import SeedsError, load_seeds
from flows.defaults import DEFAULT_OUTPUT, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_LOCKED
from flows.report import RunSummary, source_rows

# The other project modules are imported inside the commands that use them: `newsdedup
# --help`, argument errors and the reading commands then start in about a tenth of a second,
# without loading Prefect (about 2 s), pyarrow or Scrapy first.


def _err(message: str) -> None:
    print(f"newsdedup: {message}", file=sys.stderr)


def _root(uri: str | None) -> str:
    """The output root a reading command works on."""
    return uri or os.environ.get("NEWSDEDUP_OUTPUT") or DEFAULT_OUTPUT


def _print_summary(summary: RunSummary) -> None:
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


def cmd_run(args: argparse.Namespace) -> int:
    if getattr(args, "warc", None):
        return cmd_run_archives(args)
    if not args.seeds:
        _err("run needs --seeds (sources to crawl) or --warc (archives to read)")
        return EXIT_BAD_INPUT
    for flag in ("warc_base", "only_seeded", "archives_per_run"):
        if getattr(args, flag, None):
            _err(f"--{flag.replace('_', '-')} goes with --warc")
            return EXIT_BAD_INPUT
    try:
        seeds = load_seeds(args.seeds)
        seeds.select(args.source)
        from flows.config import resolve_settings

        settings = resolve_settings({"output": args.output}, seeds)
    except (SeedsError, ValueError) as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    if (failed := _check_output(settings.output)) is not None:
        return failed
    if (failed := _prefect_api()) is not None:
        return failed
    from flows.pipeline import news_pipeline

    with _progress(args):
        state = news_pipeline(
            seeds=str(args.seeds),
            sources=args.source or None,
            output=args.output,
            allow_private=args.allow_private,
            window_days=args.window_days,
            return_state=True,
        )
    return _finish(state)


def cmd_run_archives(args: argparse.Namespace) -> int:
    """``run --warc``: read archives instead of crawling (flows/archive_source.py)."""
    from crawlers.seeds import Seeds
    from flows.archive_source import ArchiveInputError, archives_per_run, resolve_archives

    try:
        seeds = load_seeds(args.seeds) if args.seeds else Seeds(path="", sources=())
        seeds.select(args.source)
        if args.source and not args.seeds:
            raise ValueError("--source names sources of a seeds file: give --seeds too")
        if args.only_seeded and not args.seeds:
            raise ValueError("--only-seeded keeps the hosts a seeds file lists: give --seeds")
        archives_per_run(args.archives_per_run)
        from flows.config import resolve_settings

        settings = resolve_settings({"output": args.output}, seeds)
        archives = resolve_archives(args.warc, args.warc_base)
    except (SeedsError, ValueError) as exc:  # ArchiveInputError is a ValueError
        _err(str(exc) if not isinstance(exc, ArchiveInputError) else f"--warc: {exc}")
        return EXIT_BAD_INPUT
    if (failed := _check_output(settings.output)) is not None:
        return failed
    if (failed := _prefect_api()) is not None:
        return failed
    from flows.pipeline import news_archive

    with _progress(args):
        state = news_archive(
            archives=archives,
            seeds=str(args.seeds) if args.seeds else None,
            output=args.output,
            sources=args.source or None,
            only_seeded=args.only_seeded,
            per_run=args.archives_per_run,
            window_days=args.window_days,
            return_state=True,
        )
    return _finish_archives(state)


def _finish_archives(state: Any) -> int:
    """Exit status and summaries of an archive flow run: each run's table, then the archives
    read, with their records, pages, skips and errors."""
    from flows.state import RunInProgress

    try:
        result = state.result(raise_on_failure=False)
    except Exception as exc:  # noqa: BLE001 - a result that cannot be read is a failed run
        result = exc
    if isinstance(result, RunInProgress):
        _err(str(result))
        return EXIT_LOCKED
    if isinstance(result, BaseException) or not isinstance(result, dict):
        detail = (
            f"{type(result).__name__}: {result}"
            if isinstance(result, BaseException)
            else state.message
        )
        _err(f"run failed: {detail}")
        return EXIT_FAILED
    for summary in result["runs"]:
        _print_summary(summary)
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
        _err(f"archive failed: {error}")
    for name, error in result["failed_sources"].items():
        _err(f"source {name} failed: {error}")
    return EXIT_FAILED if result["failed_archives"] or result["failed_sources"] else 0


def _progress(args: argparse.Namespace) -> contextlib.AbstractContextManager[Any]:
    """A status line on a terminal (the stage, sources crawled, pages fetched and extracted),
    in place of the INFO log lines unless --verbose; nothing when stderr is not a terminal."""
    from flows.progress import StatusLine

    if not StatusLine.wanted():
        return contextlib.nullcontext()
    return StatusLine(quiet_info=not getattr(args, "verbose", False))


def _check_output(uri: str) -> int | None:
    """Refuse an output root that cannot take the run's output before any work starts: exit 2
    for a file, an unwritable directory, a missing bucket; 1 for a store that does not answer
    (within the S3 time budget, see flows/storage.py)."""
    from flows.storage import OutputRootError, check_output_root

    try:
        check_output_root(uri)
    except OutputRootError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT if exc.bad_input else EXIT_FAILED
    return None


def _prefect_api() -> int | None:
    """A Prefect API for the flow run: ``PREFECT_API_URL``, or a temporary server that cannot
    outlive this process (see flows/prefect_server.py). An exit status when there is none."""
    from flows.prefect_server import ensure_api

    try:
        ensure_api()
    except (OSError, RuntimeError) as exc:
        _err(f"cannot start a temporary Prefect server ({exc}); set PREFECT_API_URL")
        return EXIT_FAILED
    return None


def _finish(state: Any) -> int:
    """Exit status and summary of a finished flow run (its Prefect state)."""
    from flows.state import RunInProgress

    try:
        result = state.result(raise_on_failure=False)
    except Exception as exc:  # noqa: BLE001 - a result that cannot be read is a failed run
        result = exc
    if isinstance(result, RunInProgress):
        _err(str(result))
        return EXIT_LOCKED
    if isinstance(result, BaseException) or not isinstance(result, dict):
        detail = (
            f"{type(result).__name__}: {result}"
            if isinstance(result, BaseException)
            else state.message
        )
        _err(f"run failed: {detail}")
        return EXIT_FAILED
    summary = cast(RunSummary, result)
    _print_summary(summary)
    if summary["failed_sources"]:
        for name, error in summary["failed_sources"].items():
            _err(f"source {name} failed: {error}")
        return EXIT_FAILED
    return 0


def cmd_reextract(args: argparse.Namespace) -> int:
    from datetime import date

    try:
        seeds = load_seeds(args.seeds)
        seeds.select(args.source)
        for value in (args.since, args.until):
            if value:
                date.fromisoformat(value)
        from flows.config import resolve_settings

        settings = resolve_settings({"output": args.output}, seeds)
    except (SeedsError, ValueError) as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    if (failed := _check_output(settings.output)) is not None:
        return failed
    if (failed := _prefect_api()) is not None:
        return failed
    from flows.pipeline import news_reextract

    with _progress(args):
        state = news_reextract(
            seeds=str(args.seeds),
            since=args.since,
            until=args.until,
            raw_from=args.raw_from,
            output=args.output,
            sources=args.source or None,
            return_state=True,
        )
    return _finish(state)


def cmd_read(args: argparse.Namespace) -> int:
    from datetime import date

    from flows.schema import schema_for

    # Bad arguments are refused before anything is read.
    for flag, value in (("--since", args.since), ("--until", args.until)):
        if value:
            try:
                date.fromisoformat(value)
            except ValueError:
                _err(f"{flag} {value[:40]!r} is not a date (YYYY-MM-DD)")
                return EXIT_BAD_INPUT
    known = schema_for(args.table).names
    columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
    if columns is not None:
        unknown = [c for c in columns if c not in known]
        if unknown or not all(columns):
            _err(
                f"no column {', '.join(map(repr, unknown)) or repr('')} in table {args.table}; "
                f"its columns: {', '.join(known)}"
            )
            return EXIT_BAD_INPUT
    if args.format == "parquet" and not args.out and sys.stdout.isatty():
        _err("--format parquet writes binary data: give --out FILE or redirect standard output")
        return EXIT_BAD_INPUT

    from flows.read import read_table
    from flows.storage import open_storage

    root = _root(args.uri)
    try:
        storage = open_storage(root)
        if next(iter(storage.list("runs/")), None) is None:
            _err(f"{storage.uri} holds no newsdedup output (no run manifests under runs/)")
            return EXIT_FAILED
        table = read_table(
            storage,
            table=args.table,
            since=args.since,
            until=args.until,
            sources=args.source or None,
            columns=columns,
        )
    except Exception as exc:  # noqa: BLE001 - storage errors say what and where
        _err(f"cannot read {root}: {exc}")
        return EXIT_FAILED
    if args.format == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, args.out or sys.stdout.buffer, compression="zstd")
        if not args.out:
            sys.stdout.buffer.flush()
        return 0
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    try:
        if args.format == "csv":
            import csv

            writer = csv.DictWriter(out, fieldnames=table.column_names)
            writer.writeheader()
            for row in table.to_pylist():
                writer.writerow({k: _plain(v) for k, v in row.items()})
        else:
            for row in table.to_pylist():
                out.write(
                    json.dumps({k: _plain(v) for k, v in row.items()}, ensure_ascii=False) + "\n"
                )
        out.flush()
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def cmd_demo(args: argparse.Namespace) -> int:
    from flows.demo import DemoNetwork

    output = args.output
    network = DemoNetwork(ports=None if args.free_ports else DemoNetwork.default_ports())
    try:
        network.start()
    except OSError as exc:
        _err(
            f"cannot serve the demo network on its ports ({exc}); try: newsdedup demo --free-ports"
        )
        return EXIT_FAILED
    with network:
        seeds_path = Path(args.seeds_out)
        seeds_path.parent.mkdir(parents=True, exist_ok=True)
        network.write_seeds(seeds_path)
        print(
            f"demo network: {len(network.sites)} sites on loopback; seeds written to {seeds_path}"
        )
        for site in network.sites:
            print(f"  {site.name:<24} {site.role:<10} {site.base_url}")
        args_run = argparse.Namespace(
            seeds=str(seeds_path), source=[], output=output, allow_private=True, window_days=None
        )
        status = cmd_run(args_run)
    if status == 0:
        print()
        print("Read the output:")
        print(f"  newsdedup read {output} --table articles | head")
        print(f"  newsdedup read {output} --table duplicates --columns url,duplicate_of,similarity")
        print(
            '  python -c "from flows import read_articles; '
            f"print(read_articles('{output}').to_pandas()[['source','title']])\""
        )
    return status


def cmd_crawl(args: argparse.Namespace) -> int:
    """Just the crawl stage for some sources: writes the pages it fetched, nothing else."""
    try:
        seeds = load_seeds(args.seeds)
        chosen = seeds.select(args.source)
    except SeedsError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    from flows import stages

    out = Path(args.output)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _err(f"--output {out}: cannot create the folder: {exc.strerror or exc}")
        return EXIT_BAD_INPUT
    status = 0
    for src in chosen:
        outcome = stages.crawl_source(src, args.seeds, out, allow_private=args.allow_private)
        print(
            json.dumps(
                {
                    "source": src.name,
                    "ok": outcome.ok,
                    "pages": outcome.pages_path,
                    "error": outcome.error,
                    "stats": outcome.stats,
                },
                default=str,
            )
        )
        if not outcome.ok:
            status = EXIT_FAILED
    return status


def cmd_dedup(args: list[str]) -> int:
    from dedup.jsonl_tool import main as dedup_main

    return dedup_main(args)


def cmd_stats(args: argparse.Namespace) -> int:
    from flows.read import stats
    from flows.storage import open_storage

    try:
        storage = open_storage(_root(args.uri))
        if next(iter(storage.list("runs/")), None) is None:
            _err(f"{storage.uri} holds no newsdedup output (no run manifests under runs/)")
            return EXIT_FAILED
        rows = stats(
            storage,
            since=args.since,
            until=args.until,
        )
    except Exception as exc:  # noqa: BLE001
        _err(f"cannot read: {exc}")
        return EXIT_FAILED
    print(f"{'day':<12} {'source':<28} {'stories':>8} {'duplicates':>10}")
    for row in rows:
        print(f"{row.dt:<12} {row.source:<28} {row.stories:>8} {row.duplicates:>10}")
    print(
        f"{'total':<12} {'':<28} {sum(r.stories for r in rows):>8} "
        f"{sum(r.duplicates for r in rows):>10}"
    )
    return 0


def cmd_compact(args: argparse.Namespace) -> int:
    from datetime import date

    from flows.maintenance import compact_before
    from flows.state import RunInProgress

    try:
        before = date.fromisoformat(args.before)
    except ValueError:
        _err(f"--before {args.before!r} is not a date (YYYY-MM-DD)")
        return EXIT_BAD_INPUT
    tables = [args.table] if args.table else ("articles", "duplicates", "rejected")
    try:
        docs = compact_before(_root(args.uri), before, tables=tables)
    except RunInProgress as exc:
        _err(str(exc))
        return EXIT_LOCKED
    except Exception as exc:  # noqa: BLE001
        _err(f"compaction failed: {exc}")
        return EXIT_FAILED
    for d in docs:
        rows = sum(o["rows"] for o in d["objects"])
        print(
            f"{d['table']:<11} dt={d['dt']} {len(d['replaces']):>4} files -> {len(d['objects'])} "
            f"{rows:>9} rows  compactions/{d['compaction_id']}.json"
        )
    print(
        f"compacted {len(docs)} table-days before {before}"
        if docs
        else f"nothing to compact before {before}"
    )
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    from flows.maintenance import prune
    from flows.state import RunInProgress, StateError

    try:
        report = prune(
            _root(args.uri),
            raw_days=args.raw_days,
            state_versions=args.state_versions,
            dry_run=args.dry_run,
        )
    except RunInProgress as exc:
        _err(str(exc))
        return EXIT_LOCKED
    except ValueError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    except StateError as exc:
        _err(str(exc))
        return EXIT_FAILED
    print("\n".join(report.lines()))
    return 0


def cmd_state(args: argparse.Namespace) -> int:
    """``state check``: is the run state readable; ``state repair``: make it so (see
    flows/repair.py and the README's 'Recovering damaged state')."""
    from flows.repair import check_state, repair_state
    from flows.state import RunInProgress, damaged
    from flows.storage import open_storage

    try:
        storage = open_storage(_root(args.uri))
        if args.action == "check":
            report = check_state(storage)
        else:
            report = repair_state(storage, dry_run=args.dry_run)
    except RunInProgress as exc:
        _err(str(exc))
        return EXIT_LOCKED
    except Exception as exc:  # noqa: BLE001 - storage errors say what and where
        _err(f"cannot {args.action} the state of {_root(args.uri)}: {exc}")
        return EXIT_FAILED
    print("\n".join(report.lines()))
    if args.action == "check" and not report.sound:
        _err(str(damaged(storage, "the state is damaged")))
        return EXIT_FAILED
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from flows.deploy import deploy

    return deploy(args.prefect_file, pool=args.pool)


def cmd_serve(args: argparse.Namespace) -> int:
    if (failed := _prefect_api()) is not None:
        return failed
    from flows.deploy import DeployError, serve

    try:
        serve(args.seeds, output=args.output, cron=args.cron, one_source=args.source or None)
    except DeployError as exc:
        _err(str(exc))
        return EXIT_FAILED
    except SeedsError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from flows.config import resolve_settings

    try:
        seeds = load_seeds(args.seeds) if args.seeds else None
        settings = resolve_settings({"output": args.output}, seeds)
    except (SeedsError, ValueError) as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    print(json.dumps(settings.masked(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsdedup", description="News crawling, cleaning and deduplication."
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the pipeline once (a Prefect flow run)")
    p.add_argument(
        "--seeds",
        help="seeds YAML file (with --warc: optional, names and ranks the hosts it lists)",
    )
    p.add_argument(
        "--warc",
        action="append",
        default=[],
        metavar="SOURCE",
        help="read this archive instead of crawling (repeatable): a WARC path, a glob, an "
        "s3:// or https:// URL, or a paths listing (warc.paths.gz)",
    )
    p.add_argument(
        "--warc-base",
        help="base URL or folder of a paths listing's relative paths "
        "(default: the listing's own folder; CC-NEWS: https://data.commoncrawl.org/)",
    )
    p.add_argument(
        "--only-seeded", action="store_true", help="with --warc: only the hosts of --seeds"
    )
    p.add_argument(
        "--archives-per-run",
        type=int,
        help="with --warc: archives read, published and committed per run (default 4, "
        "NEWSDEDUP_ARCHIVES_PER_RUN)",
    )
    p.add_argument("--source", action="append", default=[], help="only this source (repeatable)")
    p.add_argument(
        "--output",
        help=f"output root: a directory or s3://bucket/prefix (default {DEFAULT_OUTPUT})",
    )
    p.add_argument("--allow-private", action="store_true", help="allow loopback/private addresses")
    p.add_argument("--window-days", type=int, help="dedup window in days (default 30)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("reextract", help="clean archived WARC files again and publish, no crawl")
    p.add_argument("--seeds", required=True)
    p.add_argument("--since", required=True, help="first run day of raw/ to read (YYYY-MM-DD)")
    p.add_argument("--until", help="last run day (inclusive)")
    p.add_argument("--from", dest="raw_from", help="root holding raw/ (default: the output root)")
    p.add_argument("--output", help="where to publish (default as for run)")
    p.add_argument("--source", action="append", default=[])
    p.set_defaults(func=cmd_reextract)

    p = sub.add_parser("crawl", help="crawl sources and write the raw pages only")
    p.add_argument("--seeds", required=True)
    p.add_argument("--source", action="append", default=[])
    p.add_argument("--output", required=True, help="folder for pages.jsonl.gz per source")
    p.add_argument("--allow-private", action="store_true")
    p.set_defaults(func=cmd_crawl)

    p = sub.add_parser("read", help="print published rows")
    p.add_argument(
        "uri", nargs="?", help=f"output root (default $NEWSDEDUP_OUTPUT or {DEFAULT_OUTPUT})"
    )
    p.add_argument("--table", choices=["articles", "duplicates", "rejected"], default="articles")
    p.add_argument("--since", help="YYYY-MM-DD (run date, inclusive)")
    p.add_argument("--until", help="YYYY-MM-DD (run date, inclusive)")
    p.add_argument("--source", action="append", default=[])
    p.add_argument("--columns", help="comma-separated column names")
    p.add_argument(
        "--format",
        choices=["jsonl", "csv", "parquet"],
        default="jsonl",
        help="parquet goes to --out, or to standard output when that is not a terminal",
    )
    p.add_argument("--out", help="write to this file instead of standard output")
    p.set_defaults(func=cmd_read)

    p = sub.add_parser("stats", help="stories and duplicates per day and source")
    p.add_argument(
        "uri", nargs="?", help=f"output root (default $NEWSDEDUP_OUTPUT or {DEFAULT_OUTPUT})"
    )
    p.add_argument("--since", help="YYYY-MM-DD (run date, inclusive)")
    p.add_argument("--until", help="YYYY-MM-DD (run date, inclusive)")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("demo", help="serve the bundled demo network and run the pipeline on it")
    p.add_argument("--output", default=DEFAULT_OUTPUT)
    p.add_argument("--seeds-out", default="data/demo-seeds.yaml")
    p.add_argument(
        "--free-ports", action="store_true", help="pick free ports instead of the fixed ones"
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("compact", help="merge each day's run files before DATE into few files")
    p.add_argument(
        "uri", nargs="?", help=f"output root (default $NEWSDEDUP_OUTPUT or {DEFAULT_OUTPUT})"
    )
    p.add_argument("--before", required=True, help="YYYY-MM-DD, exclusive")
    p.add_argument("--table", choices=["articles", "duplicates", "rejected"])
    p.set_defaults(func=cmd_compact)

    p = sub.add_parser("prune", help="retention: old raw/ days, old state versions, leftovers")
    p.add_argument(
        "uri", nargs="?", help=f"output root (default $NEWSDEDUP_OUTPUT or {DEFAULT_OUTPUT})"
    )
    p.add_argument("--raw-days", type=int, default=30)
    p.add_argument("--state-versions", type=int, default=5)
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=cmd_prune)

    p = sub.add_parser("state", help="check or repair the run state under _state/")
    p.add_argument("action", choices=["check", "repair"])
    p.add_argument(
        "uri", nargs="?", help=f"output root (default $NEWSDEDUP_OUTPUT or {DEFAULT_OUTPUT})"
    )
    p.add_argument("--dry-run", action="store_true", help="repair: say what would be done")
    p.set_defaults(func=cmd_state)

    p = sub.add_parser("deploy", help="register the Prefect deployments (needs PREFECT_API_URL)")
    p.add_argument("--prefect-file", default="flows/prefect.yaml")
    p.add_argument("--pool", help="send every deployment to this work pool")
    p.set_defaults(func=cmd_deploy)

    p = sub.add_parser(
        "serve", help="serve the hourly and one-source deployments from this process"
    )
    p.add_argument("--seeds", required=True)
    p.add_argument("--output")
    p.add_argument("--cron", default="0 * * * *")
    p.add_argument("--source", action="append", default=[], help="one-source default (repeatable)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("config", help="print the effective configuration (secrets masked)")
    p.add_argument("--seeds")
    p.add_argument("--output")
    p.set_defaults(func=cmd_config)

    sub.add_parser(
        "dedup", help="dedup a JSON-lines file (see newsdedup dedup --help)", add_help=False
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "dedup":
        return cmd_dedup(argv[1:])
    parser = build_parser()
    from flows.prefect_server import quiet_prefect

    quiet_prefect()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpcore", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except BrokenPipeError:
        return _closed_pipe()


def _closed_pipe() -> int:
    """The reader of our output went away (``newsdedup read ... | head``): stop quietly, as
    Unix tools do. Standard output is pointed at /dev/null so that Python's final flush does
    not complain again; the status is a shell's for a process ended by SIGPIPE."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 128 + signal.SIGPIPE


def run() -> None:
    """The ``newsdedup`` console command: :func:`main`, then a process exit that skips the
    interpreter's teardown of native libraries.

    pyarrow and DuckDB keep native worker threads; when CPython finalises and the C runtime
    destroys those pools while a worker is still joinable, the process aborts ("terminate
    called without an active exception", status -6) after its work and output are complete
    (apache/arrow#34314). So the Python exit handlers run and the standard streams are flushed
    here, and the process then ends with ``os._exit``, which runs no native destructors."""
    try:
        code = main()
    except SystemExit as exc:  # argparse's usage errors and --help
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except KeyboardInterrupt:
        code = 128 + signal.SIGINT
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            code = _closed_pipe()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    run()
