"""Archives as a source: WARC files (Common Crawl's CC-NEWS, other crawlers', this pipeline's
own ``raw/``) read as a stream and fed to the same cleaning, dedup and publishing as a crawl.

An archive is named by a local path, a glob, an ``s3://`` URL (a glob in its key too), an
``http(s)://`` URL, or a paths listing (``warc.paths.gz``: one WARC path a line, relative to
a base URL). Each archive is read forward once, in bounded memory (records over the page cap
are skipped unread), its pages written to files that the cleaning takes as they fill.

Each page's source is its host, or the seeds file's source whose URLs are on that host (which
then gives its name and priority; ``only_seeded`` skips the other hosts). Archives go through
in runs of a few (``archives_per_run``), each run publishing and committing state like a
crawl, the archives it read in full recorded in the state (``archives.json.gz``): a run that
dies is resumed at the first archive not recorded, and a recorded archive is not read again
into the same output root.
"""

from __future__ import annotations

import fnmatch
import glob
import gzip
import io
import json
import os
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

from crawlers.archive import ArchiveReadError, read_archive
from crawlers.seeds import Source
from crawlers.settings import USER_AGENT
from flows import stages
from flows.config import PipelineSettings
from flows.lake import manifest_key
from flows.runlog import run_logger
from flows.state import STATE_ARCHIVES, dump_archives, load_archives
from flows.storage import StorageError, open_storage

LISTING_SUFFIXES = (".paths.gz", ".paths")
GLOB_CHARS = "*?["
PAGES_PER_FILE = 1000  # pages of an archive handed to the cleaning at a time
S3_READ_BUFFER = 8 * 1024 * 1024  # one ranged GET per this many bytes of an S3 archive
HTTP_TIMEOUT = 60.0
HTTP_READ_BUFFER = 1024 * 1024
MAX_LISTING_BYTES = 64 * 1024 * 1024  # a paths listing, decompressed
ARCHIVES_PER_RUN = 4  # default; NEWSDEDUP_ARCHIVES_PER_RUN or --archives-per-run


class ArchiveInputError(ValueError):
    """An archive argument that names nothing (no such file, a glob matching nothing, a paths
    listing that cannot be read): bad input, refused before a run starts."""


def _is_url(text: str) -> bool:
    return text.startswith(("s3://", "http://", "https://"))


def _is_listing(text: str) -> bool:
    name = text.rstrip("/").rsplit("/", 1)[-1]
    return name.endswith(LISTING_SUFFIXES)


def _s3_parts(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b.warc.gz`` -> (``s3://bucket/a``, ``b.warc.gz``)."""
    rest = uri[len("s3://") :]
    bucket, _, key = rest.partition("/")
    if not bucket or not key:
        raise ArchiveInputError(f"{uri}: an s3:// archive names a bucket and a key")
    folder, _, name = key.rpartition("/")
    return (f"s3://{bucket}/{folder}" if folder else f"s3://{bucket}"), name


def _s3_glob(pattern: str) -> list[str]:
    root, name_pattern = _s3_parts(pattern)
    if any(c in root for c in GLOB_CHARS):
        raise ArchiveInputError(f"{pattern}: only the file name of an s3:// archive may be a glob")
    storage = open_storage(root)
    literal = name_pattern[: min(name_pattern.find(c) for c in GLOB_CHARS if c in name_pattern)]
    try:
        names = [i.key for i in storage.list_info(literal) if "/" not in i.key]
    except StorageError as exc:
        raise ArchiveInputError(f"{pattern}: cannot list: {exc}") from None
    return [f"{root}/{n}" for n in sorted(names) if fnmatch.fnmatchcase(n, name_pattern)]


def read_listing(uri: str, base: str | None) -> list[str]:
    """The archives a paths listing names: each line a path relative to ``base`` (default: the
    listing's own folder), or a URL. A line that starts with ``/`` is a path on the base's
    server when the base is a URL (so a listing fetched from the web never names a local
    file), a local path otherwise; other schemes (``file://``) are refused."""
    try:
        with open_archive(uri) as fh:
            raw = fh.read(MAX_LISTING_BYTES + 1)
        if raw[:2] == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as gz:
                raw = gz.read(MAX_LISTING_BYTES + 1)
        if len(raw) > MAX_LISTING_BYTES:
            raise ArchiveInputError(f"paths listing {uri}: over {MAX_LISTING_BYTES} bytes")
        text = raw.decode("utf-8")
    except ArchiveInputError:
        raise
    except (OSError, EOFError, UnicodeDecodeError, StorageError, ValueError) as exc:
        raise ArchiveInputError(f"paths listing {uri} cannot be read: {exc}") from None
    if base is None:
        base = uri.rsplit("/", 1)[0] + "/" if "/" in uri else ""
    elif not base.endswith("/"):
        base += "/"
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        path = line.strip()
        if not path or path.startswith("#"):
            continue
        if _is_url(path):
            out.append(path)
        elif "://" in path:
            raise ArchiveInputError(
                f"paths listing {uri}, line {number}: unsupported scheme in {path[:80]!r}"
            )
        elif path.startswith("/") and not _is_url(base):
            out.append(path)  # a local listing (or base) may name local files
        elif base.startswith("s3://"):
            out.append(base + path.lstrip("/"))  # urljoin knows no s3 scheme
        elif _is_url(base):
            out.append(urljoin(base, path))
        elif base or not path.startswith("."):
            out.append(str(Path(base or ".", path).resolve()))
        else:
            raise ArchiveInputError(f"paths listing {uri}, line {number}: no base for {path!r}")
    if not out:
        raise ArchiveInputError(f"paths listing {uri} names no archive")
    return out


def resolve_archives(specs: list[str], base: str | None = None) -> list[str]:
    """Every archive the arguments name, in order, each once: local files as absolute paths,
    URLs as given. Raises :class:`ArchiveInputError` for an argument that names nothing."""
    found: list[str] = []
    for spec in specs:
        spec = spec.strip()
        if not spec:
            raise ArchiveInputError("an empty --warc argument")
        if spec.startswith("file://"):
            spec = spec[len("file://") :]
        if _is_listing(spec):
            found += read_listing(spec if _is_url(spec) else str(Path(spec).resolve()), base)
        elif spec.startswith("s3://"):
            if any(c in spec for c in GLOB_CHARS):
                matched = _s3_glob(spec)
                if not matched:
                    raise ArchiveInputError(f"{spec}: no archive matches")
                found += matched
            else:
                _s3_parts(spec)
                found.append(spec)
        elif _is_url(spec):
            found.append(spec)
        elif "://" in spec:
            raise ArchiveInputError(
                f"{spec}: unsupported scheme (a path, a glob, s3://, http:// or https://)"
            )
        elif any(c in spec for c in GLOB_CHARS):
            matched = sorted(p for p in glob.glob(spec) if Path(p).is_file())
            if not matched:
                raise ArchiveInputError(f"{spec}: no file matches")
            found += [str(Path(p).resolve()) for p in matched]
        else:
            path = Path(spec)
            if path.is_dir():
                raise ArchiveInputError(
                    f"{spec} is a folder: name its files, e.g. {spec}/*.warc.gz"
                )
            if not path.is_file():
                raise ArchiveInputError(f"{spec}: no such file")
            found.append(str(path.resolve()))
    return list(dict.fromkeys(found))


@contextmanager
def open_archive(uri: str, user_agent: str | None = None) -> Iterator[IO[bytes]]:
    """A forward-only binary stream over the archive: a local file, an S3 object read by
    ranged GETs of 8 MB, or an HTTP response body; never the whole object in memory."""
    if uri.startswith("s3://"):
        root, name = _s3_parts(uri)
        storage = open_storage(root)
        size = next((i.size for i in storage.list_info(name) if i.key == name), None)
        if size is None:
            raise FileNotFoundError(f"no such object: {uri}")
        raw = storage.open_ranged(name, size)
        stream = io.BufferedReader(raw, buffer_size=S3_READ_BUFFER)  # type: ignore[arg-type,type-var]
        try:
            yield stream
        finally:
            stream.close()
    elif uri.startswith(("http://", "https://")):
        request = urllib.request.Request(uri, headers={"User-Agent": user_agent or USER_AGENT})
        try:
            response = urllib.request.urlopen(request, timeout=HTTP_TIMEOUT)  # noqa: S310
        except urllib.error.HTTPError as exc:
            raise OSError(f"HTTP {exc.code} {exc.reason} for {uri}") from None
        except urllib.error.URLError as exc:
            raise OSError(f"cannot reach {uri}: {exc.reason}") from None
        try:
            yield io.BufferedReader(response, buffer_size=HTTP_READ_BUFFER)  # type: ignore[arg-type]
        finally:
            response.close()
    else:
        with open(uri, "rb") as fh:
            yield fh


# -- hosts and sources ------------------------------------------------------------------------


def _host_key(netloc: str) -> str:
    netloc = netloc.lower().rsplit("@", 1)[-1]
    return netloc[4:] if netloc.startswith("www.") else netloc


@dataclass
class SourceMap:
    """Which source a page's host belongs to: the seeds file's source declaring a URL on that
    host, else the host itself (None with ``only_seeded``)."""

    seeded: tuple[Source, ...] = ()
    only_seeded: bool = False
    _by_host: dict[str, str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for source in self.seeded:
            for netloc in source.domains:
                self._by_host.setdefault(_host_key(netloc), source.name)

    def __call__(self, url: str) -> str | None:
        netloc = urlsplit(url).netloc
        if not netloc:
            return None
        key = _host_key(netloc)
        name = self._by_host.get(key)
        if name is None and ":" in key:
            name = self._by_host.get(key.rsplit(":", 1)[0])
        if name is not None or self.only_seeded:
            return name
        return netloc.lower().rsplit("@", 1)[-1]

    def to_dict(self) -> dict[str, Any]:
        return {"seeded": [s.name for s in self.seeded], "only_seeded": self.only_seeded}


# -- reading archives into pages --------------------------------------------------------------


def _validator(page: Any) -> dict[str, Any]:
    return {
        "kind": "article",
        "etag": page.headers.get("ETag"),
        "last_modified": page.headers.get("Last-Modified"),
        "date": None,
    }


def read_archives(
    archives: list[str],
    source_for: SourceMap,
    seen: dict[str, dict[str, Any]],
    work_dir: Path,
    feed: stages.PageFeed | None,
    *,
    max_record_bytes: int,
    user_agent: str | None = None,
    on_archive: Any = None,
) -> tuple[list[stages.CrawlOutcome], list[dict[str, Any]]]:
    """Read the archives one after another into page files of up to ``PAGES_PER_FILE`` pages
    (put on ``feed`` as each fills); a page whose URL ``seen`` already holds as an article is
    skipped (``seen``). Returns an outcome per source (pages, validators) and a report per
    archive: status ``ok`` or ``failed`` with the error, records read, pages, skips by reason.
    An archive that fails keeps the pages read before the failure."""
    log = run_logger()
    per_source: dict[str, Counter[str]] = {}
    validators: dict[str, dict[str, dict[str, Any]]] = {}
    reports: list[dict[str, Any]] = []
    emitted: set[str] = set()  # URLs of this read: an archive may hold a page twice
    files = 0
    for uri in archives:
        started = time.monotonic()
        entry: dict[str, Any] = {"archive": uri, "status": "ok", "records": 0, "pages": 0}
        skipped: Counter[str] = Counter()
        out: Any = None
        in_file = 0

        def close_file() -> None:
            nonlocal out, in_file
            if out is not None:
                out.close()
                if feed is not None:
                    feed.put(out.name)
                out, in_file = None, 0

        try:
            with open_archive(uri, user_agent) as fh:
                for record in read_archive(
                    fh, source_for=source_for, max_record_bytes=max_record_bytes
                ):
                    entry["records"] += 1
                    if record.skipped:
                        skipped[record.skipped] += 1
                        continue
                    page = record.page
                    assert page is not None
                    if (seen.get(page.url) or {}).get("kind") == "article":
                        skipped["seen"] += 1  # this root already published (or judged) it
                        continue
                    if page.url in emitted:
                        skipped["repeat"] += 1  # fetched again in the same archives
                        continue
                    emitted.add(page.url)
                    if out is None:
                        files += 1
                        out = gzip.open(
                            work_dir / f"pages-{files:06d}.jsonl.gz",
                            "wt",
                            encoding="utf-8",
                            compresslevel=1,
                        )
                    out.write(json.dumps(page.to_dict(), ensure_ascii=False) + "\n")
                    in_file += 1
                    entry["pages"] += 1
                    per_source.setdefault(page.source, Counter())["articles"] += 1
                    own = validators.setdefault(page.source, {})
                    own[page.url] = own[page.final_url] = _validator(page)
                    if in_file >= PAGES_PER_FILE:
                        close_file()
        except ArchiveReadError as exc:
            entry.update(status="failed", error=f"{uri}: {exc}")
        except (OSError, StorageError) as exc:
            entry.update(status="failed", error=f"{uri}: cannot read: {exc}")
        except Exception as exc:  # noqa: BLE001 - one bad archive must not stop the others
            entry.update(status="failed", error=f"{uri}: {type(exc).__name__}: {exc}")
        finally:
            close_file()
        entry["skipped"] = dict(sorted(skipped.items()))
        entry["seconds"] = round(time.monotonic() - started, 3)
        if entry["status"] == "ok":
            log.info(
                "archive %s: %d records, %d pages, skipped %s",
                uri,
                entry["records"],
                entry["pages"],
                entry["skipped"] or "none",
            )
        else:
            log.error(
                "archive failed: %s (%d pages before it kept)", entry["error"], entry["pages"]
            )
        reports.append(entry)
        if on_archive is not None:
            on_archive(entry)
    outcomes = [
        stages.CrawlOutcome(
            source=name,
            ok=True,
            pages_path=None,
            validators=validators.get(name, {}),
            stats={"articles": counts["articles"], "from_archive": True},
        )
        for name, counts in sorted(per_source.items())
    ]
    return outcomes, reports


def warcio_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("warcio")
    except metadata.PackageNotFoundError:
        return "?"


# -- the producer of an archive run -----------------------------------------------------------


def archives_per_run(value: int | None = None) -> int:
    if value is None:
        raw = os.environ.get("NEWSDEDUP_ARCHIVES_PER_RUN", "")
        try:
            value = int(raw) if raw else ARCHIVES_PER_RUN
        except ValueError:
            raise ValueError(f"NEWSDEDUP_ARCHIVES_PER_RUN={raw[:40]!r} is not a number") from None
    if value < 1:
        raise ValueError(f"archives per run must be at least 1, not {value}")
    return value


class NothingLeft(Exception):
    """Every archive of the run is recorded as read into this output root already."""


class ArchiveProducer:
    """The page producer of one archive run (see ``produce`` in :mod:`flows.pipeline`): it
    takes the first ``per_run`` archives the state does not record, reads and cleans them.

    The pipeline calls :meth:`start` with the loaded state before producing, and takes
    :attr:`report` (the manifest's ``archives``) and :meth:`state_blob` (the archives read in
    full, for the state commit) after."""

    def __init__(
        self, archives: list[str], source_map: SourceMap, per_run: int, skip: Any = ()
    ) -> None:
        self.archives = archives
        self.skip = set(skip)  # failed earlier in this invocation: not tried again now
        self.source_map = source_map
        self.per_run = per_run
        self.done: dict[str, dict[str, Any]] = {}
        self.batch: list[str] = []
        self.report: list[dict[str, Any]] = []
        self.lock: Any = None

    def start(
        self, blobs: dict[str, bytes], storage: Any, recovered: list[str], lock: Any = None
    ) -> None:
        self.lock = lock
        self.done = load_archives(blobs.get(STATE_ARCHIVES))
        # Runs replayed from their manifests (published, state not committed) read theirs.
        for run_id in recovered:
            try:
                manifest = json.loads(storage.get(manifest_key(run_id)))
            except (StorageError, ValueError):
                continue
            for entry in (manifest.get("extra") or {}).get("archives") or []:
                if entry.get("status") == "ok":
                    self.done.setdefault(entry["archive"], {"run_id": run_id})
        left = self.remaining()
        if not left:
            raise NothingLeft(
                f"all {len(self.archives)} archives named were read into {storage.uri} already"
            )
        self.batch = left[: self.per_run]

    def remaining(self) -> list[str]:
        read = {e["archive"] for e in self.report if e["status"] == "ok"}
        return [a for a in self.archives if a not in self.done and a not in self.skip | read]

    def state_blob(self, run_id: str) -> bytes:
        done = dict(self.done)
        for entry in self.report:
            if entry["status"] == "ok":
                done[entry["archive"]] = {
                    "run_id": run_id,
                    "records": entry["records"],
                    "pages": entry["pages"],
                }
        return dump_archives(done)

    @property
    def failed(self) -> dict[str, str]:
        return {e["archive"]: e.get("error", "") for e in self.report if e["status"] != "ok"}

    def manifest_extra(self) -> dict[str, Any]:
        return {
            "archives": self.report,
            "archive_reader": {
                "warcio": warcio_version(),
                "max_record_bytes": self._max_bytes,
                "sources": self.source_map.to_dict(),
            },
        }

    _max_bytes = 0

    def __call__(
        self,
        seeds: str,
        chosen: tuple[Source, ...],
        settings: PipelineSettings,
        seen: dict[str, dict[str, Any]],
        templates: Any,
        storage: Any,
        run_id: str,
    ) -> tuple[list[stages.CrawlOutcome], stages.CleanOutcome]:
        self._max_bytes = settings.extract_max_bytes
        if settings.shards > 1 and len(self.batch) > 1:
            from flows.shards import run_archive_shards  # flows.shards imports this module

            outcomes, cleaned, self.report = run_archive_shards(
                storage, run_id, seeds, self.batch, self.source_map, settings, seen, templates
            )
            return outcomes, cleaned
        outcomes, cleaned, self.report = produce_archives(
            self.batch,
            self.source_map,
            chosen,
            settings,
            seen,
            templates,
            on_archive=lambda _entry: self.lock.refresh() if self.lock is not None else None,
        )
        return outcomes, cleaned


def produce_archives(
    batch: list[str],
    source_map: SourceMap,
    chosen: tuple[Source, ...] | list[Source],
    settings: PipelineSettings,
    seen: dict[str, dict[str, Any]],
    templates: Any,
    on_archive: Any = None,
) -> tuple[list[stages.CrawlOutcome], stages.CleanOutcome, list[dict[str, Any]]]:
    """Read ``batch`` and clean its pages as they come (the cleaning runs beside the reading)."""
    import shutil
    import tempfile

    from flows.tasks import clean_task, quote  # Prefect: only in a run, after its API is set

    work_dir = Path(tempfile.mkdtemp(prefix="newsdedup-archive-"))
    feed = stages.PageFeed()
    cleaning = clean_task.submit(feed, {s.name: s for s in chosen}, quote(templates), settings)
    try:
        try:
            outcomes, report = read_archives(
                batch,
                source_map,
                seen,
                work_dir,
                feed,
                max_record_bytes=settings.extract_max_bytes,
                user_agent=settings.user_agent,
                on_archive=on_archive,
            )
        finally:
            feed.close()
        cleaned = cleaning.result()
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return outcomes, cleaned, report
