"""Metadata read from a page's own markup: JSON-LD, meta tags, the visible byline and
dateline near the title, the headline and its variants, and the evidence the article/listing
decision weighs (crawlers/clean/evidence.py)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, time
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml.html import HtmlElement

from crawlers.classify import ARTICLE_TYPES, is_root_path
from crawlers.clean import metadata as md
from crawlers.clean.extracted import Extracted
from crawlers.records import Page

# A JSON-LD node of an article type; a WebPage node is read for its fields only along with
# one (read_metadata: a node typed WebPage alone is no article).
_ARTICLE_TYPES = ARTICLE_TYPES | {"webpage"}
# A WebSite node describes the site (most pages carry one), not the page: it is no listing type.
_LISTING_TYPES = {"collectionpage", "itemlist", "searchresultspage", "profilepage"}
_LISTING_PATH = re.compile(
    r"/(tag|tags|topic|topics|category|categories|kategori|label|author|authors|penulis|"
    r"section|search|cari|archive|archives|arsip|indeks|index|page)(/|$|\.)",
    re.I,
)
_WS = re.compile(r"\s+")


def _text(node: HtmlElement) -> str:
    return " ".join(node.text_content().split())


# Compiled XPath expressions, kept: ``tree.xpath(text)`` compiles its expression on every call.
xpath = lru_cache(maxsize=256)(etree.XPath)


def _first(tree: HtmlElement, *xpaths: str) -> str | None:
    for xp in xpaths:
        for value in xpath(xp)(tree):
            value = value if isinstance(value, str) else _text(value)
            value = _WS.sub(" ", value).strip()
            if value:
                return value
    return None


def _json_ld(tree: HtmlElement) -> list[dict]:
    """Every JSON-LD object on the page, @graph flattened."""
    found: list[dict] = []
    for script in xpath('//script[@type="application/ld+json"]')(tree):
        try:
            data = json.loads(script.text or "")
        except (ValueError, TypeError):
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                found.append(item)
                if "@graph" in item:
                    stack.append(item["@graph"])
    return found


def _types(obj: dict) -> set[str]:
    t = obj.get("@type", [])
    return {str(x).lower() for x in (t if isinstance(t, list) else [t])}


def _names(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return _names(value.get("name"))
    if isinstance(value, list):
        return [n for v in value for n in _names(v)]
    return []


def _meta_index(tree: HtmlElement) -> dict[str, list[str]]:
    """All <meta> values by property/name/itemprop (lower case), read in one pass."""
    index: dict[str, list[str]] = {}
    for node in tree.iter("meta"):
        content = (node.get("content") or "").strip()
        if not content:
            continue
        for attr in ("property", "name", "itemprop"):
            key = node.get(attr)
            if key:
                index.setdefault(key.strip().lower(), []).append(content)
    return index


def _meta(index: dict[str, list[str]], *keys: str) -> str | None:
    for key in keys:
        values = index.get(key.lower())
        if values:
            return values[0]
    return None


def _class_byline(tree: HtmlElement) -> str | None:
    """The byline named by class, in this order: ``byline``; ``author-name``/``author__name``;
    an hCard's ``fn`` inside ``vcard`` (hAtom entries: Blogger, older WordPress themes). One
    XPath pass collects the candidates (each class test over the whole tree is costly)."""
    found: dict[int, str] = {}
    for node in xpath(
        '//*[@class][contains(@class, "byline") or contains(@class, "author") or '
        'contains(@class, "fn")]'
    )(tree):
        classes = node.get("class", "").split()
        if "byline" in classes:
            rank = 0
        elif any("author-name" in c or "author__name" in c for c in classes):
            rank = 1
        elif "fn" in classes and any(
            "vcard" in (a.get("class") or "").split() for a in node.iterancestors()
        ):
            rank = 2
        else:
            continue  # an author box, a class with "fn" in it: its text is not read
        if rank in found:
            continue
        text = _text(node)
        if not text:
            continue
        found[rank] = text
        if rank == 0:
            break  # nothing ranks before a byline
    return found[min(found)] if found else None


def read_metadata(tree: HtmlElement, page: Page, out: Extracted) -> None:
    ld = _json_ld(tree)
    meta = _meta_index(tree)
    articles = [o for o in ld if _types(o) & _ARTICLE_TYPES and _types(o) != {"webpage"}]
    art = articles[0] if articles else {}
    og_type = (_meta(meta, "og:type") or "").lower()

    canonical = _first(tree, '//link[@rel="canonical"]/@href') or _meta(meta, "og:url")
    if canonical:
        resolved = urljoin(out.final_url, canonical)
        if urlsplit(resolved).scheme in ("http", "https"):
            out.canonical_url = resolved

    headline = art.get("headline") if isinstance(art.get("headline"), str) else None
    title_tag = _first(tree, "//title")
    out.title = (
        _meta(meta, "og:title", "twitter:title")
        or headline
        or _page_headline(tree, title_tag)
        or page.hint_title
    )
    publisher = _names(art.get("publisher"))
    out.site_name = _meta(meta, "og:site_name", "application-name") or (
        publisher[0] if publisher else None
    )

    byline = _first(tree, '//*[@rel="author"]') or _class_byline(tree)
    names = _names(art.get("author"))
    meta_author = _meta(meta, "author", "article:author", "dc.creator")
    if meta_author and meta_author.startswith("http"):
        meta_author = None
    raw = byline or (", ".join(names) if names else None) or meta_author
    machine, published = _machine_date(tree, art, meta)
    # The text under the title is read for a byline or a date only where the markup lacks
    # one: a byline, and a machine date with its time and zone, leave nothing for it to give.
    settled = published is not None and md.has_time(machine) and md.has_zone(machine)
    header = _visible_header(tree, out.title, read_lines=raw is None or not settled)
    out.title_variants = _title_variants(
        out.title,
        _meta(meta, "og:title"),
        _meta(meta, "twitter:title"),
        headline,
        title_tag,
        header.heading,
    )
    if raw is None and header.byline:
        # A class-less page: the "Name, Outlet" line under the title.
        out.byline = header.byline
        out.authors, out.byline_outlet = header.authors, header.outlet
    else:
        out.byline = raw
        authors, outlet = md.split_byline(raw)
        if not authors and names:
            authors, outlet = md.split_byline(", ".join(names))
        out.authors, out.byline_outlet = authors, outlet

    out.published_at = _publication_date(tree, machine, published, header, page, out.final_url)

    lang = xpath("/html/@lang")(tree)
    lang = lang or xpath('//meta[@http-equiv="content-language"]/@content')(tree)
    out.declared_language = (lang[0].strip() if lang else None) or _meta(meta, "og:locale")
    if not out.declared_language and isinstance(art.get("inLanguage"), str):
        out.declared_language = art["inLanguage"]

    section = _meta(meta, "article:section") or art.get("articleSection")
    if isinstance(section, list):
        section = section[0] if section else None
    out.section = section if isinstance(section, str) and section.strip() else None
    tags = list(meta.get("article:tag", []))
    keywords = art.get("keywords") or _meta(meta, "news_keywords", "keywords")
    if not tags and keywords:
        kw = keywords if isinstance(keywords, list) else str(keywords).split(",")
        tags = [str(k) for k in kw]
    seen: dict[str, None] = {}
    for t in tags:
        t = _WS.sub(" ", t).strip()
        if t and t.lower() not in {s.lower() for s in seen}:
            seen[t] = None
    out.tags = list(seen)[:30]

    path = urlsplit(out.final_url).path
    out.discovered_via = page.discovered_via
    out.typed_article = bool(articles) or og_type == "article"
    out.typed_listing = any(_types(o) & _LISTING_TYPES for o in ld) and not articles
    out.og_website = og_type == "website"
    out.listing_path = bool(_LISTING_PATH.search(path))
    out.root_path = is_root_path(path)
    out.article_elements = sum(1 for _ in tree.iter("article"))
    out.headline_links = len(xpath("//h2//a | //h3//a | //h4//a")(tree))


# A grid of cards: sibling elements of one kind (same tag and class) under one parent, each a
# link with an image or a heading and little text. Product grids, story teasers and episode
# lists are laid out so; an article's body is paragraphs, and its "related" box a few cards.
CARD_GRID_MIN = 8
CARD_MAX_WORDS = 80
_CARD_PARENTS = etree.XPath(f"//*[count(*) >= {CARD_GRID_MIN}]")
_IS_CARD = etree.XPath(
    "boolean(descendant-or-self::a[@href]) and boolean(descendant::img | descendant::picture"
    " | descendant::h1 | descendant::h2 | descendant::h3 | descendant::h4 | descendant::h5"
    " | descendant::h6)"
)


def card_grid(tree: HtmlElement) -> int:
    """The most cards side by side under one parent, counted up to :data:`CARD_GRID_MIN`
    (enough to tell a grid; the count stops there)."""
    best = 0
    for parent in _CARD_PARENTS(tree):
        groups: dict[tuple[str, str | None], list[HtmlElement]] = {}
        for child in parent:
            if isinstance(child.tag, str):
                groups.setdefault((child.tag, child.get("class")), []).append(child)
        for members in groups.values():
            if len(members) <= best:
                continue
            cards = 0
            for node in members:
                if _IS_CARD(node) and len(node.text_content().split()) <= CARD_MAX_WORDS:
                    cards += 1
                    if cards >= CARD_GRID_MIN:
                        return cards
            best = max(best, cards)
    return best


_DAY = 36 * 3600  # two dates this close (seconds) can be the same day in different zones


def _machine_date(
    tree: HtmlElement, art: dict, meta: dict[str, list[str]]
) -> tuple[str | None, datetime | None]:
    """The publication date the markup states for machines, as written and as read:
    JSON-LD and meta tags, then ``<time>`` and hAtom."""
    machine = (
        art.get("datePublished") if isinstance(art.get("datePublished"), str) else None
    ) or _meta(
        meta,
        "article:published_time",
        "datePublished",
        "pubdate",
        "publishdate",
        "date",
        "dc.date",
        "dc.date.issued",
        "parsely-pub-date",
        "sailthru.date",
        "og:published_time",
        "content_PublishedDate",
    )  # fmt: skip
    published = md.parse_iso(machine)
    if published is None:
        machine = _first(
            tree,
            "//time/@datetime",
            # hAtom's published date: <abbr class="published" title="2024-03-11T05:15:00+07:00">
            '//abbr[contains(concat(" ", normalize-space(@class), " "), " published ")]/@title',
        )
        published = md.parse_iso(machine)
    return machine, published


def _publication_date(
    tree: HtmlElement,
    machine: str | None,
    published: datetime | None,
    header: _Header,
    page: Page,
    url: str,
) -> datetime | None:
    """The publication time in UTC, from the best source that gives one, and a time of day
    over a bare day: the machine date (:func:`_machine_date`), the visible dateline under
    the title, a class-named date element, the feed's timestamp, the URL's day, the feed's
    day."""
    timed = published is not None and md.has_time(machine)
    if header.published is not None and (
        published is None
        # A day without a time ("2019-11-18") loses to the visible timestamp of that day.
        or (
            not timed
            and header.has_time
            and abs((header.published - published).total_seconds()) <= _DAY
        )
        # A time without a zone ("2024-03-12 12:02:00") is the site's local time, read above as
        # UTC; the visible "12/03/2024, 12:02 WIB" says which zone: same clock, whole hours off.
        or (
            timed
            and not md.has_zone(machine)
            and header.has_time
            and _whole_hours_apart(header.published, published)
        )
    ):
        published, timed = header.published, header.has_time
    if published is None:
        dateline = _first(
            tree,
            '//*[contains(@class, "date") or contains(@class, "time") or contains(@class, "posted")]',  # noqa: E501
        )
        found = md.parse_dateline(dateline) if dateline else None
        if found:
            published, timed = found
    hint = page.hint_date
    hint_timed = hint if hint is not None and hint.time() != time() else None
    if published is not None and not timed and hint_timed is not None:
        # The page gives the day only; the feed or sitemap gave a time on that day.
        if abs((hint_timed - published).total_seconds()) <= _DAY:
            return hint_timed
    # URL dates are day-only: a feed's full timestamp is better when the page gives none.
    return published or hint_timed or md.date_from_url(url) or hint


# --- visible byline and dateline near the title ----------------------------------------------
_BLOCK_TAGS = frozenset(
    "p div li ul ol header section article aside address figure figcaption table tbody tr td "
    "dl dt dd h1 h2 h3 h4 h5 h6 blockquote footer nav form main center".split()
)
_SKIP_TAGS = frozenset("script style noscript template svg button select option".split())
HEADER_MAX_BLOCKS = 15  # short blocks looked at after the title
_HEADER_BEFORE = 3  # ... and right before it (a date above the headline)
_HEADER_LONG_WORDS = 30  # a block this long is body text (or a caption)
SEGMENT_SPLIT = re.compile(r"\s+[|·•–—-]\s+|\s*\|\s*")
# Words a dateline may hold besides the date itself.
_DATELINE_WORDS = re.compile(
    r"(?i)^(published|updated|last|posted|on|at|by|date|time|diterbitkan|diperbarui|"
    r"dipublikasikan|terbit|update|pukul|jam|wib|wita|wit|am|pm|a\.m|p\.m|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|tues|wed|thu|thur|"
    r"thurs|fri|sat|sun|senin|selasa|rabu|kamis|jumat|jum'at|sabtu|minggu|ahad|"
    r"gmt[+-]?\d*|utc[+-]?\d*)$"
)
_ZONES = frozenset(md.TZ_ABBREV) | {"ET", "CT", "MT", "PT"}
_UPDATED = re.compile(r"(?i)^\W*(last\s+)?(updated?|diperbarui|modified)\b")


@dataclass
class _Header:
    heading: str | None = None  # text of the heading taken for the title
    byline: str | None = None
    authors: list[str] = field(default_factory=list)
    outlet: str | None = None
    published: datetime | None = None
    has_time: bool = False


def _title_heading(tree: HtmlElement, title: str | None) -> HtmlElement | None:
    """The heading that shows the page's title; the first ``<h1>`` when none matches."""
    want = norm(title or "")
    first_h1 = None
    for node in tree.iter("h1", "h2", "h3"):
        text = norm(node.text_content())
        if len(text) < 10:
            continue
        if node.tag == "h1" and first_h1 is None:
            first_h1 = node
        if want and (text == want or text in want or want in text):
            return node
    return first_h1


def _leaf_blocks(node: HtmlElement):  # type: ignore[no-untyped-def]
    """Block elements without block children under ``node`` (``node`` itself if inline)."""
    if not isinstance(node.tag, str) or node.tag in _SKIP_TAGS:
        return
    if node.tag not in _BLOCK_TAGS or not any(
        isinstance(d.tag, str) and d.tag in _BLOCK_TAGS for d in node.iterdescendants()
    ):
        yield node
        return
    for child in node:
        yield from _leaf_blocks(child)


def _header_texts(heading: HtmlElement) -> list[str]:
    """Texts of the short blocks around the title heading, nearest first: the few right before
    it, then those after it until the body starts (climbing out of wrappers such as
    ``<header>``)."""
    before: list[str] = []
    node: HtmlElement | None = heading
    for _ in range(2):
        if node is None or node.tag in ("body", "html") or len(before) >= _HEADER_BEFORE:
            break
        for sib in node.itersiblings(preceding=True):
            before.extend(t for leaf in reversed(list(_leaf_blocks(sib))) if (t := _text(leaf)))
            if len(before) >= _HEADER_BEFORE:
                break
        node = node.getparent()
    after: list[str] = []
    long_blocks = 0
    node = heading
    for _ in range(4):
        if node is None or node.tag in ("body", "html"):
            break
        for sib in node.itersiblings():
            for leaf in _leaf_blocks(sib):
                text = _text(leaf)
                if not text:
                    continue
                if len(text.split()) > _HEADER_LONG_WORDS:
                    long_blocks += 1
                    if long_blocks >= 2:
                        return after + before[:_HEADER_BEFORE]
                    continue
                after.append(text)
                if len(after) >= HEADER_MAX_BLOCKS:
                    return after + before[:_HEADER_BEFORE]
        node = node.getparent()
    return after + before[:_HEADER_BEFORE]


def is_dateline(segment: str) -> bool:
    """Whether a short text is (almost) only a date: at most one word that is not a month, a
    weekday, a zone or a word such as "published"/"updated"/"pukul"."""
    words = re.findall(r"[^\W\d_][\w'.]*", segment)
    other = [w for w in words if md.MONTHS.get(w.lower().rstrip(".")) is None
             and not _DATELINE_WORDS.match(w.rstrip(".")) and w not in _ZONES]  # fmt: skip
    return len(other) <= 1


def _visible_header(tree: HtmlElement, title: str | None, read_lines: bool = True) -> _Header:
    """Byline and dateline shown as plain text near the title, for pages whose markup names
    neither (class-less themes): "Thea Fathanah Arbar, CNBC Indonesia",
    "Tuesday, 17/10/2023 13:30 WIB", "By Dana Whitfield | March 3, 2024". Without
    ``read_lines``, only the title's heading."""
    found = _Header()
    heading = _title_heading(tree, title)
    if heading is None:
        return found
    found.heading = _text(heading)
    if not read_lines:
        return found
    dates: list[tuple[bool, bool, datetime]] = []  # (is an update, lacks a time, value)
    for text in _header_texts(heading):
        if len(text) > 160:
            continue
        # The whole block first ("Selasa, 5 Maret 2024 | 21:10 WIB"), then its parts
        # ("By Dana Whitfield | March 3, 2024").
        segments = [text, *(p.strip() for p in SEGMENT_SPLIT.split(text))]
        for segment in dict.fromkeys(segments):
            if not segment or len(segment) > 100:
                continue
            if found.byline is None and (who := md.visible_byline(segment)):
                found.byline, (found.authors, found.outlet) = segment, who
            dated_part = re.split(r"(?i)\s(?:by|oleh)\s", segment)[0]
            if any(ch.isdigit() for ch in dated_part) and is_dateline(dated_part):
                parsed = md.parse_dateline(dated_part)
                if parsed:
                    dates.append((bool(_UPDATED.match(segment)), not parsed[1], parsed[0]))
    if dates:
        _, no_time, value = min(dates, key=lambda d: (d[0], d[1]))
        found.published, found.has_time = value, not no_time
    return found


_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "«": '"', "»": '"'})
_TITLE_SEPARATORS = re.compile(r"\s+[|–—•·:]+\s+|\s+-\s+|\s*::\s*")


def norm(text: str) -> str:
    return " ".join(text.translate(_QUOTES).split()).lower().strip(" .:-–—|")


def _whole_hours_apart(a: datetime, b: datetime) -> bool:
    seconds = abs((a - b).total_seconds())
    return 0 < seconds <= 14 * 3600 and seconds % 1800 == 0


_SEPARATOR_CHARS = " :|-–—»·•"


def _is_home_link(node: HtmlElement) -> bool:
    """A heading that is only a link to the home page: the site's name or logo."""
    links = node.findall(".//a")
    if len(links) != 1 or _text(links[0]) != _text(node):
        return False
    href = (links[0].get("href") or "").strip()
    return href in ("", "/", "./", "#") or urlsplit(href).path in ("", "/")


def _page_headline(tree: HtmlElement, title_tag: str | None) -> str | None:
    """The first ``<h1>`` that is not the site's name; else an ``<h2>``/``<h3>`` that
    ``<title>`` starts or ends with; else ``<title>`` with the site's name cut off where a blog
    theme puts it in ``<h1>`` ("Blog Name: Headline")."""
    site_h1 = None
    for node in tree.iter("h1"):
        text = _text(node)
        if not text:
            continue
        if not _is_home_link(node):
            return text
        site_h1 = site_h1 or text
    if title_tag:
        # No headline <h1>: a lower heading that <title> holds whole, with the site's name
        # around it ("<h2>Headline</h2>", "<title>Headline :: Site</title>").
        low_title = " ".join(title_tag.split()).lower()
        for node in tree.iter("h2", "h3"):
            text = _text(node)
            low = text.lower()
            if (
                len(text.split()) >= 3
                and low != low_title
                and (low_title.startswith(low) or low_title.endswith(low))
            ):
                return text
    if site_h1 and title_tag:
        low_title, low_h1 = title_tag.lower(), site_h1.lower()
        rest = ""
        if low_title.startswith(low_h1):
            rest = title_tag[len(site_h1) :]  # "Blog Name: Headline"
        elif low_title.endswith(low_h1):
            rest = title_tag[: -len(site_h1)]  # "Headline | Blog Name"
        # Only a whole part cut off at a separator, not "Head" + "line".
        if rest.strip() != rest.strip(_SEPARATOR_CHARS) and rest.strip(_SEPARATOR_CHARS):
            return rest.strip(_SEPARATOR_CHARS)
    return title_tag


def _title_variants(*titles: str | None) -> list[str]:
    """Normalised forms of the headline: each given title, and each part of 4 words or more of a
    title split at its separators ("Headline - Site Name", "Section | Headline")."""
    variants: dict[str, None] = {}
    for title in dict.fromkeys(titles):  # the same title from several tags: read once
        if not title:
            continue
        variants[norm(title)] = None
        for part in _TITLE_SEPARATORS.split(title):
            if len(part.split()) >= 4:
                variants[norm(part)] = None
    variants.pop("", None)
    return list(variants)
