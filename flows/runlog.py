"""Where a run's log lines go: the Prefect run log when there is one, else the project's
logger; crawl processes' lines at the level they were logged with."""

from __future__ import annotations

import logging
import re


def run_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    # Prefect is imported here, when a run logs, not with this module: the CLI checks its
    # arguments with modules that import this one before it points Prefect at an API server
    # (flows.prefect_server.ensure_api must run before Prefect is imported).
    from prefect import get_run_logger

    try:
        return get_run_logger()
    except Exception:  # noqa: BLE001 - outside a flow or task run
        return logging.getLogger("newsdedup")


_SCRAPY_LEVEL = re.compile(r"^\S+ \S+ \[[^\]]+\] (DEBUG|INFO|WARNING|ERROR|CRITICAL): ")


def crawl_line_level(line: str) -> int:
    """The level a crawl process gave its log line, so warnings stay warnings in Prefect."""
    m = _SCRAPY_LEVEL.match(line)
    if m:
        return int(getattr(logging, m.group(1)))
    return logging.ERROR if line.startswith("error:") else logging.INFO


def route_project_logs() -> None:
    """Send the project's own loggers to the Prefect run log at INFO, as Scrapy's lines are."""
    try:
        from prefect.logging.handlers import APILogHandler
    except ImportError:  # pragma: no cover
        return
    for name in ("newsdedup", "flows", "crawlers", "dedup"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
        if not any(isinstance(h, APILogHandler) for h in logger.handlers):
            logger.addHandler(APILogHandler())
