"""The Prefect deployment path end to end, against a real Prefect server and SeaweedFS.

``flows.deploy.deploy`` registers the real ``flows/prefect.yaml`` on a process work pool, a
real ``prefect worker start`` runs what ``prefect deployment run 'news-pipeline/one-source'``
asks for, the flow crawls one site of the demo network and publishes Parquet to S3. Then:
the CLI produces the same rows for that source, a held run lock refuses a second run (CLI and
deployment alike), and ``flows.deploy.serve`` serves the same two deployments without a pool.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows.demo import DemoNetwork
from tests.servers import prefect_api

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
PREFECT = str(Path(sys.executable).with_name("prefect"))
REPORT_KEY = "news-pipeline-report"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
STALE_OWNER = f"crashed-run-{uuid.uuid4().hex[:6]}"
# All of flows/prefect.yaml.
DEPLOYMENTS = ("hourly", "one-source", "news-archive/archives", "news-shard/shard")


# --------------------------------------------------------------------------- helpers


def _clean_env(*layers: dict[str, str]) -> dict[str, str]:
    """This process's environment without Prefect, AWS or newsdedup settings, plus layers."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AWS_", "NEWSDEDUP_"))
    }
    for layer in layers:
        env.update(layer)
    return env


def _api(server: Any) -> httpx.Client:
    return prefect_api(server)


def _full(name: str) -> str:
    return name if "/" in name else f"news-pipeline/{name}"


def _deployment(server: Any, name: str) -> dict[str, Any]:
    with _api(server) as api:
        response = api.get(f"/deployments/name/{_full(name)}")
        response.raise_for_status()
        return response.json()


def _deployment_or_none(server: Any, name: str) -> dict[str, Any] | None:
    with _api(server) as api:
        response = api.get(f"/deployments/name/{_full(name)}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()


def _flow_run(server: Any, run_id: str) -> dict[str, Any]:
    with _api(server) as api:
        response = api.get(f"/flow_runs/{run_id}")
        response.raise_for_status()
        return response.json()


def _wait_final(
    server: Any, run_id: str, timeout: float, watch: subprocess.Popen | None = None
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = _flow_run(server, run_id)
        if run["state_type"] in FINAL:
            return run
        if watch is not None and watch.poll() is not None:
            raise AssertionError(f"the process running the flows exited ({watch.returncode})")
        if time.monotonic() > deadline:
            raise AssertionError(f"flow run {run_id} still {run['state_type']} after {timeout}s")
        time.sleep(0.5)


def _run_deployment_cli(server: Any, name: str, params: dict[str, Any], cwd: Path) -> str:
    """``prefect deployment run 'news-pipeline/<name>' -p k=v ...``; returns the flow run id."""
    args = [PREFECT, "--no-prompt", "deployment", "run", f"news-pipeline/{name}"]
    for key, value in params.items():
        args += ["-p", f"{key}={json.dumps(value)}"]
    proc = subprocess.run(
        args, cwd=cwd, env=_clean_env(server.env()), capture_output=True, text=True, timeout=90
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = re.search(r"UUID:\s*([0-9a-f-]{36})", proc.stdout)
    assert found, proc.stdout
    return found.group(1)


def _logs(server: Any, run_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with _api(server) as api:
        while True:
            response = api.post(
                "/logs/filter",
                json={
                    "logs": {"flow_run_id": {"any_": [run_id]}},
                    "limit": 200,
                    "offset": len(out),
                },
            )
            response.raise_for_status()
            page = response.json()
            out += page
            if len(page) < 200:
                return out


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def _read(output: str, table: str, s3_server: Any, monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    from flows.read import read_table

    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    return read_table(output, table=table).to_pylist()


def _manifest_keys(output: str, s3_server: Any) -> list[str]:
    bucket, _, prefix = output.removeprefix("s3://").partition("/")
    listing = s3_server.client().list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/runs/")
    return sorted(o["Key"] for o in listing.get("Contents", []))


def _manifest(output: str, run_id: str, s3_server: Any) -> dict[str, Any]:
    bucket, _, prefix = output.removeprefix("s3://").partition("/")
    body = s3_server.client().get_object(Bucket=bucket, Key=f"{prefix}/runs/{run_id}.json")["Body"]
    return json.loads(body.read())


def _stop_tree(proc: subprocess.Popen, timeout: float = 20) -> None:
    """End a process this module started and every process it started (flow runs included)."""
    import psutil

    if proc.poll() is not None:
        return
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for child in children:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass


def _cancel_open_runs(server: Any, deployment_ids: list[str]) -> None:
    with _api(server) as api:
        runs = api.post(
            "/flow_runs/filter",
            json={
                "flow_runs": {
                    "deployment_id": {"any_": deployment_ids},
                    "state": {"type": {"not_any_": sorted(FINAL)}},
                }
            },
        ).json()
        for run in runs:
            api.post(
                f"/flow_runs/{run['id']}/set_state",
                json={"state": {"type": "CANCELLED", "message": "test teardown"}, "force": True},
            )


def _delete(server: Any, path: str) -> None:
    with _api(server) as api:
        response = api.delete(path)
        if response.status_code != 404:
            response.raise_for_status()


def _retry(fn: Any, *args: Any, attempts: int = 5) -> Any:
    """Clean-up calls survive a dropped connection to the (busy) test server, or its 503
    while its database is locked by the runs being cancelled."""
    for attempt in range(attempts):
        try:
            return fn(*args)
        except (httpx.TransportError, httpx.HTTPStatusError) as exc:
            transient = not isinstance(exc, httpx.HTTPStatusError) or (
                exc.response.status_code >= 500
            )
            if not transient or attempt == attempts - 1:
                raise
            time.sleep(1 + attempt)
    return None


# --------------------------------------------------------------------------- fixtures


@dataclass
class Stack:
    server: Any
    s3: Any
    pool: str
    seeds: Path
    site: str
    output: str  # the worker's NEWSDEDUP_OUTPUT
    work: Path
    network: DemoNetwork
    worker: subprocess.Popen | None = None


@pytest.fixture(scope="module")
def stack(prefect_server, s3_server, tmp_path_factory) -> Iterator[Stack]:
    """Demo network, deployments of the real prefect.yaml on a fresh process pool, a worker."""
    from flows.deploy import deploy

    work = tmp_path_factory.mktemp("prefect-deploy")
    with DemoNetwork(ports=None) as network:
        seeds = network.write_seeds(work / "seeds.yaml")
        # An original publisher: its stories stay stories, whatever else was crawled.
        site = next(s.name for s in network.sites if s.role == "original")
        stack = Stack(
            server=prefect_server,
            s3=s3_server,
            pool=f"newsdedup-test-{uuid.uuid4().hex[:8]}",
            seeds=seeds,
            site=site,
            output=f"s3://{s3_server.bucket}/deploy-{uuid.uuid4().hex[:10]}",
            work=work,
            network=network,
        )
        try:
            started = time.monotonic()
            status = deploy("flows/prefect.yaml", pool=stack.pool, api=prefect_server.api_url)
            assert status == 0
            print(f"deploy: {time.monotonic() - started:.1f}s")
            # The hourly schedule must not hand this worker an all-sources run of the real
            # seeds near the top of the hour: pause it (its schedule is checked as registered).
            hourly = _deployment(prefect_server, "hourly")
            with _api(prefect_server) as api:
                api.patch(f"/deployments/{hourly['id']}", json={"paused": True}).raise_for_status()

            worker_home = work / "worker-home"
            worker_home.mkdir()
            worker_cwd = work / "elsewhere"  # the pull step must move runs into the checkout
            worker_cwd.mkdir()
            env = _clean_env(
                prefect_server.env(),
                s3_server.env(),
                {
                    "PREFECT_HOME": str(worker_home),
                    "PREFECT_WORKER_QUERY_SECONDS": "1",
                    "NEWSDEDUP_OUTPUT": stack.output,
                    "NEWSDEDUP_ALLOW_PRIVATE": "true",
                    "NEWSDEDUP_REPO_DIR": str(REPO),
                },
            )
            stack.worker = subprocess.Popen(
                [
                    PREFECT,
                    "worker",
                    "start",
                    "--pool",
                    stack.pool,
                    "--type",
                    "process",
                    "--name",
                    f"{stack.pool}-worker",
                ],
                cwd=worker_cwd,
                env=env,
                stdout=open(work / "worker.log", "ab"),  # noqa: SIM115 - handed to the child
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            yield stack
        finally:
            found = [_retry(_deployment_or_none, prefect_server, n) for n in DEPLOYMENTS]
            ids = [d["id"] for d in found if d is not None]
            if ids:
                _retry(_cancel_open_runs, prefect_server, ids)
            if stack.worker is not None:
                _stop_tree(stack.worker)
            for deployment_id in ids:
                _retry(_delete, prefect_server, f"/deployments/{deployment_id}")
            _retry(_delete, prefect_server, f"/work_pools/{stack.pool}")


@pytest.fixture(scope="module")
def deployed_run(stack) -> dict[str, Any]:
    """One run of ``news-pipeline/one-source`` for one demo site, by deployment name.

    The output root starts with the expired lock of a crashed run, which the run takes over
    with a warning from the project's ``flows.state`` logger (see the run-log test)."""
    from datetime import timedelta

    from flows.state import RunLock
    from flows.storage import open_storage

    with pytest.MonkeyPatch.context() as env:
        for key, value in stack.s3.env().items():
            env.setenv(key, value)
        RunLock(open_storage(stack.output), owner=STALE_OWNER, ttl=timedelta(seconds=-60)).acquire()
    started = time.monotonic()
    run_id = _run_deployment_cli(
        stack.server,
        "one-source",
        {"sources": [stack.site], "seeds": str(stack.seeds)},
        cwd=stack.work,
    )
    run = _wait_final(stack.server, run_id, timeout=150, watch=stack.worker)
    print(f"deployment run: {time.monotonic() - started:.1f}s")
    log = (stack.work / "worker.log").read_text(errors="replace")[-4000:]
    assert run["state_type"] == "COMPLETED", f"{run['state']}\n--- worker log ---\n{log}"
    return run


# --------------------------------------------------------------------------- deploy()


def test_deploy_refuses_without_a_server_url(monkeypatch, capsys):
    from flows.deploy import deploy

    monkeypatch.setenv("PREFECT_API_URL", "")
    assert deploy() == 2
    assert "PREFECT_API_URL is not set" in capsys.readouterr().err


def test_deploy_names_an_unreachable_server(capsys):
    from flows.deploy import deploy
    from tests.servers import free_port

    url = f"http://127.0.0.1:{free_port()}/api"
    assert deploy(api=url) == 1
    err = capsys.readouterr().err
    assert url in err and "unreachable" in err


def test_deploy_refuses_a_file_without_deployments(tmp_path, capsys):
    from flows.deploy import deploy

    empty = tmp_path / "prefect.yaml"
    empty.write_text("name: x\ndeployments: []\n")
    assert deploy(empty, api="http://127.0.0.1:9/api") == 2
    assert "declares no deployments" in capsys.readouterr().err


def test_deploy_registers_the_real_deployments(stack):
    hourly = _deployment(stack.server, "hourly")
    one = _deployment(stack.server, "one-source")
    shard = _deployment(stack.server, "news-shard/shard")
    # The pool override reached every deployment (`prefect deploy --all` ignores --pool).
    assert (
        hourly["work_pool_name"] == one["work_pool_name"] == shard["work_pool_name"] == stack.pool
    )
    assert shard["entrypoint"] == "flows/pipeline.py:news_shard" and shard["schedules"] == []
    archives = _deployment(stack.server, "news-archive/archives")
    assert archives["entrypoint"] == "flows/pipeline.py:news_archive"
    assert archives["work_pool_name"] == stack.pool and archives["schedules"] == []
    with _api(stack.server) as api:
        pool = api.get(f"/work_pools/{stack.pool}").json()
    assert pool["type"] == "process"
    assert pool["base_job_template"]["job_configuration"]  # a worker can run it

    assert hourly["entrypoint"] == one["entrypoint"] == "flows/pipeline.py:news_pipeline"
    assert [(s["schedule"]["cron"], s["schedule"]["timezone"]) for s in hourly["schedules"]] == [
        ("0 * * * *", "UTC")
    ]
    assert hourly["global_concurrency_limit"]["limit"] == 1
    assert hourly["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
    assert hourly["parameters"].get("sources") is None
    assert one["schedules"] == []
    # A run with no parameters must work: its default source is in its default seeds file.
    from crawlers.seeds import load_seeds

    assert len(one["parameters"]["sources"]) == 1
    load_seeds(REPO / one["parameters"]["seeds"]).select(one["parameters"]["sources"])
    for deployment in (hourly, one):
        assert deployment["parameters"]["output"] is None  # NEWSDEDUP_OUTPUT decides
        env = deployment["job_variables"]["env"]
        assert set(env["PREFECT_LOGGING_EXTRA_LOGGERS"].split(",")) >= {"newsdedup", "flows"}


def test_deploy_fails_on_a_file_prefect_skips(stack, tmp_path, capsys):
    """`prefect deploy` only warns about a prefect.yaml that fails its schema."""
    bad = tmp_path / "prefect.yaml"
    text = (REPO / "flows" / "prefect.yaml").read_text()
    bad.write_text(text.replace("      limit: 1\n", '      limit: "one"\n', 1))
    assert bad.read_text() != text
    assert deploy_status(bad, stack) == 1
    assert "prefect deploy" in capsys.readouterr().err


def deploy_status(path: Path, stack: Stack) -> int:
    from flows.deploy import deploy

    return deploy(path, pool=stack.pool, api=stack.server.api_url)


# --------------------------------------------------------------------------- a deployed run


def test_one_source_run_publishes_that_source_to_s3(stack, deployed_run, monkeypatch):
    articles = _read(stack.output, "articles", stack.s3, monkeypatch)
    duplicates = _read(stack.output, "duplicates", stack.s3, monkeypatch)
    assert articles, "the deployed run published no stories"
    assert {r["source"] for r in articles + duplicates} == {stack.site}
    truth = {
        u
        for u in stack.network.truth.originals
        if u.startswith(next(s.base_url for s in stack.network.sites if s.name == stack.site))
    }
    assert {r["url"] for r in articles} == truth


def test_deployed_run_takes_allow_private_and_output_from_the_worker_env(stack, deployed_run):
    # The run was started without allow_private or output: both came from the worker's
    # NEWSDEDUP_* environment (the demo sites are on loopback, which the guard refuses
    # unless private addresses are allowed).
    params = deployed_run["parameters"]
    assert not params.get("allow_private") and params.get("output") is None
    (key,) = _manifest_keys(stack.output, stack.s3)
    manifest = _manifest(stack.output, Path(key).stem, stack.s3)
    settings = manifest["extra"]["settings"]
    assert settings["allow_private"] is True
    assert settings["output"] == stack.output


def test_deployed_run_publishes_the_report_artifact(stack, deployed_run):
    with _api(stack.server) as api:
        found = api.post(
            "/artifacts/filter",
            json={
                "artifacts": {
                    "flow_run_id": {"any_": [deployed_run["id"]]},
                    "key": {"any_": [REPORT_KEY]},
                }
            },
        ).json()
    assert len(found) == 1, found
    markdown = found[0]["data"]
    assert found[0]["type"] == "markdown"
    assert re.search(rf"^\| {re.escape(stack.site)} \| [1-9]", markdown, re.M), markdown
    assert "articles/" in markdown  # links to the objects written


def test_deployed_run_log_has_crawl_and_project_lines(stack, deployed_run):
    def crawl_lines(entries: list[dict[str, Any]]) -> list[str]:
        return [e["message"] for e in entries if e["message"].startswith(f"[{stack.site}] ")]

    # The flow run's process ships its log lines to the server in batches, which can land
    # after the run is marked completed when the machine is busy: read until they are in.
    deadline = time.monotonic() + 30
    entries = _logs(stack.server, deployed_run["id"])
    while not any("[scrapy." in m for m in crawl_lines(entries)) and time.monotonic() < deadline:
        time.sleep(1)
        entries = _logs(stack.server, deployed_run["id"])
    # Scrapy's own lines from the crawl process, relayed by the crawl task.
    crawl = crawl_lines(entries)
    assert any("[scrapy." in m for m in crawl), [e["message"] for e in entries]
    # A project logger's warning (PREFECT_LOGGING_EXTRA_LOGGERS from the deployment's env).
    assert any(
        e["name"] == "flows.state" and e["level"] >= 30 and STALE_OWNER in e["message"]
        for e in entries
    ), [(e["name"], e["message"][:100]) for e in entries]


def test_cli_run_of_the_source_gives_the_same_articles(stack, deployed_run, s3_prefix, monkeypatch):
    env = _clean_env(stack.server.env(), stack.s3.env())
    started = time.monotonic()
    proc = _cli(
        [
            "run",
            "--seeds",
            str(stack.seeds),
            "--source",
            stack.site,
            "--output",
            s3_prefix,
            "--allow-private",
        ],
        env,
        stack.work,
    )
    print(f"cli run: {time.monotonic() - started:.1f}s")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]

    def ids(output: str) -> dict[str, set[str]]:
        return {
            table: {r["article_id"] for r in _read(output, table, stack.s3, monkeypatch)}
            for table in ("articles", "duplicates")
        }

    by_cli, by_deployment = ids(s3_prefix), ids(stack.output)
    assert by_cli["articles"]
    assert by_cli == by_deployment


def test_second_run_on_a_locked_output_root_is_refused(stack, deployed_run, monkeypatch):
    """While a run holds the output root's lock, neither the CLI nor a deployment run writes."""
    from flows.state import RunLock
    from flows.storage import open_storage

    for key, value in stack.s3.env().items():
        monkeypatch.setenv(key, value)
    manifests_before = _manifest_keys(stack.output, stack.s3)
    holder = f"holder-{uuid.uuid4().hex[:6]}"
    with RunLock(open_storage(stack.output), owner=holder, ttl=600):
        # The deployment run and the CLI run overlap: the worker starts one while the other runs.
        run_id = _run_deployment_cli(
            stack.server,
            "one-source",
            {"sources": [stack.site], "seeds": str(stack.seeds)},
            cwd=stack.work,
        )
        proc = _cli(
            [
                "run",
                "--seeds",
                str(stack.seeds),
                "--source",
                stack.site,
                "--output",
                stack.output,
                "--allow-private",
            ],
            _clean_env(stack.server.env(), stack.s3.env()),
            stack.work,
        )
        assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert holder in proc.stderr and "another run holds" in proc.stderr, proc.stderr

        run = _wait_final(stack.server, run_id, timeout=120, watch=stack.worker)
        assert run["state_type"] == "FAILED", run["state"]
        assert holder in (run["state"]["message"] or ""), run["state"]
    assert _manifest_keys(stack.output, stack.s3) == manifests_before


# --------------------------------------------------------------------------- serve()


def test_serve_runs_both_deployments_without_a_pool(stack, deployed_run, s3_prefix, monkeypatch):
    """Last in this module: serving registers the same two deployment names, so the pool's
    deployments go first (an existing deployment would keep its work pool)."""
    for name in ("hourly", "one-source"):
        # The test server answers 503 while its database is busy with the earlier runs.
        deployment_id = _retry(_deployment, stack.server, name)["id"]
        _retry(_delete, stack.server, f"/deployments/{deployment_id}")
    env = _clean_env(
        stack.server.env(),
        stack.s3.env(),
        {"PREFECT_RUNNER_POLL_FREQUENCY": "1", "NEWSDEDUP_ALLOW_PRIVATE": "true"},
    )
    code = (
        "import sys; from flows.deploy import serve; "
        "serve(sys.argv[1], output=sys.argv[2], cron='30 2 * * *', one_source=[sys.argv[3]])"
    )
    log_path = stack.work / "serve.log"
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(stack.seeds), s3_prefix, stack.site],
        cwd=stack.work,
        env=env,
        stdout=open(log_path, "ab"),  # noqa: SIM115 - handed to the child
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            one = _deployment_or_none(stack.server, "one-source")
            if one is not None and one["parameters"].get("output") == s3_prefix:
                break
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.5)
        assert one["work_pool_name"] is None
        assert one["parameters"]["sources"] == [stack.site]
        assert one["parameters"]["seeds"] == str(stack.seeds.resolve())
        assert one["entrypoint"] == "flows.pipeline.news_pipeline"
        hourly = _deployment(stack.server, "hourly")
        assert hourly["work_pool_name"] is None and hourly["paused"] is False
        assert [s["schedule"]["cron"] for s in hourly["schedules"]] == ["30 2 * * *"]
        assert hourly["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"

        run_id = _run_deployment_cli(stack.server, "one-source", {}, cwd=stack.work)
        run = _wait_final(stack.server, run_id, timeout=120, watch=proc)
        assert run["state_type"] == "COMPLETED", (run["state"], log_path.read_text()[-3000:])
        print(f"serve + run: {time.monotonic() - started:.1f}s")
        rows = _read(s3_prefix, "articles", stack.s3, monkeypatch)
        assert rows and {r["source"] for r in rows} == {stack.site}
    finally:
        _stop_tree(proc)
    # Stopping the serving process (SIGTERM) pauses the hourly schedule.
    assert proc.returncode is not None
    assert _deployment(stack.server, "hourly")["paused"] is True
