"""The crawler's article gate (crawlers.classify) and URL normalisation, on pages written for
these tests (tests/fixtures/classify/): evidence is weighed, no single weak hint drops an
article, and tag, search and pagination pages stay listings."""

from __future__ import annotations

import pytest
import yaml

from crawlers.classify import is_root_path, judge, listing_url
from crawlers.urls import normalise as _normalise
from tests.conftest import data_path

CASES = yaml.safe_load(data_path("classify", "cases.yaml").read_text())


@pytest.mark.parametrize(
    "case",
    CASES,
    ids=[f"{c['file']}@{c['url']}{'+announced' if c['announced'] else ''}" for c in CASES],
)
def test_article_gate(case):
    html = data_path("classify", case["file"]).read_text()
    verdict = judge(case["url"], html, announced=case["announced"])
    assert verdict.article is case["article"], verdict
    assert (verdict.reason is None) is case["article"]


@pytest.mark.parametrize(
    "url",
    [
        "https://gazette.example/?p=412",
        "https://gazette.example/?page_id=19",
        "https://gazette.example/index.php?p=412",
        "https://gazette.example/?p=412&page=2",  # the second page of a post
        "https://gazette.example/index.php/2024/05/ferry-timetable-changes/",
        "https://gazette.example/page/about-the-gazette",
        "https://gazette.example/section/council-votes-to-close-the-old-library",
        # Drupal's path as a query, Blogger's mobile flag, an item beside its category
        "https://gazette.example/?q=node/412",
        "https://gazette.example/index.php?q=node/412",
        "https://gazette.example/2024/05/ferry-timetable.html?m=1",
        "https://gazette.example/news.php?cat=2&id=345",
        "https://gazette.example/?category=local&newsid=9",
        "https://gazette.example/index.php?option=com_content&view=article&id=12:ferry&catid=3",
        # WordPress's numeric permalinks
        "https://gazette.example/archives/1234",
        "https://gazette.example/archives/1234/",
    ],
)
def test_query_string_and_wordpress_article_urls_are_no_listings(url):
    assert not listing_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://gazette.example/",
        "https://gazette.example/index.php",
        "https://gazette.example/?s=ferry",
        "https://gazette.example/?q=ferry",
        "https://gazette.example/?paged=2",
        "https://gazette.example/?page=2",
        "https://gazette.example/?tag=harbour",
        "https://gazette.example/?cat=3",
        "https://gazette.example/?p=412&s=ferry",
        "https://gazette.example/page/3/",
        "https://gazette.example/category/local/page/2/",
        "https://gazette.example/?q=ferry+timetable",
        "https://gazette.example/?m=202405",
        "https://gazette.example/?year=2024&monthnum=5",
        "https://gazette.example/?s=ferry&id=9",  # a search stays a search
        "https://gazette.example/?cat=3&paged=2",
        "https://gazette.example/index.php?option=com_content&view=category&id=3",
        "https://gazette.example/index.php?option=com_content&view=category&layout=blog&id=3",
        "https://gazette.example/archives/2024",  # a year's archive
        "https://gazette.example/archives/harbour",
        "https://gazette.example/2024/05/",  # date archives
        "https://gazette.example/2024/05/17",
        "https://gazette.example/news/2024/",
        "https://gazette.example/@dana",  # a person's page
        # tags, authors and labels with names as long as a story's slug
        "https://gazette.example/tag/climate-change-and-the-sea/",
        "https://gazette.example/author/mary-jane-van-dyke/",
        "https://gazette.example/author/mary-jane-van-dyke/page/2/",
        "https://gazette.example/search/label/harbour-ferry-news-today",
        # Drupal's term pages, as paths and as routes
        "https://gazette.example/taxonomy/term/12",
        "https://gazette.example/?q=taxonomy/term/12",
        "https://gazette.example/index.php?q=taxonomy/term/12/",
        # the home page reached through an ad or a shopping result: tracking ids only
        "https://gazette.example/?srsltid=AfmBOoq1x&gclid=abc",
        "https://gazette.example/?utm_source=newsletter",
    ],
)
def test_search_tag_and_pagination_urls_are_listings(url):
    assert listing_url(url)


@pytest.mark.parametrize(
    ("path", "root"),
    [
        ("", True),
        ("/", True),
        ("/index.html", True),
        ("/index.php", True),
        ("/index", False),
        ("/index.html/", False),
        ("/news/index.html", False),
        ("/indexes.html", False),
        ("//", False),
    ],
)
def test_root_path_is_the_home_page_or_its_index_file(path, root):
    # One rule for the crawler's URL tests and the cleaning's evidence alike.
    assert is_root_path(path) is root


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (
            "https://gazette.example/?p=412&utm_source=feed&utm_medium=rss",
            "https://gazette.example/?p=412",
        ),
        ("https://gazette.example/?fbclid=IwAR0x&p=412", "https://gazette.example/?p=412"),
        (
            "https://gazette.example/?p=412&gclid=abc&mc_cid=1&mc_eid=2&_ga=3&ref_src=twsrc",
            "https://gazette.example/?p=412",
        ),
        ("https://gazette.example/?p=412&replytocom=88#respond", "https://gazette.example/?p=412"),
        ("https://gazette.example/story.html?utm_campaign=x", "https://gazette.example/story.html"),
        (
            "https://gazette.example/?p=412&srsltid=AfmBO&gad_source=1&ttclid=9",
            "https://gazette.example/?p=412",
        ),
        # what names the page stays, in its order
        (
            "https://gazette.example/?page_id=19&lang=en",
            "https://gazette.example/?page_id=19&lang=en",
        ),
        ("https://gazette.example/?s=ferry", "https://gazette.example/?s=ferry"),
    ],
)
def test_normalisation_strips_tracking_parameters_only(raw, key):
    assert _normalise(raw) == key


def _page(head: str, body: str) -> str:
    site_header = "<header><a href='/'>Gazette</a></header>"
    return f"<html><head>{head}</head><body>{site_header}{body}</body></html>"


@pytest.mark.parametrize(
    "kind", ["LiveBlogPosting", "ReportageNewsArticle", "ScholarlyArticle", "TechArticle"]
)
def test_every_article_type_of_schema_org_counts_as_an_article(kind):
    """A page typed as any kind of article is one, even with og:type website and no body
    the crawler recognises (a live blog's updates are short)."""
    head = (
        '<meta property="og:type" content="website">'
        f'<script type="application/ld+json">{{"@type": "{kind}", "headline": "Ferry"}}</script>'
    )
    body = "<main><h1>Ferry strike, live</h1><p>The first sailing was cancelled.</p></main>"
    verdict = judge("https://gazette.example/live/ferry-strike", _page(head, body))
    assert verdict.article and verdict.score >= 2, verdict
    forum = head.replace(kind, "DiscussionForumPosting")
    assert not judge("https://gazette.example/live/ferry-strike", _page(forum, body)).article


def test_a_paragraph_in_an_unspaced_script_is_long():
    """Japanese has no spaces between words: a paragraph is not one word long. The same page
    in Japanese and in English gets the same body evidence."""
    from crawlers.wordcount import token_count

    ja = "港のフェリーは明日から運航時間を変更すると会社が発表しました。利用者は注意が必要です。"
    assert token_count(ja) >= 12 and token_count("one two three") == 3
    paragraphs = "".join(f"<p>{ja}</p>" for _ in range(4))
    english = "".join(
        "<p>The harbour ferry changes its timetable from tomorrow, the company said today.</p>"
        for _ in range(4)
    )
    url = "https://gazette.example/news/88231"
    ja_verdict = judge(url, _page("", f"<div class='content'>{paragraphs}</div>"))
    en_verdict = judge(url, _page("", f"<div class='content'>{english}</div>"))
    assert ja_verdict.article and ja_verdict.score == en_verdict.score >= 2, (
        ja_verdict,
        en_verdict,
    )


def test_a_sites_name_with_and_without_www_is_one_site():
    from crawlers.spiders.news import NewsSpider
    from crawlers.urls import site_key

    assert site_key("https://gazette.example/") == site_key("https://www.gazette.example/a")
    assert site_key("http://user:pw@www.gazette.example:8080/") == "gazette.example:8080"
    assert site_key("http://127.0.0.1:8080/") == "127.0.0.1:8080"
    assert site_key("http://localhost/") == "localhost"
    spider = NewsSpider(source='{"name": "gazette", "start_urls": ["https://gazette.example/"]}')
    assert spider._in_scope("https://www.gazette.example/2024/05/ferry-timetable")
    assert not spider._in_scope("https://news.gazette.example/2024/05/ferry-timetable")
