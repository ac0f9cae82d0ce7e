"""Per-page extraction: main text from trafilatura plus metadata read from the page itself.

``extract_page`` is pure and top-level so that it can run in worker processes; everything that
needs the other pages of a site (template learning, gates) happens later in ``finish_source``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime, time
from urllib.parse import urljoin, urlsplit

import trafilatura
from lxml.html import HtmlElement
from trafilatura.utils import load_html

from crawlers.clean import metadata as md
from crawlers.clean.boilerplate import remove_boilerplate
from crawlers.clean.evidence import LISTING_THRESHOLD, listing_evidence
from crawlers.records import Page

CLEAN_VERSION = 2  # bump when the cleaning gives different text or metadata for the same page
EXTRACTOR = f"trafilatura {trafilatura.__version__} + newsdedup-clean {CLEAN_VERSION}"

_ARTICLE_TYPES = {"article", "newsarticle", "reportagenewsarticle", "blogposting", "report",
                  "analysisnewsarticle", "opinionnewsarticle", "backgroundnewsarticle", "webpage"}  # fmt: skip  # noqa: E501
# A WebSite node describes the site (most pages carry one), not the page: it is no listing type.
_LISTING_TYPES = {"collectionpage", "itemlist", "searchresultspage", "profilepage"}
_LISTING_PATH = re.compile(
    r"/(tag|tags|topic|topics|category|categories|kategori|label|author|authors|penulis|"
    r"section|search|cari|archive|archives|arsip|indeks|index|page)(/|$|\.)",
    re.I,
)
_WS = re.compile(r"\s+")


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
    listing_score: float = 0.0  # listing points net of article points (evidence.py)
    error: str | None = None


def _text(node: HtmlElement) -> str:
    return " ".join(node.text_content().split())


def _first(tree: HtmlElement, *xpaths: str) -> str | None:
    for xp in xpaths:
        for value in tree.xpath(xp):
            value = value if isinstance(value, str) else _text(value)
            value = _WS.sub(" ", value).strip()
            if value:
                return value
    return None


def _json_ld(tree: HtmlElement) -> list[dict]:
    """Every JSON-LD object on the page, @graph flattened."""
    found: list[dict] = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
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


class _Anchors:
    """Texts of the page's links (12 characters or more), lower case, for telling lines that
    are (almost) all link text."""

    def __init__(self, tree: HtmlElement) -> None:
        texts = set()
        teasers = set()
        for a in tree.iter("a"):
            t = " ".join(a.text_content().split()).lower()
            if len(t) >= 12:
                texts.add(t)
                if 5 <= t.count(" ") + 1 <= 25:
                    teasers.add(t)
        self.texts = texts
        # Distinct links whose text reads like a headline: a listing is a page of them.
        self.teasers = len(teasers)
        self.by_length = sorted(texts, key=len)
        self.lengths = [len(t) for t in self.by_length]

    def covers(self, line: str) -> bool:
        low = line.lower()
        if low in self.texts:
            return True
        # "Read also: <a>headline</a>" and similar: a link covering nearly all of the line.
        if len(low) >= 300:
            return False
        start = bisect_left(self.lengths, 0.8 * len(low))
        end = bisect_right(self.lengths, len(low))
        return any(a in low for a in self.by_length[start:end])


def _trafilatura_text(
    tree: HtmlElement, url: str, out: Extracted, *, favor_precision: bool = False,
    favor_recall: bool = False, fast: bool = False,
) -> str:  # fmt: skip
    try:
        doc = trafilatura.bare_extraction(
            tree, url=url, include_comments=False, with_metadata=False,
            favor_precision=favor_precision, favor_recall=favor_recall, fast=fast,
        )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - one bad page must not stop a run
        out.error = f"trafilatura: {type(exc).__name__}"
        return ""
    return getattr(doc, "text", None) or ""  # a Document, or None when nothing was found


_BLOCKS = "p|div|h1|h2|h3|h4|h5|h6|ul|ol|article|section|blockquote|form|table"
_LAYOUT_XPATH = "|".join(f".//{tag}" for tag in _BLOCKS.split("|"))


def _unwrap_layout_tables(tree: HtmlElement) -> int:
    """Turn tables used for page layout into plain blocks.

    Class-less themes still lay pages out with ``<table>``; trafilatura then reads the whole
    cell (navigation, byline, body and comments) as one table row joined by ``|``, and its
    boilerplate detection never sees paragraphs. A table that holds block elements and none of
    a data table's marks (caption, header cells) is layout, as in readability's data-table test.
    """
    changed = 0
    for table in list(tree.iter("table")):
        if table.find(".//caption") is not None or table.find(".//th") is not None:
            continue
        if table.get("role") in ("grid", "table") or table.find(".//thead") is not None:
            continue
        if not table.xpath(_LAYOUT_XPATH):
            continue
        for node in [table, *table.iter("tbody", "tfoot", "tr", "td")]:
            node.tag = "div"
        changed += 1
    return changed


# The precise pass stands for the body when it holds at least this share of the balanced
# pass's words; below that it has cut the body (a 150-word piece of a 1,000-word story).
PRECISE_MIN_SHARE = 0.5


def _main_text(tree: HtmlElement, url: str, out: Extracted) -> str:
    """The body, chosen from three trafilatura passes by what they agree on.

    The precise pass (``favor_precision``, ``fast``) leaves out most navigation and teasers
    but sometimes cuts the body short; the balanced pass (its default, with jusText and
    readability as fallbacks) finds the body where the precise one missed it; the recall pass
    adds what both cut inside the article (lists, subheadings, a doubted paragraph) and also
    what surrounds it (related posts, comments). The precise text is the start unless it is
    much shorter than the balanced one; it is then widened by the recall lines that lie
    between the first and the last line both agree on."""
    precise = _trafilatura_text(tree, url, out, favor_precision=True, fast=True)
    balanced = _trafilatura_text(tree, url, out)
    if len(precise.split()) < PRECISE_MIN_SHARE * len(balanced.split()):
        precise = balanced
    recall = _trafilatura_text(tree, url, out, favor_recall=True)
    return _widen(precise, recall)


def _widen(text: str, recall: str) -> str:
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    wide = [ln.strip() for ln in recall.split("\n") if ln.strip()]
    have = set(lines)
    shared = [i for i, ln in enumerate(wide) if ln in have]
    if len(shared) < 2:
        return text
    inner = wide[shared[0] : shared[-1] + 1]
    if len(inner) == len(lines) or not have.issubset(inner):
        return text
    return "\n".join(inner)


def extract_page(page: Page) -> Extracted:
    final_url = page.final_url or page.url
    parts = urlsplit(final_url)
    out = Extracted(
        url=page.url,
        final_url=final_url,
        canonical_url=final_url,
        domain=parts.netloc.lower(),
        source=page.source,
        fetched_at=page.fetched_at,
        status=page.status,
    )
    if not page.html or not page.html.strip():
        out.error = "empty_html"
        return out
    tree = load_html(page.html)
    if tree is None:
        out.error = "unparsable"
        return out
    _read_metadata(tree, page, out)
    anchors = _Anchors(tree)
    out.teaser_links = anchors.teasers
    _unwrap_layout_tables(tree)
    # NFC, as trafilatura.extract gives it: the same letters the same code points, whatever
    # the page used (decomposed accents, Hangul jamo), so that matching and dedup agree.
    text = unicodedata.normalize("NFC", _main_text(tree, final_url, out))
    raw_lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    out.raw_line_count = len(raw_lines)
    without_link_lists = _drop_link_lists(raw_lines, anchors)
    lines, hits = remove_boilerplate(without_link_lists)
    out.lines = _drop_page_furniture(lines, out)
    out.removed = dict(hits)
    if len(raw_lines) > len(without_link_lists):
        out.removed["link-list"] = len(raw_lines) - len(without_link_lists)
    out.link_lines = [anchors.covers(ln) for ln in out.lines]
    total = sum(len(ln) for ln in out.lines)
    linked = sum(len(ln) for ln, is_link in zip(out.lines, out.link_lines, strict=True) if is_link)
    out.link_density = linked / total if total else 0.0
    out.listing_score = listing_evidence(out)
    out.is_listing = out.listing_score >= LISTING_THRESHOLD
    out.language = md.guess_language(" ".join(out.lines), out.declared_language)
    out.credited_source = (
        # Credit lines ("Source: AP") are boilerplate to the reader but say which outlet a
        # reprint copies: the text before the rules removed them is read too.
        md.credited_outlet(out.lines, raw_lines)
        or _foreign_byline_outlet(out)
        # "© 2019 Associated Press": a wire story; the site's own copyright credits nobody.
        or md.wire_copyright(raw_lines)
    )
    out.lines = _drop_credit_lines(out)
    _bound_metadata(out)
    return out


# Metadata fields come from the page, which anyone writes: bounded before they are published.
MAX_TITLE_CHARS = 500
MAX_NAME_CHARS = 200  # an author, the site's name, the section, a tag
MAX_AUTHORS = 20
MAX_TAGS = 30


def _bound(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    value = unicodedata.normalize("NFC", " ".join(value.split()))
    if len(value) <= limit:
        return value or None
    cut = value[:limit].rsplit(" ", 1)[0] if " " in value[:limit] else value[:limit]
    return cut.rstrip(" ,;:-|") + "…"


def _bound_metadata(out: Extracted) -> None:
    out.title = _bound(out.title, MAX_TITLE_CHARS)
    out.site_name = _bound(out.site_name, MAX_NAME_CHARS)
    out.section = _bound(out.section, MAX_NAME_CHARS)
    out.credited_source = _bound(out.credited_source, MAX_NAME_CHARS)
    out.authors = [a for a in (_bound(x, MAX_NAME_CHARS) for x in out.authors[:MAX_AUTHORS]) if a]
    out.tags = [t for t in (_bound(x, MAX_NAME_CHARS) for x in out.tags[:MAX_TAGS]) if t]


CREDIT_EDGE_LINES = 4  # credit lines are looked for among this many lines at each end
_CREDIT_LABEL = re.compile(
    r"(?i)^\W*(?:by|oleh|reporter|reporting|reported by|writer|written by|author|penulis|"
    r"pewarta|wartawan|kontributor|contributor|editor|edited by|redaktur|penyunting|source|"
    r"sumber|credit|credits|foto|photo|baca juga)\b\s*[:\-–—]?\s*"
)


def _drop_credit_lines(out: Extracted) -> list[str]:
    """Remove credit and byline lines at the start or end of the body that restate what the
    metadata already holds: the page's authors or the outlet it credits ("Name Surname,
    Outlet" above the dateline, "Ayu Lestari/Antara", "Reporter: Name | Source: Outlet").

    A line goes when every name in it is one of the page's authors, or when it names the
    credited outlet and nothing else but person names: a sentence that mentions the outlet,
    or a line with any other word, stays."""
    lines = out.lines
    if not lines:
        return lines
    authors = {md_norm(n) for n in out.authors if n} - {""}
    outlets = {md_norm(n) for n in (out.credited_source, out.byline_outlet, out.site_name)
               if n} - {""}  # fmt: skip
    if not authors and not outlets:
        return lines
    edge = min(CREDIT_EDGE_LINES, len(lines))
    drop = {
        i
        for i in [*range(edge), *range(len(lines) - edge, len(lines))]
        if _restates_credit(lines[i], authors, outlets)
    }
    if not drop:
        return lines
    out.removed["credit-line"] = out.removed.get("credit-line", 0) + len(drop)
    return [ln for i, ln in enumerate(lines) if i not in drop]


_PERSON = re.compile(
    r"^[A-Z][\w'’.-]*(?:\s+(?:[A-Z][\w'’.-]*|bin|binti|van|de|da|von|al|el)){1,4}$"
)


def _credit_names(line: str) -> list[str] | None:
    """The names a short credit line is made of, or None when it holds anything else."""
    if len(line) > 160 or len(line.split()) > 20:
        return None
    names: list[str] = []
    for part in re.split(r"\s*[|/]\s*|\s+[-–—]\s+", line):
        part = part.strip(" .")
        if not part:
            continue
        who = md.visible_byline(part)
        if who is not None:
            names.extend(who[0])
            names.extend([who[1]] if who[1] else [])
            continue
        label = _CREDIT_LABEL.match(part)
        rest = part[label.end() :] if label else part
        pieces = [p.strip() for p in re.split(r"\s*(?:,|&|\band\b|\bdan\b)\s*", rest)]
        pieces = [p for p in pieces if p]
        if not pieces or any(len(p.split()) > 5 or any(c.isdigit() for c in p) for p in pieces):
            return None
        names.extend(pieces)
    return names or None


def _restates_credit(line: str, authors: set[str], outlets: set[str]) -> bool:
    names = _credit_names(line)
    if not names:
        return False
    keys = [md_norm(n) for n in names]
    if all(k in authors for k in keys):
        return True
    # "Name Surname, Outlet": the credited outlet's own reporter, whom the metadata may not
    # list (an aggregator names its own account as the author).
    return any(k in outlets for k in keys) and all(
        k in outlets or k in authors or _PERSON.match(n) for n, k in zip(names, keys, strict=True)
    )


def _foreign_byline_outlet(out: Extracted) -> str | None:
    """A byline naming another outlet than the site ("Dana Whitfield, Riverton Courier" on an
    aggregator) credits that outlet."""
    outlet = out.byline_outlet
    if not outlet:
        return None
    own = {md_norm(n) for n in (out.site_name, out.source) if n}
    return None if md_norm(outlet) in own else outlet


def md_norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def _class_byline(tree: HtmlElement) -> str | None:
    """The byline named by class, in this order: ``byline``; ``author-name``/``author__name``;
    an hCard's ``fn`` inside ``vcard`` (hAtom entries: Blogger, older WordPress themes). One
    XPath pass collects the candidates (each class test over the whole tree is costly)."""
    found: dict[int, str] = {}
    for node in tree.xpath(
        '//*[@class][contains(@class, "byline") or contains(@class, "author") or '
        'contains(@class, "fn")]'
    ):
        classes = node.get("class", "").split()
        text = _text(node)
        if not text:
            continue
        if "byline" in classes:
            found.setdefault(0, text)
        elif any("author-name" in c or "author__name" in c for c in classes):
            found.setdefault(1, text)
        elif "fn" in classes and any(
            "vcard" in (a.get("class") or "").split() for a in node.iterancestors()
        ):
            found.setdefault(2, text)
    return found[min(found)] if found else None


def _read_metadata(tree: HtmlElement, page: Page, out: Extracted) -> None:
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
    header = _visible_header(tree, out.title)
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

    out.published_at = _publication_date(tree, art, meta, header, page, out.final_url)

    lang = tree.xpath("/html/@lang") or tree.xpath(
        '//meta[@http-equiv="content-language"]/@content'
    )
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
    out.root_path = path in ("", "/") or bool(re.fullmatch(r"/index\.\w+", path))
    out.article_elements = sum(1 for _ in tree.iter("article"))
    out.headline_links = len(tree.xpath("//h2//a | //h3//a | //h4//a"))


_DAY = 36 * 3600  # two dates this close (seconds) can be the same day in different zones


def _publication_date(
    tree: HtmlElement,
    art: dict,
    meta: dict[str, list[str]],
    header: _Header,
    page: Page,
    url: str,
) -> datetime | None:
    """The publication time in UTC, from the best source that gives one, and a time of day
    over a bare day: JSON-LD and meta tags, ``<time>``/hAtom, the visible dateline under the
    title, a class-named date element, the feed's timestamp, the URL's day, the feed's day."""
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
_SEGMENT_SPLIT = re.compile(r"\s+[|·•–—-]\s+|\s*\|\s*")
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
    want = _norm(title or "")
    first_h1 = None
    for node in tree.iter("h1", "h2", "h3"):
        text = _norm(node.text_content())
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


def _is_dateline(segment: str) -> bool:
    """Whether a short text is (almost) only a date: at most one word that is not a month, a
    weekday, a zone or a word such as "published"/"updated"/"pukul"."""
    words = re.findall(r"[^\W\d_][\w'.]*", segment)
    other = [w for w in words if md.MONTHS.get(w.lower().rstrip(".")) is None
             and not _DATELINE_WORDS.match(w.rstrip(".")) and w not in _ZONES]  # fmt: skip
    return len(other) <= 1


def _visible_header(tree: HtmlElement, title: str | None) -> _Header:
    """Byline and dateline shown as plain text near the title, for pages whose markup names
    neither (class-less themes): "Thea Fathanah Arbar, CNBC Indonesia",
    "Tuesday, 17/10/2023 13:30 WIB", "By Dana Whitfield | March 3, 2024"."""
    found = _Header()
    heading = _title_heading(tree, title)
    if heading is None:
        return found
    found.heading = _text(heading)
    dates: list[tuple[bool, bool, datetime]] = []  # (is an update, lacks a time, value)
    for text in _header_texts(heading):
        if len(text) > 160:
            continue
        # The whole block first ("Selasa, 5 Maret 2024 | 21:10 WIB"), then its parts
        # ("By Dana Whitfield | March 3, 2024").
        segments = [text, *(p.strip() for p in _SEGMENT_SPLIT.split(text))]
        for segment in dict.fromkeys(segments):
            if not segment or len(segment) > 100:
                continue
            if found.byline is None and (who := md.visible_byline(segment)):
                found.byline, (found.authors, found.outlet) = segment, who
            dated_part = re.split(r"(?i)\s(?:by|oleh)\s", segment)[0]
            if any(ch.isdigit() for ch in dated_part) and _is_dateline(dated_part):
                parsed = md.parse_dateline(dated_part)
                if parsed:
                    dates.append((bool(_UPDATED.match(segment)), not parsed[1], parsed[0]))
    if dates:
        _, no_time, value = min(dates, key=lambda d: (d[0], d[1]))
        found.published, found.has_time = value, not no_time
    return found


LINK_LIST_MIN_RUN = 3  # this many link-only lines in a row are a list of links, not prose
_LINK_LIST_MAX_WORDS = 30


def _drop_link_lists(lines: list[str], anchors: _Anchors) -> list[str]:
    """Remove runs of consecutive short lines that are each (almost) entirely a link."""
    flags = [len(ln.split()) <= _LINK_LIST_MAX_WORDS and anchors.covers(ln) for ln in lines]
    kept, i = [], 0
    while i < len(lines):
        j = i
        while j < len(lines) and flags[j]:
            j += 1
        if j - i >= LINK_LIST_MIN_RUN:
            i = j
            continue
        kept.extend(lines[i : max(j, i + 1)])
        i = max(j, i + 1)
    return kept


_ISO_DATETIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d)?(\.\d+)?(Z|[+-]\d\d:?\d\d)?")
_DATE_ONLY = re.compile(
    r"^[\w]*,?\s*(\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d\d-\d\d|\d{1,2}\s+\w+\s+\d{4}|"
    r"\w+\.?\s+\d{1,2},?\s+\d{4})[,\s|-]*(\d{1,2}[:.]\d\d(:\d\d)?\s*([ap]\.?m\.?)?\s*\w{0,5})?"
    r"\s*(\|.{0,40})?$",
    re.I,
)


_CLOCK = re.compile(r"\b\d{1,2}[:.]\d\d\b")
_STAMP_WORD = re.compile(
    r"(?i)\b(updated?|posted|published|diperbarui|diterbitkan|dipublikasikan|terbit)\b"
)


def _is_timestamp_line(line: str) -> bool:
    """A short line that only says when: "Updated at 1:23 p.m.", "Posted 17/10/2023 13:30",
    "[ 2018-08-25 15:24 ]". Words other than date words, zones and "updated"/"posted"
    make it text."""
    if len(line) > 80 or not any(ch.isdigit() for ch in line) or not _is_dateline(line):
        return False
    # A time alone ("4:14 p.m.") heads a live-blog entry; with "updated" or a date it is a stamp.
    return bool(md.parse_text_date(line) or (_CLOCK.search(line) and _STAMP_WORD.search(line)))


_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "«": '"', "»": '"'})
_TITLE_SEPARATORS = re.compile(r"\s+[|–—•·:]+\s+|\s+-\s+|\s*::\s*")


def _norm(text: str) -> str:
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
    for title in titles:
        if not title:
            continue
        variants[_norm(title)] = None
        for part in _TITLE_SEPARATORS.split(title):
            if len(part.split()) >= 4:
                variants[_norm(part)] = None
    variants.pop("", None)
    return list(variants)


def _drop_page_furniture(lines: list[str], out: Extracted) -> list[str]:
    """Remove lines that restate the page's own metadata: title, byline, a bare date."""
    titles = set(out.title_variants) or {_norm(out.title or "")} - {""}
    byline = _norm(out.byline or "")
    names = {_norm(a) for a in out.authors}
    kept = []
    for line in lines:
        low = _norm(line)
        if low in titles:
            continue
        if byline and (low == byline or low in (f"by {byline}", f"oleh {byline}")):
            continue
        if names and low.removeprefix("by ").removeprefix("oleh ") in names:
            continue
        if _ISO_DATETIME.fullmatch(line):
            continue
        if len(line) <= 60 and _DATE_ONLY.match(line.strip()) and md.parse_text_date(line):
            continue
        if _is_timestamp_line(line) or _is_byline_and_date(line):
            continue
        kept.append(line)
    return kept


def _is_byline_and_date(line: str) -> bool:
    """A short line made only of a byline and a date, in either order: "5:45 AM PST 11/19/2019
    by Patrick Shanley", "By Dana Whitfield | March 2, 2024", "Oleh Ayu Lestari - 5 Maret 2024"."""
    if len(line) > 120 or not any(ch.isdigit() for ch in line):
        return False
    m = re.match(r"(?i)(?P<date>.+?)\s+(?P<by>(?:by|oleh)\s+.+)$", line)
    if m and _is_dateline(m["date"]) and md.parse_text_date(m["date"]):
        return md.visible_byline(m["by"]) is not None
    parts = [p for p in _SEGMENT_SPLIT.split(line) if p.strip()]
    if len(parts) < 2:
        return False
    has_date = has_byline = False
    for part in parts:
        if any(ch.isdigit() for ch in part) and _is_dateline(part) and md.parse_text_date(part):
            has_date = True
        elif md.visible_byline(part):
            has_byline = True
        else:
            return False
    return has_date and has_byline
