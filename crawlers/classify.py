"""Telling article pages from home, section, tag, author, search and pagination pages."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from parsel import Selector

LISTING_PATH = re.compile(
    r"/(?:tag|tags|category|categories|section|sections|topic|topics|author|authors|"
    r"search|page|archive|archives|kategori|topik|penulis|indeks|index)(?:/|$)",
    re.I,
)
LISTING_QUERY = re.compile(r"(?:^|&)(?:page|p|s|q|query|search|paged)=", re.I)
DATED_PATH = re.compile(r"/(?:19|20)\d\d/(?:0?[1-9]|1[0-2])(?:/|-)")
ARTICLE_TYPES = {"article", "newsarticle", "reportagenews", "blogposting", "analysisnewsarticle",
                 "opinionnewsarticle", "backgroundnewsarticle", "reviewnewsarticle", "report"}
LISTING_TYPES = ("collectionpage", "itemlist", "searchresultspage", "profilepage")
JSONLD_TYPE = re.compile(r'"@type"\s*:\s*(?:\[\s*)?"([A-Za-z]+)"')


def listing_url(url: str) -> bool:
    """URLs that name a listing: the site root, section/tag/author/search/pagination paths."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if path in ("", "/") or re.fullmatch(r"/(?:index\.\w+)?", path):
        return True
    if LISTING_PATH.search(path) or LISTING_QUERY.search(parts.query):
        return True
    return False


def article_url_score(url: str) -> int:
    path = urlsplit(url).path
    score = 0
    if DATED_PATH.search(path):
        score += 2
    slug = path.rstrip("/").rsplit("/", 1)[-1]
    if slug.count("-") >= 3:
        score += 2
    if re.search(r"\d{5,}", slug):
        score += 1
    if slug.endswith((".html", ".htm", ".php", ".aspx")):
        score += 1
    return score


def _may_say_listing(lowered: str) -> bool:
    """Whether the raw page could carry one of the signals that lower the score below
    (og:type website/profile, a listing JSON-LD type, three or more <article> elements).
    A superset test on the text: false means none of them is there."""
    if "og:type" in lowered and ("website" in lowered or "profile" in lowered):
        return True
    if any(t in lowered for t in LISTING_TYPES):
        return True
    return lowered.count("<article") >= 3


def is_article(url: str, html: str, *, announced: bool = False) -> bool:
    """Whether a fetched page is a single article rather than a listing.

    ``announced`` is true for URLs a feed or sitemap listed, which are articles unless the
    page or URL says otherwise.
    """
    if listing_url(url):
        return False
    if not html:
        return False
    head = html[:400_000]
    if announced and not _may_say_listing(head.lower()):
        # Announced pages start at the threshold and nothing here can lower the score:
        # the same answer as the full scoring below, without parsing the page.
        return True
    sel = Selector(text=head)
    score = 3 if announced else 0
    score += article_url_score(url)
    og_type = (sel.xpath("//meta[@property='og:type']/@content").get() or "").strip().lower()
    if og_type == "article":
        score += 3
    elif og_type in ("website", "profile"):
        score -= 3
    jsonld = " ".join(sel.xpath("//script[@type='application/ld+json']/text()").getall())
    types = {t.lower() for t in JSONLD_TYPE.findall(jsonld)}
    if types & ARTICLE_TYPES:
        score += 3
    if types.intersection(LISTING_TYPES):
        score -= 3
    n_articles = len(sel.xpath("//article"))
    if n_articles == 1:
        score += 1
    elif n_articles >= 3:
        score -= 3
    paragraphs = [p for p in sel.xpath("//p//text()").getall() if len(p.split()) >= 12]
    if len(paragraphs) >= 3:
        score += 1
    return score >= 3
