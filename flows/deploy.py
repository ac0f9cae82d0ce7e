"""Register the pipeline's Prefect deployments, or serve them from this process.

- :func:`deploy` registers the deployments of ``flows/prefect.yaml`` on the Prefect server in
  ``PREFECT_API_URL`` without prompting (``prefect --no-prompt deploy --all``), creating a
  missing process work pool first. Workers on that pool then run them.
- :func:`serve` is the single-machine way: no work pool, no worker; this process registers an
  hourly all-sources deployment and a manual one-source deployment and runs their flow runs
  itself until it is stopped.

Both need a Prefect server (``prefect server start``, Prefect Cloud, or the compose stack in
``infra/``): without ``PREFECT_API_URL`` Prefect would fall back to a throwaway in-process
server that no UI, worker or ``prefect deployment run`` can reach.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from crawlers.seeds import load_seeds
from flows.defaults import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK

REPO_DIR = Path(__file__).resolve().parent.parent
DEFAULT_PREFECT_FILE = "flows/prefect.yaml"
DEFAULT_CRON = "0 * * * *"

# Loggers of the project whose records go to the Prefect run log besides the run logger's
# (Prefect's PREFECT_LOGGING_EXTRA_LOGGERS).
PROJECT_LOGGERS = "newsdedup,flows,crawlers,dedup"

# EXIT_FAILED: the server is unreachable, or `prefect deploy` failed; EXIT_BAD_INPUT: no
# PREFECT_API_URL, or an unusable prefect.yaml.


class DeployError(RuntimeError):
    """The deployments cannot be registered or served; the message says why."""


def _say(message: str) -> None:
    print(f"newsdedup: {message}", file=sys.stderr, flush=True)


# -- the server -----------------------------------------------------------------------------


def api_url(explicit: str | None = None) -> str:
    """The Prefect API URL: ``explicit``, else ``$PREFECT_API_URL``, else the active Prefect
    profile's setting. Raises :class:`DeployError` when none is set."""
    url = explicit
    if url is None:
        url = os.environ.get("PREFECT_API_URL")
    if url is None:  # not in the environment at all: the profile may have it
        from prefect.settings import PREFECT_API_URL

        url = PREFECT_API_URL.value()
    if not url:
        raise DeployError(
            "PREFECT_API_URL is not set: point it at the Prefect server that should hold the "
            "deployments, e.g. `prefect server start` and "
            "`export PREFECT_API_URL=http://127.0.0.1:4200/api`"
        )
    return str(url).rstrip("/")


@contextmanager
def _client(url: str) -> Iterator[Any]:
    """A Prefect client for ``url`` whatever the settings were when Prefect was imported."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: url}):
        with get_client(sync_client=True) as client:
            yield client


def check_server(url: str) -> None:
    """Raise :class:`DeployError` unless the Prefect API at ``url`` answers its health check."""
    with _client(url) as client:
        error = client.api_healthcheck()
    if error is not None:
        raise DeployError(
            f"the Prefect API at {url} is unreachable ({type(error).__name__}: {error}); "
            "is the server running and PREFECT_API_URL right?"
        )


def ensure_process_pool(url: str, name: str) -> bool:
    """Create the work pool ``name`` (type process, Prefect's default job template) unless it
    exists; an existing pool is left as it is, whatever its type. True when it was created."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with _client(url) as client:
        try:
            client.read_work_pool(name)
            return False
        except ObjectNotFound:
            pass
        try:
            client.create_work_pool(
                WorkPoolCreate(
                    name=name,
                    type="process",
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                )
            )
        except ObjectAlreadyExists:  # created by someone else (a starting worker) meanwhile
            return False
    return True


# -- deploy ---------------------------------------------------------------------------------


def _resolve_prefect_file(prefect_file: str | os.PathLike[str], root: Path) -> Path:
    path = Path(prefect_file)
    if not path.is_absolute() and not path.exists():
        path = root / path  # relative to the checkout, wherever we were called from
    if not path.is_file():
        raise DeployError(f"{prefect_file}: no such prefect.yaml")
    return path.resolve()


def load_deployments(path: Path) -> list[dict[str, Any]]:
    """The ``deployments:`` of a prefect.yaml, each with a name and an entrypoint."""
    try:
        project = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DeployError(f"{path}: cannot read it: {exc}") from exc
    deployments = project.get("deployments") if isinstance(project, dict) else None
    if not isinstance(deployments, list) or not deployments:
        raise DeployError(f"{path}: declares no deployments")
    for i, item in enumerate(deployments):
        if not isinstance(item, dict) or not item.get("name") or not item.get("entrypoint"):
            raise DeployError(f"{path}: deployments[{i}] needs a name and an entrypoint")
    return deployments


def _pool_of(deployment: dict[str, Any]) -> str | None:
    pool = deployment.get("work_pool")
    return pool.get("name") if isinstance(pool, dict) else None


def _with_pool(path: Path, pool: str, directory: Path) -> Path:
    """A copy of the prefect.yaml at ``path`` with every deployment on work pool ``pool``.

    ``prefect deploy --all`` ignores ``--pool`` (and every other per-deployment option) when it
    deploys more than one deployment, so the override goes into the file instead."""
    project = yaml.safe_load(path.read_text(encoding="utf-8"))
    for item in project["deployments"]:
        work_pool = item.get("work_pool")
        item["work_pool"] = {**(work_pool if isinstance(work_pool, dict) else {}), "name": pool}
    copy = directory / path.name
    copy.write_text(yaml.safe_dump(project, sort_keys=False), encoding="utf-8")
    return copy


def _prefect_command() -> list[str]:
    beside = Path(sys.executable).with_name("prefect")
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "prefect"]


def _server_deployments(url: str, deployments: list[dict[str, Any]]) -> dict[str, Any]:
    """``name -> updated timestamp`` of the server's deployments that match the file's
    (same name and entrypoint)."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    wanted = {d["name"]: d["entrypoint"] for d in deployments}
    with _client(url) as client:
        found = client.read_deployments(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=list(wanted)))
        )
    return {d.name: d.updated for d in found if wanted.get(d.name) == d.entrypoint}


def deploy(
    prefect_file: str | os.PathLike[str] = DEFAULT_PREFECT_FILE,
    pool: str | None = None,
    *,
    root: str | os.PathLike[str] | None = None,
    api: str | None = None,
) -> int:
    """Register every deployment of ``prefect_file`` on the Prefect server, without prompts.

    ``pool`` sends all of them to that work pool instead of the ones the file names. Missing
    work pools are created as process pools. ``prefect deploy`` runs in ``root`` (default: the
    checkout this module belongs to), because it resolves the entrypoints against its working
    directory. ``api`` overrides ``PREFECT_API_URL``.

    Returns 0 when every deployment of the file is registered, 1 when the server is
    unreachable or ``prefect deploy`` failed, 2 for a missing ``PREFECT_API_URL`` or an
    unusable file. Progress goes to standard output, errors to standard error.
    """
    workdir = Path(root).resolve() if root is not None else REPO_DIR
    try:
        url = api_url(api)
        path = _resolve_prefect_file(prefect_file, workdir)
        deployments = load_deployments(path)
        pools = {pool} if pool else {_pool_of(d) for d in deployments}
        if None in pools:
            unnamed = [d["name"] for d in deployments if not _pool_of(d)]
            raise DeployError(
                f"{path}: deployments {', '.join(unnamed)} name no work pool (pass a pool)"
            )
    except DeployError as exc:
        _say(str(exc))
        return EXIT_BAD_INPUT
    try:
        check_server(url)
        for name in sorted(p for p in pools if p):
            if ensure_process_pool(url, name):
                print(f"created process work pool {name!r}", flush=True)
        before = _server_deployments(url, deployments)
    except DeployError as exc:
        _say(str(exc))
        return EXIT_FAILED

    env = dict(os.environ, PREFECT_API_URL=url)
    with tempfile.TemporaryDirectory(prefix="newsdedup-deploy-") as tmp:
        source = _with_pool(path, pool, Path(tmp)) if pool else path
        cmd = [*_prefect_command(), "--no-prompt", "deploy", "--all", "--prefect-file", str(source)]
        try:
            result = subprocess.run(
                cmd, cwd=workdir, env=env, stdin=subprocess.DEVNULL, check=False
            )
        except OSError as exc:
            _say(f"cannot run prefect: {exc}")
            return EXIT_FAILED
    if result.returncode != 0:
        _say(f"`prefect deploy` failed with exit status {result.returncode} (see above)")
        return EXIT_FAILED

    # `prefect deploy` exits 0 after skipping a file that fails its schema: check the server.
    after = _server_deployments(url, deployments)
    stale = [
        d["name"]
        for d in deployments
        if d["name"] not in after or after[d["name"]] == before.get(d["name"])
    ]
    if stale:
        _say(f"`prefect deploy` did not register {', '.join(stale)} from {path} (see above)")
        return EXIT_FAILED
    targets = ", ".join(sorted(p for p in pools if p))
    print(f"registered {len(deployments)} deployments from {path} on {url} (work pool {targets})")
    return EXIT_OK


# -- serve ----------------------------------------------------------------------------------


def _absolute_output(output: str | None) -> str | None:
    if output is None or "://" in output:
        return output
    return str(Path(output).expanduser().resolve())


def build_served_deployments(
    seeds: str | os.PathLike[str],
    output: str | None = None,
    cron: str = DEFAULT_CRON,
    *,
    one_source: list[str] | None = None,
    timezone: str = "UTC",
) -> list[Any]:
    """The two runner deployments :func:`serve` serves: ``hourly`` (every source, on
    ``cron``) and ``one-source`` (manual; ``one_source``, by default the seeds file's first
    source, overridable per run with ``-p sources='["name"]'``).

    The seeds path and a local output directory are made absolute, so runs do not depend on
    the working directory. Raises ``SeedsError`` for a bad seeds file or unknown sources."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    from flows.pipeline import news_pipeline  # Prefect: imported by the CLI after its API is set

    seeds_path = str(Path(seeds).expanduser().resolve())
    loaded = load_seeds(seeds_path)
    chosen = [s.name for s in loaded.select(one_source or [loaded.sources[0].name])]
    params: dict[str, Any] = {"seeds": seeds_path}
    out = _absolute_output(output)
    if out is not None:
        params["output"] = out
    common: dict[str, Any] = {
        # By module, not by file: the runs import flows.pipeline wherever they start.
        "entrypoint_type": EntrypointType.MODULE_PATH,
    }
    hourly = news_pipeline.to_deployment(
        name="hourly",
        description="Crawl, clean, deduplicate and publish every source in the seeds file.",
        tags=["newsdedup", "scheduled"],
        schedules=[Cron(cron, timezone=timezone)],
        parameters=dict(params),
        # A slow run must not overlap the next one: both would commit the same _state/.
        concurrency_limit=ConcurrencyLimitConfig(
            limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
        ),
        **common,
    )
    manual = news_pipeline.to_deployment(
        name="one-source",
        description="Run the pipeline for a subset of sources, on demand.",
        tags=["newsdedup", "manual"],
        parameters={**params, "sources": chosen},
        **common,
    )
    return [hourly, manual]


def serve(
    seeds: str | os.PathLike[str],
    output: str | None = None,
    cron: str = DEFAULT_CRON,
    *,
    one_source: list[str] | None = None,
    limit: int | None = 1,
    api: str | None = None,
) -> None:
    """Serve ``news-pipeline/hourly`` and ``news-pipeline/one-source`` from this process
    until it is interrupted (Ctrl-C or SIGTERM), which pauses their schedules.

    No work pool or worker is involved: this process polls the server and runs each flow run
    in a child process, at most ``limit`` at once (default 1: on one machine a run already
    uses every core, and runs on one output root exclude each other anyway). ``output`` None
    leaves the output root to the runs' environment (``NEWSDEDUP_OUTPUT``) and the seeds
    file's settings. Raises :class:`DeployError` without a reachable Prefect server and
    ``SeedsError`` for a bad seeds file."""
    from prefect import serve as prefect_serve
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url = api_url(api)
    check_server(url)
    deployments = build_served_deployments(seeds, output, cron, one_source=one_source)
    # Flow runs are child processes of this one and inherit its environment.
    os.environ["PREFECT_API_URL"] = url
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", PROJECT_LOGGERS)
    with temporary_settings(updates={PREFECT_API_URL: url}):
        prefect_serve(*deployments, limit=limit)
