"""The demo network's content: sites, original stories and aggregator reprints.

Everything is read from the YAML files in ``data/``; reprints are derived from the originals by
the syndication edits declared in ``data/reprints.yaml`` (credit line, dropped paragraphs or
sentences, light word edits, truncated excerpts), so the expected duplicates are known exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

import yaml

SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?\"”])\s+(?=[A-Z“\"(])")
WIRE_DATELINE_RE = re.compile(r"^([A-Z][A-Z .'-]+) — ")


@dataclass(frozen=True)
class SiteSpec:
    """How one site of the network looks and what it serves (port-independent)."""

    name: str
    outlet: str
    role: str  # "original" | "aggregator" | "quirks"
    theme: str  # publisher | wordpress | portal | plain | quirks
    lang: str = "en"
    tz: str = "+00:00"
    url_style: str = "dated"  # dated: /YYYY/MM/DD/<slug>/ ; news: /news/<slug>.html
    feed: str = "rss"  # rss | atom | none
    sitemap: str = "plain"  # plain | index | news | none
    priority: int = 0
    credit: str = ""  # how aggregators credit this outlet ("Harbor Wire")
    city: str = ""
    junk: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    page_size: int = 3

    @property
    def feed_path(self) -> str | None:
        return {"rss": "/feed.xml", "atom": "/atom.xml"}.get(self.feed)

    @property
    def sitemap_paths(self) -> list[str]:
        """Sitemaps announced in robots.txt (and in the seeds file)."""
        return {
            "plain": ["/sitemap.xml"],
            "index": ["/sitemap.xml"],
            "news": ["/news-sitemap.xml"],
        }.get(self.sitemap, [])


@dataclass
class Article:
    """One article page. ``paragraphs`` is the body text exactly as served."""

    site: str
    slug: str
    title: str
    section: str
    tags: list[str]
    author: str
    published: datetime
    lang: str
    paragraphs: list[str]
    photo: str = ""
    batch: int = 1
    original: tuple[str, str] | None = None  # (site, slug) of the original, for reprints
    read_more: bool = False  # last paragraph is "Read the full story at <outlet>" (linked)
    path: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.site, self.slug)

    @property
    def is_reprint(self) -> bool:
        return self.original is not None

    @property
    def summary(self) -> str:
        first = split_sentences(self.paragraphs[0]) if self.paragraphs else [""]
        return first[0]

    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    def body_paragraphs(self) -> list[str]:
        """Paragraphs that belong to the story proper (no credit or read-more lines)."""
        paras = list(self.paragraphs)
        if self.read_more:
            paras = paras[:-1]
        if paras and re.match(r"^(Source|Sumber): ", paras[-1]):
            paras = paras[:-1]
        return paras


def split_sentences(paragraph: str) -> list[str]:
    return [s for s in SENTENCE_SPLIT_RE.split(paragraph.strip()) if s]


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def article_path(style: str, slug: str, published: datetime) -> str:
    if style == "news":
        return f"/news/{slug}.html"
    return f"/{published:%Y/%m/%d}/{slug}/"


def _data(name: str) -> Any:
    return yaml.safe_load(resources.files("flows.demo").joinpath("data", name).read_text("utf-8"))


@cache
def load_junk_pools() -> dict[str, Any]:
    return _data("junk.yaml")


def load_sites() -> list[SiteSpec]:
    return [SiteSpec(**item) for item in _data("sites.yaml")["sites"]]


def _paragraphs(body: str) -> list[str]:
    return [" ".join(p.split()) for p in body.strip().split("\n\n") if p.strip()]


def load_originals(sites: list[SiteSpec]) -> list[Article]:
    articles = []
    for spec in sites:
        if spec.role != "original":
            continue
        doc = _data(f"stories/{spec.name}.yaml")
        for item in doc["stories"]:
            published = datetime.fromisoformat(item["published"])
            articles.append(
                Article(
                    site=spec.name,
                    slug=item["slug"],
                    title=item["title"],
                    section=item["section"],
                    tags=list(item.get("tags", [])),
                    author=item["author"],
                    published=published,
                    lang=item.get("lang", spec.lang),
                    paragraphs=_paragraphs(item["body"]),
                    photo=item.get("photo", ""),
                    batch=int(item.get("batch", 1)),
                    path=article_path(spec.url_style, item["slug"], published),
                )
            )
    return articles


def _tz(offset: str):
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = offset.lstrip("+-").split(":")
    from datetime import timezone

    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


def apply_credit(paragraphs: list[str], style: str, credit: str, city: str, lang: str) -> list[str]:
    """Add the syndication credit the way aggregators do."""
    paras = list(paragraphs)
    m = WIRE_DATELINE_RE.match(paras[0])
    wire_city = m.group(1).title() if m else ""
    rest = paras[0][m.end() :] if m else paras[0]
    if style == "dateline":
        paras[0] = f"{wire_city or city}, {credit} – {rest}"
    elif style == "paren":
        prefix = f"{m.group(1)} ({credit}) – " if m else f"({credit}) – "
        paras[0] = prefix + rest
    elif style == "quoted":
        phrase = f"seperti dikutip dari {credit}" if lang == "id" else f"as quoted {credit}"
        for i in range(1, len(paras)):
            if re.search(r"\b(said|ujar|kata)\b[^.]*\.$", paras[i]) and paras[i].endswith("."):
                paras[i] = paras[i][:-1] + f", {phrase}."
                break
        else:
            paras[-1] = paras[-1].rstrip(".") + f", {phrase}."
    elif style == "source":
        paras.append(f"{'Sumber' if lang == 'id' else 'Source'}: {credit}")
    else:
        raise ValueError(f"unknown credit style {style!r}")
    return paras


def make_reprint(
    original: Article, spec: dict[str, Any], agg: SiteSpec, orig_site: SiteSpec
) -> Article:
    paras = list(original.paragraphs)
    drops = spec.get("drop", [])
    sentence_drops: dict[int, set[int]] = {}
    for d in drops:
        if isinstance(d, str):
            pi, si = (int(x) for x in d.split("."))
            sentence_drops.setdefault(pi, set()).add(si)
    kept: list[str] = []
    for i, para in enumerate(paras):
        if i in drops:
            continue
        if i in sentence_drops:
            sents = split_sentences(para)
            para = " ".join(x for j, x in enumerate(sents) if j not in sentence_drops[i])
        kept.append(para)
    body = "\n\n".join(kept)
    for old, new in (spec.get("replace") or {}).items():
        if old not in body:
            raise ValueError(f"reprint of {spec['of']} on {agg.name}: {old!r} not in the text")
        body = body.replace(old, new)
    kept = body.split("\n\n")
    read_more = False
    if spec.get("excerpt"):
        kept = kept[: int(spec["excerpt"])]
    kept = apply_credit(kept, spec["credit"], orig_site.credit, orig_site.city, original.lang)
    if spec.get("excerpt"):
        kept.append(f"Read the full story at {orig_site.credit}")
        read_more = True
    published = (original.published + timedelta(hours=float(spec["delay_hours"]))).astimezone(
        _tz(agg.tz)
    )
    return Article(
        site=agg.name,
        slug=original.slug,
        title=spec.get("title", original.title),
        section=spec.get("section", original.section),
        tags=list(original.tags),
        author=original.author,
        published=published,
        lang=original.lang,
        paragraphs=kept,
        photo=original.photo,
        batch=max(int(spec.get("batch", 1)), original.batch),
        original=original.key,
        read_more=read_more,
        path=article_path(agg.url_style, original.slug, published),
    )


def load_reprints(sites: list[SiteSpec], originals: list[Article]) -> list[Article]:
    by_name = {s.name: s for s in sites}
    by_key = {a.key: a for a in originals}
    out = []
    for spec in _data("reprints.yaml")["reprints"]:
        site, slug = spec["of"].split("/")
        original = by_key[(site, slug)]
        out.append(make_reprint(original, spec, by_name[spec["site"]], by_name[site]))
    return out


def same_event_pairs() -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """Independent stories about the same event (different wording: not duplicates)."""
    return [
        (
            ("nusantara-business", "bank-indonesia-holds-benchmark-rate-at-6-percent"),
            ("harbor-wire", "indonesia-central-bank-keeps-rates-steady-eyes-currency"),
        )
    ]


def key_sentences(article: Article, n: int = 3) -> list[str]:
    """A few long sentences from the story body, spread over it (not the credit paragraph)."""
    paras = article.body_paragraphs()
    candidates = paras[1:] if len(paras) > 1 else paras
    if not candidates:
        return []
    picks = sorted({0, len(candidates) // 2, len(candidates) - 1})[:n]
    out = []
    for i in picks:
        sentences = [s for s in split_sentences(candidates[i]) if len(s.split()) >= 8]
        if sentences:
            out.append(max(sentences, key=len))
    return out
