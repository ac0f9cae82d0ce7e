"""Run by ``make install-check`` in a fresh virtual environment: the installed project imports
its modules and cleans a page (trafilatura, jusText and lxml's HTML cleaner all loaded)."""

from __future__ import annotations

import importlib
import sys
from datetime import UTC, datetime
from pathlib import Path

MODULES = ("crawlers.clean", "crawlers.run", "crawlers.spiders.news", "dedup", "flows.cli",
           "flows.pipeline", "flows.read", "flows.storage")


def main() -> int:
    for name in MODULES:
        importlib.import_module(name)
    from crawlers.clean import extract_page
    from crawlers.records import Page

    html = (Path(__file__).parent / "fixtures" / "clean" / "wire_copyright.html").read_text()
    url = "https://example.com/news/1"
    page = Page(url=url, final_url=url, source="check", status=200,
                fetched_at=datetime.now(UTC), html=html)
    out = extract_page(page)
    if out.error or not out.lines:
        print(f"install check: extraction gave nothing ({out.error})", file=sys.stderr)
        return 1
    print(f"install check: {len(MODULES)} modules imported, {len(out.lines)} lines extracted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
