"""Extraction benchmark: this project's cleaning vs plain trafilatura, in the same run.

    python bench/extract_bench.py AEB_DIR [--boilerplate DIR] [--repeats N] [--out FILE]

AEB_DIR holds ``html/<id>.html.gz`` and ``ground-truth.json`` (Article Extraction Benchmark).
The project side runs ``extract_page`` on every page and ``finish_source`` over all of them
(pages are grouped per site inside it) with default options; pages the quality gates drop count
as empty predictions. Speed is pages per second on one core, median of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawlers.clean import CleanOptions, TemplateState, extract_page, finish_source  # noqa: E402
from crawlers.clean.evaluate import aeb_scores, evaluate_boilerplate  # noqa: E402
from crawlers.records import Page  # noqa: E402

DEFAULT_BOILERPLATE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "boilerplate"


def load_aeb(root: Path) -> list[tuple[str, str, str]]:
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    items = []
    for page_id in sorted(truth):
        with gzip.open(root / "html" / f"{page_id}.html.gz", "rt", encoding="utf-8") as fh:
            html = fh.read()
        items.append((truth[page_id]["url"], html, truth[page_id]["articleBody"] or ""))
    return items


def run_project(items: list[tuple[str, str, str]]) -> tuple[list[str], Counter[str]]:
    fetched = datetime.now(UTC)
    extracted = []
    for url, html, _ in items:
        page = Page(url=url, final_url=url, source="aeb", status=200, fetched_at=fetched, html=html)
        extracted.append(extract_page(page))
    articles, dropped = finish_source(extracted, TemplateState.empty(), CleanOptions())
    by_url = {a.url: a.text for a in articles}
    return [by_url.get(url, "") for url, _, _ in items], dropped


def run_baseline(items: list[tuple[str, str, str]]) -> list[str]:
    return [trafilatura.extract(html, include_comments=False) or "" for _, html, _ in items]


def timed(fn, items, repeats: int):  # type: ignore[no-untyped-def]
    rates, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn(items)
        rates.append(len(items) / (time.perf_counter() - start))
    return result, statistics.median(rates)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("aeb_dir", type=Path)
    parser.add_argument("--boilerplate", type=Path, default=DEFAULT_BOILERPLATE)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench-results/extract.json"))
    args = parser.parse_args(argv)

    items = load_aeb(args.aeb_dir)
    expected = [gold for _, _, gold in items]
    # Interleave the two sides so that machine load affects both alike.
    base_rates, proj_rates = [], []
    baseline_texts: list[str] = []
    project_texts: list[str] = []
    dropped: Counter[str] = Counter()
    for _ in range(args.repeats):
        baseline_texts, rate = timed(run_baseline, items, 1)
        base_rates.append(rate)
        (project_texts, dropped), rate = timed(run_project, items, 1)
        proj_rates.append(rate)
    baseline = aeb_scores(list(zip(expected, baseline_texts, strict=True)))
    baseline["pages_per_s"] = statistics.median(base_rates)
    project = aeb_scores(list(zip(expected, project_texts, strict=True)))
    project["pages_per_s"] = statistics.median(proj_rates)

    bp = evaluate_boilerplate(args.boilerplate)
    bp_base = _baseline_boilerplate(args.boilerplate)

    rows = [
        ("AEB F1", project["f1"], baseline["f1"]),
        ("AEB precision", project["precision"], baseline["precision"]),
        ("AEB recall", project["recall"], baseline["recall"]),
        ("pages/s (1 core)", project["pages_per_s"], baseline["pages_per_s"]),
        ("boilerplate leak rate", bp["leak_rate"], bp_base["leak_rate"]),
        ("boilerplate sentence recall", bp["sentence_recall"], bp_base["sentence_recall"]),
    ]
    print(f"AEB: {len(items)} pages; project dropped {sum(dropped.values())}: {dict(dropped)}")
    print(f"boilerplate set: {bp['pages']} pages in {bp['families']} families")
    print(f"{'measure':<30}{'project':>10}{'trafilatura':>13}{'ratio':>8}")
    for name, ours, theirs in rows:
        ratio = f"{ours / theirs:.3f}" if theirs else "-"
        print(f"{name:<30}{ours:>10.3f}{theirs:>13.3f}{ratio:>8}")
    for leak in bp["leaks"]:
        print("  leak:", leak)

    result = {
        **project,
        "baseline": baseline,
        "leak_rate": bp["leak_rate"],
        "sentence_recall": bp["sentence_recall"],
        "baseline_leak_rate": bp_base["leak_rate"],
        "baseline_sentence_recall": bp_base["sentence_recall"],
        "aeb_pages": len(items),
        "aeb_dropped": dict(dropped),
        "boilerplate_pages": bp["pages"],
        "repeats": args.repeats,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


def _baseline_boilerplate(root: Path) -> dict[str, float]:
    """The same leak/recall measures for plain trafilatura (no gates, no templates)."""
    from crawlers.clean.evaluate import _norm, load_boilerplate_set, sentences

    items = load_boilerplate_set(root)
    leaks = total = found = 0
    for item in items:
        text = _norm(trafilatura.extract(item.page.html, include_comments=False) or "")
        leaks += any(_norm(t) in text for t in item.templates)
        for s in sentences(item.gold):
            total += 1
            found += _norm(s) in text
    return {
        "leak_rate": leaks / len(items) if items else 0.0,
        "sentence_recall": found / total if total else 0.0,
    }


if __name__ == "__main__":
    raise SystemExit(main())
