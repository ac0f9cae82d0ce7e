"""Per-page extraction: the body from trafilatura, metadata read from the page itself, and the
body's lines that restate that metadata removed.

``extract_page`` is pure and top-level so that it can run in worker processes; everything that
needs the other pages of a site (template learning, gates) happens later in ``finish_source``.
The page's metadata is read in :mod:`crawlers.clean.markup`; the lines that repeat it (title,
byline, dates, credit lines, link lists) are removed in :mod:`crawlers.clean.furniture`.
"""

from __future__ import annotations

import html as html_module
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from copy import copy
from urllib.parse import urlsplit

import trafilatura
from lxml import etree
from lxml.html import Element as html_element
from lxml.html import HtmlElement
from trafilatura.settings import Extractor
from trafilatura.utils import RE_FILTER, load_html

from crawlers.clean import metadata as md
from crawlers.clean.boilerplate import remove_boilerplate
from crawlers.clean.evidence import CARD_GRID_POINTS, LISTING_THRESHOLD, listing_evidence
from crawlers.clean.extracted import Anchors, Extracted
from crawlers.clean.furniture import (
    bound_metadata,
    drop_credit_lines,
    drop_link_lists,
    drop_page_furniture,
    foreign_byline_outlet,
)
from crawlers.clean.markup import card_grid, read_metadata, xpath
from crawlers.clean.plans import (
    FULL,
    LAYOUT_MAX_NAMES,
    NODE_LAYOUT,
    NODE_NAME_MAX_CHARS,
    NODE_TAGS,
    PRECISE,
    PRECISE_NODE,
    PRECISE_RECALL,
    PRECISE_RECALL_BLOCK,
    Layout,
    LayoutNote,
    Node,
    SitePlans,
)
from crawlers.htmlfix import reopen_body
from crawlers.records import Page
from crawlers.wordcount import token_count, word_runs

# trafilatura's options for each kind of pass, built once: building them reads trafilatura's
# configuration anew, about 70 us of CPU a pass (copying a built one: about 5 us).
_OPTIONS: dict[tuple[bool, bool, bool], Extractor] = {}


def _options(url: str, precision: bool, recall: bool, fast: bool) -> Extractor:
    """What ``bare_extraction`` builds from these arguments (and ``include_comments=False``,
    ``with_metadata=False``), from a copy of a kept template with the page's URL set."""
    key = (precision, recall, fast)
    template = _OPTIONS.get(key)
    if template is None:
        template = _OPTIONS[key] = Extractor(
            output_format="python", fast=fast, precision=precision, recall=recall,
            comments=False, with_metadata=False,
        )  # fmt: skip
    options = copy(template)
    options.url = url
    options.source = url and url.encode("utf-8", "replace").decode("utf-8")
    return options


def _trafilatura_text(
    tree: HtmlElement, url: str, out: Extracted | None, *, favor_precision: bool = False,
    favor_recall: bool = False, fast: bool = False,
) -> str:  # fmt: skip
    """One trafilatura pass's text; a failure is noted on ``out`` (None: a trial pass, whose
    failure is only an empty text)."""
    try:
        doc = trafilatura.bare_extraction(
            tree, url=url, include_comments=False, with_metadata=False,
            favor_precision=favor_precision, favor_recall=favor_recall, fast=fast,
            options=_options(url, favor_precision, favor_recall, fast),
        )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - one bad page must not stop a run
        if out is not None:
            out.error = f"trafilatura: {type(exc).__name__}"
        return ""
    return getattr(doc, "text", None) or ""  # a Document, or None when nothing was found


_BLOCKS = "p|div|h1|h2|h3|h4|h5|h6|ul|ol|article|section|blockquote|form|table"
_LAYOUT_XPATH = "|".join(f".//{tag}" for tag in _BLOCKS.split("|"))


def _data_grid(table: HtmlElement) -> bool:
    """A table of data even with block elements in its cells (a comparison chart whose cells
    hold lists): no table inside it, a grid as readability counts one (10 rows or more, more
    than 4 columns, or more than 10 cells), and no cell holding half its text, as the body's
    cell of a page laid out in a table does."""
    if table.find(".//table") is not None:
        return False
    rows = table.findall(".//tr")
    cells = [row.findall("td") + row.findall("th") for row in rows]
    columns = max(map(len, cells), default=0)
    if not (len(rows) >= 10 or columns > 4 or len(rows) * columns > 10):
        return False
    lengths = [len(cell.text_content()) for row in cells for cell in row]
    return max(lengths, default=0) * 2 <= sum(lengths)


def _flatten_cell_lists(table: HtmlElement) -> None:
    """Lists inside a data table's cells, read as the cell's text ("a; b"): trafilatura
    keeps a cell's paragraphs and inline text but drops its lists (the cell comes out empty
    in the precise and balanced passes)."""
    for item in list(table.iter("li")):
        item.tag = "span"
        if item.getnext() is not None:
            item.tail = "; " + (item.tail or "")
    for lst in list(table.iter("ul", "ol")):
        lst.tag = "span"


def _unwrap_layout_tables(tree: HtmlElement) -> int:
    """Turn tables used for page layout into plain blocks, and read data tables' cells whole.

    Class-less themes still lay pages out with ``<table>``; trafilatura then reads the whole
    cell (navigation, byline, body and comments) as one table row joined by ``|``, and its
    boilerplate detection never sees paragraphs. A table that holds block elements and none of
    a data table's marks (caption, header cells, a grid of many cells none of which holds
    most of the text) is layout, as in readability's data-table test. In the other tables,
    lists inside cells are flattened (:func:`_flatten_cell_lists`).
    """
    changed = 0
    for table in list(tree.iter("table")):
        if (
            table.find(".//caption") is not None
            or table.find(".//th") is not None
            or table.get("role") in ("grid", "table")
            or table.find(".//thead") is not None
            or not xpath(_LAYOUT_XPATH)(table)
            or _data_grid(table)
        ):
            _flatten_cell_lists(table)
            continue
        for node in [table, *table.iter("tbody", "tfoot", "tr", "td")]:
            node.tag = "div"
        changed += 1
    return changed


_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_HIDING_CLASS = re.compile(r"(?:^|-)(?:hidden|hide)(?:$|-)", re.I)
_DISPLAY_NONE = re.compile(r"display\s*:\s*none\s*;?", re.I)


def _open_accordions(tree: HtmlElement) -> int:
    """Show the sections of accordions (collapsed FAQs, "read more" sections) as a reader
    who opens them sees them.

    An accordion's toggle is a ``<button>`` naming the section it opens (``aria-controls``)
    and holding or held by a heading; trafilatura drops buttons, and hidden elements, so the
    questions and every closed answer were lost. The button becomes a plain element and the
    section it controls is no longer hidden. Menu and search toggles, which control
    navigation, hold no heading and are left alone."""
    toggles = [(button, tag) for button in tree.iter("button") if (tag := _toggle_tag(button))]
    if not toggles:
        return 0
    ids: dict[str, HtmlElement] = {}
    for node in xpath("//*[@id]")(tree):
        ids.setdefault(node.get("id"), node)  # the first of a repeated id, as browsers do
    for button, tag in toggles:
        button.tag = tag
        for target_id in button.get("aria-controls", "").split():
            if (target := ids.get(target_id)) is not None:
                _unhide(target)
    return len(toggles)


def _toggle_tag(button: HtmlElement) -> str | None:
    """What an accordion's toggle becomes: ``span`` inside its heading, ``div`` around it;
    None for a button that controls nothing or holds no heading and sits in none."""
    if not button.get("aria-controls"):
        return None
    if any(a.tag in _HEADINGS for a in button.iterancestors()):
        return "span"
    return "div" if next(button.iter(*_HEADINGS), None) is not None else None


def _unhide(node: HtmlElement) -> None:
    node.attrib.pop("hidden", None)
    node.attrib.pop("aria-hidden", None)
    classes = node.get("class")
    if classes:
        node.set("class", " ".join(c for c in classes.split() if not _HIDING_CLASS.search(c)))
    style = node.get("style")
    if style:
        node.set("style", _DISPLAY_NONE.sub("", style))


# The precise pass stands for the body when it holds at least this share of the balanced
# pass's words; below that it has cut the body (a 150-word piece of a 1,000-word story).
PRECISE_MIN_SHARE = 0.5


def _main_text(tree: HtmlElement, url: str, out: Extracted, plans: SitePlans | None = None) -> str:
    """The body, chosen from three trafilatura passes by what they agree on.

    The precise pass (``favor_precision``, ``fast``) leaves out most navigation and teasers
    but sometimes cuts the body short; the balanced pass (its default, with jusText and
    readability as fallbacks) finds the body where the precise one missed it; the recall pass
    (``favor_recall``, ``fast``: the fallbacks are the balanced pass's to consult) adds what
    both cut inside the article (lists, subheadings, a doubted paragraph) and also what
    surrounds it (related posts, comments). The precise text is the start unless it is
    much shorter than the balanced one; it is then widened by the recall lines that lie
    between the first and the last line both agree on, and by a closing FAQ or list of
    sentences that the recall pass alone found after them (:func:`_with_closing`).

    With ``plans``, a site whose pages have shown that fewer passes give the same body is
    cleaned with those passes only (:class:`SitePlans`)."""
    plan = out.plan = plans.plan(out.domain) if plans is not None else FULL
    if plan in (PRECISE_NODE, NODE_LAYOUT):
        assert plans is not None
        name = plans.node(out.domain)
        node = _find_node(tree, name) if name else None
        if node is not None:
            layout = plans.layout(out.domain) if plan == NODE_LAYOUT else None
            laid_out = _layout_text(node, layout) if layout else None
            if laid_out is not None:
                return laid_out
            # No layout, or one that cannot tell what the pass writes: the pass reads it.
            out.plan = PRECISE_NODE
            doc = _node_document(node)
            return _trafilatura_text(doc, url, out, favor_precision=True, fast=True)
        # The page lacks the site's article element: the whole page, then.
        plan = out.plan = PRECISE
    if plan == PRECISE_RECALL_BLOCK:
        block = _paragraph_block(tree)
        if block is not None:
            return _two_passes(_node_document(block), url, out)
        # No block holds most of the page's paragraphs: the whole page.
        plan = out.plan = PRECISE_RECALL
    precise = _trafilatura_text(tree, url, out, favor_precision=True, fast=True)
    if plan == PRECISE:
        return precise
    recall = _trafilatura_text(tree, url, out, favor_recall=True, fast=True)
    if plan == PRECISE_RECALL:
        return _fuller(precise, recall)
    balanced = _trafilatura_text(tree, url, out)
    cut = len(precise.split()) < PRECISE_MIN_SHARE * len(balanced.split())
    text = _fuller(balanced if cut else precise, recall)
    if plans is not None:
        precise_recall = not cut or text == _fuller(precise, recall)
        body = (
            _body_node(tree, precise, url, plans.node(out.domain))
            if text == precise and plans.node_may_fit(out.domain)
            else None
        )
        plans.record(
            out.domain,
            precise=text == precise,
            precise_recall=precise_recall,
            # The element is looked for only where it can still count: its search costs
            # up to three more precise passes.
            node=body[0] if body else None,
            # So is the paragraph block, which costs the two passes again on the block.
            block=(
                _block_gives(tree, text, url)
                if precise_recall and plans.block_may_fit(out.domain, text == precise)
                else None
            ),
            # And the element's layout, where the page has the element: it costs no pass.
            layout=(
                _layout_of(body[1], text) if body and plans.layout_may_fit(out.domain) else None
            ),
        )
    return text


def _two_passes(tree: HtmlElement, url: str, out: Extracted | None) -> str:
    """The precise pass widened by the recall pass (plan PRECISE_RECALL) on ``tree``."""
    precise = _trafilatura_text(tree, url, out, favor_precision=True, fast=True)
    return _fuller(precise, _trafilatura_text(tree, url, out, favor_recall=True, fast=True))


# The paragraph block holds at least this share of the characters of a page's paragraphs.
BLOCK_MIN_SHARE = 0.8


def _paragraph_block(tree: HtmlElement) -> HtmlElement | None:
    """The element whose own ``<p>`` children hold most of the page's paragraph text: where a
    page, named or not, keeps its article's paragraphs. None when no element holds
    BLOCK_MIN_SHARE of it (paragraphs spread over several blocks) or the page has none."""
    held: Counter[HtmlElement] = Counter()
    total = 0
    for para in tree.iter("p"):
        size = len(para.text_content())
        total += size
        if (parent := para.getparent()) is not None:
            held[parent] += size
    found = held.most_common(1)  # the first of equals in document order, as max() gives it
    if not found or not total:
        return None  # no paragraph text, or none below the root (a tree that is one <p>)
    block, size = found[0]
    return block if size >= BLOCK_MIN_SHARE * total else None


def _block_gives(tree: HtmlElement, text: str, url: str) -> bool:
    """Whether the precise and recall passes on the page's paragraph block alone give ``text``,
    the body they gave from the whole page."""
    block = _paragraph_block(tree)
    return block is not None and _two_passes(_node_document(block), url, None) == text


def _fuller(text: str, recall: str) -> str:
    """``text`` widened by the recall pass (:func:`_widen`), then followed by a closing
    section only the recall pass found (:func:`_with_closing`)."""
    wide = _lines(recall)
    return _with_closing(_widen(text, wide), wide)


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.split("\n") if ln.strip()]


_DIGIT = re.compile(r"\d")
NODE_CLIMB = 2  # named ancestors of the smallest block holding the body tried in its place


def _node_name(node: HtmlElement) -> Node | None:
    """An element's tag, id and classes, as a template names it on every page: an id or
    class with a digit names one page (``post-1234``) and is left out. None for a ``div``
    or ``section`` with no name left, which many elements of a page share."""
    ident = node.get("id") or ""
    if _DIGIT.search(ident):
        ident = ""
    classes = " ".join(sorted(c for c in (node.get("class") or "").split() if not _DIGIT.search(c)))
    if not ident and not classes and node.tag not in ("article", "main"):
        return None
    if len(ident) + len(classes) > NODE_NAME_MAX_CHARS:
        return None  # no template's name: the plan keeps no more than this per site
    return (node.tag, ident, classes)


def _find_node(tree: HtmlElement, name: Node) -> HtmlElement | None:
    """The page's one element named ``name``; None when it has none or several."""
    tag, ident, classes = name
    query = f"//{tag}"
    variables: dict[str, str] = {}
    if ident:
        query += "[@id=$ident]"
        variables["ident"] = ident
    for i, token in enumerate(classes.split()):
        query += f'[contains(concat(" ", normalize-space(@class), " "), $c{i})]'
        variables[f"c{i}"] = f" {token} "
    found = [node for node in xpath(query)(tree, **variables) if _node_name(node) == name]
    return found[0] if len(found) == 1 else None


def _node_document(node: HtmlElement) -> HtmlElement:
    """A document of the element ``node`` alone (a copy: the page keeps it)."""
    doc = html_element("html")
    body = etree.SubElement(doc, "body")
    body.append(copy(node))
    body[0].tail = None
    return doc


def _smallest_holder(tree: HtmlElement, text: str) -> HtmlElement | None:
    """The smallest named block (:func:`_node_name`) whose text holds every word of ``text``."""
    words = set(word_runs(text))
    best, size = None, 0
    for node in tree.iter(*NODE_TAGS):
        if _node_name(node) is None:
            continue
        content = node.text_content()
        if best is not None and len(content) >= size:
            continue
        if words.issubset(word_runs(content)):
            best, size = node, len(content)
    return best


def _body_node(
    tree: HtmlElement, precise: str, url: str, known: Node | None
) -> tuple[Node, HtmlElement] | None:
    """The element from which the precise pass alone gives ``precise``, the body it gave from
    the whole page, and its name: the site's ``known`` one when the page has it, else the
    smallest block that holds the body's words or, when that one gives another text (a
    headline above the body's block, whose words the body repeats), one of its NODE_CLIMB
    nearest named ancestors; None when none gives the same text."""
    if not precise:
        return None
    if known is not None and (found := _find_node(tree, known)) is not None:
        return (known, found) if _node_text(found, url) == precise else None
    node = _smallest_holder(tree, precise)
    tried = 0
    while node is not None and node.tag in NODE_TAGS and tried <= NODE_CLIMB:
        name = _node_name(node)
        if name is not None:
            tried += 1
            # Only a name that finds this element alone on the page can find it on the next.
            if _find_node(tree, name) is node and _node_text(node, url) == precise:
                return name, node
        node = node.getparent()
    return None


# What a layout reads (NODE_LAYOUT): lines, each one line of text; lists, whose items are
# lines written "- item" as trafilatura writes them; boxes, read through; and, inside a line,
# only these inline elements, unnamed, whose text runs on in the line as the precise pass
# runs it on (not <time>, which it deletes, nor <q>, which it sets on a line of its own).
# Anything else inside the article element is read only when dropped with all it holds.
_LAYOUT_LINES = frozenset(("p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"))
_LAYOUT_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
_LAYOUT_LISTS = frozenset(("ul", "ol"))
_LAYOUT_BOXES = frozenset(("div", "section", "article", "main", "header", "footer", "span"))
_LAYOUT_HOLDERS = _LAYOUT_LISTS | _LAYOUT_BOXES
_LAYOUT_INLINE = frozenset(
    "a abbr b bdi cite data dfn em i mark s small span strong sub sup u var".split()
)
# Attributes by which trafilatura drops an element whatever its tag and classes (hidden,
# styled away, given a role): an element the layout reads carries none of them.
_LAYOUT_HIDING = ("style", "hidden", "aria-hidden", "role")
# Links, as trafilatura's link density test in precision mode weighs them (read in its code):
# it drops any element whose one link holds more than 0.9 of its text, and one with more than
# four links holding more than 0.9 (a link farm); below 60 characters (30 when an element
# follows it, which the pruning may change) it weighs every link of a paragraph, and below
# 300 those of any other element. :func:`_links_may_drop` keeps the layout clear of all three:
# a line, the element and each box or list read (weighed whole, dropped parts and all) go to
# the pass when their links hold more than LAYOUT_MAX_LINK_SHARE of their text; a paragraph
# or list item under LAYOUT_SHORT_LINE characters with two links, or with more than
# LAYOUT_SHORT_LINK_SHARE of it in links, too; and anything else with a link under
# LAYOUT_LINKED_BOX. So does a text the layout would give in fewer than LAYOUT_MIN_CHARS
# characters (trafilatura then looks further than the element).
LAYOUT_MAX_LINK_SHARE = 0.85
LAYOUT_SHORT_LINE = 60
LAYOUT_SHORT_LINK_SHARE = 0.5
LAYOUT_LINKED_BOX = 300
LAYOUT_MIN_CHARS = 300
# Dropped elements holding more than this share of the element's text: trafilatura may keep
# them (it undoes a pruning that leaves too little), so the precise pass reads the page.
LAYOUT_MAX_DROPPED_SHARE = 0.5


def _layout_name(node: HtmlElement) -> Node:
    """An element's kind as a layout knows it: tag, id and classes (sorted), digits and all,
    so that an element named for one page is a kind no other page has."""
    classes = " ".join(sorted((node.get("class") or "").split()))
    return (node.tag, node.get("id") or "", classes)


def _hidden(node: HtmlElement) -> bool:
    return any(node.get(attr) is not None for attr in _LAYOUT_HIDING)


def _normal(node: HtmlElement) -> str:
    return " ".join(node.text_content().split())


def _links_may_drop(node: HtmlElement, text: str) -> bool:
    """Whether trafilatura's link density test may drop ``node``, whose text is ``text``, for
    its links alone (the links of its dropped elements counted): see LAYOUT_MAX_LINK_SHARE."""
    links = node.findall(".//a")
    if not links:
        return False
    linked = sum(len(_normal(a)) for a in links)
    if linked > LAYOUT_MAX_LINK_SHARE * len(text):
        return True
    if node.tag in ("p", "li"):
        return len(text) < LAYOUT_SHORT_LINE and (
            len(links) > 1 or linked > LAYOUT_SHORT_LINK_SHARE * len(text)
        )
    return len(text) < LAYOUT_LINKED_BOX


def _line_text(node: HtmlElement) -> str | None:
    """A line element's text as the precise pass writes it, or None when the layout cannot
    tell: it holds more than unnamed inline elements with text, or characters the pass
    rewrites (control and format characters, entities left escaped), or text the pass may
    drop for itself rather than for its element (for its links, :func:`_links_may_drop`; a
    line of sharing buttons, trafilatura's RE_FILTER)."""
    if _hidden(node):
        return None
    for inner in node.iterdescendants():
        tag = inner.tag
        if not isinstance(tag, str) or tag not in _LAYOUT_INLINE:
            return None  # a comment, a processing instruction, a block, a line break
        if inner.get("class") is not None or inner.get("id") is not None or _hidden(inner):
            return None  # a name the layout never learned: one trafilatura may discard by
        if not inner.text_content().strip():
            return None  # precision mode deletes an empty inline element and what follows it
    text = _normal(node)
    if not text.isprintable() or ("&" in text and html_module.unescape(text) != text):
        return None
    if text and _links_may_drop(node, text):
        return None
    if text and any(RE_FILTER.match(line) for line in text.splitlines()):
        return None
    return text


def _layout_walk(node: HtmlElement, layout: Layout) -> Iterator[tuple[HtmlElement, bool]]:
    """What a layout decides on, in document order, each with whether it is a list item: the
    children of ``node``, comments too (for their tails), and those of each box or list that
    ``layout`` keeps once the caller has had the box (:func:`_layout_of` fills it as it goes).
    Reading and learning a layout walk alike, so that what is learned covers what is read."""
    stack = [(iter(node), False)]
    while stack:
        children, items = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            continue
        yield child, items
        if not items and child.tag in _LAYOUT_HOLDERS and layout.get(_layout_name(child)):
            stack.append((iter(child), child.tag in _LAYOUT_LISTS))


def _layout_text(node: HtmlElement, layout: Layout) -> str | None:
    """The text of the article element ``node`` read through the site's ``layout``: each
    kept line, in document order. None when the layout cannot tell what the precise pass
    would give: a kind of element the layout does not know, text loose in a box, a line it
    cannot read (:func:`_line_text`), a named box twice, a linked box of little text, or a
    text the pass treats otherwise as a whole (a heading last, a line twice, fewer than two
    lines or LAYOUT_MIN_CHARS characters, dropped elements holding most of the text)."""
    if (node.text or "").strip():
        return None  # text before the first block: trafilatura reads it as a paragraph
    whole = node.text_content()
    if _links_may_drop(node, " ".join(whole.split())):
        return None
    lines: list[str] = []
    heading_last = False
    dropped = 0
    named_boxes: set[Node] = set()
    for child, items in _layout_walk(node, layout):
        if (child.tail or "").strip():
            return None  # text loose in a box
        if not isinstance(child.tag, str):
            continue  # a comment
        if items != (child.tag == "li"):
            return None  # a list holds items, and only a list does
        line = items or child.tag in _LAYOUT_LINES
        kept = layout.get(_layout_name(child))
        if kept is None:
            if line and not items and not len(child) and not _normal(child):
                continue  # an empty paragraph (a spacer): nothing to read, whatever its kind
            return None
        if not kept:
            dropped += len(child.text_content())
            continue
        if line:
            text = _line_text(child)
            if text is None or (items and not text):
                return None
            if text:
                lines.append(f"- {text}" if items else text)
                heading_last = child.tag in _LAYOUT_HEADINGS
        elif child.tag in _LAYOUT_HOLDERS and not (child.text or "").strip():
            name = _layout_name(child)
            if name[1] or name[2]:
                # trafilatura reads the first block named like an article's body and leaves
                # the rest: a named box twice in one element is read by the precise pass.
                if name in named_boxes:
                    return None
                named_boxes.add(name)
            if _hidden(child) or _links_may_drop(child, _normal(child)):
                return None  # else the walk reads on inside it
        else:
            return None
    text = "\n".join(lines)
    if (
        len(lines) < 2
        or heading_last
        or len(set(lines)) < len(lines)
        or len(text) < LAYOUT_MIN_CHARS
    ):
        return None
    if dropped > LAYOUT_MAX_DROPPED_SHARE * len(whole):
        return None
    return text


def _layout_of(node: HtmlElement, text: str) -> LayoutNote:
    """The layout of the article element ``node`` that gives ``text``, the precise pass's text
    from it, as rows of (tag, id, classes, kept): a line is kept when its text is a line of
    ``text``, a box or list when something in it is; anything else is dropped. False when no
    layout gives ``text`` (one kind of element kept here and dropped there, too many kinds),
    None when the page shows nothing either way: it names its elements beyond what a plan
    keeps, or the layout would not read it (:func:`_layout_text`), as it would not on a
    later page."""
    lines = set(text.split("\n"))
    layout: Layout = {}
    for child, items in _layout_walk(node, layout):
        if not isinstance(child.tag, str):
            continue
        if items or child.tag in _LAYOUT_LINES:
            line = _normal(child)
            if not line and not items:
                continue  # an empty paragraph: no decision (see _layout_text)
            kept = (f"- {line}" if items else line) in lines
        elif child.tag in _LAYOUT_HOLDERS:
            kept = any(_normal(inner) in lines for inner in child.iterdescendants(*_LAYOUT_LINES))
            kept = kept or any(
                f"- {_normal(item)}" in lines for item in child.iterdescendants("li")
            )
        else:
            kept = False  # a figure, a table: read only when dropped
        if layout.setdefault(_layout_name(child), kept) != kept:
            return False
    if any(len(n[1]) + len(n[2]) > NODE_NAME_MAX_CHARS for n in layout):
        return None
    if len(layout) > LAYOUT_MAX_NAMES:
        return False
    laid_out = _layout_text(node, layout)
    if laid_out is None:
        return None
    if laid_out != text:
        return False
    return tuple(sorted((*n, kept) for n, kept in layout.items()))


def _node_text(node: HtmlElement, url: str) -> str:
    return _trafilatura_text(_node_document(node), url, None, favor_precision=True, fast=True)


# A line of the narrower pass that the recall pass writes differently (a link's text or a
# command's first word dropped, list items run together) still lies inside the recall span
# when at least this share of its words are there.
RESTATED_MIN_SHARE = 0.9


def _restated(line: str, words: set[str]) -> bool:
    tokens = word_runs(line)
    return bool(tokens) and sum(t in words for t in tokens) >= RESTATED_MIN_SHARE * len(tokens)


def _widen(text: str, recall: str | list[str]) -> str:
    """``text`` with the recall pass's lines between the first and the last line both share,
    when every line of ``text`` lies in that span: there verbatim, or restated there (the
    passes render some markup differently; the recall pass's rendering is the fuller one).
    ``recall``: the pass's text, or its lines (:func:`_lines`)."""
    lines = _lines(text)
    wide = _lines(recall) if isinstance(recall, str) else recall
    have = set(lines)
    shared = [i for i, ln in enumerate(wide) if ln in have]
    if len(shared) < 2:
        return text
    inner = wide[shared[0] : shared[-1] + 1]
    if len(inner) == len(lines):
        return text
    missing = have.difference(inner)
    if missing:
        words = set(word_runs("\n".join(inner)))
        if not all(_restated(line, words) for line in missing):
            return text
    return "\n".join(inner)


# A closing "questions and answers" section: questions (a line ending in a question mark, at
# most FAQ_QUESTION_WORDS words), each answered by prose right below it.
FAQ_QUESTION_WORDS = 30
FAQ_ANSWER_WORDS = 10
FAQ_MIN_PAIRS = 2
FAQ_HEADING_WORDS = 12  # a short line before the first question is the section's heading
_QUESTION_END = ("?", "？", "؟")


def _faq_pairs(tail: list[str]) -> int:
    """How many of ``tail``'s first lines form question-and-answer pairs (after an optional
    heading): the number of lines to take, or 0 when fewer than FAQ_MIN_PAIRS pairs."""
    pos = 0
    if tail and not tail[0].endswith(_QUESTION_END) and token_count(tail[0]) <= FAQ_HEADING_WORDS:
        pos = 1  # the section's heading ("Frequently asked questions", "<Topic> FAQs")
    pairs = taken = 0
    while pos < len(tail):
        question = tail[pos]
        if not question.endswith(_QUESTION_END) or token_count(question) > FAQ_QUESTION_WORDS:
            break
        end = pos + 1
        while end < len(tail) and not tail[end].endswith(_QUESTION_END):
            if token_count(tail[end]) < FAQ_ANSWER_WORDS:
                break
            end += 1
        if end == pos + 1:
            break  # a question with no prose answer below it
        pairs += 1
        pos = taken = end
    return taken if pairs >= FAQ_MIN_PAIRS else 0


# A closing list of sentences: at least PROSE_ITEMS_MIN items, each of PROSE_ITEM_WORDS
# words or more and ending as a sentence ends.
PROSE_ITEMS_MIN = 2
PROSE_ITEM_WORDS = 8
_CLOSERS = ')]"”’'
_STOPS = (".", "!", "。", "！")


def _prose_items(tail: list[str]) -> int:
    """How many of ``tail``'s first lines are list items written as sentences, or 0 when
    fewer than PROSE_ITEMS_MIN."""
    taken = 0
    for line in tail:
        sentence = line.startswith("- ") and line.rstrip(_CLOSERS).endswith(_STOPS)
        if not sentence or token_count(line) < PROSE_ITEM_WORDS:
            break
        taken += 1
    return taken if taken >= PROSE_ITEMS_MIN else 0


def _with_closing(text: str, recall: str | list[str]) -> str:
    """``text`` followed by the questions and answers, or the list of sentences, that follow
    its last line in the recall pass. The precise and balanced passes often end the body
    before a closing FAQ or list set in its own block (an accordion, a styled list);
    comments, related posts, link lists and sign-up forms, which also follow the body, are
    neither a run of questions each answered by prose nor a list of sentences. ``recall``:
    the pass's text, or its lines."""
    lines = _lines(text)
    wide = _lines(recall) if isinstance(recall, str) else recall
    if not lines or lines[-1] not in wide:
        return text
    last = len(wide) - 1 - wide[::-1].index(lines[-1])
    tail = wide[last + 1 :]
    taken = _faq_pairs(tail) or _prose_items(tail)
    return "\n".join([*lines, *tail[:taken]]) if taken else text


def extract_page(page: Page, plans: SitePlans | None = None) -> Extracted:
    """One page's body and metadata; ``plans``: the passes its site needs (:class:`SitePlans`),
    learned from the site's earlier pages in this process, or None for all three."""
    final_url = page.final_url or page.url
    parts = urlsplit(final_url)
    out = Extracted(
        url=page.url,
        final_url=final_url,
        canonical_url=final_url,
        domain=parts.netloc.lower(),
        source=page.source,
        fetched_at=page.fetched_at,
        status=page.status,
    )
    if not page.html or not page.html.strip():
        out.error = "empty_html"
        return out
    tree = load_html(reopen_body(page.html))
    if tree is None:
        out.error = "unparsable"
        return out
    read_metadata(tree, page, out)
    anchors = Anchors(tree, parts.hostname)
    out.teaser_links = anchors.teasers
    _unwrap_layout_tables(tree)
    _open_accordions(tree)
    # NFC, as trafilatura.extract gives it: the same letters the same code points, whatever
    # the page used (decomposed accents, Hangul jamo), so that matching and dedup agree.
    text = unicodedata.normalize("NFC", _main_text(tree, final_url, out, plans))
    raw_lines = _lines(text)
    out.raw_line_count = len(raw_lines)
    without_link_lists = drop_link_lists(raw_lines, anchors)
    lines, hits = remove_boilerplate(without_link_lists)
    out.lines = drop_page_furniture(lines, out)
    out.removed = dict(hits)
    if len(raw_lines) > len(without_link_lists):
        out.removed["link-list"] = len(raw_lines) - len(without_link_lists)
    out.link_lines = [anchors.covers(ln) for ln in out.lines]
    total = sum(len(ln) for ln in out.lines)
    linked = sum(len(ln) for ln, is_link in zip(out.lines, out.link_lines, strict=True) if is_link)
    out.link_density = linked / total if total else 0.0
    out.listing_score = listing_evidence(out)
    if LISTING_THRESHOLD - CARD_GRID_POINTS <= out.listing_score < LISTING_THRESHOLD:
        # Only here can a grid of cards decide; elsewhere the tree walk is not paid for.
        out.card_grid = card_grid(tree)
        out.listing_score = listing_evidence(out)
    out.is_listing = out.listing_score >= LISTING_THRESHOLD
    out.language = md.guess_language(" ".join(out.lines), out.declared_language)
    out.credited_source = (
        # Credit lines ("Source: AP") are boilerplate to the reader but say which outlet a
        # reprint copies: the text before the rules removed them is read too.
        md.credited_outlet(out.lines, raw_lines)
        or foreign_byline_outlet(out)
        # "© 2019 Associated Press": a wire story; the site's own copyright credits nobody.
        or md.wire_copyright(raw_lines)
    )
    out.lines = drop_credit_lines(out)
    bound_metadata(out)
    return out


# Metadata fields come from the page, which anyone writes: bounded before they are published.
