"""Measures for the cleaning stage, shared by ``bench/extract_bench.py`` and the tests.

* AEB token-shingle precision/recall/F1, computed the way the Article Extraction Benchmark does.
* Leak rate and article-sentence recall on this project's boilerplate set
  (``tests/fixtures/boilerplate/<family>/``: ``family.yaml`` with the site's template strings,
  ``<page>.html`` and ``<page>.gold.txt`` per page). Families marked ``held_out: true`` were
  written after the rules, as a check on templates the rules were not made from; their figures
  are also reported on their own.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from crawlers.clean.extract import extract_page
from crawlers.clean.finish import CleanOptions, finish_source
from crawlers.clean.templates import TemplateState
from crawlers.records import Page

_TOKEN = re.compile(r"\w+")
_WS = re.compile(r"\s+")


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def page_counts(expected: str, predicted: str) -> tuple[int, int, int]:
    exp, pred = shingles(expected), shingles(predicted)
    tp = sum((exp & pred).values())
    return tp, sum(pred.values()) - tp, sum(exp.values()) - tp


def aeb_scores(pairs: list[tuple[str, str]]) -> dict[str, float]:
    """``pairs`` of (expected, predicted). Precision averaged over pages with a prediction,
    recall over pages with an expectation, F1 from the two averages."""
    precisions, recalls = [], []
    for expected, predicted in pairs:
        tp, fp, fn = page_counts(expected, predicted)
        if tp + fp > 0:
            precisions.append(tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(tp / (tp + fn))
        elif tp + fp == 0:  # nothing expected, nothing predicted
            recalls.append(1.0)
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f1}


@dataclass
class BoilerplatePage:
    family: str
    name: str
    page: Page
    gold: str
    templates: list[str]
    held_out: bool = False


def load_boilerplate_set(root: Path | str) -> list[BoilerplatePage]:
    pages = []
    for family_dir in sorted(p for p in Path(root).iterdir() if p.is_dir()):
        meta = yaml.safe_load((family_dir / "family.yaml").read_text(encoding="utf-8"))
        for html_file in sorted(family_dir.glob("*.html")):
            name = html_file.name.removesuffix(".html")
            url = f"{meta['base_url'].rstrip('/')}/{name}/"
            page = Page(
                url=url,
                final_url=url,
                source=family_dir.name,
                status=200,
                fetched_at=datetime(2024, 3, 1, tzinfo=UTC),
                html=html_file.read_text(encoding="utf-8"),
            )
            gold = (family_dir / f"{name}.gold.txt").read_text(encoding="utf-8")
            pages.append(
                BoilerplatePage(
                    family_dir.name,
                    name,
                    page,
                    gold,
                    meta["templates"],
                    bool(meta.get("held_out", False)),
                )
            )
    return pages


def sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?”\"])\s+(?=[A-Z“\"(])", _WS.sub(" ", text).strip())
    return [s for s in parts if len(s.split()) >= 4]


def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip().lower()


def _rates(leaked: int, pages: int, found: int, total: int) -> dict[str, float | int]:
    return {
        "pages": pages,
        "leak_rate": leaked / pages if pages else 0.0,
        "sentence_recall": found / total if total else 0.0,
    }


def evaluate_boilerplate(
    root: Path | str, options: CleanOptions | None = None, *, first_visit: bool = False
) -> dict[str, Any]:
    """Clean every family as one source (fresh template state) and score the result: leak
    rate (pages whose text keeps any template string) and article-sentence recall, overall,
    per family and for the held-out families alone. ``first_visit`` cleans every page on its
    own, so nothing is learned from the site's other pages: what the rules and the extractor
    do alone."""
    items = load_boilerplate_set(root)
    options = options or CleanOptions()
    by_family: dict[str, list[BoilerplatePage]] = {}
    for item in items:
        by_family.setdefault(item.family, []).append(item)
    leaks: list[str] = []
    families: dict[str, dict[str, Any]] = {}
    for family, family_items in by_family.items():
        extracted = [extract_page(item.page) for item in family_items]
        if first_visit:
            articles = [
                a for e in extracted for a in finish_source([e], TemplateState.empty(), options)[0]
            ]
        else:
            articles, _ = finish_source(extracted, TemplateState.empty(), options)
        texts = {a.url: _norm(a.text) for a in articles}
        leaked = found = total = 0
        for item in family_items:
            text = texts.get(item.page.final_url, "")
            kept = [t for t in item.templates if _norm(t) in text]
            if kept:
                leaked += 1
                leaks.append(f"{item.family}/{item.name}: {kept[0]!r}")
            for sentence in sentences(item.gold):
                total += 1
                found += _norm(sentence) in text
        families[family] = {
            **_rates(leaked, len(family_items), found, total),
            "leaked": leaked,
            "found": found,
            "sentences": total,
            "held_out": family_items[0].held_out,
        }

    def pooled(names: list[str]) -> dict[str, float | int]:
        fs = [families[n] for n in names]
        return _rates(
            sum(f["leaked"] for f in fs),
            sum(f["pages"] for f in fs),
            sum(f["found"] for f in fs),
            sum(f["sentences"] for f in fs),
        )

    held_out = [n for n, f in families.items() if f["held_out"]]
    return {
        **pooled(list(families)),
        "families": len(families),
        "held_out": {"families": held_out, **pooled(held_out)},
        "per_family": families,
        "leaks": leaks,
    }


_WORD = re.compile(r"\w+")


def word_f1(expected: str, predicted: str) -> float:
    """WCXB's page score: F1 of the bags of lower-cased ``\\w+`` tokens (an empty prediction
    scores 0 on a page with content; both empty score 1)."""
    exp = Counter(_WORD.findall(expected.lower()))
    pred = Counter(_WORD.findall(predicted.lower()))
    if not exp:
        return 1.0 if not pred else 0.0
    tp = sum((exp & pred).values())
    if not tp:
        return 0.0
    precision, recall = tp / sum(pred.values()), tp / sum(exp.values())
    return 2 * precision * recall / (precision + recall)


def wcxb_scores(
    kinds: list[str], expected: list[str], predicted: list[str]
) -> dict[str, Any]:
    """Article-page word F1, article pages emptied or dropped, and per other kind the share of
    pages that came out as an article."""
    article = [
        word_f1(e, p) for k, e, p in zip(kinds, expected, predicted, strict=True) if k == "article"
    ]
    empty = sum(
        1 for k, p in zip(kinds, predicted, strict=True) if k == "article" and not p.strip()
    )
    kept: dict[str, list[int]] = {}
    for kind, text in zip(kinds, predicted, strict=True):
        if kind != "article":
            counts = kept.setdefault(kind, [0, 0])
            counts[0] += bool(text.strip())
            counts[1] += 1
    listing = [kept.get(k, [0, 0]) for k in ("listing", "collection")]
    listing_total = sum(n for _, n in listing)
    return {
        "article_pages": len(article),
        "article_f1": sum(article) / len(article) if article else 0.0,
        "article_empty": empty,
        "kept_as_article": {k: c[0] / c[1] for k, c in sorted(kept.items())},
        "listing_collection_kept": (
            sum(k for k, _ in listing) / listing_total if listing_total else 0.0
        ),
    }
