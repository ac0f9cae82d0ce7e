"""Helpers for the crawl tests: run ``python -m crawlers.run`` as the pipeline does, read what
it wrote, and look at the demo network's request log. (No tests in this module.)"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawlers.records import Page, page_from_line
from tests.conftest import data_path

REPO = Path(__file__).resolve().parent.parent
TEST_UA = "newsdedup-test/0.1 (+https://example.test/crawler-contact)"
PLACEHOLDER = re.compile(r"\{([a-z0-9_-]+)\}")


@dataclass
class CrawlResult:
    returncode: int
    stdout: str
    stderr: str
    out: Path
    stats: dict[str, Any] = field(default_factory=dict)
    pages: list[Page] = field(default_factory=list)
    validators: dict[str, Any] = field(default_factory=dict)

    @property
    def urls(self) -> list[str]:
        return [p.url for p in self.pages]

    def page(self, url: str) -> Page:
        (found,) = [p for p in self.pages if p.url == url]
        return found


def write_seeds(template: str, net: Any, path: Path, **values: str) -> Path:
    """A seeds file from ``tests/fixtures/crawl/<template>`` with ``{site}`` placeholders set to
    the running network's base URLs (and ``values`` for other placeholders)."""
    mapping = {site.name: site.base_url for site in net.sites}
    mapping.update(values)
    text = data_path("crawl", template).read_text()
    path.write_text(PLACEHOLDER.sub(lambda m: mapping.get(m.group(1), m.group(0)), text))
    return path


def run_crawl(
    seeds: Path,
    source: str,
    out: Path,
    *args: str,
    seen: dict[str, Any] | None = None,
    allow_private: bool = True,
    user_agent: str = TEST_UA,
    timeout: float = 180,
) -> CrawlResult:
    """One crawl in a child process, exactly as flows.stages.crawl_source starts it."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "crawlers.run", "--seeds", str(seeds), "--source", source,
           "--out", str(out), "--user-agent", user_agent]  # fmt: skip
    if seen is not None:
        seen_path = out / "seen.json"
        seen_path.write_text(json.dumps(seen))
        cmd += ["--seen", str(seen_path)]
    if allow_private:
        cmd.append("--allow-private")
    proc = subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO
    )  # fmt: skip
    result = CrawlResult(proc.returncode, proc.stdout, proc.stderr, out)
    if (out / "stats.json").exists():
        result.stats = json.loads((out / "stats.json").read_text())
    if (out / "pages.jsonl.gz").exists():
        with gzip.open(out / "pages.jsonl.gz", "rt", encoding="utf-8") as fh:
            result.pages = [page_from_line(line) for line in fh]
    if (out / "validators.json").exists():
        result.validators = json.loads((out / "validators.json").read_text())
    return result


def requests_of(net: Any, site: str, since: int = 0) -> list[Any]:
    return [r for r in net.requests[since:] if r.site == site]


def user_agent_for(name: str) -> str:
    """A User-Agent naming one crawl, so that crawls running side by side can be told apart
    in the network's request log."""
    return f"newsdedup-test/0.1 (+https://example.test/crawler-contact; crawl={name})"


def requests_by(net: Any, user_agent: str) -> list[Any]:
    return [r for r in net.requests if r.header("User-Agent") == user_agent]


def repeated_paths(requests: list[Any]) -> dict[str, list[int]]:
    """Paths asked for more than once, except retries after a 5xx/429 answer."""
    by_path: dict[str, list[int]] = {}
    for r in requests:
        by_path.setdefault(r.path, []).append(r.status)
    repeated = {}
    for path, statuses in by_path.items():
        good = [s for s in statuses if s < 500 and s != 429]
        if len(good) > 1:
            repeated[path] = statuses
    return repeated


def site_article_urls(net: Any, site: str) -> set[str]:
    return {net.url_of(a.key) for a in net.articles(site)}


def counts(requests: list[Any]) -> Counter[str]:
    return Counter(r.path for r in requests)
