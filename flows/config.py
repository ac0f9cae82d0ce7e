"""Effective configuration of a run: CLI flags, then ``NEWSDEDUP_*`` environment variables,
then the seeds file's ``settings:`` block, then defaults (first found wins).

Secrets (S3 credentials, Redis passwords) are never read from the seeds file: boto3 takes them
from the standard AWS environment or credential chain, Redis from ``NEWSDEDUP_REDIS_URL`` or
a Prefect Secret block named in ``NEWSDEDUP_REDIS_URL_SECRET``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from typing import Any

from crawlers.seeds import Seeds, SeedsError, show_value
from flows.defaults import CRAWL_TIMEOUT, DEFAULT_OUTPUT, MIN_WORDS
from flows.extraction import ExtractLimits

ENV_PREFIX = "NEWSDEDUP_"


@dataclass(frozen=True)
class PipelineSettings:
    output: str = DEFAULT_OUTPUT
    allow_private: bool = False
    window_days: int = 30  # dedup index window, counted from when a story entered it
    crawl_timeout: float = CRAWL_TIMEOUT  # hard limit for one source's crawl process, seconds
    concurrency: int = 0  # parallel crawl processes; 0 means one per CPU core
    # Sources crawled side by side in one crawl process (one process start-up for all of them;
    # a process killed at crawl_timeout fails those still crawling); 1: a process per source.
    sources_per_crawl: int = 16
    user_agent: str | None = None
    min_words: int = MIN_WORDS
    archive_raw: bool | None = None  # keep fetched HTML as WARC; None: on for S3 output
    redis_url: str | None = None  # shared dedup index in Redis instead of the output root
    state_versions: int = 5  # how many committed state versions to keep
    # Split the sources into this many shards, each crawled and cleaned as its own flow run
    # of the shard deployment (any worker of the pool can take it); 0 or 1: in this process.
    shards: int = 0
    shard_deployment: str = "news-shard/shard"
    # Crawl each source with this many processes sharing one request queue and seen-set in
    # Redis (redis_url); 1 keeps one process per source.
    frontier_processes: int = 1
    # Bounds on one page's extraction (flows/extraction.py says why these values): a page
    # past one is dropped as too_large, too_many_elements or extraction_timeout.
    extract_max_bytes: int = 5 * 1024 * 1024
    extract_max_elements: int = 100_000
    extract_timeout: float = 30.0  # seconds; the worker process is killed if it overruns

    def extract_limits(self) -> ExtractLimits:
        """These settings' :class:`flows.extraction.ExtractLimits`."""
        return ExtractLimits(
            max_html_bytes=self.extract_max_bytes,
            max_elements=self.extract_max_elements,
            seconds=self.extract_timeout,
        )

    def masked(self) -> dict[str, Any]:
        """The settings as a dict with credentials in URLs replaced by ``***``."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str):
                value = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", value)
            out[f.name] = value
        return out


SECRET_KEYS = {"redis_url"}  # may carry a password: environment only


def _coerce(name: str, value: Any, where: str) -> Any:
    kind = {f.name: f.type for f in fields(PipelineSettings)}[name]
    scalar = value is None or isinstance(value, str | int | float | bool)
    if not scalar:
        raise ValueError(f"{where}: must be a single value (got {show_value(value)})")
    try:
        if "bool" in str(kind):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            if "None" in str(kind) and text in ("", "auto", "none"):
                return None
            raise ValueError(f"not a boolean: {show_value(value)}")
        if "int" in str(kind):
            try:
                return int(value)
            except ValueError:
                raise ValueError(f"not an integer: {show_value(value)}") from None
        if "float" in str(kind):
            try:
                return float(value)
            except ValueError:
                raise ValueError(f"not a number: {show_value(value)}") from None
        return None if value is None else str(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def resolve_settings(
    cli: dict[str, Any] | None = None,
    seeds: Seeds | None = None,
    environ: dict[str, str] | None = None,
) -> PipelineSettings:
    """Merge the three layers; raises ``SeedsError``/``ValueError`` naming the bad setting."""
    env = os.environ if environ is None else environ
    names = [f.name for f in fields(PipelineSettings)]
    values: dict[str, Any] = {}
    seed_settings = dict(seeds.settings) if seeds else {}
    for key in seed_settings:
        if key not in names:
            raise SeedsError(
                seeds.path if seeds else "?",
                f"settings.{key if isinstance(key, str) else show_value(key)}",
                f"unknown setting (allowed: {', '.join(n for n in names if n not in SECRET_KEYS)})",
            )
        if key in SECRET_KEYS:
            raise SeedsError(
                seeds.path if seeds else "?",
                f"settings.{key}",
                f"secrets belong in the environment ({ENV_PREFIX}{key.upper()}), "
                "not in the seeds file",
            )
    for name in names:
        cli_value = (cli or {}).get(name)
        if cli_value is not None:
            values[name] = _coerce(name, cli_value, f"--{name.replace('_', '-')}")
        elif f"{ENV_PREFIX}{name.upper()}" in env:
            values[name] = _coerce(
                name, env[f"{ENV_PREFIX}{name.upper()}"], f"{ENV_PREFIX}{name.upper()}"
            )
        elif name in seed_settings:
            values[name] = _coerce(
                name, seed_settings[name], f"{seeds.path if seeds else '?'}: settings.{name}"
            )
    if "redis_url" not in values and env.get(f"{ENV_PREFIX}REDIS_URL_SECRET"):
        values["redis_url"] = _secret_block(env[f"{ENV_PREFIX}REDIS_URL_SECRET"])
    return PipelineSettings(**values)


def _secret_block(name: str) -> str:
    from prefect.blocks.system import Secret

    block: Any = Secret.load(name)  # synchronous here: no event loop runs at settings time
    return str(block.get())


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)
