"""Cleaning stage: a syndicated reprint page, metadata, template learning, gates, state."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from parsel import Selector

from crawlers.classify import _body_paragraphs, judge
from crawlers.clean import EXTRACTOR, CleanOptions, TemplateState, extract_page, finish_source
from crawlers.htmlfix import reopen_body
from crawlers.records import Page
from tests.conftest import fetched_page

FIXTURES = Path(__file__).parent / "fixtures" / "clean"
def make_page(html: str, url: str, source: str = "reprints") -> Page:
    return fetched_page(html, url, source)


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


def clean_fixture(name: str, url: str, html: str | None = None):  # type: ignore[no-untyped-def]
    html = html or (FIXTURES / f"{name}.html").read_text(encoding="utf-8")
    extracted = extract_page(make_page(html, url))
    articles, dropped = finish_source([extracted], TemplateState.empty(), CleanOptions())
    assert not dropped, dropped
    return extracted, articles[0]


def test_table_layout_page_is_read_as_paragraphs() -> None:
    """A class-less theme laid out with tables: without unwrapping, trafilatura reads the
    whole cell (navigation, byline, body, comment form) as one table row."""
    url = "https://harbourtowntimes.example/news/2024/02/14/storm-cuts-power/"
    extracted, article = clean_fixture("table_layout", url)
    expected = (FIXTURES / "table_layout.expected.txt").read_text(encoding="utf-8").strip()
    assert article.text == expected
    # "(Outlet) –" with no city before it credits the outlet.
    assert article.credited_source == "Bayside Chronicle"
    # Byline and dateline are plain divs under the title; the visible time beats the URL's day.
    assert article.authors == ["Marisa Quintero"]
    assert extracted.byline_outlet == "Bayside Chronicle"
    assert article.published_at == datetime(2024, 2, 14, 18, 40, tzinfo=UTC)
    assert article.title == "Storm Cuts Power to Thousands Along the Coast"


def test_reprint_page_reads_visible_byline_and_dateline() -> None:
    html = (FIXTURES / "reprint_classless.html").read_text(encoding="utf-8")
    url = "https://reprint.example/2024/02/06/indonesia-signs-rice-import-deal/"
    extracted, article = clean_fixture("reprint_classless", url, html)
    assert article.authors == ["Rina Kusumawati Hartono"]
    assert extracted.byline_outlet == "Kabar Ekonomi"
    # "Tuesday, 06/02/2024 09:15 WIB" is 02:15 UTC; the URL only gives the day.
    assert article.published_at == datetime(2024, 2, 6, 2, 15, tzinfo=UTC)


def test_credit_line_is_read_before_the_rules_remove_it() -> None:
    url = "https://kabarkini.example/ekonomi/2024/03/05/harga-beras-turun/"
    extracted, article = clean_fixture("source_line_id", url)
    expected = (FIXTURES / "source_line_id.expected.txt").read_text(encoding="utf-8").strip()
    assert article.text == expected  # "Sumber: Antara" is gone from the text ...
    assert article.credited_source == "Antara"  # ... but credited
    assert extracted.removed["source-credit"] == 1
    assert article.authors == ["Ayu Lestari"]
    assert article.language == "id"
    # The meta tag gives only the day; the visible "Selasa, 5 Maret 2024 | 21:10 WIB" the time.
    assert article.published_at == datetime(2024, 3, 5, 14, 10, tzinfo=UTC)


def test_byline_naming_another_outlet_credits_it() -> None:
    url = "https://metroreprinthub.example/2024/06/12/ferry-fare-cap/"
    _, article = clean_fixture("foreign_byline", url)
    assert article.authors == ["Dana Whitfield"]
    assert article.credited_source == "Riverton Courier"
    assert article.published_at == datetime(2024, 6, 12, 20, 5, tzinfo=UTC)
    # On the outlet's own site the same byline credits nobody.
    html = (FIXTURES / "foreign_byline.html").read_text(encoding="utf-8")
    own = html.replace('content="Metro Reprint Hub"', 'content="Riverton Courier"')
    _, article = clean_fixture("foreign_byline", "https://rivertoncourier.example/a/", own)
    assert article.credited_source is None


def test_wire_copyright_credits_the_agency_not_the_site() -> None:
    url = "https://lakesidedaily.example/news/wildfire-evacuation/"
    _, article = clean_fixture("wire_copyright", url)
    assert article.credited_source == "Associated Press"
    assert "Associated Press" not in article.text and "Lakeside Daily" not in article.text


def test_headline_repeated_in_the_body_is_dropped_whatever_title_the_meta_tags_give() -> None:
    """og:title is often a shorter social headline: the visible <h1> that opens the body is
    still the headline."""
    _, article = clean_fixture("social_title", "https://nordicdaily.example/news/bridge-inquiry/")
    assert article.title == "Bridge inquiry closed"
    assert article.text.startswith("Prosecutors in Sweden said on Tuesday")
    assert "Sweden Drops Its Investigation" not in article.text
    assert article.text.endswith("said a lawyer for one of the drivers.")


def test_title_from_a_lower_heading_that_the_title_tag_holds() -> None:
    """No <h1> and no og:title: <title> is "Headline – Site"; the <h2> shows the headline."""
    html = (FIXTURES / "reprint_classless.html").read_text(encoding="utf-8")
    html = html.replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    url = "https://reprint.example/2024/02/06/indonesia-signs-rice-import-deal/"
    _, article = clean_fixture("reprint_classless", url, html)
    assert article.title == "Indonesia Signs Rice Import Deal With Vietnam to Cool Prices"
    assert not article.text.startswith("Indonesia Signs")
    assert article.authors == ["Rina Kusumawati Hartono"]


def test_feed_timestamp_beats_a_day_without_time() -> None:
    """The page gives the day only (a date-only meta tag, the URL): the feed's time wins."""
    html = (FIXTURES / "source_line_id.html").read_text(encoding="utf-8")
    html = html.replace("<div>Selasa, 5 Maret 2024 | 21:10 WIB</div>", "")
    url = "https://kabarkini.example/ekonomi/2024/03/05/harga-beras-turun/"
    feed_time = datetime(2024, 3, 5, 13, 55, tzinfo=UTC)
    page = make_page(html, url)
    assert extract_page(page).published_at == datetime(2024, 3, 5, tzinfo=UTC)
    page.hint_date = feed_time
    assert extract_page(page).published_at == feed_time
    # A feed date on another day does not override the page.
    page.hint_date = datetime(2024, 3, 9, 13, 55, tzinfo=UTC)
    assert extract_page(page).published_at == datetime(2024, 3, 5, tzinfo=UTC)
    # Nothing on the page: a feed time beats the URL's day, a feed day does not.
    bare = html.replace('<meta property="article:published_time" content="2024-03-05">', "")
    page = make_page(bare, url)
    page.hint_date = feed_time
    assert extract_page(page).published_at == feed_time
    page.hint_date = datetime(2024, 3, 4, tzinfo=UTC)
    assert extract_page(page).published_at == datetime(2024, 3, 5, tzinfo=UTC)


def test_only_layout_tables_are_unwrapped() -> None:
    from lxml.html import fromstring

    from crawlers.clean.extract import _unwrap_layout_tables

    layout = "<table><tr><td><h1>Title</h1><p>Body text.</p></td><td><ul><li>x</li></ul></td></tr></table>"  # noqa: E501
    data = "<table><tr><th>Year</th><th>Rice</th></tr><tr><td><p>2023</p></td><td>31.1</td></tr></table>"  # noqa: E501
    captioned = "<table><caption>Prices</caption><tr><td><p>2023</p></td></tr></table>"
    plain_cells = "<table><tr><td>2023</td><td>31.1</td></tr></table>"
    row = "<tr>" + "<td><p>cell</p></td>" * 5 + "</tr>"
    grid = f"<table>{row * 3}</table>"  # a chart with paragraphs in its cells: data
    tree = fromstring(f"<div>{layout}{data}{captioned}{plain_cells}{grid}</div>")
    assert _unwrap_layout_tables(tree) == 1
    assert len(tree.findall(".//table")) == 4  # the data, captioned, plain and grid tables stay
    assert tree.find(".//td/h1") is None and tree.find(".//div/h1") is not None


def test_a_data_table_with_lists_in_its_cells_stays_a_table() -> None:
    """A comparison chart whose cells hold lists and paragraphs is data, not page layout: its
    rows stay in the body (unwrapped as layout, trafilatura dropped the whole chart)."""
    url = "https://peninsulapost.example/money/broadband-compared/"
    _, article = clean_fixture("comparison_chart", url)
    rows = {line.split("|")[1].strip(): line for line in article.text.split("\n") if "|" in line}
    assert sorted(rows) == ["Cliffline Wireless", "Moorside Net", "Skyreach Satellite",
                            "Tidewater Broadband"]  # fmt: skip
    # Each row on one line, its lists read as the cell's text.
    assert "| Low-orbit satellite; Up to 220 Mbps |" in rows["Skyreach Satellite"]
    assert "£22 a month" in rows["Moorside Net"]
    assert article.text.startswith("Four companies now sell home internet")
    assert article.text.rstrip().endswith("about two thousand homes.")


def test_a_list_of_links_to_other_sites_is_the_articles_own() -> None:
    """Three link-only lines in a row are a list of links; linking to other sites (the
    studies a story cites) they are the story's, linking to the site's own pages (more
    news) they are furniture."""
    url = "https://valleycourier.example/news/2024/03/04/reservoir-studies/"
    _, article = clean_fixture("sources_list", url)
    for study in ("River flow under changing spring rainfall", "Dam safety review",
                  "Summer storage limits and downstream irrigation demand"):  # fmt: skip
        assert study in article.text
    assert "Ferry timetable changes" not in article.text
    assert "Market square reopens" not in article.text
    assert article.text.rstrip().endswith("every week on its website.")


def test_a_story_printed_after_an_early_end_of_document_is_read() -> None:
    """A template printed </body></html> after the header and the story after it: browsers
    put the story back into the body, and so must the cleaning (lxml left it out)."""
    url = "https://estuaryecho.example/news/2024/03/05/flood-barrier-lowered/"
    html = (FIXTURES / "early_end_tags.html").read_text(encoding="utf-8")
    _, article = clean_fixture("early_end_tags", url, html)
    assert article.text.startswith("The district's new flood barrier was lowered")
    assert article.text.rstrip().endswith("most welcomed the early finish.")
    # The crawler's article test reads the same body (four long paragraphs side by side),
    # which lxml alone leaves out.
    assert _body_paragraphs(Selector(text=html)) == 0
    assert _body_paragraphs(Selector(text=reopen_body(html))) == 4
    well_formed = html.replace("</body>\n</html>\n<div", "<div", 1)
    assert well_formed != html
    assert judge(url, html).score == judge(url, well_formed).score


def test_end_tags_stay_when_nothing_follows_them() -> None:
    page = "<html><body><p>Text.</p></body></html>\n<!-- served in 12 ms -->\n"
    assert reopen_body(page) == page
    moved = "<html><body><p>a</p></body></html>" + "<p>story</p>" * 100
    assert "</body>" not in reopen_body(moved) and "</html>" not in reopen_body(moved)
