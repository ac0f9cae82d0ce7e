"""``newsdedup read`` and ``newsdedup stats``: published tables, through the manifests."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import date
from typing import Any

import pyarrow.parquet as pq

from flows.commands.common import err, open_output, output_root
from flows.defaults import EXIT_BAD_INPUT, EXIT_FAILED
from flows.read import read_table, stats
from flows.schema import schema_for


def cmd_read(args: argparse.Namespace) -> int:

    # Bad arguments are refused before anything is read.
    for flag, value in (("--since", args.since), ("--until", args.until)):
        if value:
            try:
                date.fromisoformat(value)
            except ValueError:
                err(f"{flag} {value[:40]!r} is not a date (YYYY-MM-DD)")
                return EXIT_BAD_INPUT
    known = schema_for(args.table).names
    columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
    if columns is not None:
        unknown = [c for c in columns if c not in known]
        if unknown or not all(columns):
            err(
                f"no column {', '.join(map(repr, unknown)) or repr('')} in table {args.table}; "
                f"its columns: {', '.join(known)}"
            )
            return EXIT_BAD_INPUT
    if args.format == "parquet" and not args.out and sys.stdout.isatty():
        err("--format parquet writes binary data: give --out FILE or redirect standard output")
        return EXIT_BAD_INPUT

    root = output_root(args.uri)
    try:
        storage = open_output(root)
        if storage is None:
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
        err(f"cannot read {root}: {exc}")
        return EXIT_FAILED
    if args.format == "parquet":
        pq.write_table(table, args.out or sys.stdout.buffer, compression="zstd")
        if not args.out:
            sys.stdout.buffer.flush()
        return 0
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    try:
        if args.format == "csv":
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


def cmd_stats(args: argparse.Namespace) -> int:
    try:
        storage = open_output(args.uri)
        if storage is None:
            return EXIT_FAILED
        rows = stats(
            storage,
            since=args.since,
            until=args.until,
        )
    except Exception as exc:  # noqa: BLE001
        err(f"cannot read: {exc}")
        return EXIT_FAILED
    print(f"{'day':<12} {'source':<28} {'stories':>8} {'duplicates':>10}")
    for row in rows:
        print(f"{row.dt:<12} {row.source:<28} {row.stories:>8} {row.duplicates:>10}")
    print(
        f"{'total':<12} {'':<28} {sum(r.stories for r in rows):>8} "
        f"{sum(r.duplicates for r in rows):>10}"
    )
    return 0
