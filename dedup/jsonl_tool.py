"""``newsdedup dedup --input FILE.jsonl [--output FILE.jsonl] [--state PATH]``.

Reads JSON lines ``{"id", "text"}`` (optional ``published_at`` ISO-8601,
``credited_source``, ``outlet``, ``priority``; ``.gz`` accepted) and writes one line per
input document, in input order: ``{"id", "cluster_id", "duplicate_of", "similarity"}``.
Without ``--state`` nothing is kept between calls; with it, the index saved at PATH is
loaded first (if present) and saved back after the decisions are written.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from dedup.index import IndexConfigError, ReprintIndex
from dedup.model import Document


class InputError(Exception):
    pass


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def _parse_time(value: object, where: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InputError(f"{where}: published_at must be an ISO-8601 string")
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"{where}: bad published_at {value!r}") from exc
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def read_documents(path: Path) -> list[Document]:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    docs = []
    try:
        with _open_text(path) as fh:
            for n, line in enumerate(fh, start=1):
                where = f"{path}:{n}"
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{where}: invalid JSON ({exc.msg})") from exc
                if not isinstance(obj, dict):
                    raise InputError(f"{where}: expected a JSON object")
                for key in ("id", "text"):
                    if not isinstance(obj.get(key), str):
                        raise InputError(f"{where}: missing or non-string {key!r}")
                outlet = obj.get("outlet")
                priority = obj.get("priority", 0)
                if not isinstance(priority, int):
                    raise InputError(f"{where}: priority must be an integer")
                docs.append(
                    Document(
                        id=obj["id"],
                        text=obj["text"],
                        published_at=_parse_time(obj.get("published_at"), where),
                        source_priority=priority,
                        credited_source=obj.get("credited_source") or None,
                        outlet_names=(outlet,) if isinstance(outlet, str) and outlet else (),
                    )
                )
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from exc
    return docs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="newsdedup dedup", description="Mark reprints in a JSON-lines file."
    )
    parser.add_argument("--input", required=True, type=Path)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--state", type=Path, help="load and save the reprint index here")
    args = parser.parse_args(argv)
    try:
        docs = read_documents(args.input)
        if args.state is not None and args.state.exists():
            index = ReprintIndex.from_bytes(args.state.read_bytes())
        else:
            index = ReprintIndex()
    except InputError as exc:
        print(f"newsdedup dedup: {exc}", file=sys.stderr)
        return 2
    except (IndexConfigError, OSError) as exc:
        print(f"newsdedup dedup: {args.state}: {exc}", file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    if args.state is not None:
        index.expire(now)
    decisions = index.dedup(docs, now)
    lines = "".join(
        json.dumps(
            {
                "id": d.id,
                "cluster_id": d.cluster_id,
                "duplicate_of": d.duplicate_of,
                "similarity": d.similarity,
            }
        )
        + "\n"
        for d in decisions
    )
    if args.output is None:
        sys.stdout.write(lines)
    else:
        args.output.write_text(lines, encoding="utf-8")
    if args.state is not None:
        # Decisions are written first, state last; replace atomically.
        index.commit()
        tmp = args.state.with_name(args.state.name + ".tmp")
        tmp.write_bytes(index.to_bytes())
        os.replace(tmp, args.state)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
