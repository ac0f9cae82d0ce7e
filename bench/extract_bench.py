"""Extraction benchmark: this project's cleaning vs plain trafilatura, in the same run.

    python bench/extract_bench.py DATA [--boilerplate DIR] [--repeats N] [--out FILE]
                                       [--worst N]

DATA is a folder holding ``aeb/`` and ``wcxb-dev/`` (both are run), or one of them.
``aeb/`` holds ``html/<id>.html.gz`` and ``ground-truth.json`` (Article Extraction Benchmark).
``wcxb-dev/`` holds real pages of many kinds (``html/<id>.html.gz``, the bytes as served, and
``ground-truth.json``, a list with ``page_type`` and ``main_content``): article-page word F1,
article pages dropped or emptied, and the share of each other kind kept as an article. Each
page is cleaned on its own, as a first visit to its site.
The project side runs ``extract_page`` on every page and ``finish_source`` over all of them
(pages are grouped per site inside it) with default options; pages the quality gates drop count
as empty predictions. That is the main figure. An extra row, labelled as such, scores the same
extraction with the gates off (every page with text emitted), to separate extraction quality
from what the gates decide. Speed is pages per second on one core, median of ``--repeats`` runs,
the two sides interleaved. ``--worst N`` lists the N pages where the project does worst against
plain trafilatura, for finding general causes of loss.

The boilerplate set (``--boilerplate``) gives leak rate and article-sentence recall, each family
cleaned as one source; extra rows give the held-out families (written after the rules) alone,
and the "first visit" leak rate, every page cleaned on its own so that nothing is learned from
the site's other pages.
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
from scrapy.http import HtmlResponse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawlers.classify import is_article  # noqa: E402
from crawlers.clean import (  # noqa: E402
    CleanOptions,
    Extracted,
    TemplateState,
    extract_page,
    finish_source,
)
from crawlers.clean.evaluate import (  # noqa: E402
    aeb_scores,
    evaluate_boilerplate,
    page_counts,
    wcxb_scores,
)
from crawlers.middlewares import read_as_crawled  # noqa: E402
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


def load_wcxb(root: Path) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(url, html, gold) per page and the page kinds; bytes decoded as the crawler does (the
    page's own declaration unless its bytes contradict it, else detection)."""
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    items, kinds = [], []
    for entry in truth:
        body = gzip.decompress((root / "html" / f"{entry['id']}.html.gz").read_bytes())
        html = read_as_crawled(HtmlResponse(url=entry["url"], body=body)).text
        items.append((entry["url"], html, entry.get("main_content") or ""))
        kinds.append(entry["page_type"])
    return items, kinds


def run_project_per_page(items: list[tuple[str, str, str]]) -> list[str]:
    """Every page finished as its own source: no site templates learned from other pages."""
    texts = []
    for page in extract_all(items):
        articles, _ = finish_source([page], TemplateState.empty(), CleanOptions())
        texts.append(articles[0].text if articles else "")
    return texts


def wcxb_rows(root: Path, repeats: int, worst: int) -> tuple[list[tuple], dict]:
    items, kinds = load_wcxb(root)
    expected = [gold for _, _, gold in items]
    base_rates, proj_rates = [], []
    baseline_texts: list[str] = []
    project_texts: list[str] = []
    for _ in range(repeats):
        baseline_texts, rate = timed(run_baseline, items, 1)
        base_rates.append(rate)
        project_texts, rate = timed(run_project_per_page, items, 1)
        proj_rates.append(rate)
    ours = wcxb_scores(kinds, expected, project_texts)
    base = wcxb_scores(kinds, expected, baseline_texts)
    ours["pages_per_s"], base["pages_per_s"] = (
        statistics.median(proj_rates), statistics.median(base_rates))  # fmt: skip
    rows = [
        ("wcxb article-page F1", ours["article_f1"], base["article_f1"]),
        ("wcxb articles dropped/empty", ours["article_empty"], base["article_empty"]),
        ("wcxb listing+collection kept", ours["listing_collection_kept"],
         base["listing_collection_kept"]),  # fmt: skip
    ]
    for kind in ours["kept_as_article"]:
        rows.append((f"wcxb {kind} kept", ours["kept_as_article"][kind],
                     base["kept_as_article"][kind]))  # fmt: skip
    rows.append(("wcxb pages/s (1 core)", ours["pages_per_s"], base["pages_per_s"]))
    # The whole pipeline's decision for a page reached through a link (no feed or sitemap
    # announced it): the crawler's article test first, then the cleaning gates.
    crawled = [text if is_article(url, html) else "" for (url, html, _), text
               in zip(items, project_texts, strict=True)]  # fmt: skip
    both = wcxb_scores(kinds, expected, crawled)
    rows += [
        ("wcxb, link-found: F1", both["article_f1"], base["article_f1"]),
        ("wcxb, link-found: articles lost", both["article_empty"], base["article_empty"]),
        ("wcxb, link-found: list+coll kept", both["listing_collection_kept"],
         base["listing_collection_kept"]),  # fmt: skip
    ]
    ours["link_found"] = both
    if worst:
        article = [i for i, k in enumerate(kinds) if k == "article"]
        print_worst([items[i] for i in article], [project_texts[i] for i in article],
                    [baseline_texts[i] for i in article], worst)  # fmt: skip
    return rows, {**ours, "baseline": base, "pages": len(items)}


def extract_all(items: list[tuple[str, str, str]]) -> list[Extracted]:
    fetched = datetime.now(UTC)
    extracted = []
    for url, html, _ in items:
        page = Page(url=url, final_url=url, source="aeb", status=200, fetched_at=fetched, html=html)
        extracted.append(extract_page(page))
    return extracted


def finish_all(
    items: list[tuple[str, str, str]], extracted: list[Extracted], options: CleanOptions
) -> tuple[list[str], Counter[str]]:
    articles, dropped = finish_source(extracted, TemplateState.empty(), options)
    by_url = {a.url: a.text for a in articles}
    return [by_url.get(url, "") for url, _, _ in items], dropped


def run_project(items: list[tuple[str, str, str]]) -> tuple[list[str], Counter[str]]:
    return finish_all(items, extract_all(items), CleanOptions())


def run_baseline(items: list[tuple[str, str, str]]) -> list[str]:
    return [trafilatura.extract(html, include_comments=False) or "" for _, html, _ in items]


def timed(fn, items, repeats: int):  # type: ignore[no-untyped-def]
    rates, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn(items)
        rates.append(len(items) / (time.perf_counter() - start))
    return result, statistics.median(rates)


def _page_scores(expected: str, predicted: str) -> tuple[float, float]:
    tp, fp, fn = page_counts(expected, predicted)
    return (tp / (tp + fp) if tp + fp else 0.0), (tp / (tp + fn) if tp + fn else 1.0)


def print_worst(
    items: list[tuple[str, str, str]], ours: list[str], theirs: list[str], n: int
) -> None:
    """The pages where the project loses most precision + recall against plain trafilatura."""
    rows = []
    for (url, _, gold), mine, base in zip(items, ours, theirs, strict=True):
        p1, r1 = _page_scores(gold, mine)
        p0, r0 = _page_scores(gold, base)
        rows.append(((p1 + r1) - (p0 + r0), p1, r1, p0, r0, url))
    rows.sort()
    print(f"\nworst {n} pages vs trafilatura (P/R project | P/R trafilatura):")
    for delta, p1, r1, p0, r0, url in rows[:n]:
        print(f"  {delta:+.3f}  {p1:.3f}/{r1:.3f} | {p0:.3f}/{r0:.3f}  {url[:90]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="folder with aeb/ and wcxb-dev/, or aeb/ itself")
    parser.add_argument("--boilerplate", type=Path, default=DEFAULT_BOILERPLATE)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench-results/extract.json"))
    parser.add_argument("--worst", type=int, default=0, help="list the N worst pages")
    args = parser.parse_args(argv)
    aeb_dir = args.data / "aeb" if (args.data / "aeb").is_dir() else args.data
    wcxb_dir = next((d for d in (args.data / "wcxb-dev", args.data.parent / "wcxb-dev")
                     if (d / "ground-truth.json").is_file()), None)  # fmt: skip
    if not (aeb_dir / "ground-truth.json").is_file():
        print(f"extract_bench: no AEB set (ground-truth.json) in {aeb_dir}", file=sys.stderr)
        return 2

    items = load_aeb(aeb_dir)
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
    ungated_texts, _ = finish_all(items, extract_all(items), CleanOptions(gates=False))
    ungated = aeb_scores(list(zip(expected, ungated_texts, strict=True)))

    bp = evaluate_boilerplate(args.boilerplate)
    bp_base = _baseline_boilerplate(args.boilerplate)
    held = bp["held_out"]

    rows = [
        ("AEB F1", project["f1"], baseline["f1"]),
        ("AEB precision", project["precision"], baseline["precision"]),
        ("AEB recall", project["recall"], baseline["recall"]),
        ("pages/s (1 core)", project["pages_per_s"], baseline["pages_per_s"]),
        ("boilerplate leak rate", bp["leak_rate"], bp_base["leak_rate"]),
        ("boilerplate sentence recall", bp["sentence_recall"], bp_base["sentence_recall"]),
    ]
    extra = [
        ("AEB F1, gates off", ungated["f1"], baseline["f1"]),
        ("AEB precision, gates off", ungated["precision"], baseline["precision"]),
        ("AEB recall, gates off", ungated["recall"], baseline["recall"]),
    ]
    first = evaluate_boilerplate(args.boilerplate, first_visit=True)
    extra += [
        ("boilerplate leak, first visit", first["leak_rate"], bp_base["leak_rate"]),
    ]
    if held["families"]:
        held_base = _baseline_boilerplate(args.boilerplate, held["families"])
        extra += [
            ("held-out leak rate", held["leak_rate"], held_base["leak_rate"]),
            ("held-out sentence recall", held["sentence_recall"], held_base["sentence_recall"]),
            ("held-out leak, first visit", first["held_out"]["leak_rate"], held_base["leak_rate"]),
        ]
    wcxb: dict = {}
    if wcxb_dir is not None:
        wrows, wcxb = wcxb_rows(wcxb_dir, args.repeats, args.worst)
        rows = rows[:4] + wrows + rows[4:]
    print(f"AEB: {len(items)} pages; project dropped {sum(dropped.values())}: {dict(dropped)}")
    if wcxb:
        print(f"wcxb-dev: {wcxb['pages']} pages, {wcxb['article_pages']} articles")
    print(
        f"boilerplate set: {bp['pages']} pages in {bp['families']} families, "
        f"{held['pages']} pages in held-out families {', '.join(held['families']) or '-'}"
    )
    print(f"{'measure':<30}{'project':>10}{'trafilatura':>13}{'ratio':>8}")
    for name, ours, theirs in rows:
        ratio = f"{ours / theirs:.3f}" if theirs else "-"
        if isinstance(ours, int) and isinstance(theirs, int):  # page counts
            print(f"{name:<34}{ours:>6d}{theirs:>13d}{ratio:>8}")
            continue
        print(f"{name:<34}{ours:>6.3f}{theirs:>13.3f}{ratio:>8}")
    print("extra rows (not the main figure; 'first visit': each page cleaned alone, no learned")
    print("templates; 'held-out': families written after the rules):")
    for name, ours, theirs in extra:
        ratio = f"{ours / theirs:.3f}" if theirs else "-"
        print(f"{name:<34}{ours:>6.3f}{theirs:>13.3f}{ratio:>8}")
    for leak in bp["leaks"]:
        print("  leak:", leak)
    if args.worst:
        print_worst(items, project_texts, baseline_texts, args.worst)

    result = {
        **project,
        "baseline": baseline,
        "leak_rate": bp["leak_rate"],
        "sentence_recall": bp["sentence_recall"],
        "baseline_leak_rate": bp_base["leak_rate"],
        "baseline_sentence_recall": bp_base["sentence_recall"],
        "gates_off": ungated,
        "heldout_families": held["families"],
        "heldout_leak_rate": held["leak_rate"],
        "heldout_sentence_recall": held["sentence_recall"],
        "first_visit_leak_rate": first["leak_rate"],
        "heldout_first_visit_leak_rate": first["held_out"]["leak_rate"],
        "boilerplate_per_family": {
            name: {k: f[k] for k in ("pages", "leak_rate", "sentence_recall", "held_out")}
            for name, f in bp["per_family"].items()
        },
        "aeb_pages": len(items),
        "aeb_dropped": dict(dropped),
        "boilerplate_pages": bp["pages"],
        "repeats": args.repeats,
        "wcxb": wcxb,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


def _baseline_boilerplate(root: Path, families: list[str] | None = None) -> dict[str, float]:
    """The same leak/recall measures for plain trafilatura (no gates, no templates)."""
    from crawlers.clean.evaluate import _norm, load_boilerplate_set, sentences

    items = [i for i in load_boilerplate_set(root) if families is None or i.family in families]
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
