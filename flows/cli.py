"""The ``newsdedup`` command line: a thin layer over the flows and stages.

Exit status: 0 success, 1 a run or stage failed (the message says which), 2 bad input
(seeds file, arguments), 3 another run holds the output root's lock.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import cast

from crawlers.seeds import SeedsError, load_seeds
from flows.commands.common import err, prefect_api
from flows.config import resolve_settings
from flows.defaults import DEFAULT_OUTPUT, EXIT_BAD_INPUT, EXIT_FAILED
from flows.deploy import DeployError, deploy, serve
from flows.prefect_server import quiet_prefect


def load_command(spec: str) -> Callable[..., int]:
    """A subcommand's function from flows/commands/, named "module:function", imported only
    now that it is chosen: `newsdedup --help`, argument errors and the reading commands then
    start in a fraction of a second, without loading Prefect (about 2 s), pyarrow or Scrapy
    that they do not use."""
    module, name = spec.split(":")
    return cast(
        Callable[..., int], getattr(importlib.import_module(f"flows.commands.{module}"), name)
    )


def cmd_deploy(args: argparse.Namespace) -> int:
    return deploy(args.prefect_file, pool=args.pool)


def cmd_serve(args: argparse.Namespace) -> int:
    if (failed := prefect_api()) is not None:
        return failed
    try:
        serve(args.seeds, output=args.output, cron=args.cron, one_source=args.source or None)
    except DeployError as exc:
        err(str(exc))
        return EXIT_FAILED
    except SeedsError as exc:
        err(str(exc))
        return EXIT_BAD_INPUT
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    try:
        seeds = load_seeds(args.seeds) if args.seeds else None
        settings = resolve_settings({"output": args.output}, seeds)
    except (SeedsError, ValueError) as exc:
        err(str(exc))
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
    p.set_defaults(func="running:cmd_run")

    p = sub.add_parser("reextract", help="clean archived WARC files again and publish, no crawl")
    p.add_argument("--seeds", required=True)
    p.add_argument("--since", required=True, help="first run day of raw/ to read (YYYY-MM-DD)")
    p.add_argument("--until", help="last run day (inclusive)")
    p.add_argument("--from", dest="raw_from", help="root holding raw/ (default: the output root)")
    p.add_argument("--output", help="where to publish (default as for run)")
    p.add_argument("--source", action="append", default=[])
    p.set_defaults(func="running:cmd_reextract")

    p = sub.add_parser("crawl", help="crawl sources and write the raw pages only")
    p.add_argument("--seeds", required=True)
    p.add_argument("--source", action="append", default=[])
    p.add_argument("--output", required=True, help="folder for pages.jsonl.gz per source")
    p.add_argument("--allow-private", action="store_true")
    p.set_defaults(func="tools:cmd_crawl")

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
    p.set_defaults(func="reading:cmd_read")

    p = sub.add_parser("stats", help="stories and duplicates per day and source")
    p.add_argument(
        "uri", nargs="?", help=f"output root (default $NEWSDEDUP_OUTPUT or {DEFAULT_OUTPUT})"
    )
    p.add_argument("--since", help="YYYY-MM-DD (run date, inclusive)")
    p.add_argument("--until", help="YYYY-MM-DD (run date, inclusive)")
    p.set_defaults(func="reading:cmd_stats")

    p = sub.add_parser("demo", help="serve the bundled demo network and run the pipeline on it")
    p.add_argument("--output", default=DEFAULT_OUTPUT)
    p.add_argument("--seeds-out", default="data/demo-seeds.yaml")
    p.add_argument(
        "--free-ports", action="store_true", help="pick free ports instead of the fixed ones"
    )
    p.set_defaults(func="tools:cmd_demo")

    p = sub.add_parser("compact", help="merge each day's run files before DATE into few files")
    p.add_argument(
        "uri", nargs="?", help=f"output root (default $NEWSDEDUP_OUTPUT or {DEFAULT_OUTPUT})"
    )
    p.add_argument("--before", required=True, help="YYYY-MM-DD, exclusive")
    p.add_argument("--table", choices=["articles", "duplicates", "rejected"])
    p.set_defaults(func="upkeep:cmd_compact")

    p = sub.add_parser("prune", help="retention: old raw/ days, old state versions, leftovers")
    p.add_argument(
        "uri", nargs="?", help=f"output root (default $NEWSDEDUP_OUTPUT or {DEFAULT_OUTPUT})"
    )
    p.add_argument("--raw-days", type=int, default=30)
    p.add_argument("--state-versions", type=int, default=5)
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func="upkeep:cmd_prune")

    p = sub.add_parser("state", help="check or repair the run state under _state/")
    p.add_argument("action", choices=["check", "repair"])
    p.add_argument(
        "uri", nargs="?", help=f"output root (default $NEWSDEDUP_OUTPUT or {DEFAULT_OUTPUT})"
    )
    p.add_argument("--dry-run", action="store_true", help="repair: say what would be done")
    p.set_defaults(func="upkeep:cmd_state")

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
        return load_command("tools:cmd_dedup")(argv[1:])
    parser = build_parser()
    quiet_prefect()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpcore", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        func = args.func if callable(args.func) else load_command(args.func)
        return int(func(args))
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
