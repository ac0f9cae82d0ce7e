"""Parsing of feeds (RSS 0.9x/1.0/2.0, Atom) and sitemaps (urlset, index, Google News).

Plain functions over bytes, so they are testable without a crawl. XML is parsed with
entity resolution and network access switched off.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from lxml import etree

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Entry:
    """A URL announced by a feed or sitemap, with what the announcement says about it."""

    url: str
    date: datetime | None = None
    title: str | None = None
    is_sitemap: bool = False  # an entry of a sitemap index: another sitemap to fetch


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, recover=True, huge_tree=False, remove_comments=True
    )


def maybe_gunzip(body: bytes, limit: int) -> bytes:
    """Decompress a gzipped sitemap body, refusing to inflate past ``limit`` bytes."""
    if not body.startswith(GZIP_MAGIC):
        return body
    with gzip.GzipFile(fileobj=io.BytesIO(body)) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"gzipped body inflates past {limit} bytes")
    return data


def parse_date(text: str | None) -> datetime | None:
    """ISO 8601 (W3C) or RFC 822 dates, returned aware in UTC; None when unparseable."""
    if not text:
        return None
    text = text.strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            value = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def _child_text(elem: etree._Element, *names: str) -> str | None:
    for child in elem:
        if _local(child.tag) in names and child.text and child.text.strip():
            return child.text.strip()
    return None


def _xml_root(body: bytes) -> etree._Element | None:
    """The document element, or None for a body that is not XML at all."""
    try:
        return etree.fromstring(body, parser=_parser())
    except etree.XMLSyntaxError:
        return None


def parse_feed(body: bytes) -> list[Entry]:
    """Items of an RSS or Atom feed; an unparseable body yields no entries."""
    root = _xml_root(body)
    if root is None:
        return []
    entries: list[Entry] = []
    for elem in root.iter():
        name = _local(elem.tag)
        if name == "item":  # RSS 0.9x, 1.0 (RDF) and 2.0
            url = _child_text(elem, "link")
            if not url:
                about = elem.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about")
                guid = _child_text(elem, "guid")
                url = about or (guid if guid and guid.startswith("http") else None)
            date = parse_date(_child_text(elem, "pubdate", "date", "published", "updated"))
            title = _child_text(elem, "title")
        elif name == "entry":  # Atom
            url = None
            for child in elem:
                if _local(child.tag) == "link" and child.get("href"):
                    if child.get("rel", "alternate") == "alternate":
                        url = child.get("href")
                        break
                    url = url or child.get("href")
            date = parse_date(_child_text(elem, "published", "updated", "issued", "modified"))
            title = _child_text(elem, "title")
        else:
            continue
        if url:
            entries.append(Entry(url=url.strip(), date=date, title=title))
    return entries


def parse_sitemap(body: bytes) -> list[Entry]:
    """URLs of a sitemap (with lastmod or Google News date/title) or of a sitemap index."""
    root = _xml_root(body)
    if root is None:
        return []
    is_index = _local(root.tag) == "sitemapindex"
    entries: list[Entry] = []
    for elem in root:
        name = _local(elem.tag)
        if name not in ("url", "sitemap"):
            continue
        loc = _child_text(elem, "loc")
        if not loc:
            continue
        date = None
        title = None
        for sub in elem.iter():
            sub_name = _local(sub.tag)
            if sub_name == "publication_date" and sub.text:
                date = parse_date(sub.text) or date
            elif sub_name == "title" and sub.text and sub.text.strip():
                title = sub.text.strip()
        if date is None:
            date = parse_date(_child_text(elem, "lastmod"))
        entries.append(
            Entry(url=loc, date=date, title=title, is_sitemap=is_index or name == "sitemap")
        )
    return entries
