"""Archives as a source (``newsdedup run --warc``): WARC files written here with warcio from the
demo network's pages, read from a local file, from SeaweedFS over s3:// and through a paths
listing served over local HTTP, against a live crawl of the same pages."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import threading
import urllib.request
import uuid
from datetime import UTC, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawlers.archive import ArchiveReadError, read_archive
from crawlers.seeds import Source
from flows.archive_source import (
    ArchiveInputError,
    SourceMap,
    read_archives,
    resolve_archives,
)
from flows.demo import DemoNetwork
from flows.read import read_table
from flows.storage import open_storage

WARC_DATE = "2024-03-05T10:20:30Z"
HTML = [("Content-Type", "text/html; charset=utf-8")]


# -- writing test archives with warcio ---------------------------------------------------------


def warc_bytes(records: list[Any], date: str = WARC_DATE, gz: bool = True) -> bytes:
    """A WARC of response records ``(url, status, headers, body)``; other entries are
    ``("revisit", url)`` or ``("request", url)`` records."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=gz)
    writer.write_record(writer.create_warcinfo_record("test.warc.gz", {"software": "tests"}))
    for rec in records:
        if rec[0] in ("revisit", "request"):
            http = StatusAndHeaders(
                "GET / HTTP/1.1" if rec[0] == "request" else "200 OK",
                [], protocol="HTTP/1.1", is_http_request=rec[0] == "request",
            )
            record = writer.create_warc_record(
                rec[1], rec[0], http_headers=http, warc_headers_dict={"WARC-Date": date}
            )
            writer.write_record(record)
            continue
        url, status, headers, body = rec
        http = StatusAndHeaders(f"{status} X", list(headers), protocol="HTTP/1.1")
        writer.write_record(
            writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), length=len(body),
                http_headers=http, warc_headers_dict={"WARC-Date": date},
            )
        )
    return out.getvalue()


def page_html(words: int = 200) -> bytes:
    text = " ".join(f"word{i}" for i in range(words))
    return f"<html><head><title>T</title></head><body><p>{text}</p></body></html>".encode()


# -- reading: bounds, skips and damage (no pipeline) --------------------------------------------


def test_reader_skips_what_is_no_page_and_says_why():
    data = warc_bytes(
        [
            ("http://a.example/story-one", 200, HTML, page_html()),
            ("request", "http://a.example/story-one"),
            ("http://a.example/missing", 404, HTML, b"<html>gone</html>"),
            ("http://a.example/logo.png", 200, [("Content-Type", "image/png")], b"\x89PNG"),
            ("revisit", "http://a.example/story-two"),
            ("http://a.example/huge", 200, HTML, b"<html>" + b"x" * 70_000 + b"</html>"),
            ("http://b.example/story-three", 200, HTML, page_html()),
        ]
    )
    got = list(read_archive(io.BytesIO(data), max_record_bytes=64_000))
    pages = [r.page for r in got if r.page]
    assert [p.url for p in pages] == ["http://a.example/story-one", "http://b.example/story-three"]
    assert [p.source for p in pages] == ["a.example", "b.example"]  # the host, no seeds
    assert {p.fetched_at for p in pages} == {datetime(2024, 3, 5, 10, 20, 30, tzinfo=UTC)}
    assert sorted(r.skipped for r in got if r.skipped) == [
        "http_status", "not_html", "revisit", "too_large"
    ]


def test_warc_truncated_header_and_short_records_are_skipped_as_truncated():
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=False)
    body = page_html()
    http = StatusAndHeaders("200 OK", HTML, protocol="HTTP/1.1")
    record = writer.create_warc_record(
        "http://a.example/cut", "response", payload=io.BytesIO(body), length=len(body),
        http_headers=http, warc_headers_dict={"WARC-Truncated": "length"},
    )
    writer.write_record(record)
    got = list(read_archive(io.BytesIO(out.getvalue())))
    assert [(r.skipped, r.url) for r in got] == [("truncated", "http://a.example/cut")]


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda d: d[: len(d) - 40], "ends inside a gzip member"),
        (lambda d: b"this is a text file, no archive\n" * 20, "not a readable WARC file"),
        (lambda d: gzip.compress(b"GIF89a" + bytes(range(256)) * 40), "not a readable WARC"),
        (lambda d: b"", "no WARC record"),
    ],
    ids=["cut-gzip", "text", "gzip-not-warc", "empty"],
)
def test_damaged_archives_raise_a_clear_error_after_the_records_before(damage, expected):
    good = warc_bytes([(f"http://a.example/s{i}", 200, HTML, page_html()) for i in range(5)])
    pages = []
    with pytest.raises(ArchiveReadError, match=expected) as caught:
        for record in read_archive(io.BytesIO(damage(good))):
            if record.page:
                pages.append(record.page)
    assert "\x00" not in str(caught.value)
    if expected.startswith("ends inside"):
        assert 1 <= len(pages) < 5  # what came before the damage was read


def test_corrupt_gzip_member_fails_with_the_offset():
    good = warc_bytes([(f"http://a.example/s{i}", 200, HTML, page_html()) for i in range(5)])
    bad = bytearray(good)
    middle = len(bad) // 2
    bad[middle : middle + 8] = b"\xff" * 8
    with pytest.raises(ArchiveReadError, match=r"at byte \d+"):
        list(read_archive(io.BytesIO(bytes(bad))))


def test_sources_by_host_from_the_seeds_and_only_seeded():
    wire = Source(name="wire", feeds=("https://www.wire.example/feed.xml",), priority=5)
    assert SourceMap((wire,))("https://wire.example/2024/story") == "wire"
    assert SourceMap((wire,))("https://www.wire.example/story") == "wire"
    assert SourceMap((wire,))("https://Other.example:8080/x") == "other.example:8080"
    assert SourceMap((wire,), only_seeded=True)("https://other.example/x") is None


def test_bad_archive_arguments_are_refused_naming_them(tmp_path):
    (tmp_path / "a.warc.gz").write_bytes(warc_bytes([]))
    assert resolve_archives([str(tmp_path / "*.warc.gz")]) == [str(tmp_path / "a.warc.gz")]
    for spec, message in [
        (str(tmp_path / "nope.warc.gz"), "no such file"),
        (str(tmp_path / "*.arc"), "no file matches"),
        (str(tmp_path), "is a folder"),
        ("ftp://host/x.warc.gz", "unsupported scheme"),
        (str(tmp_path / "missing.paths.gz"), "cannot be read"),
    ]:
        with pytest.raises(ArchiveInputError, match=message):
            resolve_archives([spec])


def test_unreachable_and_bad_archives_fail_alone_and_the_others_are_read(tmp_path):
    good = tmp_path / "good.warc.gz"
    good.write_bytes(warc_bytes([("http://a.example/story", 200, HTML, page_html())]))
    text = tmp_path / "notes.warc.gz"
    text.write_bytes(b"not an archive at all\n" * 10)
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/x.warc.gz"
    outcomes, report = read_archives(
        [closed, str(text), str(good)], SourceMap(), {}, tmp_path, None, max_record_bytes=10**6
    )
    status = {r["archive"]: (r["status"], r.get("error", "")) for r in report}
    assert status[str(good)] == ("ok", "")
    assert status[closed][0] == "failed" and "cannot reach" in status[closed][1]
    assert status[str(text)][0] == "failed" and "not a readable WARC" in status[str(text)][1]
    assert [(o.source, o.stats["articles"]) for o in outcomes] == [("a.example", 1)]
    assert "http://a.example/story" in outcomes[0].validators


# -- end to end: the CLI against a live crawl of the same pages ----------------------------------


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        capture_output=True, text=True, env={**os.environ, **env}, cwd=cwd, timeout=300,
    )


def decisions(root: str, table: str) -> list[tuple[Any, ...]]:
    rows = read_table(root, table=table).to_pylist()
    return sorted((r["article_id"], r["url"], r.get("duplicate_of"), r["text"]) for r in rows)


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def network_archive(tmp_path_factory, prefect_server):
    """The demo network (originals and reprints), a WARC of its article pages written with
    warcio, its seeds file, and a live crawl of it published into ``crawl/``."""
    base = tmp_path_factory.mktemp("archive-source")
    with DemoNetwork(ports=None) as net:
        seeds = net.write_seeds(base / "seeds.yaml")
        records = []
        for url in net.truth.article_urls:
            with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - loopback
                records.append((url, resp.status, list(resp.headers.items()), resp.read()))
        # The pages as a crawler archived them, with what else such archives hold.
        records.append(("revisit", net.truth.article_urls[0]))
        records.append((net.truth.originals[0].rstrip("/") + "-gone", 404, HTML,
                        b"<html>gone</html>"))
        (base / "demo.warc.gz").write_bytes(warc_bytes(records))
        crawl = cli(
            ["run", "--seeds", str(seeds), "--output", str(base / "crawl"), "--allow-private"],
            prefect_server.env(), base,
        )
        assert crawl.returncode == 0, crawl.stderr[-3000:]
    return {"base": base, "seeds": seeds, "warc": base / "demo.warc.gz", "records": records,
            "originals": set(net.truth.originals), "env": prefect_server.env()}


def split_by_role(na: dict[str, Any], directory: Path) -> tuple[Path, Path]:
    """The network's pages as two archives: the originals' sites, then the aggregators'."""
    pages = [r for r in na["records"] if r[0] != "revisit" and r[1] == 200]
    originals = directory / "originals.warc.gz"
    reprints = directory / "aggregators.warc.gz"
    originals.write_bytes(warc_bytes([r for r in pages if r[0] in na["originals"]]))
    reprints.write_bytes(warc_bytes([r for r in pages if r[0] not in na["originals"]]))
    return originals, reprints


def state_archives(root: Path) -> dict[str, Any]:
    """The archives the root's current state records as read."""
    from flows.state import STATE_ARCHIVES, StateStore, load_archives

    return load_archives(StateStore(open_storage(str(root))).load().get(STATE_ARCHIVES))


@pytest.mark.slow
def test_local_archive_publishes_what_the_crawl_did_and_a_second_run_nothing(network_archive):
    na = network_archive
    base, out = na["base"], na["base"] / "local"
    run = cli(["run", "--warc", str(na["warc"]), "--seeds", str(na["seeds"]),
               "--output", str(out)], na["env"], base)
    assert run.returncode == 0, run.stderr[-3000:]
    crawl = str(base / "crawl")
    assert decisions(str(out), "articles") == decisions(crawl, "articles")
    assert decisions(str(out), "duplicates") == decisions(crawl, "duplicates")
    assert len(decisions(crawl, "duplicates")) >= 10  # the reprints are there
    fetched = read_table(str(out), table="articles").column("fetched_at").to_pylist()
    assert {f.astimezone(UTC) for f in fetched} == {datetime(2024, 3, 5, 10, 20, 30, tzinfo=UTC)}
    manifest = json.loads(next((out / "runs").glob("*.json")).read_text())
    (entry,) = manifest["extra"]["archives"]
    pages = len(na["records"]) - 2
    assert entry["archive"] == str(na["warc"]) and entry["status"] == "ok"
    assert (entry["records"], entry["pages"]) == (pages + 2, pages)
    assert entry["skipped"] == {"http_status": 1, "revisit": 1}
    assert manifest["extra"]["archive_reader"]["warcio"]
    before = files_under(out)
    again = cli(["run", "--warc", str(na["warc"]), "--output", str(out)], na["env"], base)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "nothing to do" in again.stdout
    assert files_under(out) - before == set()
    # Another kind of run into the root (here a re-extraction with nothing to re-extract)
    # commits a new state version that still records the archive.
    other = cli(["reextract", "--seeds", str(na["seeds"]), "--since", "2000-01-01",
                 "--output", str(out)], na["env"], base)
    assert other.returncode == 0, other.stderr[-3000:]
    assert len(list((out / "runs").glob("*.json"))) == 2
    assert list(state_archives(out)) == [str(na["warc"])]


@pytest.mark.slow
def test_archives_on_s3_and_through_a_paths_listing_over_http(network_archive, s3_env, s3_prefix):
    """The originals' sites from SeaweedFS (a glob), the aggregators' through a warc.paths.gz
    served over HTTP, in one run: what the crawl published."""
    na = network_archive
    base = na["base"]
    originals, aggregators = split_by_role(na, base)
    open_storage(s3_prefix).put("cc/originals.warc.gz", originals.read_bytes())
    served = base / "served"
    (served / "crawl-data" / "NEWS").mkdir(parents=True)
    (served / "crawl-data" / "NEWS" / "agg.warc.gz").write_bytes(aggregators.read_bytes())
    (served / "warc.paths.gz").write_bytes(gzip.compress(b"crawl-data/NEWS/agg.warc.gz\n"))
    handler = partial(SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    out = base / "from-s3-and-http"
    try:
        run = cli(["run", "--warc", f"{s3_prefix}/cc/*.warc.gz", "--warc", f"{url}/warc.paths.gz",
                   "--warc-base", f"{url}/", "--seeds", str(na["seeds"]), "--output", str(out)],
                  na["env"], base)
        assert run.returncode == 0, run.stderr[-3000:]
    finally:
        server.shutdown()
        server.server_close()
    crawl = str(base / "crawl")
    assert decisions(str(out), "articles") == decisions(crawl, "articles")
    assert decisions(str(out), "duplicates") == decisions(crawl, "duplicates")
    manifest = json.loads(next((out / "runs").glob("*.json")).read_text())
    assert [(a["archive"], a["status"]) for a in manifest["extra"]["archives"]] == [
        (f"{s3_prefix}/cc/originals.warc.gz", "ok"), (f"{url}/crawl-data/NEWS/agg.warc.gz", "ok")
    ]


@pytest.mark.slow
def test_a_run_that_dies_resumes_and_a_truncated_archive_fails_alone(network_archive):
    """Three archives, one a run: killed after publishing the first, the next invocation reads
    the other two without the first again; the third, cut short, is reported, the rest
    published, exit 1; the state records the two whole archives only."""
    na = network_archive
    base, out = na["base"], na["base"] / "resumed"
    originals, aggregators = split_by_role(na, base)
    cut = base / "cut.warc.gz"
    data = originals.read_bytes()
    cut.write_bytes(data[: len(data) - 300])  # a download that stopped inside the last record
    args = ["run", "--warc", str(originals), "--warc", str(aggregators), "--warc", str(cut),
            "--seeds", str(na["seeds"]), "--output", str(out), "--archives-per-run", "1"]
    died = cli(args, {**na["env"], "NEWSDEDUP_CRASH_AT": "after-manifest"}, base)
    assert died.returncode == 70, died.stderr[-2000:]  # published run 1, no state commit
    assert len(list((out / "runs").glob("*.json"))) == 1
    resumed = cli(args, na["env"], base)
    assert resumed.returncode == 1, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert f"archive failed: {cut}: the file ends inside a gzip member" in resumed.stderr
    manifests = sorted((json.loads(p.read_text()) for p in (out / "runs").glob("*.json")),
                       key=lambda m: m["run_id"])
    read = [[(a["archive"], a["status"]) for a in m["extra"]["archives"]] for m in manifests]
    assert read == [[(str(originals), "ok")], [(str(aggregators), "ok")], [(str(cut), "failed")]]
    (failed,) = manifests[2]["extra"]["archives"]
    assert "gzip member" in failed["error"] and failed["skipped"].get("seen", 0) >= 1
    crawl = str(base / "crawl")
    assert decisions(str(out), "articles") == decisions(crawl, "articles")
    assert decisions(str(out), "duplicates") == decisions(crawl, "duplicates")
    assert sorted(state_archives(out)) == sorted([str(originals), str(aggregators)])


@pytest.mark.slow
def test_sharded_archive_run_on_two_workers_publishes_what_the_crawl_did(
    network_archive, s3_server, tmp_path, monkeypatch
):
    """NEWSDEDUP_SHARDS spreads a run's archives over the pool's workers (one per shard); the
    parent dedups and publishes once."""
    from tests.test_scale_out import DEPLOY, ROOT, _env

    na = network_archive
    originals, reprints = split_by_role(na, tmp_path)
    prefix = f"s3://{s3_server.bucket}/arch-{uuid.uuid4().hex[:6]}"
    for key, path in (("in/originals.warc.gz", originals), ("in/aggregators.warc.gz", reprints)):
        s3_server.client().put_object(
            Bucket=s3_server.bucket, Key=f"{prefix.split('/', 3)[3]}/{key}",
            Body=path.read_bytes(),
        )
    pool = f"arch-{uuid.uuid4().hex[:6]}"
    base = _env(na["env"], s3_server.env())
    prefect = str(Path(sys.executable).with_name("prefect"))
    subprocess.run([prefect, "work-pool", "create", pool, "--type", "process"], env=base,
                   check=True, capture_output=True, timeout=120)
    subprocess.run([sys.executable, "-c", DEPLOY, str(ROOT), "shard", pool], env=base,
                   check=True, capture_output=True, timeout=120, cwd=ROOT)
    workers = [
        subprocess.Popen(
            [prefect, "worker", "start", "--pool", pool, "--limit", "1", "--name", f"w{i}"],
            env={**base, "PREFECT_WORKER_QUERY_SECONDS": "1"}, cwd=tmp_path,
            stdout=open(tmp_path / f"worker{i}.log", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        for i in range(2)
    ]
    try:
        sharded = cli(["run", "--warc", f"{prefix}/in/*.warc.gz", "--seeds", str(na["seeds"]),
                       "--output", f"{prefix}/sharded"], {**base, "NEWSDEDUP_SHARDS": "2"},
                      tmp_path)
    finally:
        for w in workers:
            os.killpg(w.pid, 15)
        for w in workers:
            try:
                w.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, 9)
                w.wait()
    logs = "\n".join((tmp_path / f"worker{i}.log").read_text(errors="replace") for i in range(2))
    assert sharded.returncode == 0, sharded.stderr[-3000:] + logs[-2000:]
    assert "2 archives over 2 shards" in sharded.stderr + sharded.stdout
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    crawl = str(na["base"] / "crawl")
    for table in ("articles", "duplicates"):
        assert decisions(f"{prefix}/sharded", table) == decisions(crawl, table)
    (manifest_key,) = list(open_storage(f"{prefix}/sharded").list("runs/"))
    manifest = json.loads(open_storage(f"{prefix}/sharded").get(manifest_key))
    assert sorted(a["archive"] for a in manifest["extra"]["archives"]) == [
        f"{prefix}/in/aggregators.warc.gz", f"{prefix}/in/originals.warc.gz"
    ]


def test_a_paths_listing_joins_its_lines_to_the_base(tmp_path):
    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(gzip.compress(b"crawl-data/CC-NEWS/2026/11/a.warc.gz\n\n/abs/b.warc.gz\n"))
    assert resolve_archives([str(listing)], "s3://commoncrawl/") == [
        "s3://commoncrawl/crawl-data/CC-NEWS/2026/11/a.warc.gz", "s3://commoncrawl/abs/b.warc.gz"
    ]
    # A line starting with / is a path on the base's server, never a local file.
    assert resolve_archives([str(listing)], "https://data.commoncrawl.org") == [
        "https://data.commoncrawl.org/crawl-data/CC-NEWS/2026/11/a.warc.gz",
        "https://data.commoncrawl.org/abs/b.warc.gz",
    ]
    local = resolve_archives([str(listing)])  # default base: the listing's folder
    assert local == [str(tmp_path / "crawl-data/CC-NEWS/2026/11/a.warc.gz"), "/abs/b.warc.gz"]


def test_a_paths_listing_naming_another_scheme_is_refused(tmp_path):
    listing = tmp_path / "warc.paths"
    listing.write_text("a.warc.gz\nfile:///etc/passwd\n")
    with pytest.raises(ArchiveInputError, match=r"line 2: unsupported scheme"):
        resolve_archives([str(listing)], "https://data.commoncrawl.org/")


def test_run_refuses_bad_archive_arguments_before_any_work(tmp_path, capsys):
    from flows.cli import main

    out = tmp_path / "out"
    (tmp_path / "a.warc.gz").write_bytes(warc_bytes([]))
    for args, message in [
        (["--warc", str(tmp_path / "none.warc.gz")], "--warc: " + str(tmp_path / "none.warc.gz")),
        (["--warc", str(tmp_path / "a.warc.gz"), "--only-seeded"], "give --seeds"),
        (["--warc", str(tmp_path / "a.warc.gz"), "--archives-per-run", "0"], "at least 1"),
        ([], "--seeds (sources to crawl) or --warc"),
        (["--seeds", "x.yaml", "--warc-base", "https://h/"], "--warc-base goes with --warc"),
    ]:
        status = main(["run", *args, "--output", str(out)])
        stderr = capsys.readouterr().err
        assert status == 2, (args, stderr)
        assert message in stderr, (args, stderr)
    assert not out.exists()  # nothing was written
