"""The crawler against the demo network's quirks site, through the real ``crawlers.run``.

One crawl of the quirks site serves most tests. It runs with the network guard ON and a
single exception for the quirks site's own ``127.0.0.1:<port>`` (``--allow-host``), so that
its redirects to another loopback port and to 169.254.169.254 meet the guard exactly as a
public site's redirects would. Its robots.txt asks for ``Crawl-delay: 1``, so the crawl takes
about 20 seconds.
"""

from __future__ import annotations

import gzip
import html
import json
import socket
import urllib.request
from urllib.parse import urlsplit

import pytest

from crawlers.archive import iter_warc_pages, warc_files
from crawlers.records import ARCHIVED_KEY
from flows.demo import DemoNetwork
from tests.test_crawl_support import (
    TEST_UA,
    repeated_paths,
    requests_of,
    run_crawl,
    write_seeds,
)

pytestmark = pytest.mark.slow
TIMEOUT = 2  # seconds; the quirks site's /slow answers after 30


@pytest.fixture(scope="module")
def quirks_run(tmp_path_factory):
    net = DemoNetwork(ports=None, quirks=True).start()
    work = tmp_path_factory.mktemp("quirks")
    seeds = write_seeds("quirks.yaml", net, work / "seeds.yaml")
    quirks = net.site("quirks")
    result = run_crawl(
        seeds, "quirks", work / "out",
        "--allow-host", f"{quirks.host}:{quirks.port}",
        "--warc-dir", str(work / "warc"),
        "-s", f"DOWNLOAD_TIMEOUT={TIMEOUT}",
        allow_private=False,
    )  # fmt: skip
    requests = net.requests  # before stopping: /slow is still held by the server then
    with urllib.request.urlopen(quirks.base_url + "/sitemap.xml", timeout=5) as fh:
        (work / "sitemap.xml").write_bytes(fh.read())
    net.stop()
    yield net, result, requests, work


def test_crawl_finishes_and_reports(quirks_run):
    _, result, _, _ = quirks_run
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stats["finish_reason"] == "finished"
    assert result.stats["reachable"]


def test_robots_disallowed_path_never_requested(quirks_run):
    net, result, requests, work = quirks_run
    assert net.truth.quirks["private"] in (work / "sitemap.xml").read_text()  # listed there
    assert not [r for r in requests if r.path.startswith("/private/")]
    assert result.stats["robots_disallowed"] == 1
    # A robots refusal is its own counter, not an error.
    assert not any("IgnoreRequest" in k or "robots" in k for k in result.stats["errors"])


def test_no_url_fetched_twice(quirks_run):
    _, _, requests, _ = quirks_run
    quirks = [r for r in requests if r.site == "quirks"]
    assert quirks, "the quirks site saw no request"
    assert repeated_paths(quirks) == {}
    assert [r.path for r in quirks].count("/robots.txt") == 1


def test_flaky_page_retried_and_emitted(quirks_run):
    net, result, requests, _ = quirks_run
    flaky = [r for r in requests if r.site == "quirks" and r.path == "/flaky"]
    assert [r.status for r in flaky] == [500, 200]
    # The retry waited for the backoff (1 s at least), on top of nothing else.
    assert flaky[1].time - flaky[0].time >= 1.0
    page = result.page(net.truth.quirks["flaky"])
    assert page.status == 200 and "Harbour authority approves dredging plan" in page.html


def test_slow_page_is_an_error_and_the_crawl_goes_on(quirks_run):
    net, result, _, _ = quirks_run
    assert result.stats["errors"].get("DownloadTimeoutError") == 1
    assert net.truth.quirks["slow"] not in result.urls
    assert len(result.pages) >= 5  # the other articles still came through


def test_two_hop_redirect_followed_and_final_url_recorded(quirks_run):
    net, result, requests, _ = quirks_run
    urls = net.truth.quirks
    page = result.page(urls["redirect"])
    assert page.final_url == urls["redirect_target"]
    assert "Museum extends opening hours" in page.html
    paths = [r.path for r in requests if r.site == "quirks"]
    assert {"/redirect1", "/redirect2", urlsplit(urls["redirect_target"]).path} <= set(paths)
    # The next run knows the page under both names.
    assert result.validators[urls["redirect"]]["kind"] == "article"
    assert result.validators[urls["redirect_target"]]["kind"] == "article"


def test_pdf_skipped(quirks_run):
    net, result, _, _ = quirks_run
    assert net.truth.quirks["pdf"] not in result.urls
    assert result.stats["skipped_not_html"] == 1
    assert not result.stats["errors"].get("http_200")


def test_malformed_html_still_yields_the_article(quirks_run):
    net, result, _, _ = quirks_run
    url = net.truth.quirks["malformed"]
    page = result.page(url)
    assert page.status == 200 and page.discovered_via == "article"
    text = html.unescape(page.html)
    sentences = net.truth.article_sentences[url]
    assert sentences and all(s in text for s in sentences)


@pytest.mark.parametrize("quirk", ["cp1252_meta", "cp1252_header"])
def test_windows_1252_decoded(quirks_run, quirk):
    net, result, _, _ = quirks_run
    page = result.page(net.truth.quirks[quirk])
    assert page.encoding == "cp1252"
    if quirk == "cp1252_meta":
        assert "“We expected the regulars,” Lefèvre said" in page.html
        assert "café’s old espresso machine" in page.html and "€3.20" in page.html
    else:
        assert "The régional orchestra’s winter season" in page.html
        assert "“a love letter to the river towns”" in page.html and "Sunday matinée" in page.html
    assert "\ufffd" not in page.html and "â€" not in page.html


def test_oversized_page_dropped_not_an_error(quirks_run):
    net, result, _, _ = quirks_run
    assert net.truth.quirks["huge"] not in result.urls
    assert result.stats["skipped_too_large"] == 1
    assert not any("Cancel" in k for k in result.stats["errors"])


def test_redirects_to_loopback_and_metadata_refused(quirks_run):
    net, result, requests, _ = quirks_run
    urls = net.truth.quirks
    # The quirks site itself was reached (its one allowed host:port) ...
    assert any(r.site == "quirks" and r.path == "/to-loopback" for r in requests)
    assert any(r.site == "quirks" and r.path == "/to-metadata" for r in requests)
    # ... but the redirect targets were refused by the guard: another port of 127.0.0.1
    # never saw a request (not even for robots.txt), and 169.254.169.254 was never tried.
    assert not [r for r in requests if r.site != "quirks"]
    assert urls["to_loopback"] not in result.urls and urls["to_metadata"] not in result.urls
    assert result.stats["blocked_private"] == 2
    log = result.stderr
    assert "network guard refused http://169.254.169.254/latest/meta-data/" in log
    other = [s for s in net.sites if s.name != "quirks"]
    assert any(f"network guard refused {s.base_url}/" in log for s in other)
    # Refusals are not errors of the site.
    assert set(result.stats["errors"]) == {"DownloadTimeoutError"}


def test_crawl_delay_honoured(quirks_run):
    _, result, requests, _ = quirks_run
    times = [r.time for r in requests if r.site == "quirks" and r.path != "/slow"]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(gaps) >= 10
    # Crawl-delay: 1 (server-side timestamps, so allow some scheduling noise).
    assert min(gaps) >= 0.85, gaps
    assert result.stats["robots_crawl_delay"] == 1.0


def test_user_agent_on_every_request(quirks_run):
    _, _, requests, _ = quirks_run
    assert requests and {r.header("User-Agent") for r in requests} == {TEST_UA}
    assert all(r.header("Cookie") is None for r in requests)


def test_warc_archive_round_trip(quirks_run):
    _, result, _, work = quirks_run
    files = warc_files(work / "warc")
    assert [f.name for f in files] == ["quirks-00000.warc.gz"]
    assert result.stats["warc_files"] == [str(files[0])]
    archived = {p.url: p for p in iter_warc_pages(files[0])}
    assert set(archived) == set(result.urls)
    for page in result.pages:
        again = archived[page.url]
        assert again.to_dict() == page.to_dict(), page.url
    # The pages file names each page's response record rather than holding its HTML again
    # (result.pages read it back from there).
    with gzip.open(work / "out" / "pages.jsonl.gz", "rt", encoding="utf-8") as fh:
        lines = [json.loads(text) for text in fh]
    assert lines and all(line["html"] == "" and ARCHIVED_KEY in line for line in lines)


# -- hostnames that resolve to non-public addresses ----------------------------------------


def _loopback_alias() -> str | None:
    """A hostname other than localhost that resolves to a loopback address here."""
    names = [socket.gethostname()]
    try:
        with open("/etc/hosts") as fh:
            for line in fh:
                fields = line.split("#", 1)[0].split()
                names += fields[1:]
    except OSError:
        pass
    for name in names:
        if name == "localhost" or name.endswith(".localhost") or "." in name and name.endswith("."):
            continue
        try:
            address = socket.gethostbyname(name)
        except OSError:
            continue
        if address.startswith("127."):
            return name
    return None


@pytest.fixture(scope="module")
def plain_network():
    with DemoNetwork(ports=None) as net:
        yield net


@pytest.mark.parametrize("name", ["localhost", "alias"])
def test_hostname_resolving_to_loopback_refused(plain_network, tmp_path, name):
    net = plain_network
    if name == "alias":
        name = _loopback_alias()
        if name is None:
            pytest.skip("no hostname resolving to 127.x besides localhost on this machine")
    site = net.site("harbor-wire")
    seeds = tmp_path / "seeds.yaml"
    seeds.write_text(
        "sources:\n  - name: by-name\n"
        f"    sitemaps: [http://{name}:{site.port}/news-sitemap.xml]\n    max_pages: 1\n"
    )
    before = len(net.requests)
    refused = run_crawl(seeds, "by-name", tmp_path / "guarded", allow_private=False)
    assert refused.returncode == 3, refused.stderr[-2000:]
    assert requests_of(net, "harbor-wire", before) == []
    assert refused.stats["blocked_private"] >= 1 and refused.stats["errors"] == {}
    assert f"network guard refused http://{name}:{site.port}/" in refused.stderr
    # The same name does reach the site once private addresses are allowed: the refusal
    # above was the guard's, not a name that fails to resolve.
    allowed = run_crawl(seeds, "by-name", tmp_path / "allowed", allow_private=True)
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    reached = requests_of(net, "harbor-wire", before)
    assert [r.path for r in reached] == ["/robots.txt", "/news-sitemap.xml"]
    assert allowed.stats["responses_by_status"] == {"200": 2}
