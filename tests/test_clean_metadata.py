"""Metadata: bylines, credited outlets, dates normalised to UTC, canonical URL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawlers.clean import extract_page
from crawlers.clean.metadata import (
    credited_outlet,
    parse_dateline,
    parse_iso,
    parse_text_date,
    split_byline,
    visible_byline,
    wire_copyright,
)
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("21 Feb 2025, 08:45 GMT", datetime(2025, 2, 21, 8, 45, tzinfo=UTC)),
        ("2023-10-17 06:30:00", datetime(2023, 10, 17, 6, 30, tzinfo=UTC)),
        ("Rabu, 18 Oktober 2023 | 09:00 WITA", datetime(2023, 10, 18, 1, 0, tzinfo=UTC)),
        ("Kamis, 19/10/2023 10.15 WIT", datetime(2023, 10, 19, 1, 15, tzinfo=UTC)),
        ("Jan. 5, 2024 9:00 a.m. EST", datetime(2024, 1, 5, 14, 0, tzinfo=UTC)),
        ("July 4, 2024 8:30 PM PDT", datetime(2024, 7, 5, 3, 30, tzinfo=UTC)),
        ("March 1, 2024 8:30 PM PST", datetime(2024, 3, 2, 4, 30, tzinfo=UTC)),
        ("12 March 2024 14:05 CET", datetime(2024, 3, 12, 13, 5, tzinfo=UTC)),
        ("12 July 2024 14:05 CEST", datetime(2024, 7, 12, 12, 5, tzinfo=UTC)),
        ("12 July 2024 14:05 UTC", datetime(2024, 7, 12, 14, 5, tzinfo=UTC)),
        ("5 Mar 2024 10:00 GMT+7", datetime(2024, 3, 5, 3, 0, tzinfo=UTC)),
        ("5 Mar 2024 10:00 (UTC+05:30)", datetime(2024, 3, 5, 4, 30, tzinfo=UTC)),
        # US zones written without S/D follow daylight time on that date.
        ("Nov. 18, 2019 1:30 p.m. ET", datetime(2019, 11, 18, 18, 30, tzinfo=UTC)),
        ("July 18, 2019 1:30 p.m. ET", datetime(2019, 7, 18, 17, 30, tzinfo=UTC)),
        # Time before the date; month first when the day cannot be a month.
        ("08:45 GMT, 21 Feb 2025", datetime(2025, 2, 21, 8, 45, tzinfo=UTC)),
        ("11/19/2019 10:00 EST", datetime(2019, 11, 19, 15, 0, tzinfo=UTC)),
    ],
)
def test_more_visible_dates_and_zones(text: str, expected: datetime) -> None:
    assert parse_text_date(text) == expected


def test_dateline_says_whether_it_has_a_time() -> None:
    assert parse_dateline("17 Oct 2023") == (datetime(2023, 10, 17, tzinfo=UTC), False)
    expected = (datetime(2023, 10, 17, 6, 30, tzinfo=UTC), True)
    assert parse_dateline("17 Oct 2023 13:30 WIB") == expected
    assert parse_dateline("no date here") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Rina Kusumawati Hartono, Kabar Ekonomi", (["Rina Kusumawati Hartono"], "Kabar Ekonomi")),
        ("Dana Whitfield, Riverton Courier", (["Dana Whitfield"], "Riverton Courier")),
        ("Ayu Lestari - Warta Nusa", (["Ayu Lestari"], "Warta Nusa")),
        ("By Dana Whitfield", (["Dana Whitfield"], None)),
        ("Oleh Ayu Lestari", (["Ayu Lestari"], None)),
        ("Penulis: Bagus Prasetyo", (["Bagus Prasetyo"], None)),
        ("Posted on March 1, 2024 by Dana Whitfield", (["Dana Whitfield"], None)),
        # Section labels, a city dateline and a bare name are not bylines.
        ("World", None),
        ("Middle East", None),
        ("News, Politics", None),
        ("Jakarta, CNBC Indonesia", None),
        ("Dana Whitfield", None),
        ("Tuesday, 17/10/2023 13:30 WIB", None),
    ],
)
def test_visible_byline(text: str, expected: tuple[list[str], str | None] | None) -> None:
    assert visible_byline(text) == expected


def test_byline_with_a_date_gives_no_outlet() -> None:
    assert split_byline("By Dana Whitfield | March 2, 2024") == (["Dana Whitfield"], None)


@pytest.mark.parametrize(
    ("lines", "outlet"),
    [
        # "(Outlet) –" with no city before it.
        (["(Bayside Chronicle) – A winter storm brought down power lines."], "Bayside Chronicle"),
        (["(AP) — The storm moved north overnight."], "AP"),
        # Outlet names that start with "The".
        (["Jakarta, The Jakarta Post – The rupiah weakened on Monday."], "The Jakarta Post"),
        (["Prices rose, as reported by The Straits Times on Monday."], "The Straits Times"),
        (["The council met on Tuesday."], None),
    ],
)
def test_credited_outlet_without_city_and_with_the(lines: list[str], outlet: str | None) -> None:
    assert credited_outlet(lines) == outlet


@pytest.mark.parametrize(
    ("lines", "agency"),
    [
        (
            [
                "Text.",
                "© 2019 Associated Press. All Rights Reserved. This material may not be published.",
            ],
            "Associated Press",
        ),
        (["Text.", "© Reuters"], "Reuters"),
        (
            ["Text.", "Copyright © 2024 The Associated Press. All rights reserved."],
            "Associated Press",
        ),
        # The site's own footer or its owner is no credit.
        (["Text.", "Copyright 2019 Hawaii News Now. All rights reserved."], None),
        (["Text.", "Copyright ©2019 Dow Jones & Company, Inc. All Rights Reserved"], None),
    ],
)
def test_wire_copyright(lines: list[str], agency: str | None) -> None:
    assert wire_copyright(lines) == agency


def test_byline_drops_other_roles() -> None:
    byline = "Penulis Citra Maharani | Editor Rudi Hartono"
    assert split_byline(byline) == (["Citra Maharani"], None)
    assert split_byline("By Dana Whitfield; Photos: Lukas Brandt") == (["Dana Whitfield"], None)


def _boilerplate_page(family: str, slug: str):  # type: ignore[no-untyped-def]
    from pathlib import Path

    from crawlers.clean.evaluate import load_boilerplate_set

    root = Path(__file__).parent / "fixtures" / "boilerplate"
    [item] = [i for i in load_boilerplate_set(root) if i.family == family and i.name == slug]
    return item


def test_blog_name_in_h1_is_not_the_title() -> None:
    """Blog themes put the blog's name in <h1> (a link home) and the post title lower down."""
    item = _boilerplate_page("blogger-en", "port-strike-ends")
    e = extract_page(item.page)
    assert e.title == "Dock Workers End Nine-Day Strike After Wage Deal at Port of Calder"


def test_zoneless_meta_time_takes_the_zone_of_the_visible_dateline() -> None:
    """content_PublishedDate "2024-03-10 10:00:00" is local time; "10/03/2024, 10:00 WIB"
    under the title says which zone."""
    item = _boilerplate_page("id-portal-modern", "harga-cabai-naik")
    e = extract_page(item.page)
    assert e.published_at == datetime(2024, 3, 10, 3, 0, tzinfo=UTC)
    assert e.authors == ["Ayu Lestari"]


def test_hatom_entry_gives_author_and_published_time() -> None:
    item = _boilerplate_page("id-blogspot", "harga-cabai-naik")
    e = extract_page(item.page)
    assert e.authors == ["Ayu Lestari"]
    assert e.published_at == datetime(2024, 3, 10, 22, 15, tzinfo=UTC)  # 05:15 WIB on the 11th


@pytest.mark.parametrize(
    ("line", "furniture"),
    [
        ("Updated at 1:23 p.m.", True),
        ("Diperbarui 17 Oktober 2023, 13:30 WIB", True),
        ("[ 2018-08-25 15:24 ]", True),
        ("5:45 AM PST 11/19/2019 by Patrick Shanley", True),
        ("By Dana Whitfield | March 2, 2024", True),
        ("Oleh Ayu Lestari - 5 Maret 2024", True),
        # A live-blog time heading, opening hours, a table row, prose: kept.
        ("4:14 p.m.", False),
        ("9.30 A.M. / 7.00 P.M.", False),
        ("| HD | THE HOME DEPOT INC. | 225.86 | -12.99 | -5.44% |", False),
        ("The vote is at 10:30.", False),
        ("The vote on March 2, 2024 by the council was close", False),
    ],
)
def test_date_and_byline_lines_are_page_furniture(line: str, furniture: bool) -> None:
    from crawlers.clean.furniture import _is_byline_and_date, _is_timestamp_line

    assert (_is_timestamp_line(line) or _is_byline_and_date(line)) is furniture


def test_dateline_below_the_page_furniture_beats_a_quoted_agency() -> None:
    """Before cleaning, breadcrumb, title, labels, byline and dateline push the body's dateline
    credit down; the cleaned text starts with it. A quote credit later must not win."""
    raw = [
        "Home » today » World » Putin’s Effort to Prevent Humanitarian Disaster in Gaza",
        "Putin’s Effort to Prevent Humanitarian Disaster in Gaza",
        "International",
        "Thea Fathanah Arbar, CNBC Indonesia",
        "Tuesday, 17/10/2023 13:30 WIB",
        "Photo: Vladimir Putin speaks after a signing ceremony. (AP/Mikhail Metzel)",
        "Jakarta, CNBC Indonesia – Russian President Vladimir Putin told Israeli Prime Minister.",
        "“Unanimous opinion has been expressed,” he said of the conversation, as quoted Reuters.",
        "Source: CNBC Indonesia",
    ]
    cleaned = ["International", raw[6], raw[7]]
    assert credited_outlet(cleaned, raw) == "CNBC Indonesia"
    # A source line the rules removed from the cleaned text is still read.
    body = ["Prices rose.", "Analysts expect more."]
    assert credited_outlet(body, [*body, "Sumber: Antara"]) == "Antara"


@pytest.mark.parametrize(
    ("line", "outlet"),
    [
        (
            "This article was originally published by Futurism. Read the original article.",
            "Futurism",
        ),
        ("Originally published on Live Science.", "Live Science"),
        ("Dilansir dari Reuters, harga minyak naik pada Senin.", "Reuters"),
        ('Artikel ini telah tayang di Warta Nusa dengan judul "Harga Naik".', "Warta Nusa"),
        ("Prices rose, as reported by U.S. News on Monday.", "U.S. News"),
        ("First published in 1951, the novel has never been out of print.", None),
    ],
)
def test_credit_phrases_at_a_sentence_start_and_names_before_a_full_stop(
    line: str, outlet: str | None
) -> None:
    assert credited_outlet(["The council met.", line]) == outlet


def _vote_by_definition(text: str, declared: str | None) -> str | None:
    """guess_language as its rule reads: per language, the text's count of its stop words."""
    from collections import Counter

    from crawlers.clean.metadata import _STOPSETS
    from crawlers.wordcount import letter_runs

    words = letter_runs(text.lower())[:2000]
    declared = (declared or "").split("-")[0].split("_")[0].lower() or None
    if len(words) < 20:
        return declared
    counts = Counter(words)
    scores = {lang: sum(counts[w] for w in stops) for lang, stops in _STOPSETS.items()}
    best = max(scores, key=lambda k: scores[k])
    if scores[best] < max(3, 0.08 * len(words)):
        return declared
    if best == "ms" and scores["id"] >= scores["ms"] * 0.9:
        best = "id"
    if declared == "ms" and best == "id":
        best = "ms"
    return best


def test_language_vote_counts_each_languages_stop_words():
    """The vote counts the text's stop words once, for every language they belong to: the
    same winner as counting each language's stop words in turn, ties and all."""
    import random

    from crawlers.clean.metadata import _STOPWORDS, guess_language

    rng = random.Random(11)
    stops = [w for words in _STOPWORDS.values() for w in words.split()]
    filler = ["Jakarta", "market", "pasar", "Straße", "économie", "2024", "rate", "kota", "é"]
    for _ in range(3000):
        words = rng.choices(stops + filler, k=rng.randint(5, 120))
        text = " ".join(w.upper() if rng.random() < 0.1 else w for w in words)
        declared = rng.choice([None, "en", "ms", "id-ID", "pt_BR", ""])
        assert guess_language(text, declared) == _vote_by_definition(text, declared), text
    assert guess_language("the of and to in is that for it was " * 3) == "en"
    assert guess_language("yang dan di ini itu dengan untuk tidak dari dalam " * 3) == "id"


def test_credit_hints_found_in_the_joined_lines_are_the_lines_own():
    """The words looked for in the joined lines find the lines a search of each line finds,
    also with letters that lower() folds apart (dotted capital I, dotless i, long s), a word
    split across two lines or a line break inside a line."""
    import random

    from crawlers.clean.metadata import _credit_hint, _hinted_lines

    rng = random.Random(5)
    words = ["quoted", "Reported", "CITING", "dikutip", "FiRsT", "originally", "terbit", "news",
             "İstanbul", "\u0130", "ſ", "ı", "Σ", "é", "", " ", "the"]  # fmt: skip
    for _ in range(5000):
        count = rng.randint(0, 8)
        lines = [" ".join(rng.choices(words, k=rng.randint(0, 8))) for _ in range(count)]
        if lines and rng.random() < 0.3:
            lines[-1] += " quo"
            lines.append("ted from")
        if lines and rng.random() < 0.1:
            lines[0] += "\nreported"  # a line break inside a line
        assert _hinted_lines(lines) == [line for line in lines if _credit_hint(line)], lines
    assert _hinted_lines(["Nothing here.", "As REPORTED by Reuters.", "x"]) == [
        "As REPORTED by Reuters."
    ]


@pytest.mark.parametrize(
    ("blocks", "byline"),
    [
        # Ranked by class, not by place on the page: byline, then author-name, then hCard fn.
        (
            '<div class="vcard"><span class="fn">Vera Card</span></div>'
            '<span class="post-author-name">Nina Name</span>'
            '<p class="byline">By Bea Byline</p>',
            "By Bea Byline",
        ),
        (
            '<div class="vcard"><span class="fn">Vera Card</span></div>'
            '<span class="author__name">Nina Name</span>',
            "Nina Name",
        ),
        ('<div class="vcard"><span class="fn">Vera Card</span></div>', "Vera Card"),
        # An empty byline gives way to the next of its rank; an author box is not a byline,
        # and neither is a lone "fn" outside an hCard.
        (
            '<p class="byline"> </p><div class="author-box">About the writer: a bio</div>'
            '<span class="fn">Lone Fn</span><p class="byline">By Second Byline</p>',
            "By Second Byline",
        ),
        ('<div class="author-box">About the writer</div><span class="fn">Lone Fn</span>', None),
    ],
)
def test_class_byline_is_taken_by_rank_of_class(blocks, byline):
    from lxml.html import fromstring

    from crawlers.clean.markup import _class_byline

    tree = fromstring(f"<html><body><h1>Harbour ferry resumes</h1>{blocks}</body></html>")
    assert _class_byline(tree) == byline
