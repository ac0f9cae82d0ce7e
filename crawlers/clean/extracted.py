"""What extraction yields for one page (:class:`Extracted`) and the page's link texts
(:class:`Anchors`): the types the extraction, the markup reader, the furniture removal and
the listing evidence share, apart from the extraction itself so none of them imports it."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from lxml.html import HtmlElement


@dataclass
class Extracted:
    """What one page yields before the site-level pass. Picklable: plain values only."""

    url: str
    final_url: str
    canonical_url: str
    domain: str
    source: str
    fetched_at: datetime
    status: int = 200
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    byline: str | None = None  # the raw byline, so its line can be removed from the body
    published_at: datetime | None = None
    site_name: str | None = None
    language: str | None = None
    declared_language: str | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    # Other forms of the headline (social title, <title> without the site name, the visible
    # heading): a body line equal to one of them is the headline again, not text.
    title_variants: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # body paragraphs as trafilatura gave them
    link_lines: list[bool] = field(default_factory=list)  # line is (almost) all anchor text
    link_density: float = 0.0  # share of body characters inside links
    is_listing: bool = False
    credited_source: str | None = None
    byline_outlet: str | None = None
    raw_line_count: int = 0  # lines trafilatura returned, before any cleaning
    removed: dict[str, int] = field(default_factory=dict)  # rule id -> lines removed
    headline_links: int = 0  # linked h2-h4 headings
    # Evidence for the article/listing decision (crawlers/clean/evidence.py), read from the
    # page's markup and URL; none of it decides alone.
    discovered_via: str = "link"
    typed_article: bool = False  # JSON-LD Article type or og:type=article
    typed_listing: bool = False  # JSON-LD CollectionPage/ItemList/... and no Article type
    og_website: bool = False
    listing_path: bool = False  # /tag/, /category/, /page/ ... in the path
    root_path: bool = False
    article_elements: int = 0  # <article> elements on the page
    teaser_links: int = 0  # distinct links with headline-length text (5 to 25 words)
    # Most sibling cards under one parent (markup.card_grid); read only where it can decide.
    card_grid: int = 0
    listing_score: float = 0.0  # listing points net of article points (evidence.py)
    error: str | None = None
    # The passes the body was read with (a plan of crawlers.clean.plans: "full" is all three,
    # the others what the site's earlier pages showed to give the same body).
    plan: str | None = None


class _TextIndex:
    """Link texts, for telling whether a line is (almost) all one of them."""

    def __init__(self, texts: set[str]) -> None:
        self.texts = texts
        self.by_length = sorted(texts, key=len)
        self.lengths = [len(t) for t in self.by_length]

    def covers(self, low: str) -> bool:
        if low in self.texts:
            return True
        # "Read also: <a>headline</a>" and similar: a link covering nearly all of the line.
        if len(low) >= 300:
            return False
        start = bisect_left(self.lengths, 0.8 * len(low))
        end = bisect_right(self.lengths, len(low))
        return any(a in low for a in self.by_length[start:end])


class Anchors:
    """Texts of the page's links (12 characters or more), lower case, for telling lines that
    are (almost) all link text; with the page's ``host``, also which of them link to another
    site (sources, references, a changelog's pull requests) rather than to the site's own
    pages (related posts, sections)."""

    def __init__(self, tree: HtmlElement, host: str | None = None) -> None:
        texts = set()
        teasers = set()
        elsewhere: set[str] = set()
        at_home: set[str] = set()
        own = _site_key(host) if host else None
        for a in tree.iter("a"):
            t = " ".join(a.text_content().split()).lower()
            if len(t) >= 12:
                texts.add(t)
                if 5 <= t.count(" ") + 1 <= 25:
                    teasers.add(t)
                if own and t.count(" ") >= 3:
                    (elsewhere if _links_elsewhere(a.get("href"), own) else at_home).add(t)
        self._all = _TextIndex(texts)
        # Distinct links whose text reads like a headline: a listing is a page of them.
        self.teasers = len(teasers)
        # Texts of four words or more that only link to other sites.
        self._elsewhere = _TextIndex(elsewhere - at_home)

    def covers(self, line: str) -> bool:
        return self._all.covers(line.lower())

    def covers_elsewhere(self, line: str) -> bool:
        """The line is (almost) all the text of a link to another site."""
        return bool(self._elsewhere.texts) and self._elsewhere.covers(line.lower())


def _site_key(host: str) -> str:
    """The host's site, roughly its registrable domain: the last two labels, or three under a
    country's second level (``co.uk``, ``com.au``, ``co.id``), so that a site's sections on
    sibling subdomains are one site."""
    labels = host.lower().rstrip(".").split(".")
    under_country = len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL
    return ".".join(labels[-3:] if under_country else labels[-2:])


# Second-level labels under which countries register names (co.uk, com.au, or.id, ac.jp).
_SECOND_LEVEL = frozenset(
    "ac co com edu gen go gob gov govt info int ltd mil ne net nic nom or org plc sch web".split()
)


def _links_elsewhere(href: str | None, own: str) -> bool:
    """An absolute http(s) link to another site than ``own`` (a :func:`_site_key`)."""
    if not href:
        return False
    href = href.strip()
    if href.startswith("//"):
        href = "http:" + href  # scheme-relative
    if not href[:8].lower().startswith(("http://", "https://")):
        return False
    try:
        host = _site_key(urlsplit(href).hostname or "")
    except ValueError:  # a malformed address ("http://[x")
        return False
    if not host:
        return False
    return host != own
