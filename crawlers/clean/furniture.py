"""Body lines that restate the page's own metadata, and bounds on that metadata.

The headline again, the byline, a bare date or timestamp, a run of links, and credit lines at
the body's ends that name the page's authors or the outlet it credits ("Name Surname,
Outlet"): each is in the metadata already, and goes from the text.
"""

from __future__ import annotations

import re
import unicodedata

from crawlers.clean import metadata as md
from crawlers.clean.extracted import Anchors, Extracted
from crawlers.clean.markup import SEGMENT_SPLIT, is_dateline, norm

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


def bound_metadata(out: Extracted) -> None:
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


def drop_credit_lines(out: Extracted) -> list[str]:
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


def foreign_byline_outlet(out: Extracted) -> str | None:
    """A byline naming another outlet than the site ("Dana Whitfield, Riverton Courier" on an
    aggregator) credits that outlet."""
    outlet = out.byline_outlet
    if not outlet:
        return None
    own = {md_norm(n) for n in (out.site_name, out.source) if n}
    return None if md_norm(outlet) in own else outlet


def md_norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())


LINK_LIST_MIN_RUN = 3  # this many link-only lines in a row are a list of links, not prose
_LINK_LIST_MAX_WORDS = 30


def drop_link_lists(lines: list[str], anchors: Anchors) -> list[str]:
    """Remove runs of consecutive short lines that are each (almost) entirely a link: related
    posts, section lists. A run whose lines mostly link to other sites is the article's own
    list (its sources, the pull requests a changelog names) and stays."""
    flags = [len(ln.split()) <= _LINK_LIST_MAX_WORDS and anchors.covers(ln) for ln in lines]
    kept, i = [], 0
    while i < len(lines):
        j = i
        while j < len(lines) and flags[j]:
            j += 1
        run = lines[i:j]
        if len(run) >= LINK_LIST_MIN_RUN and (
            2 * sum(map(anchors.covers_elsewhere, run)) <= len(run)
        ):
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
    if len(line) > 80 or not any(ch.isdigit() for ch in line) or not is_dateline(line):
        return False
    # A time alone ("4:14 p.m.") heads a live-blog entry; with "updated" or a date it is a stamp.
    return bool(md.parse_text_date(line) or (_CLOCK.search(line) and _STAMP_WORD.search(line)))


def drop_page_furniture(lines: list[str], out: Extracted) -> list[str]:
    """Remove lines that restate the page's own metadata: title, byline, a bare date."""
    titles = set(out.title_variants) or {norm(out.title or "")} - {""}
    byline = norm(out.byline or "")
    names = {norm(a) for a in out.authors}
    kept = []
    for line in lines:
        low = norm(line)
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
    if m and is_dateline(m["date"]) and md.parse_text_date(m["date"]):
        return md.visible_byline(m["by"]) is not None
    parts = [p for p in SEGMENT_SPLIT.split(line) if p.strip()]
    if len(parts) < 2:
        return False
    has_date = has_byline = False
    for part in parts:
        if any(ch.isdigit() for ch in part) and is_dateline(part) and md.parse_text_date(part):
            has_date = True
        elif md.visible_byline(part):
            has_byline = True
        else:
            return False
    return has_date and has_byline
