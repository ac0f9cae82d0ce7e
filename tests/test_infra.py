"""Checks of the deployable infrastructure that need no Docker engine and no AWS account.

- infra/docker-compose.yml: services, commands, ports, environment, health checks.
- infra/Dockerfile: parsed instruction by instruction (a small parser below, tested too).
- infra/terraform: `terraform fmt -check` plus the resources and policy conditions it must hold.
- flows/prefect.yaml: shape, Prefect's own schema, and a real `prefect deploy` + process-worker
  run against a Prefect server started on loopback.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.servers import prefect_api

REPO = Path(__file__).resolve().parent.parent
INFRA = REPO / "infra"
COMPOSE = INFRA / "docker-compose.yml"
DOCKERFILE = INFRA / "Dockerfile"
TERRAFORM = INFRA / "terraform"
PREFECT_YAML = REPO / "flows" / "prefect.yaml"

ENTRYPOINT = "flows/pipeline.py:news_pipeline"
SHARD_ENTRYPOINT = "flows/pipeline.py:news_shard"
POOL = "newsdedup-pool"


# --------------------------------------------------------------------------- compose


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _command(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command", [])
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _published_ports(service: dict[str, Any]) -> set[str]:
    """Container ports published to the host, e.g. {"4200"} for "${PREFECT_PORT:-4200}:4200"."""
    return {str(p).rsplit(":", 1)[-1] for p in service.get("ports", [])}


def test_compose_has_the_stack_services(compose):
    assert {"prefect-server", "worker", "s3", "s3-init"} <= set(compose["services"])


def test_compose_prefect_server(compose):
    server = compose["services"]["prefect-server"]
    assert server["image"] == "prefecthq/prefect:3-python3.11"
    assert _command(server)[:3] == ["prefect", "server", "start"]
    cmd = _command(server)
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert "4200" in _published_ports(server)
    assert "/api/health" in json.dumps(server["healthcheck"]["test"])
    assert any(v.endswith(":/root/.prefect") for v in server["volumes"])


def test_compose_worker(compose):
    worker = compose["services"]["worker"]
    assert worker["build"]["dockerfile"] == "infra/Dockerfile"
    assert (INFRA / worker["build"]["context"] / "pyproject.toml").exists()
    cmd = _command(worker)
    assert cmd[:3] == ["prefect", "worker", "start"]
    assert cmd[cmd.index("--pool") + 1] == POOL
    assert cmd[cmd.index("--type") + 1] == "process"
    env = _env(worker)
    assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert env["AWS_ENDPOINT_URL_S3"] == "http://s3:8333"
    assert env["NEWSDEDUP_OUTPUT"].startswith("s3://")
    assert env["NEWSDEDUP_REPO_DIR"] == "/opt/newsdedup"
    deps = worker["depends_on"]
    assert deps["prefect-server"]["condition"] == "service_healthy"
    assert deps["s3-init"]["condition"] == "service_completed_successfully"
    assert "/health" in json.dumps(worker["healthcheck"]["test"])


def test_compose_s3_and_bucket_init(compose):
    s3 = compose["services"]["s3"]
    assert s3["image"].startswith("chrislusf/seaweedfs:")
    assert _command(s3)[0] in ("mini", "server")
    assert "-s3.port=8333" in _command(s3)
    assert "8333" in _published_ports(s3)
    assert "healthz" in json.dumps(s3["healthcheck"]["test"])
    assert any(v.endswith(":/data") for v in s3["volumes"])

    init = compose["services"]["s3-init"]
    assert init["depends_on"]["s3"]["condition"] == "service_healthy"
    assert "s3_init.py" in " ".join(_command(init))
    mounted = [v.split(":")[0] for v in init["volumes"]]
    assert all((INFRA / m).exists() for m in mounted if m.startswith("./"))
    assert _env(init)["AWS_ENDPOINT_URL_S3"] == "http://s3:8333"


def test_compose_keys_are_placeholders_not_values(compose):
    """Every AWS key in the file is a ${...:?} placeholder filled from infra/.env."""
    for name, service in compose["services"].items():
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            if key in _env(service):
                value = _env(service)[key]
                assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", value), (name, key, value)


def test_compose_named_volumes_are_declared(compose):
    declared = set(compose.get("volumes") or {})
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, source


def test_s3_init_script_compiles():
    compile((INFRA / "s3_init.py").read_text(), "s3_init.py", "exec")


# --------------------------------------------------------------------------- Dockerfile

KNOWN_INSTRUCTIONS = {
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
}


@dataclass
class Instruction:
    name: str
    value: str
    line: int


class DockerfileError(ValueError):
    pass


def parse_dockerfile(text: str) -> list[Instruction]:
    """Split a Dockerfile into instructions: comments and blank lines dropped, backslash
    continuations joined (comment lines inside a continuation skipped, as BuildKit does).
    Raises DockerfileError for unknown instructions, a dangling continuation, or a first
    instruction other than FROM (ARG may precede it)."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue  # blank, comment or parser directive
        if pending and stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].rstrip())
            continue
        pending.append(stripped)
        joined = " ".join(part for part in pending if part)
        pending = []
        name, _, value = joined.partition(" ")
        if name.upper() not in KNOWN_INSTRUCTIONS:
            raise DockerfileError(f"line {start}: unknown instruction {name!r}")
        instructions.append(Instruction(name.upper(), value.strip(), start))
    if pending:
        raise DockerfileError(f"line {start}: continuation runs past the end of the file")
    first = next((i for i in instructions if i.name != "ARG"), None)
    if first is None or first.name != "FROM":
        raise DockerfileError("the first instruction (after ARGs) must be FROM")
    return instructions


@pytest.fixture(scope="module")
def dockerfile() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE.read_text())


def test_dockerfile_parser_rejects_broken_files():
    with pytest.raises(DockerfileError, match="unknown instruction"):
        parse_dockerfile("FROM python:3.11-slim\nRUNN echo\n")
    with pytest.raises(DockerfileError, match="must be FROM"):
        parse_dockerfile("RUN echo hi\nFROM python:3.11-slim\n")
    with pytest.raises(DockerfileError, match="past the end"):
        parse_dockerfile("FROM python:3.11-slim\nRUN echo \\\n")
    ok = parse_dockerfile("ARG V=1\nFROM x\nRUN a \\\n  # note\n  && b\n")
    assert [(i.name, i.value) for i in ok] == [("ARG", "V=1"), ("FROM", "x"), ("RUN", "a && b")]


def test_dockerfile_base_image_and_install(dockerfile):
    froms = [i for i in dockerfile if i.name == "FROM"]
    assert [i.value for i in froms] == ["python:3.11-slim"]
    runs = " ".join(i.value for i in dockerfile if i.name == "RUN")
    assert re.search(r"pip install (--[\w-]+ )*\.(\s|$)", runs), runs


def test_dockerfile_copies_what_the_install_needs(dockerfile):
    copied: set[str] = set()
    for inst in dockerfile:
        if inst.name == "COPY":
            parts = [p for p in inst.value.split() if not p.startswith("--")]
            copied.update(p.rstrip("/") for p in parts[:-1])
    assert {"pyproject.toml", "crawlers", "dedup", "flows", "seeds"} <= copied
    # pyproject's readme must be in the build context for `pip install .` to succeed.
    assert "README.md" in copied


def test_dockerfile_copy_sources_exist_in_the_build_context(dockerfile):
    """The build context is the repository root (docker-compose.yml: context ..)."""
    missing = []
    for inst in dockerfile:
        if inst.name == "COPY" and "--from" not in inst.value:
            parts = [p for p in inst.value.split() if not p.startswith("--")]
            missing += [p for p in parts[:-1] if not (REPO / p).exists()]
    assert not missing, f"COPY sources missing from the repository root: {missing}"


def test_dockerfile_runs_worker_as_non_root(dockerfile):
    names = [i.name for i in dockerfile]
    users = [i for i in dockerfile if i.name == "USER"]
    assert users and users[-1].value not in ("root", "0", "0:0")
    cmd = dockerfile[max(i for i, n in enumerate(names) if n == "CMD")]
    assert users[-1].line < cmd.line
    argv = json.loads(cmd.value)  # exec form, so signals reach the worker
    assert argv[:3] == ["prefect", "worker", "start"]
    assert argv[argv.index("--pool") + 1] == POOL
    assert argv[argv.index("--type") + 1] == "process"
    env = " ".join(i.value for i in dockerfile if i.name == "ENV")
    assert "NEWSDEDUP_REPO_DIR=/opt/newsdedup" in env
    workdir = [i.value for i in dockerfile if i.name == "WORKDIR"]
    assert workdir and workdir[-1] == "/opt/newsdedup"


# --------------------------------------------------------------------------- Terraform


def _terraform() -> str:
    binary = shutil.which("terraform")
    if not binary:
        pytest.skip("terraform is not on PATH; install it to check formatting of infra/terraform")
    return binary


def _fmt_check(binary: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, "fmt", "-check", "-recursive", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_terraform_fmt_clean():
    result = _fmt_check(_terraform(), TERRAFORM)
    assert result.returncode == 0, f"unformatted files:\n{result.stdout}{result.stderr}"


def test_terraform_fmt_check_catches_bad_formatting(tmp_path):
    (tmp_path / "bad.tf").write_text('variable "x" {\ntype=string\n}\n')
    assert _fmt_check(_terraform(), tmp_path).returncode != 0


@pytest.fixture(scope="module")
def terraform_text() -> str:
    return "\n".join(p.read_text() for p in sorted(TERRAFORM.glob("*.tf")))


def test_terraform_files_present():
    for name in ("versions.tf", "variables.tf", "outputs.tf", "main.tf", "iam.tf"):
        assert (TERRAFORM / name).is_file(), name


def test_terraform_bucket_hardening(terraform_text):
    for resource in (
        "aws_s3_bucket",
        "aws_s3_bucket_versioning",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_lifecycle_configuration",
        "aws_iam_policy",
    ):
        assert re.search(rf'resource "{resource}" "\w+"', terraform_text), resource
    assert re.search(r'status\s*=\s*"Enabled"', terraform_text)
    for flag in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert re.search(rf"{flag}\s*=\s*true", terraform_text), flag
    assert '"aws:kms"' in terraform_text and '"AES256"' in terraform_text
    assert re.search(r'source\s*=\s*"hashicorp/aws"', terraform_text)
    assert re.search(r"required_version\s*=", terraform_text)


def test_terraform_lifecycle_rules(terraform_text):
    lifecycle = terraform_text.split('resource "aws_s3_bucket_lifecycle_configuration"', 1)[1]
    lifecycle = lifecycle.split("\nresource ", 1)[0]
    assert "days = var.raw_expiration_days" in re.sub(r"\s+", " ", lifecycle)
    assert "noncurrent_days = var.noncurrent_version_expiration_days" in re.sub(
        r"\s+", " ", lifecycle
    )
    assert "local.raw_prefix" in lifecycle
    for variable in (
        "raw_expiration_days",
        "noncurrent_version_expiration_days",
        "bucket_name",
        "pipeline_prefix",
    ):
        assert f'variable "{variable}"' in terraform_text, variable


def test_terraform_policy_is_limited_to_the_prefix(terraform_text):
    iam = (TERRAFORM / "iam.tf").read_text()
    flat = re.sub(r"\s+", " ", iam)
    assert 'actions = ["s3:ListBucket"]' in flat
    assert 'variable = "s3:prefix"' in flat
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
        assert f'"{action}"' in iam, action
    assert 'resources = ["${aws_s3_bucket.lake.arn}/${var.pipeline_prefix}/*"]' in flat
    # No wildcard object access anywhere in the pipeline's policy.
    assert '"${aws_s3_bucket.lake.arn}/*"' not in iam
    assert '"s3:*"' not in iam


# --------------------------------------------------------------------------- prefect.yaml


@pytest.fixture(scope="module")
def prefect_project() -> dict[str, Any]:
    return yaml.safe_load(PREFECT_YAML.read_text())


def _deployments(project: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in project["deployments"]}


def test_prefect_yaml_has_both_deployments(prefect_project):
    deployments = _deployments(prefect_project)
    assert set(deployments) == {"hourly", "one-source", "archives", "shard"}
    for name in ("hourly", "one-source"):
        assert deployments[name]["entrypoint"] == ENTRYPOINT
        assert deployments[name]["parameters"]["seeds"].startswith("seeds/")
    archives = deployments["archives"]
    assert archives["entrypoint"] == "flows/pipeline.py:news_archive"
    assert not archives.get("schedules") and "archives" not in archives["parameters"]
    for deployment in deployments.values():
        assert deployment["work_pool"]["name"] == POOL


def test_prefect_yaml_shard_deployment_matches_the_pipeline_default(prefect_project):
    """A sharded run starts flow runs of NEWSDEDUP_SHARD_DEPLOYMENT: the file declares it."""
    from flows.config import PipelineSettings

    shard = _deployments(prefect_project)["shard"]
    assert shard["entrypoint"] == SHARD_ENTRYPOINT
    assert not shard.get("schedules")
    flow_name, deployment_name = PipelineSettings().shard_deployment.split("/")
    assert deployment_name == shard["name"]
    assert flow_name == "news-shard"


def test_prefect_yaml_hourly_schedule(prefect_project):
    hourly = _deployments(prefect_project)["hourly"]
    crons = [s["cron"] for s in hourly["schedules"]]
    assert crons == ["0 * * * *"]
    assert hourly["parameters"].get("sources") is None  # all sources


def test_prefect_yaml_one_source_is_manual(prefect_project):
    one = _deployments(prefect_project)["one-source"]
    assert not one.get("schedules") and not one.get("schedule")
    sources = one["parameters"]["sources"]
    assert isinstance(sources, list) and len(sources) == 1


def test_prefect_yaml_defaults_name_real_sources(prefect_project):
    """Every deployment runs with its defaults: the seeds file exists in the checkout and
    holds the sources it names (a bad default fails only at run time, on the worker)."""
    from crawlers.seeds import load_seeds

    for deployment in prefect_project["deployments"]:
        if deployment["entrypoint"] != ENTRYPOINT:
            continue
        params = deployment["parameters"]
        seeds = load_seeds(REPO / params["seeds"])
        seeds.select(params.get("sources"))


def test_prefect_yaml_sends_project_logs_to_the_run_log(prefect_project):
    for deployment in prefect_project["deployments"]:
        env = deployment["work_pool"]["job_variables"]["env"]
        loggers = set(env["PREFECT_LOGGING_EXTRA_LOGGERS"].split(","))
        assert {"newsdedup", "flows", "crawlers", "dedup"} <= loggers, deployment["name"]


def test_prefect_yaml_pull_step_sets_working_directory(prefect_project):
    steps = prefect_project["pull"]
    assert [next(iter(s)) for s in steps] == ["prefect.deployments.steps.set_working_directory"]
    assert steps[0]["prefect.deployments.steps.set_working_directory"]["directory"] == (
        "{{ $NEWSDEDUP_REPO_DIR }}"
    )


def test_prefect_yaml_parameters_match_the_flow_signature(prefect_project):
    import inspect

    from flows import pipeline

    for deployment in prefect_project["deployments"]:
        path, name = deployment["entrypoint"].split(":")
        assert path == "flows/pipeline.py", deployment["name"]
        accepted = set(inspect.signature(getattr(pipeline, name).fn).parameters)
        assert set(deployment.get("parameters") or {}) <= accepted, deployment["name"]
        if name == "news_shard":  # the parent run passes every parameter of a shard
            assert not deployment.get("parameters"), deployment["name"]


def test_prefect_yaml_passes_prefects_schema():
    """`prefect deploy` only warns and skips a file that fails its schema: fail loudly here."""
    models = pytest.importorskip(
        "prefect.cli.deploy._models",
        reason="Prefect's prefect.yaml model moved; schema check skipped",
    )
    raw = yaml.safe_load(PREFECT_YAML.read_text())
    model = models.PrefectYamlModel.model_validate(raw)
    assert [d.name for d in model.deployments] == ["hourly", "one-source", "archives", "shard"]
    hourly = model.deployments[0]
    assert hourly.schedules and getattr(hourly.schedules[0], "cron", None) == "0 * * * *"


# ------------------------------------------------- real Prefect server: deploy + worker run

STUB_FLOW = """\
import os
from pathlib import Path

from prefect import flow


@flow(name="news-pipeline")
def news_pipeline(
    seeds: str,
    sources: list[str] | None = None,
    output: str | None = None,
    allow_private: bool = False,
    window_days: int | None = None,
) -> None:
    Path(os.environ["INFRA_TEST_REPORT"]).write_text(
        f"{os.getcwd()}|{seeds}|{','.join(sources or [])}|{output}"
    )


@flow(name="news-archive")
def news_archive(
    archives: list[str],
    seeds: str | None = None,
    output: str | None = None,
    sources: list[str] | None = None,
    only_seeded: bool = False,
    warc_base: str | None = None,
    per_run: int | None = None,
    window_days: int | None = None,
) -> None:
    return None


@flow(name="news-shard")
def news_shard(
    seeds: str,
    sources: list[str],
    output: str,
    run_id: str,
    shard: int = 0,
    allow_private: bool = False,
) -> str:
    return ""
"""


def _prefect_cli(server, *args: str, cwd: Path, timeout: float = 120, **extra_env: str):
    """Run the prefect CLI against the test server (conftest's ``prefect_server``) only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(server.env(), **extra_env)
    return subprocess.run(
        [str(Path(sys.executable).with_name("prefect")), "--no-prompt", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def deploy_target(prefect_server, tmp_path) -> Iterator[Any]:
    """The shared test server with the process work pool; removes this file's deployments
    afterwards so other tests see the server as they left it."""
    created = _prefect_cli(
        prefect_server,
        "work-pool",
        "create",
        POOL,
        "--type",
        "process",
        "--overwrite",
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stdout + created.stderr
    yield prefect_server
    with prefect_api(prefect_server) as client:
        for name in ("news-pipeline/hourly", "news-pipeline/one-source", "news-shard/shard"):
            found = client.get(f"/deployments/name/{name}")
            if found.status_code == 200:
                client.delete(f"/deployments/{found.json()['id']}")


def _read_deployment(server: Any, name: str) -> dict[str, Any]:
    with prefect_api(server) as client:
        flow_name, deployment_name = name.split("/")
        response = client.get(f"/deployments/name/{flow_name}/{deployment_name}")
        response.raise_for_status()
        return response.json()


def _set_paused(server: Any, deployment_id: str) -> None:
    with prefect_api(server) as client:
        client.patch(f"/deployments/{deployment_id}", json={"paused": True}).raise_for_status()


def _deploy(server: Any, cwd: Path) -> None:
    result = _prefect_cli(
        server, "deploy", "--all", "--prefect-file", "flows/prefect.yaml", cwd=cwd
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Skipping deployment configuration" not in output, output


@pytest.fixture
def stub_checkout(tmp_path: Path) -> Path:
    """A checkout holding this prefect.yaml and a flow with the pipeline's signature, so the
    deployment mechanics are tested without running a crawl."""
    checkout = tmp_path / "checkout"
    (checkout / "flows").mkdir(parents=True)
    shutil.copy(PREFECT_YAML, checkout / "flows" / "prefect.yaml")
    (checkout / "flows" / "pipeline.py").write_text(STUB_FLOW)
    return checkout


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_prefect_deploy_registers_and_worker_runs_in_checkout(
    deploy_target, stub_checkout, tmp_path
):
    server = deploy_target
    _deploy(server, stub_checkout)

    hourly = _read_deployment(server, "news-pipeline/hourly")
    assert hourly["entrypoint"] == ENTRYPOINT
    assert hourly["work_pool_name"] == POOL
    assert [s["schedule"].get("cron") for s in hourly["schedules"]] == ["0 * * * *"]
    assert all(s["active"] for s in hourly["schedules"])
    one = _read_deployment(server, "news-pipeline/one-source")
    assert one["schedules"] == []
    assert one["parameters"]["sources"] == ["tempo"]
    assert one["work_pool_name"] == POOL
    # The pull step keeps its placeholder: the worker resolves it at run time.
    assert one["pull_steps"] == [
        {
            "prefect.deployments.steps.set_working_directory": {
                "directory": "{{ $NEWSDEDUP_REPO_DIR }}"
            }
        }
    ]

    # Run the manual deployment with an overridden source through a real process worker
    # started elsewhere: the pull step must move the run into the checkout.
    # Keep the hourly schedule from handing this worker a run near the top of the hour.
    _set_paused(server, hourly["id"])
    run = _prefect_cli(
        server,
        "deployment",
        "run",
        "news-pipeline/one-source",
        "--param",
        'sources=["site-b"]',
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    report = tmp_path / "report.txt"
    worker_cwd = tmp_path / "elsewhere"
    worker_cwd.mkdir()
    worker = _prefect_cli(
        server,
        "worker",
        "start",
        "--pool",
        POOL,
        "--type",
        "process",
        "--run-once",
        cwd=worker_cwd,
        timeout=240,
        NEWSDEDUP_REPO_DIR=str(stub_checkout),
        INFRA_TEST_REPORT=str(report),
    )
    assert report.exists(), worker.stdout + worker.stderr
    cwd, seeds, sources, output = report.read_text().split("|")
    assert Path(cwd).resolve() == stub_checkout.resolve()
    assert seeds == "seeds/example-en-id.yaml"
    assert sources == "site-b"
    assert output == "None"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_prefect_deploy_registers_the_real_flow(deploy_target):
    """The real entrypoint imports and its parameter schema accepts the deployments."""
    if not (REPO / "flows" / "pipeline.py").exists():
        pytest.skip("flows/pipeline.py is not in this checkout yet")
    _deploy(deploy_target, REPO)
    hourly = _read_deployment(deploy_target, "news-pipeline/hourly")
    properties = hourly["parameter_openapi_schema"]["properties"]
    assert {"seeds", "sources", "output"} <= set(properties)
    assert set(hourly["parameters"]) <= set(properties)
