"""The pipeline's stages as plain Python: crawl (flows/crawl_stage.py), clean, dedup.

Prefect tasks in :mod:`flows.pipeline` are thin wrappers around these functions, so every
stage can be called and tested without Prefect.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from crawlers.classify import listing_url
from crawlers.clean import CleanOptions, TemplateState, finish_source
from crawlers.clean.finish import article_id as page_id
from crawlers.clean.plans import SitePlans, merged_plans
from crawlers.records import Article, Rejected
from crawlers.seeds import Source
from crawlers.urls import site_key
from dedup import Document
from flows import progress
from flows.config import PipelineSettings
from flows.crawl_stage import (
    LINK_CAP_FACTOR,
    LINK_CAP_FLOOR,
    CrawlOutcome,
    PageFeed,
    crawl_groups,
    crawl_source,
    crawl_sources,
    is_noise,
    iter_pages,
    link_article_caps,
    read_rejected,
    soft_close,
)
from flows.defaults import MIN_WORDS
from flows.extraction import (
    Extraction,
    ExtractionPool,
    ExtractLimits,
    PageItem,
    extract_bounded,
)

# The crawl stage lives in flows/crawl_stage.py; its names are the stages' as well.
__all__ = [
    "CANONICAL",
    "CleanOutcome",
    "CrawlOutcome",
    "DedupOutcome",
    "Producer",
    "EXTRACT_WINDOW",
    "LINK_CAP_FACTOR",
    "LINK_CAP_FLOOR",
    "PageFeed",
    "clean_stage",
    "crawl_groups",
    "crawl_source",
    "crawl_sources",
    "cross_site_canonical",
    "dedup_stage",
    "is_noise",
    "iter_pages",
    "link_article_caps",
    "read_rejected",
    "soft_close",
]

log = logging.getLogger("newsdedup")


# -- clean ----------------------------------------------------------------------------------


@dataclass
class CleanOutcome:
    articles: list[Article]
    per_source: dict[str, dict[str, Any]]
    rejected: list[Rejected] = field(default_factory=list)  # pages the cleaning dropped

    def plans(self) -> dict[str, int]:
        """Pages cleaned with each plan (crawlers.clean.plans), every source's together, the
        most used first: how many took all three trafilatura passes ("full": a site learned,
        or checked) and how many a cheaper plan its earlier pages had shown to suffice."""
        total: Counter[str] = Counter()
        for counts in self.per_source.values():
            total.update(counts.get("plans", {}))
        return dict(total.most_common())


EXTRACT_WINDOW = 256  # pages taken ahead of the one whose extraction is awaited


def clean_stage(
    pages: Iterable[PageItem],
    sources: dict[str, Source],
    templates: TemplateState,
    *,
    min_words: int = MIN_WORDS,
    workers: int = 1,
    limits: ExtractLimits | None = None,
) -> CleanOutcome:
    """Extract every page (in ``workers`` processes; 0: in this one), then finish each source:
    site templates, boilerplate rules, metadata and quality gates. ``pages``: pages, or the
    lines of page files that hold them (:meth:`PageFeed.records`), decoded where extracted.

    Extraction is bounded per page (``limits``: size, elements, seconds); a page past a bound
    is dropped with its reason (``too_large``, ``too_many_elements``, ``extraction_timeout``,
    ...) and counted in its source's ``dropped``, and the stage goes on."""
    by_source: dict[str, list[Any]] = {}
    failures: dict[str, Counter[str]] = {}
    rejected: list[Rejected] = []
    limits = limits or ExtractLimits()
    # The cleaning plans learned per site in earlier runs, kept with the templates; this
    # run's are merged into them once every page is extracted.
    kept_plans = templates.plans
    learned: list[dict[str, Any]] = []
    if workers > 0:
        # Worker processes that can be killed and replaced when a page hangs one of them;
        # only a bounded window of pages is held, however many pages the run fetched.
        def extract_all() -> Iterator[Extraction]:
            with ExtractionPool(workers, limits, plans=kept_plans) as pool:
                yield from pool.map(pages, window=EXTRACT_WINDOW)
                learned.append(pool.learned_plans())

        results: Iterable[Extraction] = extract_all()
    else:
        plans = SitePlans()
        plans.load(kept_plans)

        def extract_here() -> Iterator[Extraction]:
            yield from (extract_bounded(p, limits, plans) for p in pages)
            learned.append(plans.export(learned_only=True))

        results = extract_here()
    for source_name, url, extracted, reason, error in results:
        progress.add(extracted=1)
        if reason is not None:
            failures.setdefault(source_name, Counter())[reason] += 1
            log.warning("page dropped (%s): %s", reason, error)
            rejected.append(_extraction_error(source_name, url, reason))
            continue
        by_source.setdefault(source_name, []).append(extracted)
    if learned:
        templates.plans = merged_plans(templates.plans, learned[0])
    articles: list[Article] = []
    per_source: dict[str, dict[str, Any]] = {}
    for name in sorted(set(by_source) | set(failures)):
        extracted_pages = by_source.get(name, [])
        src = sources.get(name)
        options = CleanOptions(
            min_words=src.min_words if src and src.min_words is not None else min_words,
            languages=src.languages if src else (),
        )
        kept, dropped = finish_source(extracted_pages, templates, options, rejected)
        for reason, count in failures.get(name, Counter()).items():
            dropped[reason] += count
        articles.extend(kept)
        per_source[name] = {
            "pages": len(extracted_pages) + sum(failures.get(name, Counter()).values()),
            "extracted": len(kept),
            "dropped": dict(dropped),
            "plans": dict(Counter(e.plan for e in extracted_pages if e.plan)),
        }
    return CleanOutcome(articles=articles, per_source=per_source, rejected=rejected)


def _extraction_error(source: str, url: str, reason: str) -> Rejected:
    """A page whose extraction failed or passed a bound, as a listed drop."""
    return Rejected(
        url=url,
        final_url=url,
        domain=urlsplit(url).netloc.lower(),
        source=source,
        reason=reason,
        fetched_at=datetime.now(UTC),
    )


# -- dedup ----------------------------------------------------------------------------------


def _judged_before(
    art: Article, seen: dict[str, dict[str, Any]] | None, own_url_only: bool = False
) -> bool:
    """Whether an earlier run published (or judged) this page, under its URL or its canonical
    URL; only under its own URL for a copy whose canonical is another site's page."""
    if not seen:
        return False
    urls = (art.url,) if own_url_only else (art.url, art.canonical_url)
    return any((seen.get(u) or {}).get("kind") == "article" for u in urls)


class Producer(Protocol):
    """Makes a run's cleaned pages: the crawl (crawl_and_clean), a re-extraction of raw/
    (flows/reextract.py) or an archive run (flows/archive_source.ArchiveProducer)."""

    def __call__(
        self,
        seeds: str,
        chosen: tuple[Source, ...],
        settings: PipelineSettings,
        seen: dict[str, dict[str, Any]],
        templates: Any,
        storage: Any,
        run_id: str,
    ) -> tuple[list[CrawlOutcome], CleanOutcome]: ...


@dataclass
class DedupOutcome:
    articles: list[dict[str, Any]]
    duplicates: list[dict[str, Any]]
    counts: dict[str, int]
    # Every fetched page that became neither: the crawler's and the cleaning's drops passed
    # in, plus this stage's (same_page, already_published, source_cap), as table rows.
    rejected: list[dict[str, Any]] = field(default_factory=list)


# Why a page is in ``duplicates`` (the column ``reason``); dedup.Decision gives the others.
CANONICAL = "canonical"
ARTICLE_FIELDS = tuple(f.name for f in dataclasses.fields(Article))


def cross_site_canonical(art: Article) -> bool:
    """Whether the page's ``rel=canonical`` names a page of another site: a syndicated copy
    of that site's story (same-site canonicals are aliases of one page)."""
    if not art.canonical_url or site_key(art.canonical_url) == site_key(art.url):
        return False
    return not listing_url(art.canonical_url)  # a home page or section is no story's page


def _own_page_if_canonical_is_a_listing(art: Article) -> Article:
    """The article keyed by its own URL when its ``rel=canonical`` names a listing (a site's
    home page, a section): a misconfigured canonical, which would otherwise fold every page
    of the site into one story."""
    if not art.canonical_url or art.canonical_url == art.url or not listing_url(art.canonical_url):
        return art
    return dataclasses.replace(art, article_id=page_id(art.url))


def _dropped(art: Article, reason: str, run_id: str) -> dict[str, Any]:
    return {
        "url": art.url,
        "final_url": art.url,
        "domain": art.domain,
        "source": art.source,
        "reason": reason,
        "stage": "dedup",
        "title": art.title,
        "word_count": art.word_count,
        "canonical_url": art.canonical_url,
        "fetched_at": art.fetched_at,
        "run_id": run_id,
    }


def dedup_stage(
    articles: list[Article],
    index: Any,
    priorities: dict[str, int],
    run_id: str,
    now: datetime | None = None,
    seen: dict[str, dict[str, Any]] | None = None,
    rejected: Iterable[Rejected | dict[str, Any]] = (),
) -> DedupOutcome:
    """Split the run's articles into new stories and reprints, against the index of earlier
    runs and within the run. The index stages the new stories; committing it is the caller's
    job, after publishing.

    A page whose ``rel=canonical`` names another site's page is a duplicate of that page's
    story (reason ``canonical``) when this run or the index has it, else it is kept as the
    story, under its canonical URL. Pages of one site sharing a canonical URL (redirects,
    URL variants) are one story; the other URLs are dropped as ``same_page``.

    ``seen`` is the seen-URL store of earlier runs: a reprint whose page an earlier run
    already judged (fetched again because its feed announced a change) is not published as
    a duplicate a second time, just as a story already published is not. Both are dropped
    as ``already_published``. ``rejected`` (the crawl's and cleaning's drops) is passed
    through into :attr:`DedupOutcome.rejected` with this stage's own drops."""
    now = now or datetime.now(UTC)
    dropped: list[dict[str, Any]] = [
        {**(r.to_dict() if isinstance(r, Rejected) else r), "run_id": run_id} for r in rejected
    ]
    unique: dict[str, Article] = {}
    same_page = 0
    # Pages on their canonical URL's own site first: of a group sharing a canonical URL, the
    # story is the page of the site it names.
    articles = [_own_page_if_canonical_is_a_listing(a) for a in articles]
    cross = [cross_site_canonical(a) for a in articles]
    copies = [a for a, c in zip(articles, cross, strict=True) if c]
    for art, is_copy in zip(articles, cross, strict=True):
        if is_copy:
            continue
        if art.article_id in unique:
            same_page += 1  # two URLs of one page (redirects, canonical links)
            dropped.append(_dropped(art, "same_page", run_id))
        else:
            unique[art.article_id] = art
    indexed = index.known_ids([a.article_id for a in copies if a.article_id not in unique])
    canonical_copies: list[Article] = []
    for art in copies:
        if art.article_id in unique or art.article_id in indexed:
            canonical_copies.append(art)
        else:
            unique[art.article_id] = art  # the original is unknown: this copy is the story
    docs = [
        Document(
            id=a.article_id,
            text=a.text,
            published_at=a.published_at,
            source_priority=priorities.get(a.source, 0),
            credited_source=a.credited_source,
            outlet_names=tuple(n for n in (a.site_name, a.source, a.domain) if n),
        )
        for a in unique.values()
    ]
    staged_before = set(index.staged_ids())
    decisions = index.dedup(docs, now) if docs else []
    # A story whose id the index already holds comes back as its own canonical, unstaged:
    # an earlier run published it (the page was fetched again), so it is not new.
    new_stories = set(index.staged_ids()) - staged_before
    decided = {art.article_id: d for art, d in zip(unique.values(), decisions, strict=True)}
    kept: list[dict[str, Any]] = []
    dups: list[dict[str, Any]] = []
    republished = 0

    def row_of(art: Article, cluster_id: str) -> dict[str, Any]:
        # Article.to_dict() with the dates as datetimes (not ISO strings): its fields, the
        # lists copied.
        row = {
            name: list(value) if isinstance(value := getattr(art, name), list) else value
            for name in ARTICLE_FIELDS
        }
        row["cluster_id"] = cluster_id
        row["run_id"] = run_id
        return row

    for art, decision in zip(unique.values(), decisions, strict=True):
        row = row_of(art, decision.cluster_id)
        if decision.duplicate_of is None and art.article_id in new_stories:
            kept.append(row)
        elif decision.duplicate_of is None or decision.duplicate_of == art.article_id:
            republished += 1  # the same story, already published by an earlier run
            dropped.append(_dropped(art, "already_published", run_id))
        elif _judged_before(art, seen):
            republished += 1  # this reprint's page has its duplicates row already
            dropped.append(_dropped(art, "already_published", run_id))
        else:
            row["duplicate_of"] = decision.duplicate_of
            row["similarity"] = decision.similarity
            row["reason"] = decision.reason
            dups.append(row)
    for art in canonical_copies:
        if _judged_before(art, seen, own_url_only=True):
            republished += 1
            dropped.append(_dropped(art, "already_published", run_id))
            continue
        original = decided.get(art.article_id)
        story = (original.duplicate_of if original else None) or art.article_id
        row = row_of(art, original.cluster_id if original else story)
        row["article_id"] = page_id(art.url)  # its own id: the canonical one is the story's
        row["duplicate_of"] = story
        row["similarity"] = None  # declared by the page, not measured
        row["reason"] = CANONICAL
        dups.append(row)
    counts = {
        "input": len(articles),
        "same_page": same_page,
        "stories": len(kept),
        "duplicates": len(dups),
        "canonical": sum(1 for d in dups if d["reason"] == CANONICAL),
        "already_published": republished,
        "rejected": len(dropped),
    }
    return DedupOutcome(articles=kept, duplicates=dups, counts=counts, rejected=dropped)
