"""Metadata: bylines, credited outlets, dates normalised to UTC, canonical URL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawlers.clean import extract_page
from crawlers.clean.metadata import credited_outlet, parse_iso, parse_text_date, split_byline
from crawlers.records import Page


@pytest.mark.parametrize(
    ("byline", "authors", "outlet"),
    [
        ("Thea Fathanah Arbar, CNBC Indonesia", ["Thea Fathanah Arbar"], "CNBC Indonesia"),
        ("By Dana Whitfield and Omar Castellanos", ["Dana Whitfield", "Omar Castellanos"], None),
        ("Oleh Ayu Lestari - Kompas.com", ["Ayu Lestari"], "Kompas.com"),
        ("Reuters Staff", [], "Reuters Staff"),
    ],
)
def test_byline_split(byline: str, authors: list[str], outlet: str | None) -> None:
    assert split_byline(byline) == (authors, outlet)


@pytest.mark.parametrize(
    ("lines", "outlet"),
    [
        (
            ["Jakarta, CNBC Indonesia – Russian President Vladimir Putin told Israeli ..."],
            "CNBC Indonesia",
        ),
        (["WASHINGTON (Reuters) - The Federal Reserve held rates steady on Wednesday."], "Reuters"),
        (["LONDON, Oct 17 (AP) — Britain's economy grew faster than expected."], "AP"),
        (
            [
                "The ministry said talks would continue.",
                "“We are ready,” he said, as quoted Reuters.",
            ],
            "Reuters",
        ),
        (["Harga beras naik lagi, seperti dilansir Antara pada Senin."], "Antara"),
        (["Prices rose for a sixth month.", "Source: AP"], "AP"),
        (["The council met on Tuesday and approved the budget for next year."], None),
        (["On Tuesday, the council approved the budget – a first since 2019."], None),
    ],
)
def test_credited_outlet(lines: list[str], outlet: str | None) -> None:
    assert credited_outlet(lines) == outlet


def test_dateline_credit_wins_over_quoted_agency() -> None:
    lines = [
        "Jakarta, CNBC Indonesia – Putin told Netanyahu that Moscow wants to help.",
        "“Unanimous opinion has been expressed,” he said, as quoted Reuters.",
    ]
    assert credited_outlet(lines) == "CNBC Indonesia"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tuesday, 17/10/2023 13:30 WIB", datetime(2023, 10, 17, 6, 30, tzinfo=UTC)),
        ("October 17, 2023 1:30 PM EDT", datetime(2023, 10, 17, 17, 30, tzinfo=UTC)),
        ("Selasa, 17 Oktober 2023 13:30 WIB", datetime(2023, 10, 17, 6, 30, tzinfo=UTC)),
        ("17 Oct 2023", datetime(2023, 10, 17, tzinfo=UTC)),
    ],
)
def test_visible_dates_to_utc(text: str, expected: datetime) -> None:
    assert parse_text_date(text) == expected


def test_machine_dates_to_utc() -> None:
    assert parse_iso("2023-10-17T13:30:00+07:00") == datetime(2023, 10, 17, 6, 30, tzinfo=UTC)
    assert parse_iso("2023-10-17T06:30:00Z") == datetime(2023, 10, 17, 6, 30, tzinfo=UTC)
    assert parse_iso("2023-10-17 13:30:00") == datetime(2023, 10, 17, 13, 30, tzinfo=UTC)
    assert parse_iso("not a date") is None


def test_page_metadata_from_json_ld_and_link_canonical() -> None:
    html = """<html lang="id"><head>
    <link rel="canonical" href="/read/2024/03/20/jembatan/">
    <script type="application/ld+json">{"@graph": [{"@type": "NewsArticle",
      "headline": "Jembatan Baru Diresmikan", "datePublished": "2024-03-20T09:15:00+07:00",
      "author": [{"@type": "Person", "name": "Citra Maharani"}],
      "publisher": {"@type": "Organization", "name": "Warta Kini"},
      "articleSection": "Daerah", "keywords": "jembatan, infrastruktur"}]}</script>
    </head><body><article><p>Isi berita.</p></article></body></html>"""
    page = Page(
        url="http://wartakini.example/r?id=1",
        final_url="https://wartakini.example/r?id=1",
        source="wk",
        status=200,
        fetched_at=datetime(2024, 3, 21, tzinfo=UTC),
        html=html,
    )
    e = extract_page(page)
    assert e.canonical_url == "https://wartakini.example/read/2024/03/20/jembatan/"
    assert e.title == "Jembatan Baru Diresmikan"
    assert e.authors == ["Citra Maharani"]
    assert e.published_at == datetime(2024, 3, 20, 2, 15, tzinfo=UTC)
    assert e.site_name == "Warta Kini"
    assert e.section == "Daerah"
    assert e.tags == ["jembatan", "infrastruktur"]
    assert e.domain == "wartakini.example"
