"""The archive benchmark's baseline: warcio and trafilatura alone over a WARC file.

    python bench/_archive_baseline.py WARC --out result.json [--workers N]

Reads the response records with warcio's ``ArchiveIterator`` in this process, extracts each
HTML page with ``trafilatura.extract`` (default options) in a pool of ``--workers`` processes
(spawned, one per core by default), and drops exact duplicates by a hash of the text: what a script
built on those two libraries does, without cleaning rules, near-duplicate dedup or output.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
from collections.abc import Iterator
from pathlib import Path


def records(path: str) -> Iterator[tuple[str, bytes]]:
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as fh:
        for record in ArchiveIterator(fh):
            if record.rec_type != "response" or record.http_headers is None:
                continue
            if record.http_headers.get_statuscode() != "200":
                continue
            ctype = record.http_headers.get_header("Content-Type") or ""
            if "html" not in ctype:
                continue
            url = record.rec_headers.get_header("WARC-Target-URI")
            yield url, record.content_stream().read()


def extract(item: tuple[str, bytes]) -> tuple[str, str | None]:
    import trafilatura

    url, body = item
    text = trafilatura.extract(body.decode("utf-8", "replace"), url=url)
    return url, hashlib.sha1(text.encode()).hexdigest() if text else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warc")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    pages: dict[str, str | None] = {}
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        for url, digest in pool.imap(extract, records(args.warc), chunksize=16):
            pages[url] = digest
    digests = [d for d in pages.values() if d]
    args.out.write_text(
        json.dumps({"pages": pages, "records": len(pages),
                    "duplicates": len(digests) - len(set(digests))})
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
