"""Cleaning gates weigh evidence; bodies come out whole and NFC; credit lines that restate the
metadata go. Fixtures in tests/fixtures/evidence/ were written for these tests."""

from __future__ import annotations

import dataclasses
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest
from trafilatura.utils import load_html

from crawlers.clean import CleanOptions, TemplateState, extract_page, finish_source
from crawlers.clean.evidence import LIST_BODY_POINTS, LISTING_THRESHOLD, listing_evidence
from crawlers.clean.extract import _open_accordions, _widen, _with_closing
from crawlers.clean.furniture import MAX_TITLE_CHARS
from crawlers.clean.markup import CARD_GRID_MIN, card_grid
from crawlers.records import Page, Rejected

FIXTURES = Path(__file__).parent / "fixtures" / "evidence"
FETCHED = datetime(2024, 3, 6, tzinfo=UTC)


def _extracted(name: str, url: str, via: str = "link"):  # type: ignore[no-untyped-def]
    html = (FIXTURES / name).read_text(encoding="utf-8")
    return extract_page(Page(url=url, final_url=url, source="s", status=200, fetched_at=FETCHED,
                             html=html, discovered_via=via))  # fmt: skip


def clean(name: str, url: str, via: str = "link") -> tuple[list, list[Rejected]]:
    rejected: list[Rejected] = []
    articles, _ = finish_source([_extracted(name, url, via)], TemplateState.empty(),
                                CleanOptions(), rejected)  # fmt: skip
    return articles, rejected


@pytest.mark.parametrize(
    "url",
    [
        "https://notes.example/?p=119",  # WordPress default permalink: root path + query
        "https://notes.example/index.php/2024/03/05/harbour-ferry-returns/",
        "https://notes.example/page/harbour-ferry-returns/",
        "https://notes.example/harbour-ferry-returns/",
    ],
)
def test_article_with_only_weak_listing_hints_is_kept(url: str) -> None:
    # og:type=website, a WebSite + WebPage JSON-LD graph and no Article type: each is a weak
    # hint, and together with a listing-looking path they still do not outweigh a dated,
    # authored body of prose.
    articles, rejected = clean("wp_article_site_types.html", url)
    assert not rejected, rejected
    [article] = articles
    assert article.text.startswith("The passenger ferry that links the old harbour")
    assert "Recent posts" not in article.text


@pytest.mark.parametrize(
    "url",
    [
        "https://notes.example/tag/harbour/",
        "https://notes.example/?tag=harbour",
        "https://notes.example/harbour",  # no listing path at all: the page itself says it
    ],
)
def test_tag_listing_is_still_dropped_as_listing(url: str) -> None:
    articles, rejected = clean("tag_listing.html", url)
    assert not articles
    [drop] = rejected
    assert drop.reason == "listing" and drop.url == url


def test_feed_announcement_is_strong_evidence() -> None:
    html = (FIXTURES / "tag_listing.html").read_text(encoding="utf-8")
    url = "https://notes.example/harbour"
    linked, announced = (
        extract_page(Page(url=url, final_url=url, source="s", status=200, fetched_at=FETCHED,
                          html=html, discovered_via=via))  # fmt: skip
        for via in ("link", "article")
    )
    assert listing_evidence(linked) >= LISTING_THRESHOLD
    assert listing_evidence(announced) == listing_evidence(linked) - 3.0


def test_text_and_title_are_nfc() -> None:
    [article], _ = clean("decomposed_accents.html", "https://port.example/2024/03/cafe-du-port/")
    assert article.text == unicodedata.normalize("NFC", article.text)
    assert "café du port" in article.text.lower()
    assert article.title == "Le café du port rouvre après l'hiver"


def test_credit_lines_restating_the_outlet_are_removed_english() -> None:
    [article], _ = clean("credit_line_en.html", "https://aggregate.example/port-dredging/")
    assert article.credited_source == "Riverton Courier"
    lines = article.text.splitlines()
    assert lines[0].startswith("RIVERTON (Riverton Courier) - The port authority")
    assert "Dana Whitfield, Riverton Courier" not in article.text
    assert "Dana Whitfield/Riverton Courier" not in article.text
    assert lines[-1].startswith("Shipping companies welcomed the decision")


def test_credit_lines_restating_the_outlet_are_removed_indonesian() -> None:
    [article], _ = clean("credit_line_id.html", "https://portal.example/harga-beras-turun/")
    assert article.credited_source == "Kabar Ekonomi"
    assert "Ayu Lestari, Kabar Ekonomi" not in article.text
    assert "Penulis: Ayu Lestari" not in article.text
    assert article.text.splitlines()[0].startswith("Jakarta, Kabar Ekonomi – Harga beras")


def test_widen_keeps_the_recall_lines_inside_the_body_only() -> None:
    balanced = "First paragraph.\nThird paragraph."
    recall = "Related: other story\nFirst paragraph.\nA list item the balanced pass cut.\n" \
             "Third paragraph.\nLeave a comment"  # fmt: skip
    assert _widen(balanced, recall) == (
        "First paragraph.\nA list item the balanced pass cut.\nThird paragraph."
    )
    # The recall pass lost a line the balanced pass kept: they disagree, balanced stands.
    assert _widen(balanced, "First paragraph.\nSomething else") == balanced


def test_widen_takes_the_recall_pass_where_it_restates_a_line_more_fully() -> None:
    # The precise pass dropped a command's first word and a link's text; the recall pass
    # writes the same lines whole and has a diagram line between them.
    precise = "Install the proxy first.\n -fsSL https://get.example/install.sh | sh\n" \
              "Then reload it.\nIt allows us to generate mocks.\nDone for today."  # fmt: skip
    recall = "Install the proxy first.\ncurl -fsSL https://get.example/install.sh | sh\n" \
             "Then reload it.\n| client | proxy |\nTestify (testify/mock). It allows us to " \
             "generate mocks.\nDone for today.\nLeave a comment"  # fmt: skip
    assert _widen(precise, recall).splitlines() == [
        "Install the proxy first.", "curl -fsSL https://get.example/install.sh | sh",
        "Then reload it.", "| client | proxy |",
        "Testify (testify/mock). It allows us to generate mocks.", "Done for today.",
    ]  # fmt: skip
    # A line the recall pass does not hold in other words: the passes disagree.
    assert _widen(precise, recall.replace("generate mocks", "sell tickets")) == precise


BODY = "The ferry returns on Monday.\nIts engines were rebuilt over the winter."
FAQ = [
    "Ferry FAQs",
    "When does the first ferry leave?",
    "The first crossing leaves the north quay at seven in the morning on weekdays.",
    "Can bicycles travel on the ferry?",
    "Bicycles travel free on the open deck, up to twelve on each crossing of the day.",
]


def test_a_closing_faq_only_the_recall_pass_found_is_kept() -> None:
    recall = "\n".join([BODY, *FAQ, "Related posts", "Harbour fees rise again"])
    assert _with_closing(BODY, recall).splitlines() == [*BODY.splitlines(), *FAQ]
    # One question, or questions without prose answers, are no FAQ section.
    assert _with_closing(BODY, "\n".join([BODY, *FAQ[:3], "Related posts"])) == BODY
    teasers = [BODY, "More stories", "Is the quay safe?", "Read more", "Who pays?", "Read more"]
    assert _with_closing(BODY, "\n".join(teasers)) == BODY


def test_a_closing_list_of_sentences_is_kept_and_a_link_list_is_not() -> None:
    items = [
        "- The timetable will be reviewed after the first month of crossings.",
        "- Season tickets bought last year remain valid until the end of June.",
    ]
    recall = "\n".join([BODY, *items, "- Harbour fees rise - 3 May 2024"])
    assert _with_closing(BODY, recall).splitlines() == [*BODY.splitlines(), *items]
    links = [BODY, "- Harbour fees rise again", "- New pontoon opens - May 2024"]
    assert _with_closing(BODY, "\n".join(links)) == BODY


def test_collapsed_accordion_answers_are_read_and_menus_stay_closed() -> None:
    [article], _ = clean("accordion_faq.html", "https://gazette.example/boats/winterise/")
    text = article.text
    for question in ("Can a rowing boat stay in the water over winter?",
                     "Which varnish survives a salt winter best?",
                     "How often should the cover be lifted?"):  # fmt: skip
        assert question in text
    assert "marine spar varnish" in text and "every dry and windy day" in text
    assert "Tide tables and weather" not in text


def test_a_home_page_with_tracking_ids_only_is_the_home_page() -> None:
    def score(url: str) -> float:
        return listing_evidence(_extracted("tag_listing.html", url))

    home = score("https://notes.example/")
    assert score("https://notes.example/?srsltid=AfmBO1&utm_source=ads") == home
    assert score("https://notes.example/?lang=en") < home  # another address on the root


def test_a_body_that_is_one_list_and_nothing_else_is_a_listing() -> None:
    # A show's page of episodes: no type, no date, no prose; each item a title and a blurb.
    url = "https://tidewater.example/shows/harbour-radio"
    page = _extracted("episode_list.html", url)
    assert all(line.startswith("- ") for line in page.lines)
    articles, rejected = clean("episode_list.html", url)
    assert not articles and [r.reason for r in rejected] == ["listing"]
    # The same list under a paragraph of prose is an article's list: one sign, no more.
    with_prose = dataclasses.replace(page, lines=["Intro. " * 30, *page.lines[:9]])
    assert listing_evidence(with_prose) < listing_evidence(page)
    # The sign itself: all twelve items under two paragraphs are too few of the body's lines.
    # The items weigh as the same lines written without list marks, and they count once
    # they are the whole body.
    def unlisted(lines: list[str]) -> list[str]:
        return [line.removeprefix("- ") for line in lines]

    prose = ["The harbour's own station has broadcast every week since 1998. " * 3] * 2
    under_prose = dataclasses.replace(page, lines=[*prose, *page.lines])
    assert listing_evidence(under_prose) == listing_evidence(
        dataclasses.replace(under_prose, lines=unlisted(under_prose.lines)))
    assert listing_evidence(page) == listing_evidence(
        dataclasses.replace(page, lines=unlisted(page.lines))) + LIST_BODY_POINTS


def test_an_accordion_opens_the_first_section_of_a_repeated_id() -> None:
    tree = load_html(
        "<html><body><h3><button aria-controls='a1'>Who runs the ferry?</button></h3>"
        "<div id='a1' class='panel hidden'>The harbour trust.</div>"
        "<div id='a1' class='panel hidden'>A copy in the mobile menu.</div>"
        "<button aria-controls='menu'>Menu</button><nav id='menu' hidden>Home</nav>"
        "</body></html>"
    )
    assert _open_accordions(tree) == 1
    first, second = tree.xpath("//div[@id='a1']")
    assert first.get("class") == "panel" and second.get("class") == "panel hidden"
    assert tree.find(".//nav").get("hidden") is not None
    assert tree.find(".//h3/span").text == "Who runs the ferry?"


def test_titles_are_bounded() -> None:
    html = (FIXTURES / "wp_article_site_types.html").read_text(encoding="utf-8")
    html = html.replace("Harbour Ferry Returns After Winter Repairs</title>",
                        "Harbour " + "word " * 20_000 + "</title>", 1)  # fmt: skip
    html = html.replace('content="Harbour Ferry Returns After Winter Repairs"',
                        'content="' + "x" * 100_000 + '"')  # fmt: skip
    url = "https://notes.example/harbour-ferry-returns/"
    page = extract_page(Page(url=url, final_url=url, source="s", status=200,
                             fetched_at=FETCHED, html=html))  # fmt: skip
    assert page.title is not None and len(page.title) <= MAX_TITLE_CHARS + 1


def test_a_short_brief_with_strong_article_evidence_is_kept() -> None:
    url = "https://notes.example/2024/03/06/coast-road-reopens/"
    [article], _ = clean("brief.html", url)
    assert 40 <= article.word_count < CleanOptions().min_words
    # The same text with nothing that says "story" is too short to be one.
    html = (FIXTURES / "brief.html").read_text(encoding="utf-8")
    bare = html.replace('content="article"', 'content="website"').replace(
        'name="author"', 'name="generator"').replace("article:published_time", "x")  # fmt: skip
    page = Page(url=url, final_url=url, source="s", status=200, fetched_at=FETCHED, html=bare)
    rejected: list[Rejected] = []
    articles, _ = finish_source([extract_page(page)], TemplateState.empty(), CleanOptions(),
                                rejected)  # fmt: skip
    assert not articles and [r.reason for r in rejected] == ["too_short"]


def test_a_grid_of_cards_tips_a_page_with_little_text_into_a_listing() -> None:
    # A shop's category page: a heading and twelve product cards (link, image, heading,
    # price), no prose, no type, no date. Without the grid its evidence stays under the
    # threshold and it would be published as a story.
    url = "https://fernhill.example/garden-tools"
    page = _extracted("card_grid_shop.html", url)
    grid = card_grid(load_html((FIXTURES / "card_grid_shop.html").read_text(encoding="utf-8")))
    assert grid >= CARD_GRID_MIN
    # Its cards are list items, so its body is one list (another sign); read as plain
    # blocks, only the grid tips it.
    blocks = dataclasses.replace(page, lines=[ln.removeprefix("- ") for ln in page.lines])
    without_grid = listing_evidence(dataclasses.replace(blocks, card_grid=0))
    assert without_grid < LISTING_THRESHOLD <= listing_evidence(
        dataclasses.replace(blocks, card_grid=grid))
    articles, rejected = clean("card_grid_shop.html", url)
    assert not articles
    assert [r.reason for r in rejected] == ["listing"]


def test_a_grid_of_related_stories_does_not_outweigh_an_article() -> None:
    # The same kind of grid under a dated, signed story of prose: one weak sign, not enough.
    url = "https://valley.example/seed-library"
    html = (FIXTURES / "article_with_card_grid.html").read_text(encoding="utf-8")
    assert card_grid(load_html(html)) >= CARD_GRID_MIN
    page = _extracted("article_with_card_grid.html", url)
    assert listing_evidence(dataclasses.replace(page, card_grid=CARD_GRID_MIN)) < LISTING_THRESHOLD
    [article], rejected = clean("article_with_card_grid.html", url)
    assert not rejected
    assert article.text.startswith("The county's seed library reopened")


def test_a_story_in_an_unspaced_script_reads_as_prose() -> None:
    """Japanese paragraphs have no spaces: each is a line of prose, not one "word". With
    og:type website and no date or author, the story is still kept when found by a link."""
    said = "港のフェリーは明日から運航時間を変更すると会社が発表しました。"
    heed = "利用者は注意が必要で、詳しい時刻表は窓口で配られます。"
    body = "".join(
        f"<p>{i + 1}月{i + 3}日、{said}{heed}{said}{i}便が減ります。</p>" for i in range(6)
    )
    nav = "".join(f"<li><a href='/c/{i}'>区分{i}</a></li>" for i in range(20))
    html = (
        "<html lang='ja'><head><title>フェリーの運航時間が変わります</title>"
        "<meta property='og:type' content='website'></head><body>"
        f"<nav><ul>{nav}</ul></nav><main><h1>フェリーの運航時間が変わります</h1>{body}</main>"
        "</body></html>"
    )
    url = "https://minato.example/news/ferry-timetable"
    page = extract_page(Page(url=url, final_url=url, source="s", status=200, fetched_at=FETCHED,
                             html=html, discovered_via="link"))  # fmt: skip
    assert listing_evidence(page) < LISTING_THRESHOLD - 1, listing_evidence(page)
    articles, _ = finish_source([page], TemplateState.empty(), CleanOptions())
    assert len(articles) == 1


def test_excerpts_cut_short_are_no_prose() -> None:
    """A tag page's teasers end in WordPress's "[…]": cut short, not sentences. Even
    announced by the sitemap, the page is a listing; a story whose quote trails off in a
    bare ellipsis stays prose."""
    from crawlers.clean.evidence import prose_share

    excerpt = (
        "The harbour ferry returns to its summer timetable next month, and the council says "
        "that the extra sailings will run until the end of September at the {} pier [{}]"
    )
    lines = [excerpt.format(i, dots) for i, dots in enumerate(["…", "...", "…", "..."])]
    assert prose_share(lines, [False] * 4) == 0.0
    trailing = [line.replace(" [", " and then").replace("]", "") for line in lines]
    assert prose_share(trailing, [False] * 4) == 1.0

    cards = "".join(
        f"<article><h2><a href='/2024/05/story-{i}/'>Ferry story number {i}</a></h2>"
        f"<p>{excerpt.format(i, '…')}</p></article>"
        for i in range(8)
    )
    html = f"<html><head><title>Ferry</title></head><body><main>{cards}</main></body></html>"
    url = "https://notes.example/tag/ferry/"
    page = extract_page(Page(url=url, final_url=url, source="s", status=200, fetched_at=FETCHED,
                             html=html, discovered_via="sitemap"))  # fmt: skip
    assert listing_evidence(page) >= LISTING_THRESHOLD, listing_evidence(page)
