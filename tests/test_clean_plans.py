"""Per-site plans of the cleaning (crawlers.clean.extract.SitePlans): a site whose pages show
that fewer trafilatura passes give the same body is cleaned with fewer, and checked."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from lxml.html import HtmlElement
from trafilatura.utils import load_html

from crawlers.clean import extract_page
from crawlers.clean.extract import (
    FULL,
    NODE_LAYOUT,
    PRECISE,
    PRECISE_NODE,
    PRECISE_RECALL,
    PRECISE_RECALL_BLOCK,
    SitePlans,
    _find_node,
    _layout_of,
    _layout_text,
    _node_name,
    _node_text,
    _paragraph_block,
)
from crawlers.clean.plans import merged_plans
from crawlers.clean.templates import TemplateState
from crawlers.records import Page
from flows.demo import DemoNetwork
from tests.conftest import fetched_page


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


def test_checks_grow_sparser_while_a_plan_holds_and_start_over_when_it_changes() -> None:
    plans = SitePlans(learn=2, check_every=3, check_backoff=2)
    for _ in range(2):
        plans.record("a.example", precise=True, precise_recall=True)

    def pages_to_check() -> int:
        n = 1
        while plans.plan("a.example") != FULL:
            n += 1
            assert n <= 100
        return n

    gaps = []
    for _ in range(4):
        gaps.append(pages_to_check())
        plans.record("a.example", precise=True, precise_recall=True)  # the check held
    assert gaps == [3, 6, 12, 12]  # doubled after each check held, up to 2 ** check_backoff
    assert pages_to_check() == 12
    plans.record("a.example", precise=False, precise_recall=True)  # the plan changes...
    assert plans.plan("a.example") == PRECISE_RECALL
    assert pages_to_check() == 2  # ... and is checked as often as a new one (3 with the above)


def test_another_workers_check_of_a_site_counts_as_this_ones() -> None:
    one, two = (SitePlans(learn=2, check_every=4, share=True) for _ in range(2))
    for _ in range(2):
        one.record("a.example", precise=True, precise_recall=True)
    two.learn_from(one.take_notes())
    assert [two.plan("a.example") for _ in range(3)] == [PRECISE] * 3
    one.record("a.example", precise=True, precise_recall=True)  # one's check of the site
    two.learn_from(one.take_notes())
    # two counts afresh from one's check, and the held check doubles the gap.
    assert [two.plan("a.example") for _ in range(8)] == [PRECISE] * 7 + [FULL]


def test_a_runs_plans_are_kept_for_the_next_which_checks_each_site_first() -> None:
    node = ("div", "", "entry-content")
    first = SitePlans(learn=3, check_every=4)
    for _ in range(3):
        first.record("a.example", precise=True, precise_recall=True, node=node)
        first.record("b.example", precise=False, precise_recall=True)
    # Kept with the site templates, as the run state stores them.
    state = TemplateState(plans=first.export())
    kept = TemplateState.from_bytes(state.to_bytes()).plans
    assert kept == first.export()

    second = SitePlans(learn=3, check_every=4)
    second.load(kept)
    assert second.export(learned_only=True)["sites"] == {}  # nothing learned here yet
    # The first page of each site is a check; the plan held, so the next ones are cheap.
    assert second.plan("a.example") == FULL
    second.record("a.example", precise=True, precise_recall=True, node=node)
    assert [second.plan("a.example") for _ in range(3)] == [PRECISE_NODE] * 3
    assert second.node("a.example") == node
    assert second.plan("b.example") == FULL
    second.record("b.example", precise=False, precise_recall=True)
    assert second.plan("b.example") == PRECISE_RECALL
    assert second.plan("c.example") == FULL  # a site never seen is learned as before
    assert set(second.export(learned_only=True)["sites"]) == {"a.example", "b.example"}


def test_kept_plans_of_another_cleaning_version_or_unreadable_are_learned_again() -> None:
    learned = SitePlans(learn=1)
    learned.record("a.example", precise=True, precise_recall=True)
    kept = learned.export()
    other = {**kept, "extractor": "trafilatura 0.0 + newsdedup-clean 0"}
    damaged = {
        "extractor": kept["extractor"],
        "sites": {
            "a.example": ["many", True, True, None, True, 0, True, 0, [], True],
            "b.example": [1, True, True, ["div", "", "x" * 500], True, 0, True, 0, [], True],
            "c.example": [1, True, True, ["script", "", "body"], True, 0, True, 0, [], True],
            "d.example": [1, True],
            "f.example": [2, True, True, ["div", "", "story"], True],  # an older row's form
            "g.example": [2, False, True, None, False, "2", True, 0, [], True],
            "h.example": [2, True, True, ["div", "", "story"], True, 0, True],  # ... and another
            "i.example": [2, True, True, ["div", "", "s"], True, 0, True, 1, [["p", 1]], True],
            "j.example": [2, True, True, ["div", "", "s"], True, 0, True, 1, [["p", "", "", 0]], 1],
            "k.example": [
                2,
                True,
                True,
                ["div", "", "s"],
                True,
                0,
                True,
                1,
                [["p", "", str(n), True] for n in range(65)],
                True,
            ],  # more kinds of element than a layout holds
            "l.example": [
                *[2, True, True, ["div", "", "s"], True, 0, True, 1],
                [["x" * 40, "", "", True]],
                True,
            ],  # no tag is that long
            "m.example": [
                *[2, True, True, ["div", "", "s"], True, 0, True, 2],
                [["p", "", "", True], ["p", "", "", False]],
                True,
            ],  # one kind, two decisions
            "n.example": [2, True, True, ["div", "", "s"], True, 0, True, 3, [], True],
            "e.example": [
                2,
                True,
                True,
                ["div", "", "story"],
                True,
                0,
                True,
                3,
                [["p", "", "", True]],
                True,
            ],
        },
    }
    for snapshot in (other, damaged, None, {"sites": []}):
        plans = SitePlans(learn=1)
        plans.load(snapshot)
        assert plans.plan("a.example") == FULL
        assert plans.plan("b.example") == FULL and plans.plan("c.example") == FULL
        assert plans.plan("f.example") == FULL and plans.plan("g.example") == FULL
        assert {plans.plan(s) for s in ("h.example", "i.example", "j.example", "k.example")} == {
            FULL
        }
    plans = SitePlans(learn=1)
    plans.load(damaged)
    assert set(plans.sites) == {"e.example", "n.example"}
    # Pages counted for a layout that holds nothing: the element is read by the precise pass.
    assert plans._cheapest(plans.sites["n.example"]) == PRECISE_NODE
    assert plans.layout("e.example") == {("p", "", ""): True}


def test_merged_plans_keep_the_newest_rows_within_the_bound() -> None:
    old = {"extractor": "v1", "sites": {"a": [6, True, True, None, True], "b": [6] * 5}}
    new = {"extractor": "v1", "sites": {"a": [7, False, True, None, False], "c": [6] * 5}}
    merged = merged_plans(old, new, max_sites=2)
    assert merged == {
        "extractor": "v1", "sites": {"a": [7, False, True, None, False], "c": [6] * 5}
    }  # fmt: skip
    assert merged_plans({**old, "extractor": "v0"}, new)["sites"] == new["sites"]
    assert merged_plans(None, new) == new


def test_sites_held_are_bounded() -> None:
    plans = SitePlans(max_sites=5)
    for i in range(20):
        plans.record(f"s{i}.example", precise=True, precise_recall=True)
        assert len(plans.sites) <= 5


def _element(tree: HtmlElement, name: tuple[str, str, str]) -> HtmlElement:
    """The element ``name`` of a test's page, which has it."""
    node = _find_node(tree, name)
    assert node is not None
    return node


def _network_pages(articles: int, sites: int) -> list[Page]:
    """The article pages of a generated network, as fetched."""
    pages = []
    with DemoNetwork.generated(n_articles=articles, n_sites=sites, seed=3) as net:
        for url in net.truth.article_urls:
            parts = urlsplit(url)
            site = next(s for s in net.sites if s.base_url == f"{parts.scheme}://{parts.netloc}")
            html = net._respond(site, parts.path).body.decode("utf-8")
            pages.append(fetched_page(html, url, site.name))
    return pages


def test_pages_cleaned_with_plans_have_the_bodies_of_every_pass(monkeypatch) -> None:
    """The generated network's sites: most pages get one or two passes, every body is the
    body all three passes give."""
    import crawlers.clean.extract as extract

    pages = _network_pages(240, 4)
    plans = SitePlans()
    read: list[str] = []  # the bodies the layouts gave while the pages were cleaned
    layout_text = extract._layout_text

    def noted(*args: Any) -> str | None:
        text = layout_text(*args)
        if text is not None:
            read.append(text)
        return text

    monkeypatch.setattr(extract, "_layout_text", noted)
    for page in pages:
        assert extract_page(page, plans).lines == extract_page(page).lines, page.url
    node = plans.used[PRECISE_NODE] + plans.used[NODE_LAYOUT]
    cheaper = node + plans.used[PRECISE] + plans.used[PRECISE_RECALL]
    assert cheaper > len(pages) // 2
    # The generated templates name their article element: the precise pass reads it alone,
    # and where its layout gives the pass's text, the layout reads it without the pass.
    assert node > len(pages) // 2
    assert plans.used[NODE_LAYOUT] > len(pages) // 4
    # ... and the layout itself read them: a plan chosen but always left to the pass would
    # not do.
    assert len(read) > len(pages) // 4


def test_the_article_element_is_used_once_every_learned_page_showed_the_same_one() -> None:
    node = ("div", "", "entry-content")
    plans = SitePlans(learn=3, check_every=4)
    for _ in range(3):
        plans.record("a.example", precise=True, precise_recall=True, node=node)
    assert [plans.plan("a.example") for _ in range(3)] == [PRECISE_NODE] * 3
    assert plans.node("a.example") == node
    assert plans.plan("a.example") == FULL  # the check
    # The check's page had no such element, or it gave another body: the whole page again.
    plans.record("a.example", precise=True, precise_recall=True, node=None)
    assert [plans.plan("a.example") for _ in range(3)] == [PRECISE] * 3
    assert plans.node("a.example") is None

    other = SitePlans(learn=2)
    other.record("b.example", precise=True, precise_recall=True, node=node)
    other.record("b.example", precise=True, precise_recall=True, node=("article", "", "post"))
    assert other.plan("b.example") == PRECISE  # two pages, two elements: no element plan


def test_an_elements_name_leaves_out_the_ids_and_classes_of_one_page() -> None:
    from lxml.html import fragment_fromstring

    def name(html: str) -> tuple[str, str, str] | None:
        return _node_name(fragment_fromstring(html))

    assert name('<div id="post-1234" class="entry-content post-1234 hentry"></div>') == (
        "div", "", "entry-content hentry"
    )  # fmt: skip
    assert name('<section id="main-story"></section>') == ("section", "main-story", "")
    assert name("<article></article>") == ("article", "", "")
    # Nameless blocks are legion on any page: never a site's article element.
    assert name('<div id="x9" class="c1"></div>') is None
    assert name("<div></div>") is None
    # A page's name for it is bounded, as everything a site writes.
    assert name(f'<div class="{" ".join(["story"] * 40)}"></div>') is None


def _blog_page(n: int, *, boxed: bool = True) -> Page:
    body = "".join(
        f"<p>Paragraph {i} of post {n} tells the long story of the harbour wall and the "
        f"storm that broke it in the winter of the year {1900 + n}.</p>"
        for i in range(6)
    )
    main = (
        f'<article class="post"><h1>Post number {n} about the harbour</h1>'
        f'<div class="entry-content">{body}</div></article>'
        if boxed
        else f"<h1>Post number {n} about the harbour</h1>{body}"
    )
    html = (
        "<html><body><nav><a href='/'>Home</a> <a href='/about'>About</a></nav>"
        f"<main id='content'>{main}</main>"
        "<aside><h3>Popular</h3><ul><li><a href='/p/1'>One popular post</a></li>"
        "<li><a href='/p/2'>Another popular post</a></li></ul></aside>"
        "<footer>Copyright the harbour blog</footer></body></html>"
    )
    url = f"https://harbour.example/{n}/"
    return fetched_page(html, url, "harbour")


def test_a_page_without_the_sites_article_element_is_read_whole() -> None:
    plans = SitePlans(learn=3, check_every=100)
    for n in range(5):
        page = _blog_page(n)
        assert extract_page(page, plans).lines == extract_page(page).lines
    assert plans.used[NODE_LAYOUT] == 2  # the article element's layout, learned on the way
    assert plans.node("harbour.example") is not None
    # A page laid out otherwise: the plan's element is missing, the page is read whole.
    bare = _blog_page(99, boxed=False)
    lines = extract_page(bare, plans).lines
    assert lines == extract_page(bare).lines
    assert any("post 99" in line for line in lines)


def test_each_page_says_which_plan_read_its_body() -> None:
    plans = SitePlans(learn=3, check_every=100)
    read = [extract_page(_blog_page(n), plans).plan for n in range(5)]
    assert read == [FULL, FULL, FULL, NODE_LAYOUT, NODE_LAYOUT]
    # The plan that read the body, not the one chosen: a page without the site's article
    # element is read whole.
    page = _blog_page(99)
    assert plans.node("harbour.example") == ("main", "content", "")
    unboxed = page.html.replace("<main id='content'>", "<div>").replace("</main>", "</div>")
    assert extract_page(dataclasses.replace(page, html=unboxed), plans).plan == PRECISE
    # A kind of element the layout never saw: the precise pass reads the article element.
    tabled = page.html.replace("</p></div>", "</p><table><tr><td>Tide</td></tr></table></div>")
    assert extract_page(dataclasses.replace(page, html=tabled), plans).plan == PRECISE_NODE
    assert extract_page(_blog_page(5)).plan == FULL  # no plans: every pass


def test_the_clean_stage_counts_the_pages_each_plan_read() -> None:
    from flows.stages import clean_stage

    pages = _network_pages(120, 2)
    out = clean_stage(pages, {}, TemplateState(), min_words=5, workers=2)
    used = out.plans()
    assert sum(used.values()) == len(pages)
    assert used[FULL] >= SitePlans().learn and used.keys() - {FULL}
    assert list(used.values()) == sorted(used.values(), reverse=True)
    for counts in out.per_source.values():
        assert sum(counts["plans"].values()) == counts["pages"]


def test_a_site_without_a_steady_article_element_is_not_searched_for_one_again(
    monkeypatch,
) -> None:
    import crawlers.clean.extract as extract

    plans = SitePlans(learn=3, check_every=2)
    searched = []
    body_node = extract._body_node
    monkeypatch.setattr(
        extract, "_body_node", lambda *a, **k: searched.append(1) or body_node(*a, **k)
    )
    # The site's first two pages hold their body in differently named blocks: no page can
    # give the site a node plan after them.
    renamed = _blog_page(1, boxed=False)
    renamed = dataclasses.replace(renamed, html=renamed.html.replace("id='content'", "id='x'"))
    for page in (_blog_page(0, boxed=False), renamed):
        assert extract_page(page, plans).lines == extract_page(page).lines
    assert searched == [1, 1] and not plans.node_may_fit("harbour.example")
    for n in range(2, 10):
        page = _blog_page(n)
        assert extract_page(page, plans).lines == extract_page(page).lines
    assert searched == [1, 1]  # learning and check pages after them: no search
    assert plans.used[FULL] >= 4 and plans.used[PRECISE_NODE] == plans.used[NODE_LAYOUT] == 0
    assert plans.node("harbour.example") is None


def test_the_paragraph_block_is_used_once_the_two_passes_gave_the_body_from_it() -> None:
    plans = SitePlans(learn=4, check_every=4)
    assert not plans.block_may_fit("new.example", precise=True)  # a precise page: no try
    assert plans.block_may_fit("new.example", precise=False)
    # A site whose precise pass alone cuts the body: the block was tried on every page.
    for _ in range(4):
        plans.record("a.example", precise=False, precise_recall=True, block=True)
    assert [plans.plan("a.example") for _ in range(3)] == [PRECISE_RECALL_BLOCK] * 3
    assert plans.plan("a.example") == FULL  # the check
    # The check's block gave another body (or the page had none): the whole page for good.
    plans.record("a.example", precise=False, precise_recall=True, block=False)
    assert [plans.plan("a.example") for _ in range(3)] == [PRECISE_RECALL] * 3
    assert not plans.block_may_fit("a.example", precise=False)
    # Tried on too few pages (the precise pass fell short only on the last learned one):
    # the whole page until checks have tried it on half as many pages as a plan is learned from.
    for _ in range(3):
        plans.record("b.example", precise=True, precise_recall=True, block=None)
    plans.record("b.example", precise=False, precise_recall=True, block=True)
    assert plans.block_may_fit("b.example", precise=True)  # the site is no longer precise
    assert [plans.plan("b.example") for _ in range(4)] == [PRECISE_RECALL] * 3 + [FULL]
    plans.record("b.example", precise=False, precise_recall=True, block=True)
    assert plans.plan("b.example") == PRECISE_RECALL_BLOCK
    # Kept for the next run, as the other plans are.
    again = SitePlans(learn=4, check_every=4)
    again.load(plans.export())
    assert again.plan("b.example") == FULL  # a kept site's first page is a check
    again.record("b.example", precise=False, precise_recall=True, block=True)
    assert again.plan("b.example") == PRECISE_RECALL_BLOCK
    assert again.plan("a.example") == FULL
    again.record("a.example", precise=False, precise_recall=True)
    assert again.plan("a.example") == PRECISE_RECALL


def test_the_paragraph_block_is_where_most_of_the_pages_paragraph_text_is() -> None:
    from lxml.html import Element, document_fromstring

    story = "<p>" + "A long paragraph of the story about the harbour wall. " * 4 + "</p>"
    side = "<p>Subscribe to the newsletter.</p>"
    page = document_fromstring(
        f"<html><body><table><tr><td><div id='x'><h2>Title</h2>{story * 5}</div></td>"
        f"<td>{side}</td></tr></table></body></html>"
    )
    block = _paragraph_block(page)
    assert block is not None and block.get("id") == "x"
    # The story's paragraphs split over two blocks: neither holds most of them.
    split = document_fromstring(
        f"<html><body><div>{story * 3}</div><div>{story * 3}</div></body></html>"
    )
    assert _paragraph_block(split) is None
    assert _paragraph_block(document_fromstring("<html><body><div>x</div></body></html>")) is None
    # A tree that is a lone paragraph has no block around it (and raises nothing).
    lone = Element("p")
    lone.text = "A lone paragraph of text."
    assert _paragraph_block(lone) is None


def test_a_classless_sites_pages_are_read_from_their_paragraph_block() -> None:
    """The generated network's class-less table layout (theme "plain"): trafilatura finds no
    article container there and needs the precise and recall passes; given each page's
    paragraph block alone they give every body all three passes give from the whole page."""
    pages = [p for p in _network_pages(240, 8) if p.source == "gen-agg-03"]
    assert len(pages) > 15
    plans = SitePlans()
    read_with = Counter()
    for page in pages:
        out = extract_page(page, plans)
        assert out.lines == extract_page(page).lines, page.url
        read_with[out.plan] += 1
    assert plans.used[PRECISE_RECALL_BLOCK] > len(pages) // 2
    assert read_with == plans.used  # each page says the plan that read it
    # A page of the site whose paragraphs no longer sit in one block is read whole.
    page = pages[-1]
    split = dataclasses.replace(page, html=page.html.replace("</p>\n<p>", "</p></div>\n<div><p>"))
    assert _paragraph_block(load_html(split.html)) is None
    plans.sites[urlsplit(page.url).netloc].since_check = 0  # not a check page
    chosen = plans.used[PRECISE_RECALL_BLOCK]
    out = extract_page(split, plans)
    lines = out.lines
    assert plans.used[PRECISE_RECALL_BLOCK] == chosen + 1
    assert out.plan == PRECISE_RECALL  # chosen for the block, read without one
    assert lines == extract_page(split).lines and len(lines) >= 5


def test_workers_learn_a_site_from_each_others_pages_and_check_their_own() -> None:
    node = ("article", "", "story")
    one, two = SitePlans(learn=3, check_every=4, share=True), SitePlans(learn=3, share=True)
    for _ in range(3):
        one.record("a.example", precise=True, precise_recall=True, node=node)
    notes = one.take_notes()
    assert len(notes) == 3 and one.take_notes() == []
    two.learn_from(notes)
    assert two.plan("a.example") == PRECISE_NODE  # learned on the other worker's pages
    assert two.node("a.example") == node
    # A worker checks one page in check_every of its own pages since the site's last check.
    assert [one.plan("a.example") for _ in range(4)] == [PRECISE_NODE] * 3 + [FULL]
    one.record("a.example", precise=True, precise_recall=True, node=node)  # the check held
    # What the other worker's check found ends the plan here too.
    two.record("a.example", precise=False, precise_recall=True, node=None)
    one.learn_from(two.take_notes())
    assert one.plan("a.example") == PRECISE_RECALL
    # Without share (one process cleaning alone) no notes pile up.
    alone = SitePlans()
    alone.record("a.example", precise=True, precise_recall=True, node=node)
    assert alone.take_notes() == []


def test_a_pool_starts_from_the_plans_an_earlier_pool_learned() -> None:
    from flows.extraction import ExtractionPool, ExtractLimits

    pages = _network_pages(160, 2)
    sites = sorted({urlsplit(p.url).netloc for p in pages})
    by_site = [[p for p in pages if urlsplit(p.url).netloc == site] for site in sites]
    earlier = [p for own in by_site for p in own[: len(own) // 2]]
    later = [p for own in by_site for p in own[len(own) // 2 :]]
    with ExtractionPool(2, ExtractLimits()) as pool:
        list(pool.map(earlier))
        kept = pool.learned_plans()
    assert set(kept["sites"]) == set(sites)
    with ExtractionPool(2, ExtractLimits(), plans=kept) as pool:
        results = list(pool.map(later))
        full_pages = pool.notes_passed  # a page cleaned with every pass leaves one note
    assert [r.extracted.lines for r in results] == [extract_page(p).lines for p in later]
    # Each site is checked on each worker's first page of it, not learned afresh.
    assert full_pages <= 2 * len(kept["sites"]) < len(kept["sites"]) * SitePlans().learn
    with ExtractionPool(2, ExtractLimits()) as pool:
        list(pool.map(later))
        assert pool.notes_passed >= len(kept["sites"]) * SitePlans().learn


def test_a_pools_workers_share_what_they_learn_and_bodies_stay_whole() -> None:
    from flows.extraction import ExtractionPool, ExtractLimits

    pages = _network_pages(120, 2)
    with ExtractionPool(2, ExtractLimits()) as pool:
        results = list(pool.map(pages))
        passed = pool.notes_passed
    assert [r.extracted.lines for r in results] == [extract_page(p).lines for p in pages]
    # Each worker's pages cleaned with every pass reached the other one.
    assert passed >= SitePlans().learn


def _story_page(n: int, extra: str = "") -> Page:
    """A page of a site whose article element holds its body, a subheading, a sharing box
    and a list of tags (which the precise pass drops), and ``extra`` at its end."""
    paragraphs = "".join(
        f"<p>Paragraph {i} of story {n} follows the <em>ferry</em> line and the council vote "
        f"on its timetable, with figures from the year {1990 + n}.</p>"
        for i in range(5)
    )
    html = (
        "<html><body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav><main>"
        f'<div class="story-body"><h2>Story {n}: the ferry timetable</h2>{paragraphs}'
        '<div class="share-buttons"><a href="#">Share on Facebook</a> <a href="#">Share on X'
        '</a></div><ul class="tags"><li><a href="/t/ferry">ferry</a></li></ul>'
        f"{extra}</div></main><footer>Copyright the ferry paper</footer></body></html>"
    )
    url = f"https://ferry.example/story/{n}"
    return fetched_page(html, url, "ferry")


def test_the_article_elements_layout_reads_it_as_the_precise_pass_does() -> None:
    plans = SitePlans(learn=3, check_every=5)
    for n in range(12):
        page = _story_page(n)
        assert extract_page(page, plans).lines == extract_page(page).lines
    layout = plans.layout("ferry.example")
    assert layout is not None
    assert layout[("p", "", "")] and layout[("h2", "", "")]
    assert not layout[("div", "", "share-buttons")] and not layout[("ul", "", "tags")]
    assert plans.used[NODE_LAYOUT] >= 6  # 12 pages: 3 learned, checks at the 5th and 10th after
    # Read without trafilatura: the same body as the precise pass gives.
    tree = load_html(_story_page(50).html)
    name = plans.node("ferry.example")
    assert name is not None
    node = _element(tree, name)
    assert _layout_text(node, layout) == _node_text(node, "https://ferry.example/story/50")
    # A kind of element the layout never saw, or a line it cannot read: the precise pass.
    for extra in (
        "<figure><img src='/a.jpg'><figcaption>The ferry at dawn</figcaption></figure>",
        '<p class="note">A note on the timetable that the learned pages never had.</p>',
        "<p>See <a href='/a'>the ferry timetable</a> and <a href='/b'>the fares</a>.</p>",
        "<p>Winter notes: <a href='/a'>ferry</a>, <a href='/b'>fares</a> and a few more.</p>",
        "<p>Facebook</p>",
        "<p>The first line<br>and the second of one paragraph of the story.</p>",
    ):
        page = _story_page(60, extra)
        tree = load_html(page.html)
        node = _element(tree, name)
        assert _layout_text(node, layout) is None, extra
        assert extract_page(page, plans).lines == extract_page(page).lines, extra


def test_a_layout_holds_while_each_kind_of_element_gets_one_decision() -> None:
    node = ("div", "", "story-body")
    keep_p = (("div", "", "share", False), ("p", "", "", True))
    plans = SitePlans(learn=2, check_every=3)
    assert plans.layout_may_fit("a.example")
    plans.record("a.example", precise=True, precise_recall=True, node=node, layout=keep_p)
    plans.record("a.example", precise=True, precise_recall=True, node=node, layout=None)
    assert plans.plan("a.example") == NODE_LAYOUT  # one page's layout is half of learn=2
    assert plans.layout("a.example") == {("div", "", "share"): False, ("p", "", ""): True}
    # Kept for the next run, as the other plans are.
    again = SitePlans(learn=2, check_every=3)
    again.load(plans.export())
    assert again.layout("a.example") == plans.layout("a.example")
    # A check page on which paragraphs were dropped: no layout for the site again.
    assert [plans.plan("a.example") for _ in range(2)] == [NODE_LAYOUT, FULL]
    dropped_p = (("p", "", "", False),)
    plans.record("a.example", precise=True, precise_recall=True, node=node, layout=dropped_p)
    assert plans.plan("a.example") == PRECISE_NODE and plans.layout("a.example") is None
    assert not plans.layout_may_fit("a.example")
    # A page whose layout gave another text (False), or a note that is no layout, the same.
    one, two = (SitePlans(learn=1, share=True) for _ in range(2))
    one.record("b.example", precise=True, precise_recall=True, node=node, layout=keep_p)
    two.learn_from(one.take_notes())
    assert two.plan("b.example") == NODE_LAYOUT
    one.record("b.example", precise=True, precise_recall=True, node=node, layout=False)
    two.learn_from(one.take_notes())
    assert two.layout("b.example") is None and two.plan("b.example") == PRECISE_NODE
    two.learn_from([("c.example", True, True, node, None, (("p", 1),))])
    assert two.layout("c.example") is None


def test_a_layout_reads_the_lists_the_precise_pass_keeps_as_it_writes_them() -> None:
    def page(n: int, extra: str = "", item: str = "") -> HtmlElement:
        steps = "".join(
            f"<li>Step {i} of guide {n}: check the <em>valve</em> first</li>" for i in range(3)
        )
        html = (
            '<html><body><div class="article-content"><h2>Guide number '
            + str(n)
            + "</h2>"
            + "".join(
                f"<p>Paragraph {i} of guide {n} explains the pump, the valve and the pipe that "
                f"joins them, as fitted in the year {1990 + n}.</p>"
                for i in range(3)
            )
            + f'<ol class="steps">{steps}{item}</ol>'
            + '<ul class="related"><li><a href="/a">A related guide on valves</a></li>'
            + '<li><a href="/b">Another related guide on pumps</a></li></ul>'
            + f"{extra}</div></body></html>"
        )
        return load_html(html)

    # trafilatura keeps the headings and lists of an element named like an article's body.
    name = ("div", "", "article-content")
    url = "https://guides.example/1"
    layout: dict = {}
    for n in range(3):
        tree = page(n)
        node = _element(tree, name)
        text = _node_text(node, url)
        assert "\n- Step 0 of guide" in text  # trafilatura writes the items so
        rows = _layout_of(node, text)
        assert isinstance(rows, tuple)
        layout.update({tuple(row[:3]): row[3] for row in rows})
    assert layout[("ol", "", "steps")] and layout[("li", "", "")]
    assert not layout[("ul", "", "related")]  # the list of links the pass dropped
    tree = page(7)
    node = _element(tree, name)
    assert _layout_text(node, layout) == _node_text(node, url)
    # An item that is mostly a link, a list item outside a list, or the named list twice
    # (trafilatura may read only the first): the precise pass reads the element.
    for extra, item in (
        ("", '<li><a href="/c">The whole of this step is one link</a></li>'),
        ("<li>An item with no list around it, loose in the guide's block</li>", ""),
        ('<ol class="steps"><li>A second list of steps in the same guide</li></ol>', ""),
    ):
        tree = page(8, extra, item)
        node = _element(tree, name)
        assert _layout_text(node, layout) is None, (extra, item)


def _guide(body: str) -> HtmlElement:
    paragraphs = "".join(
        f"<p>Paragraph {i} of the guide explains the pump, the valve and the pipe that joins "
        f"them, as fitted in the year {1990 + i}.</p>"
        for i in range(3)
    )
    return load_html(
        f'<html><body><div class="article-content">{paragraphs}{body}</div></body></html>'
    )


def test_a_layout_leaves_to_the_precise_pass_what_it_would_write_otherwise() -> None:
    name, url = ("div", "", "article-content"), "https://guides.example/1"
    tree = _guide("<h2>Fitting</h2><p>The closing paragraph of the guide, on the fitting.</p>")
    node = _element(tree, name)
    rows = _layout_of(node, _node_text(node, url))
    assert isinstance(rows, tuple)
    layout = {tuple(row[:3]): row[3] for row in rows}
    # A spacer paragraph of a kind never seen holds nothing to read: the layout reads on.
    tree = _guide('<p class="spacer">\xa0</p><p>A paragraph after the spacer of the guide.</p>')
    node = _element(tree, name)
    assert _layout_text(node, layout) == _node_text(node, url)
    for body in (
        "<p>Updated <time>May 3</time> at noon, with the new valve in the pump.</p>",
        "<p>Click <i></i>here to read the whole of the fitting instructions.</p>",
        '<p>A paragraph with a <span class="note">named</span> part in its text.</p>',
        '<p style="display:none">A paragraph hidden by its style from the reader.</p>',
        "<p>A soft\xadhyphen the precise pass takes out of the word in its text.</p>",
        "<p>An entity left escaped: fish &amp;amp; chips for the fitters' lunch.</p>",
        "<p>The last paragraph of the guide.</p><h2>A heading at the end</h2>",
        "<p>Paragraph 0 of the guide explains the pump, the valve and the pipe that joins them,"
        " as fitted in the year 1990.</p>",  # a line twice
        '<div class="box"><p>Source: <a href="/r">the valve makers</a></p></div>',
    ):
        tree = _guide(body)
        node = _element(tree, name)
        layout_all = {**layout, ("div", "", "box"): True}
        assert _layout_text(node, layout_all) is None, body
    # Text before the element's first block, or too little text for the pass to stay there.
    tree = _guide("<p>The closing paragraph of the guide, on the fitting.</p>")
    node = _element(tree, name)
    assert _layout_text(node, layout) is not None
    node.text = "Breaking: "
    assert _layout_text(node, layout) is None
    short = load_html(
        '<html><body><div class="article-content"><p>One paragraph.</p>'
        "<p>Another.</p></div></body></html>"
    )
    node = _element(short, name)
    assert _layout_text(node, layout) is None  # under 300 characters


def test_a_layout_reads_a_linked_line_the_precise_pass_keeps_and_leaves_it_the_rest() -> None:
    name, url = ("div", "", "article-content"), "https://guides.example/1"
    closing = "<p>The closing paragraph of the guide, on the fitting.</p>"
    # A "read also" line, mostly one link yet long enough that the pass keeps it.
    also = '<p>Read also: <a href="/g2">How to replace the valve of a garden pump in spring</a></p>'
    tree = _guide(also + closing)
    node = _element(tree, name)
    text = _node_text(node, url)
    assert "\nRead also: How to replace the valve" in text
    rows = _layout_of(node, text)
    assert isinstance(rows, tuple)
    layout = {tuple(row[:3]): row[3] for row in rows}
    assert _layout_text(node, layout) == text
    # A line that is nearly all one link (the pass drops it), a heading with a link, a box
    # whose links (its dropped list's counted) make it a link farm: the precise pass.
    one_link = (
        '<p>Read: <a href="/g2">How to replace the valve of a garden pump in spring and '
        "summer</a></p>"
    )
    tree = _guide(one_link + closing)
    node = _element(tree, name)
    assert "How to replace" not in _node_text(node, url)
    assert _layout_text(node, layout) is None
    heading = '<h2>Fitting the valve: see <a href="/g2">the valve guide</a> for the parts</h2>'
    tree = _guide(heading + closing)
    assert _layout_text(_element(tree, name), {**layout, ("h2", "", ""): True}) is None
    lines = "".join(
        f'<p>Also: <a href="/g{i}">A long guide number {i} on pumps and valves and all the '
        "pipes</a> today.</p>"
        for i in range(6)
    )
    related = "".join(f'<li><a href="/r{i}">Related guide {i} on valves</a></li>' for i in range(9))
    farm = load_html(
        f'<html><body><div class="article-content">{lines}<ul class="related">{related}</ul>'
        "</div></body></html>"
    )
    node = _element(farm, name)
    assert len(node[-1].text_content()) < 0.5 * len(node.text_content())  # not dropped share
    assert _layout_text(node, {**layout, ("ul", "", "related"): False}) is None
    del node[-1]  # without the list of links, the lines are read
    assert _layout_text(node, layout) == _node_text(node, url)
