"""Site-level pass over one source's pages: template removal, then quality gates."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

from crawlers.clean.extracted import Extracted
from crawlers.clean.templates import TemplateState, line_key
from crawlers.clean.version import EXTRACTOR
from crawlers.records import Article, Rejected
from crawlers.wordcount import word_count


@dataclass
class CleanOptions:
    min_words: int = 80
    languages: tuple[str, ...] = ()  # empty: any language
    max_link_density: float = 0.5
    template_min_pages: int = 4  # a line must be on at least this many pages of the site ...
    template_min_share: float = 0.2  # ... and on at least this share of them
    # Off only for measuring extraction alone (the benchmark's extra row): every page with
    # text is emitted, however short, link-heavy or listing-like.
    gates: bool = True


# listing_score at or below this is strong evidence of an article (evidence.py), under which
# a body of SHORT_ARTICLE_MIN_WORDS is enough.
STRONG_ARTICLE_SCORE = -3.0
SHORT_ARTICLE_MIN_WORDS = 40


def article_id(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def _gate(page: Extracted, words: int, options: CleanOptions) -> str | None:
    if page.status and not 200 <= page.status < 300:
        return "http_status"
    if not page.raw_line_count:
        return "empty"
    if not options.gates:
        return None
    if options.languages and page.language:
        wanted = {lang.split("-")[0].lower() for lang in options.languages}
        if page.language.split("-")[0].lower() not in wanted:
            return "language"
    if page.is_listing:
        return "listing"
    if page.link_density > options.max_link_density:
        return "link_heavy"
    if words < options.min_words:
        # A brief is short: with strong evidence of an article (announced by the source's
        # feed or sitemap, typed as an article, dated and signed) fewer words will do.
        strong = page.listing_score <= STRONG_ARTICLE_SCORE
        if not strong or words < min(options.min_words, SHORT_ARTICLE_MIN_WORDS):
            return "too_short"
    return None


def finish_source(
    extracted: list[Extracted],
    templates: TemplateState,
    options: CleanOptions | None = None,
    rejected: list[Rejected] | None = None,
) -> tuple[list[Article], Counter[str]]:
    """Learn site templates from this batch plus ``templates``, strip them, gate, build Articles.

    ``templates`` is updated in place with this batch's line counts. Every page the gates drop
    is counted by reason, and appended to ``rejected`` when a list is given.
    """
    options = options or CleanOptions()
    by_site: dict[str, list[Extracted]] = {}
    for page in extracted:
        by_site.setdefault(page.domain, []).append(page)

    articles: list[Article] = []
    dropped: Counter[str] = Counter()
    for site, pages in by_site.items():
        # One count per distinct page: the same article fetched under two URLs is not evidence
        # that its sentences are template, nor is the same page fetched again in a later run.
        keys = [[line_key(ln) for ln in page.lines] for page in pages]
        distinct: dict[str, list[str]] = {}
        for page, page_keys in zip(pages, keys, strict=True):
            if page_keys:
                distinct.setdefault(page.canonical_url, page_keys)
        templates.add_line_keys(site, distinct)
        template = templates.template_keys(
            site, options.template_min_pages, options.template_min_share
        )
        for page, page_keys in zip(pages, keys, strict=True):
            lines = (
                [ln for ln, key in zip(page.lines, page_keys, strict=True) if key not in template]
                if template
                else page.lines
            )
            text = "\n".join(lines)
            words = word_count(text)
            reason = _gate(page, words, options)
            if reason:
                dropped[reason] += 1
                if rejected is not None:
                    rejected.append(
                        Rejected(
                            url=page.url,
                            final_url=page.final_url,
                            domain=page.domain,
                            source=page.source,
                            reason=reason,
                            fetched_at=page.fetched_at,
                            title=page.title,
                            word_count=words,
                            canonical_url=page.canonical_url,
                        )
                    )
                continue
            articles.append(
                Article(
                    article_id=article_id(page.canonical_url or page.final_url),
                    url=page.final_url,
                    canonical_url=page.canonical_url or page.final_url,
                    domain=page.domain,
                    source=page.source,
                    title=page.title,
                    authors=list(page.authors),
                    published_at=page.published_at,
                    fetched_at=page.fetched_at,
                    language=page.language,
                    text=text,
                    word_count=words,
                    site_name=page.site_name,
                    credited_source=page.credited_source,
                    section=page.section,
                    tags=list(page.tags),
                    extractor=EXTRACTOR,
                )
            )
    return articles, dropped
