"""Telling article pages from home, section, tag, author, search and pagination pages.

The decision weighs evidence: being announced by the source's feed or sitemap is strong
evidence, so are a page's declared article type and an article body (several long paragraphs
side by side). A few URLs are listings by themselves (the bare site root, pagination, search,
``/tag/<name>/``-style pages and the query forms of these); every other hint (``og:type``
``website``, a root path with a query, a listing word deeper in the path) only weighs a little,
so that no single weak hint drops a page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from parsel import Selector

from crawlers.htmlfix import reopen_body
from crawlers.urls import tracking
from crawlers.wordcount import token_count

LISTING_WORDS = (
    r"tag|tags|category|categories|section|sections|topic|topics|author|authors|search|"
    r"archive|archives|kategori|topik|penulis|indeks|index|label|cari|arsip"
)
# /tag/economy/, /category/world/page/3/, /search/, /author/jane/: a listing word followed by
# at most one name and an optional page number, at the end of the path.
LISTING_PATH = re.compile(
    rf"/(?:{LISTING_WORDS})(?:/[^/]+)?/?(?:page/\d+/?)?$",
    re.I,
)
# Listings whatever their name: a tag, an author, a label or a search is never a story's
# section, however long its name (/tag/climate-change-and-the-sea/), and neither is one of
# Drupal's term pages (/taxonomy/term/12).
NAMED_LISTING_PATH = re.compile(
    r"/(?:(?:tags?|authors?|labels?|search|cari|penulis)(?:/[^/]+)?|taxonomy/term/\d+)/?"
    r"(?:page/\d+/?)?$",
    re.I,
)
# A listing word somewhere before more path: a weak hint (/category/2024/05/some-story).
LISTING_PATH_HINT = re.compile(rf"/(?:{LISTING_WORDS})/", re.I)
PAGINATION_PATH = re.compile(r"/page/\d+/?$", re.I)
# A path that ends with a date is that date's archive (/2024/, /2024/05/, /2024/05/17/): a
# story's address goes on after the date.
DATE_ARCHIVE_PATH = re.compile(
    r"/(?:19|20)\d\d(?:/(?:0?[1-9]|1[0-2])(?:/(?:0?[1-9]|[12]\d|3[01]))?)?/?$"
)
# A slug: a path segment of words joined by hyphens (some sites put the date after it).
SLUG_SEGMENT = re.compile(r"/[^/]*-[^/]*-[^/]*/")


def _date_archive(path: str) -> bool:
    """A path ending with a date and no story slug before it (/news/2024/05/)."""
    date = DATE_ARCHIVE_PATH.search(path)
    return date is not None and not SLUG_SEGMENT.search(path[: date.start() + 1])


# The site's root: "/", an empty path, or the root's index file (/index.html, /index.php).
_ROOT_PATH = re.compile(r"/(?:index\.\w+)?")


def is_root_path(path: str) -> bool:
    """Whether a URL's path is the site's root (its home page, whatever the query)."""
    return _ROOT_PATH.fullmatch(path or "/") is not None


# A person's page (/@name), as blogging platforms and social sites give them.
PROFILE_PATH = re.compile(r"/@[^/]+/?$")
# Query parameters that make a URL a search, a tag or category listing, or a feed.
LISTING_PARAMS = frozenset(
    {"s", "q", "query", "search", "tag", "cat", "category", "author", "paged", "feed", "m",
     "year", "monthnum", "day"}
)
SEARCH_PARAMS = frozenset({"s", "q", "query", "search"})
# Dates, with the fewest digits each holds as a date (m=2024, m=202403, year=2024, day=5).
DATE_PARAM_DIGITS = {"m": 4, "year": 4, "monthnum": 1, "day": 1}
DATE_PARAMS = frozenset(DATE_PARAM_DIGITS)
# What narrows a list to one name or date; beside a parameter naming one item, the item wins.
FILTER_PARAMS = frozenset({"tag", "cat", "category", "author"}) | DATE_PARAMS
# Parameters that say what kind of page the query shows, and values that name a list.
VIEW_PARAMS = ("view", "layout", "task", "type", "mode")
LISTING_VIEWS = frozenset(
    {"category", "categories", "list", "archive", "archives", "search", "tag", "tags",
     "section", "sections", "featured", "blog", "feed", "frontpage", "author"}
)  # fmt: skip
# Pagination parameters: a listing when nothing else is in the query.
PAGE_PARAMS = frozenset({"page", "pg", "start", "offset"})
# Query parameters that name one post (WordPress's default permalinks ?p=123, ?page_id=7,
# and the common id forms of other CMSs).
ARTICLE_PARAMS = frozenset(
    {"p", "page_id", "id", "article", "articleid", "article_id", "story", "storyid",
     "story_id", "news", "newsid", "news_id", "post", "postid", "post_id", "aid", "nid"}
)
DATED_PATH = re.compile(r"/(?:19|20)\d\d/(?:0?[1-9]|1[0-2])(?:/|-)")
# schema.org's Article and its subtypes (lower case): the kinds of news article, blog and
# live-blog posts, reports, scholarly and technical articles. Forum and social-media postings
# (also subtypes of Article) are left out: a thread is no story.
ARTICLE_TYPES = frozenset(
    {"article", "advertisercontentarticle", "newsarticle", "analysisnewsarticle",
     "askpublicnewsarticle", "backgroundnewsarticle", "opinionnewsarticle",
     "reportagenewsarticle", "reviewnewsarticle", "report", "satiricalarticle",
     "scholarlyarticle", "medicalscholarlyarticle", "blogposting", "liveblogposting",
     "techarticle", "apireference"}
)  # fmt: skip
LISTING_TYPES = ("collectionpage", "itemlist", "searchresultspage", "profilepage")
JSONLD_TYPE = re.compile(r'"@type"\s*:\s*(?:\[\s*)?"([A-Za-z]+)"')

THRESHOLD = 3
# A page reached through a link scoring from UNSURE up to THRESHOLD, with no listing signal,
# goes on to the cleaning stage rather than being dropped here on too little evidence.
UNSURE = 1
ANNOUNCED = 4  # a feed or sitemap entry: an article unless strong evidence says otherwise
STRONG = 3  # og:type article, a JSON-LD article type; a listing JSON-LD type, a page of teasers
WEAK = 1  # og:type website, a listing word deep in the path, a root path with a query
BODY = 2  # several long paragraphs in one container
LONG_PARAGRAPH_WORDS = 12


def query_params(query: str) -> dict[str, str]:
    """The query's parameters, less those that only track a visit (:func:`urls.tracking`):
    the page is judged by the URL the crawl keys it under."""
    return {k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True) if not tracking(k)}


def _route(value: str) -> bool:
    """A path passed as a query value (Drupal's ``?q=node/123``): a page's address, not a
    search."""
    return "/" in value and not any(ch.isspace() for ch in value.strip())


def _listing_params(params: dict[str, str]) -> set[str]:
    """The parameters that make a query a listing. A search parameter holding a path is a
    route (:func:`_route`), a listing only when it leads to one (:func:`_listing_route`),
    and a route to an item otherwise; a date parameter holds a date (WordPress's ``?m=202403``
    archive), not a flag such as Blogger's mobile ``?m=1``."""
    found = set()
    for key in LISTING_PARAMS & params.keys():
        value = params[key].strip()
        if key in SEARCH_PARAMS and _route(value) and not _listing_route(value):
            continue
        if key in DATE_PARAMS and not (value.isdigit() and len(value) >= DATE_PARAM_DIGITS[key]):
            continue
        found.add(key)
    return found


def _names_item(params: dict[str, str]) -> bool:
    return any(params.get(k, "").strip() for k in ARTICLE_PARAMS) or any(
        key in SEARCH_PARAMS
        and _route(value)
        and value.rstrip("/").rsplit("/", 1)[-1].isdigit()
        for key, value in params.items()
    )


def _listing_route(value: str) -> bool:
    """A route (:func:`_route`) to a tag, author or term page (Drupal's
    ``?q=taxonomy/term/5``)."""
    return NAMED_LISTING_PATH.search("/" + value.strip().strip("/")) is not None


def listing_query(query: str) -> bool:
    """A search, tag, category or feed query, a view that names a list (Joomla's
    ``view=category``), or pagination with nothing else. A query naming one item beside a
    category, tag, author or date (``?cat=2&id=345``) is that item."""
    return _query_kind(query_params(query)) == "listing"


def article_query(query: str) -> bool:
    """A query naming one post by its id (``?p=123``, ``?page_id=7``, ``?id=42``, Drupal's
    ``?q=node/42``)."""
    return _query_kind(query_params(query)) == "item"


def _query_kind(params: dict[str, str]) -> str | None:
    """``listing`` (:func:`listing_query`), ``item`` (:func:`article_query`) or None, from
    a query's parameters read once."""
    if not params:
        return None
    if any(params.get(k, "").strip().lower() in LISTING_VIEWS for k in VIEW_PARAMS):
        return "listing"
    item = _names_item(params)
    listing = _listing_params(params)
    if listing and not (listing <= FILTER_PARAMS and item):
        return "listing"
    if item:
        return "item"
    return "listing" if not listing and params.keys() <= PAGE_PARAMS else None


# WordPress's numeric permalinks (/archives/1234): a post id after an archive word. A year
# there is the year's archive.
ARCHIVE_POST_ID = re.compile(r"/(?:archives?|arsip)/(\d+)/?$", re.I)


def _archive_post(path: str) -> bool:
    match = ARCHIVE_POST_ID.search(path)
    return match is not None and not re.fullmatch(r"(?:19|20)\d\d", match.group(1))


def listing_url(url: str) -> bool:
    """URLs that are listings by themselves: the bare site root, pagination, search, tag,
    category and author pages (as paths or queries). A root path with a query naming a post
    (WordPress's ``/?p=123``) is not one, nor an archive word followed by a post id
    (``/archives/1234``)."""
    parts = urlsplit(url)
    path = parts.path or "/"
    params = query_params(parts.query)
    kind = _query_kind(params)
    if kind == "listing":
        return True
    if kind == "item" or _archive_post(path):
        return False
    if is_root_path(path):
        return not params  # the home page; with another query, the page decides
    if PAGINATION_PATH.search(path) or PROFILE_PATH.match(path):
        return True
    if _date_archive(path):
        return True
    # /category/<name>/, unless the name looks like an article's slug
    # (/section/a-long-story-slug); /tag/<name>/ and /author/<name>/ whatever the name.
    if NAMED_LISTING_PATH.search(path):
        return True
    return bool(LISTING_PATH.search(path)) and article_url_score(url) < 2


def article_url_score(url: str) -> int:
    parts = urlsplit(url)
    path = parts.path
    score = 0
    if DATED_PATH.search(path):
        score += 2
    slug = path.rstrip("/").rsplit("/", 1)[-1]
    if slug.count("-") >= 3:
        score += 2
    if re.search(r"\d{5,}", slug):
        score += 1
    if slug.endswith((".html", ".htm", ".php", ".aspx")) and not slug.startswith("index."):
        score += 1
    if article_query(parts.query) or _archive_post(path):
        score += 2
    return score


def weak_url_hint(url: str) -> bool:
    """URL hints of a listing too weak to decide alone: a listing word with more path after
    it, a root path with a query that names no post."""
    parts = urlsplit(url)
    if LISTING_PATH_HINT.search(parts.path) and not _archive_post(parts.path):
        return True
    if not is_root_path(parts.path):
        return False
    params = query_params(parts.query)
    return bool(params) and _query_kind(params) != "item"


def _may_say_listing(lowered: str) -> bool:
    """Whether the raw page could carry one of the signals that lower the score below
    (og:type website/profile, a listing JSON-LD type, three or more <article> elements).
    A superset test on the text: false means none of them is there."""
    if "og:type" in lowered and ("website" in lowered or "profile" in lowered):
        return True
    if any(t in lowered for t in LISTING_TYPES):
        return True
    return lowered.count("<article") >= 3


def _body_paragraphs(sel: Selector) -> int:
    """The most long paragraphs (``LONG_PARAGRAPH_WORDS`` words or more) under one parent: an
    article's body has several side by side, a listing's teasers one each."""
    per_parent: dict[int, int] = {}
    for p in sel.root.iter("p"):
        if token_count(p.text_content()) >= LONG_PARAGRAPH_WORDS:
            parent = p.getparent()
            per_parent[id(parent)] = per_parent.get(id(parent), 0) + 1
    return max(per_parent.values(), default=0)


@dataclass(frozen=True)
class Verdict:
    article: bool
    reason: str | None  # why not an article: listing_url | listing | not_article
    score: int


def judge(url: str, html: str, *, announced: bool = False) -> Verdict:
    """Whether a fetched page is a single article, with the evidence's score and, for
    non-articles, why: ``listing_url`` (the URL alone names a listing), ``listing`` (the page
    says it lists others), ``not_article`` (too little evidence of an article)."""
    if listing_url(url):
        return Verdict(False, "listing_url", 0)
    if not html:
        return Verdict(False, "not_article", 0)
    head = html[:400_000]
    weak = weak_url_hint(url)
    if announced and not weak and not _may_say_listing(head.lower()):
        # Announced pages start above the threshold and nothing here can lower the score:
        # the same answer as the full scoring below, without parsing the page.
        return Verdict(True, None, ANNOUNCED)
    sel = Selector(text=reopen_body(head))
    score = ANNOUNCED if announced else 0
    score += article_url_score(url)
    if weak:
        score -= WEAK
    listing_signal = False
    og_type = (sel.xpath("//meta[@property='og:type']/@content").get() or "").strip().lower()
    if og_type == "article":
        score += STRONG
    elif og_type in ("website", "profile"):
        score -= WEAK
    jsonld = " ".join(sel.xpath("//script[@type='application/ld+json']/text()").getall())
    types = {t.lower() for t in JSONLD_TYPE.findall(jsonld)}
    if types & ARTICLE_TYPES:
        score += STRONG
    if types.intersection(LISTING_TYPES):
        score -= STRONG
        listing_signal = True
    body = _body_paragraphs(sel) >= 3
    if body:
        score += BODY
    n_articles = len(sel.xpath("//article"))
    if n_articles == 1:
        score += 1
    elif n_articles >= 3 and not body:
        score -= STRONG  # a page of teasers
        listing_signal = True
    if score >= THRESHOLD or (not listing_signal and score >= UNSURE):
        # Some evidence of an article and no sign of a listing: the cleaning stage, which
        # reads the text, decides (crawlers/clean/evidence.py).
        return Verdict(True, None, score)
    return Verdict(False, "listing" if listing_signal else "not_article", score)


def is_article(url: str, html: str, *, announced: bool = False) -> bool:
    """Whether a fetched page is a single article rather than a listing (:func:`judge`).

    ``announced`` is true for URLs a feed or sitemap listed, which are articles unless the
    page or URL gives strong evidence otherwise.
    """
    return judge(url, html, announced=announced).article
