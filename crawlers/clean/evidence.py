"""Article or listing? The cleaning stage's decision, weighed from several pieces of evidence.

No single hint decides: a ``WebSite`` JSON-LD node, ``og:type=website``, ``/page/`` or
``/index.php/`` in the path, or a query string on the root path are each weak, and real
articles carry them. Each piece adds or takes away points; a page is a listing only when the
listing side clearly wins. Being announced by the source's feed or sitemap is strong evidence
for an article, as is a body of running prose.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from crawlers.classify import article_url_score, query_params
from crawlers.clean.extracted import Extracted
from crawlers.clean.markup import CARD_GRID_MIN
from crawlers.wordcount import token_count

# A listing needs this many points net of the article evidence: two or three independent
# signs, never one (the largest single listing sign is 2.5).
LISTING_THRESHOLD = 3.5
ANNOUNCED = ("article", "feed", "sitemap")  # Page.discovered_via of feed and sitemap entries
# A grid of cards (markup.card_grid): read from the tree only for pages this close below the
# threshold, the only ones it can turn into listings.
CARD_GRID_POINTS = 1.0

_SENTENCE_END = re.compile(r"[.!?。！？…:;\"'”’)\]]\s*$")
# A teaser's excerpt cut short: WordPress's "[…]" or "[...]", or "… Read more". A bare
# ellipsis can end a quoted sentence, and still counts.
_EXCERPT_END = re.compile(
    r"(?:\[\s*(?:…|\.\.\.)\s*\]|(?:…|\.\.\.)\s*(?:read more|continue reading)\W*)\s*$", re.I
)
PROSE_MIN_WORDS = 25  # a line this long that ends like a sentence is running prose
# A body that is one list and nothing else (episodes, papers, results): at least this many
# items, and this share of the body's lines. An article's list has prose around it.
LIST_BODY_ITEMS = 10
LIST_BODY_SHARE = 0.9
LIST_BODY_POINTS = 1.0


def prose_share(lines: list[str], link_lines: list[bool]) -> float:
    """Share of the body's characters in long, unlinked lines that end like sentences."""
    total = sum(len(ln) for ln in lines)
    if not total:
        return 0.0
    prose = sum(
        len(ln)
        for ln, linked in zip(lines, link_lines, strict=False)
        if not linked
        and (len(ln) >= 160 or token_count(ln) >= PROSE_MIN_WORDS)  # the length first: free
        and _SENTENCE_END.search(ln)
        and not _EXCERPT_END.search(ln)
    )
    return prose / total


def listing_evidence(page: Extracted) -> float:
    """Points for "this page is a listing" minus points for "this page is an article"."""
    score = 0.0
    # What the page says it is.
    if page.discovered_via in ANNOUNCED:
        score -= 3.0  # the source's own feed or sitemap lists it as a story
    if page.typed_article:
        score -= 3.0
    if page.typed_listing:
        score += 2.0
    if page.og_website and not page.typed_article:
        score += 0.5
    has_meta = page.published_at is not None or bool(page.authors)
    if page.published_at is not None:
        score -= 0.5
    if page.authors:
        score -= 0.5
    if not page.typed_article and not has_meta:
        score += 1.0  # nothing at all says "story": no type, no date, no author
    # Its address. A query string makes the root path an address like any other
    # (WordPress's /?p=123), not the home page; tracking parameters (an ad's or a shopping
    # result's id) do not.
    if page.root_path:
        score += 0.5 if query_params(urlsplit(page.final_url).query) else 2.5
    if page.listing_path:
        score += 1.0
    marks = article_url_score(page.final_url)  # the crawler's reading of the same URL
    if marks == 0 and not page.root_path:
        score += 0.5
    elif marks >= 3:
        score -= 1.0
    # Its layout: many teasers, linked headlines, <article> cards.
    if page.article_elements >= 3:
        score += 1.5
    if page.card_grid >= CARD_GRID_MIN:
        score += CARD_GRID_POINTS
    if page.headline_links >= 8:
        score += 1.0
    if page.headline_links >= 20:
        score += 1.0
    words = sum(map(token_count, page.lines))
    if page.teaser_links * 15 > words:
        score += 1.0
    # Its text: running prose, or short lines and links.
    prose = prose_share(page.lines, page.link_lines)
    if prose >= 0.6:
        score -= 2.0
    elif prose >= 0.35:
        score -= 1.0
    elif prose < 0.15:
        score += 1.5
    if page.link_density > 0.3:
        score += 1.5
    items = sum(1 for ln in page.lines if ln.startswith("- "))
    if items >= LIST_BODY_ITEMS and items >= LIST_BODY_SHARE * len(page.lines):
        score += LIST_BODY_POINTS
    return score
