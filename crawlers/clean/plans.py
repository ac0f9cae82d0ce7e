"""Which of trafilatura's passes each site needs (:class:`SitePlans`), learned from its pages
while they are cleaned and kept across runs with the site templates. No trafilatura here:
the flow process keeps the pool's plans without loading the extractor."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from crawlers.clean.version import EXTRACTOR

# The cheaper plans of SitePlans: the precise pass alone, on the site's article element or on
# the whole page; the precise and recall passes, on the page's paragraph block or on the whole
# page.
FULL, PRECISE_RECALL, PRECISE, PRECISE_NODE = "full", "precise+recall", "precise", "precise node"
PRECISE_RECALL_BLOCK = "precise+recall block"
# The article element's text read through the site's learned layout, without trafilatura.
NODE_LAYOUT = "node layout"


# An element named as a site's template names its article: tag, id, classes (a ``Node``).
Node = tuple[str, str, str]
# What the precise pass made of each element inside a site's article element, by the
# element's tag, id and classes: kept (its text is read) or dropped with what it holds.
Layout = dict[Node, bool]
# One page's evidence for a layout: the elements' decisions (as sorted (tag, id, classes,
# kept) rows), False when no layout gives the pass's text, None when not tried or when the
# page shows nothing either way (a page the layout would leave to the pass).
LayoutNote = tuple[tuple[str, str, str, bool], ...] | bool | None
# What one page cleaned with all three passes showed of its site (SitePlans.record's
# arguments): site, precise pass enough, precise and recall passes enough, article element,
# the two passes on the paragraph block enough (None: not tried on the page), the layout.
PlanNote = tuple[str, bool, bool, Node | None, bool | None, LayoutNote]
NODE_NAME_MAX_CHARS = 200  # an id and classes longer than this name no article element
NODE_TAGS = ("article", "main", "section", "div")  # the blocks that may name it
LAYOUT_MAX_NAMES = 32  # a site whose article element holds more kinds of element has none
LAYOUT_MAX_TAG_CHARS = 32  # a tag a layout names


@dataclass
class _SitePlan:
    cleaned: int = 0  # pages of the site cleaned with all three passes
    precise: bool = True  # the precise pass alone gave the body on every one of them
    precise_recall: bool = True  # ... the precise pass widened by the recall pass did
    since_check: int = 0  # pages cleaned with a cheaper plan since the last full one
    held: int = 0  # checks in a row since learning that left the site's plan as it was
    node: Node | None = None  # the element holding the article on the first of them
    node_fits: bool = True  # the precise pass read the body from that element alone on each
    blocks: int = 0  # pages on which the two passes were tried on the paragraph block alone
    block_fits: bool = True  # ... and gave the body on each of them
    layouts: int = 0  # pages whose article element's layout gave the precise pass's text
    layout: Layout | None = None  # what the pass kept and dropped inside it on those pages
    layout_fits: bool = True  # ... the same decision for each kind of element on each


class SitePlans:
    """Which of the three passes a site needs, learned from its own pages.

    Most sites lay every article out alike, so what the balanced pass (the costliest, with
    its fallback extractors) or the recall pass changes on one page of a site it changes on
    the others. A site's first ``learn`` pages are cleaned with all three passes, noting
    whether the precise pass alone, or the precise pass widened by the recall pass, gave the
    same body. When one of them did on every page so far, the site's next pages are cleaned
    with it (the cheaper first); one page in ``check_every`` is still cleaned with all three
    passes and compared, and a plan that gives a different body once is not used again for
    the site. Each check a plan holds doubles the pages until the next one, up to
    ``check_every`` times 2 ** ``check_backoff`` (20, 40, 80, then every 160th page by
    default): a site's layout rarely changes within a run, and a check costs four times the
    page it replaces. A plan that changes starts again at ``check_every``. Pages of unknown
    sites, and sites that need every pass, get all three.

    A site whose precise pass suffices is also checked for its article's element: the
    smallest block that holds every word of the body, named by tag, id and classes
    (``crawlers.clean.extract._node_name``). When the precise pass, given that element alone,
    gives the same body on every page learned or checked, the site's next pages give
    trafilatura only that element (``PRECISE_NODE``; a page without it is read whole): the
    navigation, teasers and footer around it, which the pass would read and discard, are not
    walked again.

    A site that needs the precise and recall passes is also tried on each page's paragraph
    block: the element whose own paragraphs hold most of the page's paragraph text, found
    afresh on every page (``crawlers.clean.extract._paragraph_block``), so it needs no name
    and no banner or sidebar added around it moves it. When the two passes, given that block
    alone, give the same body on every page learned or checked since the precise pass alone
    fell short (and on at least half as many pages as a plan is learned from), the site's next
    pages give trafilatura only the block (``PRECISE_RECALL_BLOCK``; a page without one is read
    whole). It matters most on class-less layouts, where trafilatura finds no article container
    and reads every element of the page in both passes.

    A site on the node plan is also learned a *layout* of its article element: for each kind
    of element inside it (tag, id, classes), whether the precise pass kept its text or
    dropped it with all it holds (``crawlers.clean.extract._layout_of``). When that layout,
    read without trafilatura, gives the pass's exact text on every page learned or checked,
    and each kind got the same decision on every page, the site's next pages are read so
    (``NODE_LAYOUT``: kept paragraphs, headings and quotes a line each, kept lists' items
    "- item" lines). A page on which the layout cannot tell what the pass would write gets the
    precise pass on the element as before (``crawlers.clean.extract._layout_text``: a kind
    of element the layout does not know, hidden or named inline elements, text the pass may
    judge by itself rather than by its element, such as a link-dense line or a sharing
    prompt, or rules the pass applies to the text as a whole). Checks compare with all three
    passes as for the other plans.

    State of one process (an extraction worker), bounded to ``max_sites`` sites. With
    ``share``, what each page cleaned with all three passes showed is also kept as a note
    (:meth:`take_notes`) for the other workers of a pool to learn from (:meth:`learn_from`),
    so that a site is learned, and checked, once per pool rather than once per worker: a
    worker counts its pages since the last check of the site by any worker.

    What a run learned is kept for the next (:meth:`export`, :meth:`load`, kept with the
    site templates): a site learned before starts on its plan, and its first page of the
    run is a check, so a site redesigned since is caught on that page."""

    def __init__(
        self,
        learn: int = 6,
        check_every: int = 20,
        max_sites: int = 10_000,
        share: bool = False,
        check_backoff: int = 3,
    ) -> None:
        self.learn = learn
        self.check_every = check_every
        self.check_backoff = check_backoff
        self.max_sites = max_sites
        self.share = share
        self.sites: dict[str, _SitePlan] = {}
        self.used: Counter[str] = Counter()  # pages cleaned per plan
        self._notes: list[PlanNote] = []
        self._learned: set[str] = set()  # sites learned about since load()

    def plan(self, site: str) -> str:
        state = self.sites.get(site)
        chosen = FULL if state is None else self._cheapest(state)
        if chosen != FULL:
            assert state is not None
            state.since_check += 1
            if state.since_check >= self.check_every << min(state.held, self.check_backoff):
                chosen = FULL  # the check: this page gets every pass and is compared
        self.used[chosen] += 1
        return chosen

    def _cheapest(self, state: _SitePlan) -> str:
        """The cheapest plan the site's pages so far allow (FULL while it is learned)."""
        if state.cleaned < self.learn:
            return FULL
        if state.precise:
            if not state.node_fits:
                return PRECISE
            if state.layout and state.layout_fits and state.layouts >= max(1, self.learn // 2):
                return NODE_LAYOUT
            return PRECISE_NODE
        if not state.precise_recall:
            return FULL
        if state.block_fits and state.blocks >= max(1, self.learn // 2):
            return PRECISE_RECALL_BLOCK
        return PRECISE_RECALL

    def node(self, site: str) -> Node | None:
        """The element the precise pass reads the site's article from (plan PRECISE_NODE)."""
        state = self.sites.get(site)
        return state.node if state is not None and state.node_fits else None

    def layout(self, site: str) -> Layout | None:
        """The site's article element's layout (plan NODE_LAYOUT)."""
        state = self.sites.get(site)
        return state.layout if state is not None and state.layout_fits else None

    def layout_may_fit(self, site: str) -> bool:
        """Whether a page's article element can still give the site a layout."""
        state = self.sites.get(site)
        return state is None or (state.node_fits and state.layout_fits)

    def node_may_fit(self, site: str) -> bool:
        """Whether a page's article element can still give the site a node plan: not once
        one of its pages lacked the element the others had, which no later page undoes (the
        element need not be looked for on the site's full-plan pages)."""
        state = self.sites.get(site)
        return state is None or state.node_fits

    def block_may_fit(self, site: str, precise: bool) -> bool:
        """Whether a page cleaned with all three passes should try the two passes on its
        paragraph block: only where the site's plan can come to be those two passes (the
        precise pass alone fell short, on this page, ``precise`` False, or on an earlier one;
        the two passes gave the body on every page so far) and the block has not yet failed.
        A site whose precise pass suffices never pays for the try."""
        state = self.sites.get(site)
        if state is None:
            return not precise
        return (not precise or not state.precise) and state.precise_recall and state.block_fits

    def record(
        self,
        site: str,
        *,
        precise: bool,
        precise_recall: bool,
        node: Node | None = None,
        block: bool | None = None,
        layout: LayoutNote = None,
    ) -> None:
        """A page of ``site`` cleaned with all three passes: whether each cheaper plan would
        have given the same body, the element from which the precise pass alone gave it
        (None: none did), and whether the precise and recall passes on the page's paragraph
        block gave it (None: not tried, see :meth:`block_may_fit`), and the layout of the
        article element (:data:`LayoutNote`)."""
        self._learn(site, precise, precise_recall, node, block, layout)
        if self.share:
            self._notes.append((site, precise, precise_recall, node, block, layout))

    def take_notes(self) -> list[PlanNote]:
        """What this process's pages cleaned with all three passes showed since the last
        call (with ``share``): for the other workers' :meth:`learn_from`."""
        notes, self._notes = self._notes, []
        return notes

    def learn_from(self, notes: Iterable[PlanNote]) -> None:
        """Learn what another worker's pages showed, as if they had been cleaned here: its
        checks count as this worker's, which counts its pages to the next check afresh."""
        for site, precise, precise_recall, node, block, layout in notes:
            self._learn(site, precise, precise_recall, node, block, layout)

    def _learn(
        self,
        site: str,
        precise: bool,
        precise_recall: bool,
        node: Node | None,
        block: bool | None,
        layout: LayoutNote = None,
    ) -> None:
        state = self.sites.get(site)
        if state is None:
            if len(self.sites) >= self.max_sites:
                oldest = next(iter(self.sites))  # the site held longest goes
                del self.sites[oldest]
                self._learned.discard(oldest)
            state = self.sites[site] = _SitePlan(node=node)
        before = self._cheapest(state)
        state.cleaned += 1
        state.precise = state.precise and precise
        state.precise_recall = state.precise_recall and precise_recall
        state.node_fits = state.node_fits and node is not None and node == state.node
        if block is not None:
            state.blocks += 1
            state.block_fits = state.block_fits and block
        if not state.node_fits or layout is False:
            state.layout_fits = False
        elif layout is not None and state.layout_fits:
            state.layout_fits = _merge_layout(state, layout)
        after = self._cheapest(state)
        state.held = state.held + 1 if before == after != FULL else 0
        state.since_check = 0
        self._learned.add(site)

    def export(self, learned_only: bool = False) -> dict[str, Any]:
        """The sites' plans as JSON values, to keep for the next run (:meth:`load`), with the
        version of the cleaning they were learned with. ``learned_only``: the sites this
        object learned about since it was loaded."""
        sites = {
            site: [
                state.cleaned,
                state.precise,
                state.precise_recall,
                list(state.node) if state.node else None,
                state.node_fits,
                state.blocks,
                state.block_fits,
                state.layouts,
                [[*name, kept] for name, kept in (state.layout or {}).items()],
                state.layout_fits,
            ]
            for site, state in self.sites.items()
            if not learned_only or site in self._learned
        }
        return {"extractor": EXTRACTOR, "sites": sites}

    def load(self, kept: Mapping[str, Any] | None) -> None:
        """Start from the plans an earlier run learned (:meth:`export`). Each site's first
        page after this is a check. Plans learned with another version of the cleaning (or of
        trafilatura), and rows that do not read as plans, are left out: those sites are
        learned again."""
        if not isinstance(kept, Mapping) or kept.get("extractor") != EXTRACTOR:
            return
        sites = kept.get("sites")
        if not isinstance(sites, Mapping):
            return
        for site, row in list(sites.items())[-self.max_sites :]:
            state = _kept_plan(row)
            if isinstance(site, str) and state is not None:
                state.since_check = self.check_every  # the site's next page is a check
                self.sites.pop(site, None)
                self.sites[site] = state
        while len(self.sites) > self.max_sites:
            del self.sites[next(iter(self.sites))]


def merged_plans(
    kept: Mapping[str, Any] | None, learned: Mapping[str, Any], max_sites: int = 10_000
) -> dict[str, Any]:
    """Plans kept from earlier runs updated with a run's (both :meth:`SitePlans.export`),
    the sites learned most recently kept up to ``max_sites``; kept plans of another cleaning
    version are dropped."""
    sites: dict[str, Any] = {}
    if isinstance(kept, Mapping) and kept.get("extractor") == learned.get("extractor"):
        sites.update(kept.get("sites") or {})
    for site, row in (learned.get("sites") or {}).items():
        sites.pop(site, None)
        sites[site] = row
    return {"extractor": learned.get("extractor"), "sites": dict(list(sites.items())[-max_sites:])}


def _kept_plan(row: Any) -> _SitePlan | None:
    """A site's plan from its exported row; None when the row is not one."""
    if not isinstance(row, list | tuple) or len(row) != 10:
        return None
    cleaned, precise, precise_recall, node, node_fits, blocks, block_fits = row[:7]
    layouts, layout_rows, layout_fits = row[7:]
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in (cleaned, blocks, layouts)):
        return None
    flags = (precise, precise_recall, node_fits, block_fits, layout_fits)
    if not all(isinstance(flag, bool) for flag in flags):
        return None
    layout = _kept_layout(layout_rows)
    if layout is None:
        return None
    if node is not None:
        if (
            not isinstance(node, list | tuple)
            or len(node) != 3
            or not all(isinstance(part, str) for part in node)
            or len(node[1]) + len(node[2]) > NODE_NAME_MAX_CHARS
            or node[0] not in NODE_TAGS
        ):
            return None
        node = (node[0], node[1], node[2])
    return _SitePlan(
        cleaned=max(0, cleaned),
        precise=precise,
        precise_recall=precise_recall,
        node=node,
        node_fits=node_fits,
        blocks=max(0, blocks),
        block_fits=block_fits,
        layouts=max(0, layouts),
        layout=layout or None,
        layout_fits=layout_fits,
    )


def _layout_row_ok(row: Any) -> bool:
    return (
        isinstance(row, list | tuple)
        and len(row) == 4
        and all(isinstance(part, str) for part in row[:3])
        and 0 < len(row[0]) <= LAYOUT_MAX_TAG_CHARS
        and isinstance(row[3], bool)
        and len(row[1]) + len(row[2]) <= NODE_NAME_MAX_CHARS
    )


def _kept_layout(rows: Any) -> Layout | None:
    """A layout from its exported rows ({} for none); None when they are not one."""
    if not isinstance(rows, list | tuple) or len(rows) > LAYOUT_MAX_NAMES:
        return None
    if not all(_layout_row_ok(row) for row in rows):
        return None
    layout = {(row[0], row[1], row[2]): row[3] for row in rows}
    return layout if len(layout) == len(rows) else None  # a kind named twice: no layout


def _merge_layout(state: _SitePlan, rows: Any) -> bool:
    """Add one page's layout decisions to the site's; False when a kind of element got the
    other decision before, or the rows are not a layout (a note is data from another process)."""
    page = _kept_layout(rows)
    if page is None or not page:
        return False
    layout = dict(state.layout or {})
    for name, kept in page.items():
        if layout.setdefault(name, kept) != kept:
            return False
    if len(layout) > LAYOUT_MAX_NAMES:
        return False
    state.layout = layout
    state.layouts += 1
    return True
