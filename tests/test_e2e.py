"""End to end: the demo network on loopback, the real flow, a real S3 server, read back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.demo import DemoNetwork
from tests.conftest import plan_sites

pytestmark = pytest.mark.slow


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 600
) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def network():
    with DemoNetwork(ports=None) as net:
        yield net


@pytest.fixture(scope="module")
def s3_run(network, s3_server, prefect_server, tmp_path_factory):
    """One pipeline run of the whole demo network into a fresh S3 prefix."""
    work = tmp_path_factory.mktemp("e2e")
    seeds = network.write_seeds(work / "seeds.yaml")
    output = f"s3://{s3_server.bucket}/e2e"
    env = {**s3_server.env(), **prefect_server.env()}
    proc = run_cli(["run", "--seeds", str(seeds), "--output", output, "--allow-private"], env, work)
    return proc, output, env, work, seeds


def read(output: str, table: str, env: dict[str, str], monkeypatch) -> list[dict]:
    from flows.read import read_table

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return read_table(output, table=table).to_pylist()


def test_run_publishes_clean_deduplicated_stories(s3_run, network, monkeypatch):
    proc, output, env, _, _ = s3_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    articles = read(output, "articles", env, monkeypatch)
    duplicates = read(output, "duplicates", env, monkeypatch)
    truth = network.truth
    by_url = {a["url"]: a for a in articles}
    dup_by_url = {d["url"]: d for d in duplicates}

    # Every original is a story, every reprint a duplicate of its original.
    for url in truth.originals:
        assert url in by_url, f"original missing from articles: {url}"
    for reprint, original in truth.reprints.items():
        assert reprint in dup_by_url, f"reprint not judged a duplicate: {reprint}"
        assert dup_by_url[reprint]["duplicate_of"] == by_url[original]["article_id"], reprint
    # Independent stories about one event stay apart.
    for a, b in truth.same_event_pairs:
        assert a in by_url and b in by_url
    # Listing pages never become articles.
    assert not set(truth.non_article_urls) & (set(by_url) | set(dup_by_url))
    # Template text is gone from every published text; article sentences survive.
    for row in articles + duplicates:
        for junk in truth.template_strings:
            assert junk not in row["text"], f"{junk!r} left in {row['url']}"
    for url, sentences in truth.article_sentences.items():
        row = by_url.get(url) or dup_by_url.get(url)
        assert row is not None, url
        for sentence in sentences:
            assert sentence in row["text"], f"lost sentence in {url}: {sentence!r}"
    # One row per story, no URL twice.
    assert len(by_url) == len(articles) and len(dup_by_url) == len(duplicates)
    # The cleaning plans learned per site are kept in the state, for the next run.
    assert {row["domain"] for row in articles + duplicates} <= plan_sites(output)


def test_second_run_publishes_nothing_again(s3_run, network, monkeypatch):
    proc, output, env, work, seeds = s3_run
    assert proc.returncode == 0
    before = len(read(output, "articles", env, monkeypatch)) + len(
        read(output, "duplicates", env, monkeypatch)
    )
    again = run_cli(
        ["run", "--seeds", str(seeds), "--output", output, "--allow-private"], env, work
    )
    assert again.returncode == 0, again.stderr[-3000:]
    after = len(read(output, "articles", env, monkeypatch)) + len(
        read(output, "duplicates", env, monkeypatch)
    )
    assert after == before


def test_unreachable_source_fails_loudly_others_publish(
    network, s3_server, prefect_server, tmp_path, monkeypatch
):
    seeds_text = network.seeds_yaml()
    # A source on a port where nothing listens.
    from tests.servers import free_port

    seeds_text += f"  - name: gone-site\n    feeds: [http://127.0.0.1:{free_port()}/feed.xml]\n"
    seeds = tmp_path / "seeds.yaml"
    seeds.write_text(seeds_text)
    output = str(tmp_path / "lake")
    env = prefect_server.env()
    proc = run_cli(
        [
            "run",
            "--seeds",
            str(seeds),
            "--output",
            output,
            "--allow-private",
            "--source",
            "gone-site",
            "--source",
            network.sites[0].name,
        ],
        env,
        tmp_path,
    )
    assert proc.returncode == 1
    assert "gone-site" in proc.stderr
    rows = read(output, "articles", env, monkeypatch)
    assert rows and {r["source"] for r in rows} == {network.sites[0].name}


def test_network_guard_blocks_demo_without_allow_private(network, prefect_server, tmp_path):
    seeds = network.write_seeds(tmp_path / "seeds.yaml")
    site = network.sites[0].name
    served_before = len(network.requests)
    proc = run_cli(
        ["run", "--seeds", str(seeds), "--output", str(tmp_path / "lake"), "--source", site],
        prefect_server.env(),
        tmp_path,
    )
    assert proc.returncode == 1
    assert "non-public" in proc.stderr or "network guard" in proc.stderr
    assert [r for r in network.requests[served_before:] if r.site == site] == []


def test_a_changed_reprint_fetched_again_keeps_one_duplicates_row(prefect_server, tmp_path):
    from flows.read import read_table

    with DemoNetwork(ports=None) as net:
        seeds = net.write_seeds(tmp_path / "seeds.yaml")
        output = str(tmp_path / "lake")
        args = ["run", "--seeds", str(seeds), "--output", output, "--allow-private"]
        first = run_cli(args, prefect_server.env(), tmp_path)
        assert first.returncode == 0, first.stderr[-3000:]
        url = next(iter(net.truth.reprints))
        article = next(a for a in net.articles() if net.url_of(a.key) == url)
        # The aggregator announces the reprint as updated: the feed, the sitemap and the
        # page's Last-Modified all change, so the next run fetches it again.
        net.update_article(url)
        net.clear_requests()
        second = run_cli(args, prefect_server.env(), tmp_path)
        assert second.returncode == 0, second.stderr[-3000:]
        path = url.split("/", 3)[3]
        fetched = [r for r in net.requests if r.site == article.site and r.path == "/" + path]
        assert [r.status for r in fetched] == [200], fetched
    rows = read_table(output, table="duplicates").to_pylist()
    assert [r["url"] for r in rows].count(url) == 1
    assert all(r["url"] != url for r in read_table(output, table="articles").to_pylist())
