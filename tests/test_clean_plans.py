"""Per-site plans of the cleaning (crawlers.clean.extract.SitePlans): a site whose pages show
that fewer trafilatura passes give the same body is cleaned with fewer, and checked."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from crawlers.clean import extract_page
from crawlers.clean.extract import FULL, PRECISE, PRECISE_RECALL, SitePlans
from crawlers.records import Page
from flows.demo import DemoNetwork


def test_a_plan_is_used_after_the_sites_pages_agree_and_checked_every_n_pages() -> None:
    plans = SitePlans(learn=3, check_every=4)
    for _ in range(3):
        assert plans.plan("a.example") == FULL
        plans.record("a.example", precise=True, precise_recall=True)
    assert [plans.plan("a.example") for _ in range(3)] == [PRECISE] * 3
    assert plans.plan("a.example") == FULL  # the fourth: the check
    plans.record("a.example", precise=False, precise_recall=True)
    # The precise pass alone gave another body once: never again for this site.
    assert [plans.plan("a.example") for _ in range(3)] == [PRECISE_RECALL] * 3
    assert plans.plan("a.example") == FULL
    plans.record("a.example", precise=True, precise_recall=False)
    assert {plans.plan("a.example") for _ in range(10)} == {FULL}
    assert plans.plan("b.example") == FULL  # another site learns on its own


def test_a_site_that_needs_every_pass_never_leaves_them() -> None:
    plans = SitePlans(learn=2, check_every=3)
    plans.record("a.example", precise=True, precise_recall=True)
    plans.record("a.example", precise=False, precise_recall=False)
    plans.record("a.example", precise=True, precise_recall=True)
    assert {plans.plan("a.example") for _ in range(10)} == {FULL}


def test_sites_held_are_bounded() -> None:
    plans = SitePlans(max_sites=5)
    for i in range(20):
        plans.record(f"s{i}.example", precise=True, precise_recall=True)
        assert len(plans.sites) <= 5


def test_pages_cleaned_with_plans_have_the_bodies_of_every_pass() -> None:
    """The generated network's sites: most pages get one or two passes, every body is the
    body all three passes give."""
    pages = []
    with DemoNetwork.generated(n_articles=240, n_sites=4, seed=3) as net:
        for url in net.truth.article_urls:
            parts = urlsplit(url)
            site = next(s for s in net.sites if s.base_url == f"{parts.scheme}://{parts.netloc}")
            html = net._respond(site, parts.path).body.decode("utf-8")
            pages.append(
                Page(url=url, final_url=url, source=site.name, status=200,
                     fetched_at=datetime(2026, 1, 1, tzinfo=UTC), html=html)
            )  # fmt: skip
    plans = SitePlans()
    for page in pages:
        assert extract_page(page, plans).lines == extract_page(page).lines, page.url
    assert plans.used[PRECISE] + plans.used[PRECISE_RECALL] > len(pages) // 2
