"""Records to dicts: what dataclasses.asdict gives, with fresh containers."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from crawlers.records import Article, Page, Rejected, _dt_to_json


def _asdict(record: object, *dates: str) -> dict:
    data = dataclasses.asdict(record)  # type: ignore[call-overload]
    for name in ("fetched_at", *dates):
        data[name] = _dt_to_json(getattr(record, name))
    return data


def test_records_serialise_as_asdict_would() -> None:
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    page = Page(url="https://a.example/x", final_url="https://a.example/y", source="a",
                status=200, fetched_at=now, html="<p>x</p>", headers={"ETag": '"1"'},
                hint_date=now, hint_title="T")  # fmt: skip
    article = Article(article_id="1", url="u", canonical_url="c", domain="d", source="s",
                      title=None, authors=["A", "B"], published_at=None, fetched_at=now,
                      language="en", text="t", word_count=1, tags=["x"])  # fmt: skip
    rejected = Rejected(url="u", final_url="f", domain="d", source="s", reason="r",
                        fetched_at=now)  # fmt: skip
    assert page.to_dict() == _asdict(page, "hint_date")
    assert article.to_dict() == _asdict(article, "published_at")
    assert rejected.to_dict() == _asdict(rejected)
    data = article.to_dict()
    assert data["authors"] is not article.authors and data["tags"] is not article.tags
    assert page.to_dict()["headers"] is not page.headers
    assert Page.from_dict(page.to_dict()) == page
