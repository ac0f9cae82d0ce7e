"""Typed records passed between stages: a fetched :class:`Page` and a cleaned :class:`Article`.

Both serialise to plain JSON-able dicts so that stages can hand them over through files
(JSON lines) between processes.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeAlias


def utcnow() -> datetime:
    return datetime.now(UTC)


def _dt_to_json(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _dt_from_json(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_FIELDS: dict[type, tuple[str, ...]] = {}


def _plain(value: Any) -> Any:
    """A field's value as ``dataclasses.asdict`` gives it for these records, whose containers
    hold strings only: a new list or dict, anything else as it is (strings are immutable)."""
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def _as_dict(record: Any, *dates: str) -> dict[str, Any]:
    """A record as JSON-able values: ``fetched_at`` and the other ``dates`` as ISO strings.
    (What ``dataclasses.asdict`` gives, without its recursive deep copies: a crawled page in
    about 8 us instead of 55.)"""
    names = _FIELDS.get(type(record))
    if names is None:
        names = _FIELDS[type(record)] = tuple(f.name for f in dataclasses.fields(record))
    data = {name: _plain(getattr(record, name)) for name in names}
    for name in ("fetched_at", *dates):
        data[name] = _dt_to_json(getattr(record, name))
    return data


def _from_dict(cls: Any, data: dict[str, Any], *dates: str) -> Any:
    """A record from :func:`_as_dict`'s output; unknown keys are ignored (older or newer
    writers), a missing ``fetched_at`` is now."""
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in names}
    kwargs["fetched_at"] = _dt_from_json(data.get("fetched_at")) or utcnow()
    for name in dates:
        kwargs[name] = _dt_from_json(data.get(name))
    return cls(**kwargs)


# The response headers a Page keeps: what cleaning and the next run's conditional GET use.
PAGE_HEADERS = ("Content-Type", "ETag", "Last-Modified")


def page_headers(headers: Any) -> dict[str, str]:
    """:data:`PAGE_HEADERS` of a Scrapy response's headers, as text (absent ones left out)."""
    return {name: value.decode("latin-1") for name in PAGE_HEADERS if (value := headers.get(name))}


@dataclass
class Page:
    """One HTML page as the crawler fetched it."""

    url: str  # the URL that was requested
    final_url: str  # the URL after redirects
    source: str  # name of the seeds entry that led here
    status: int
    fetched_at: datetime
    html: str  # decoded text of the body
    encoding: str = "utf-8"
    headers: dict[str, str] = field(default_factory=dict)  # etag, last-modified, content-type
    discovered_via: str = "link"  # feed | sitemap | link | start
    hint_date: datetime | None = None  # date given by the feed or sitemap entry
    hint_title: str | None = None  # title given by the feed or news sitemap entry

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self, "hint_date")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Page:
        return _from_dict(cls, data, "hint_date")


# Where a page's body is in the crawl's archive: a WARC file's path, and the offset and length
# of the response record's gzip member (crawlers.archive.read_archived_body).
ArchivedAt: TypeAlias = tuple[str, int, int]

# The key of a pages-file line that holds, instead of the HTML, where the body was archived.
ARCHIVED_KEY = "html_archived"


def page_line(page: Page, archived: ArchivedAt | None = None) -> str:
    """``page`` as a line of a crawl's pages file (without the newline): ``Page.to_dict()``
    as JSON. With ``archived`` (the body is in the crawl's archive, and its text is exactly
    ``crawlers.archive.body_text`` of the archived bytes) the line holds where, and an empty
    ``html``: the body is stored and compressed once. :func:`page_from_line` reads either."""
    data = page.to_dict()
    if archived is not None:
        data["html"] = ""
        data[ARCHIVED_KEY] = archived
    return json.dumps(data, ensure_ascii=False)


class UnreadablePage(ValueError):
    """A pages-file line whose page is known but whose archived body could not be read:
    ``page`` is the page without its HTML, to be counted as a drop."""

    def __init__(self, page: Page, message: str) -> None:
        super().__init__(message)
        self.page = page


def page_from_line(line: bytes | str, body: bool = True) -> Page:
    """The page a line of a pages file holds (:func:`page_line`), its HTML read back from the
    archive where the line points there. ``body`` False: the archive is not read (an archived
    page's ``html`` stays empty). Raises ValueError for a line that is no page record, and
    :class:`UnreadablePage` when only the archived body is unreadable."""
    data = json.loads(line)
    archived = data.pop(ARCHIVED_KEY, None)
    page = Page.from_dict(data)
    if archived is None or not body:
        return page
    from crawlers.archive import body_text, read_archived_body

    try:
        path, offset, length = archived
        page.html = body_text(read_archived_body((path, offset, length)), page.encoding)
    except (LookupError, TypeError, ValueError) as exc:  # ValueError: ArchivedBodyError too
        raise UnreadablePage(page, f"{page.url}: archived body unreadable: {exc}") from None
    return page


@dataclass
class Article:
    """One cleaned article: the text without boilerplate, plus its metadata."""

    article_id: str
    url: str
    canonical_url: str
    domain: str
    source: str
    title: str | None
    authors: list[str]
    published_at: datetime | None
    fetched_at: datetime
    language: str | None
    text: str
    word_count: int
    site_name: str | None = None
    credited_source: str | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    extractor: str = ""

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self, "published_at")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        return _from_dict(cls, data, "published_at")


@dataclass
class Rejected:
    """A fetched page that became neither a story nor a duplicate, and why (the gates'
    reason, or the crawler's: ``listing``, ``too_short``, ``http_status`` ...)."""

    url: str
    final_url: str
    domain: str
    source: str
    reason: str
    fetched_at: datetime
    stage: str = "clean"  # crawl | clean
    title: str | None = None
    word_count: int | None = None
    canonical_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rejected:
        return _from_dict(cls, data)
