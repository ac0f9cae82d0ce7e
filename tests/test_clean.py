"""Cleaning stage: a syndicated reprint page, metadata, template learning, gates, state."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from crawlers.clean import EXTRACTOR, CleanOptions, TemplateState, extract_page, finish_source
from crawlers.records import Page

FIXTURES = Path(__file__).parent / "fixtures" / "clean"
FETCHED = datetime(2024, 2, 7, tzinfo=UTC)


def make_page(html: str, url: str, source: str = "reprints") -> Page:
    return Page(url=url, final_url=url, source=source, status=200, fetched_at=FETCHED, html=html)


def test_reprint_page_keeps_only_article_sentences() -> None:
    html = (FIXTURES / "reprint_classless.html").read_text(encoding="utf-8")
    url = "https://reprint.example/2024/02/06/indonesia-signs-rice-import-deal/"
    extracted = extract_page(make_page(html, url))
    articles, dropped = finish_source([extracted], TemplateState.empty(), CleanOptions())
    assert not dropped
    [article] = articles
    expected = (FIXTURES / "reprint_classless.expected.txt").read_text(encoding="utf-8").strip()
    assert article.text == expected
    assert article.credited_source == "Kabar Ekonomi"
    assert article.title == "Indonesia Signs Rice Import Deal With Vietnam to Cool Prices"
    assert article.site_name == "Nusantara Daily Wire"
    assert article.canonical_url == url
    assert article.extractor == EXTRACTOR
    assert article.language == "en"


def test_extracted_is_picklable_for_worker_processes() -> None:
    import pickle

    html = (FIXTURES / "reprint_classless.html").read_text(encoding="utf-8")
    extracted = extract_page(make_page(html, "https://reprint.example/a/"))
    assert pickle.loads(pickle.dumps(extracted)) == extracted


def test_empty_and_broken_pages_do_not_raise() -> None:
    cases = [("", "empty"), ("   ", "empty"), ("<html></html>", "empty"),
             ("<html><body><p>Short note.</p></body></html>", "too_short")]  # fmt: skip
    for html, reason in cases:
        extracted = extract_page(make_page(html, "https://x.example/p/"))
        articles, dropped = finish_source([extracted], TemplateState.empty(), CleanOptions())
        assert not articles and dropped == {reason: 1}
