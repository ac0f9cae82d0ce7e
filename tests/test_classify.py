"""The crawler's article gate (crawlers.classify) and URL normalisation, on pages written for
these tests (tests/fixtures/classify/): evidence is weighed, no single weak hint drops an
article, and tag, search and pagination pages stay listings."""

from __future__ import annotations

import pytest
import yaml

from crawlers.classify import judge, listing_url
from crawlers.urls import normalise as _normalise
from tests.conftest import data_path

CASES = yaml.safe_load(data_path("classify", "cases.yaml").read_text())


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{c['file']}@{c['url']}{'+announced' if c['announced'] else ''}"
                        for c in CASES]
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
    ],
)
def test_search_tag_and_pagination_urls_are_listings(url):
    assert listing_url(url)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("https://gazette.example/?p=412&utm_source=feed&utm_medium=rss",
         "https://gazette.example/?p=412"),
        ("https://gazette.example/?fbclid=IwAR0x&p=412", "https://gazette.example/?p=412"),
        ("https://gazette.example/?p=412&gclid=abc&mc_cid=1&mc_eid=2&_ga=3&ref_src=twsrc",
         "https://gazette.example/?p=412"),
        ("https://gazette.example/?p=412&replytocom=88#respond", "https://gazette.example/?p=412"),
        ("https://gazette.example/story.html?utm_campaign=x", "https://gazette.example/story.html"),
        # what names the page stays, in its order
        ("https://gazette.example/?page_id=19&lang=en", "https://gazette.example/?page_id=19&lang=en"),
        ("https://gazette.example/?s=ferry", "https://gazette.example/?s=ferry"),
    ],
)
def test_normalisation_strips_tracking_parameters_only(raw, key):
    assert _normalise(raw) == key
