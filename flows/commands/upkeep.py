"""Upkeep of an output root: ``newsdedup compact``, ``prune`` and ``state check/repair``."""

from __future__ import annotations

import argparse
from datetime import date

from flows.commands.common import err, output_root
from flows.defaults import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_LOCKED
from flows.maintenance import compact_before, prune
from flows.repair import check_state, repair_state
from flows.state import RunInProgress, StateError, damaged
from flows.storage import open_storage


def cmd_compact(args: argparse.Namespace) -> int:

    try:
        before = date.fromisoformat(args.before)
    except ValueError:
        err(f"--before {args.before!r} is not a date (YYYY-MM-DD)")
        return EXIT_BAD_INPUT
    tables = [args.table] if args.table else ("articles", "duplicates", "rejected")
    try:
        docs = compact_before(output_root(args.uri), before, tables=tables)
    except RunInProgress as exc:
        err(str(exc))
        return EXIT_LOCKED
    except Exception as exc:  # noqa: BLE001
        err(f"compaction failed: {exc}")
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
    try:
        report = prune(
            output_root(args.uri),
            raw_days=args.raw_days,
            state_versions=args.state_versions,
            dry_run=args.dry_run,
        )
    except RunInProgress as exc:
        err(str(exc))
        return EXIT_LOCKED
    except ValueError as exc:
        err(str(exc))
        return EXIT_BAD_INPUT
    except StateError as exc:
        err(str(exc))
        return EXIT_FAILED
    print("\n".join(report.lines()))
    return 0


def cmd_state(args: argparse.Namespace) -> int:
    """``state check``: is the run state readable; ``state repair``: make it so (see
    flows/repair.py and the README's 'Recovering damaged state')."""
    try:
        storage = open_storage(output_root(args.uri))
        if args.action == "check":
            report = check_state(storage)
        else:
            report = repair_state(storage, dry_run=args.dry_run)
    except RunInProgress as exc:
        err(str(exc))
        return EXIT_LOCKED
    except Exception as exc:  # noqa: BLE001 - storage errors say what and where
        err(f"cannot {args.action} the state of {output_root(args.uri)}: {exc}")
        return EXIT_FAILED
    print("\n".join(report.lines()))
    if args.action == "check" and not report.sound:
        err(str(damaged(storage, "the state is damaged")))
        return EXIT_FAILED
    return 0
