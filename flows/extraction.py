"""Extraction of pages with bounds: no page can stall the clean stage or exhaust its memory.

Each page is checked before it is parsed (its size and a cheap count of its tags), and parsed
under a deadline. Pages past a bound are dropped with a reason, counted per source like the
quality gates' drops, and the stage goes on:

- ``too_large``: more HTML than :attr:`ExtractLimits.max_html_bytes`;
- ``too_many_elements``: more opening tags than :attr:`ExtractLimits.max_elements`;
- ``extraction_timeout``: extraction took longer than :attr:`ExtractLimits.seconds`;
- ``extraction_crashed``: the worker process died on the page (killed for memory, say);
- ``extraction_error``: the extractor raised;
- ``archive_unreadable``: the page's line names its body in the crawl's archive, and it could
  not be read back there (crawlers.records.page_from_line).

:class:`ExtractionPool` runs the extraction in worker processes. A worker interrupts itself
with ``SIGALRM`` at the deadline (Python code, which is where trafilatura spends its time);
a worker stuck past the deadline and a grace period (inside one long C call) is killed by the
parent and replaced. :func:`extract_bounded` is the same bounded extraction in the calling
process, for tests and tools: there the deadline applies only in the main thread, where
signals are delivered (an alarm the caller had set is put back afterwards).

A page is given as a :class:`Page` or as the line of a crawl's pages file that holds it
(``Page.to_dict()`` as JSON, UTF-8 bytes, its HTML there or in the crawl's archive): such a
line is decoded in the worker, which also reads an archived body, so the flow process neither
parses the page nor reads its HTML, pickles it or sends it on.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import logging
import math
import multiprocessing
import select
import signal
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, NamedTuple, TypeAlias

from crawlers.clean.plans import SitePlans
from crawlers.records import Page, UnreadablePage, page_from_line

log = logging.getLogger("newsdedup")


@dataclass(frozen=True)
class ExtractLimits:
    """Bounds on one page's extraction. The defaults leave real news pages far inside them:
    of the 634 pages of the two extraction benchmark sets the largest has 2.9 MB of HTML and
    11,400 tags, and none takes a second to extract; 100,000 paragraphs take about 20 s and
    250 MB, a 5 MB page of plain text about 2 s and 170 MB."""

    max_html_bytes: int = 5 * 1024 * 1024
    max_elements: int = 100_000
    seconds: float = 30.0
    # A worker that has not answered this long after the deadline is killed and replaced.
    grace_seconds: float = 10.0


class Extraction(NamedTuple):
    """What became of one page: its extraction, or why it was dropped (``reason``)."""

    source: str
    url: str
    extracted: Any  # crawlers.clean.Extracted, or None when dropped
    reason: str | None = None  # the drop reason (see the module docstring)
    error: str | None = None  # a message for the log when dropped


# A page, or its line of a crawl's pages file (see the module docstring).
PageItem: TypeAlias = Page | bytes


def as_page(item: PageItem, body: bool = True) -> Page:
    """The page itself: a line of a pages file decoded (crawlers.records.page_from_line).
    ``body`` False: its fields without reading an archived body (for a drop record)."""
    if isinstance(item, Page):
        return item
    return page_from_line(item, body)


def precheck(page: Page, limits: ExtractLimits) -> str | None:
    """Why ``page`` must not be parsed at all, or None. Linear in the page, at C speed."""
    html = page.html or ""
    # A character is at most 4 bytes in UTF-8: most pages need no encoding to be measured.
    if len(html) * 4 > limits.max_html_bytes:
        size = len(html.encode("utf-8", "surrogatepass"))
        if size > limits.max_html_bytes:
            return "too_large"
    # Opening tags, comments and doctypes: every "<" that does not start a closing tag.
    if html.count("<") - html.count("</") > limits.max_elements:
        return "too_many_elements"
    return None


def _dropped(page: Page, reason: str, detail: str) -> Extraction:
    return Extraction(page.source, page.url, None, reason, f"{page.url}: {detail}")


def _unreadable(exc: UnreadablePage) -> Extraction:
    """The drop of a page whose archived body could not be read (its message names the URL)."""
    return Extraction(exc.page.source, exc.page.url, None, "archive_unreadable", str(exc))


def _precheck_result(page: Page, limits: ExtractLimits) -> Extraction | None:
    reason = precheck(page, limits)
    if reason == "too_large":
        return _dropped(page, reason, f"more than {limits.max_html_bytes:,} bytes of HTML")
    if reason == "too_many_elements":
        return _dropped(page, reason, f"more than {limits.max_elements:,} elements")
    return None


class _Deadline(BaseException):
    """Raised by the SIGALRM handler; a BaseException so no ``except Exception`` in the
    extractor swallows it."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Deadline


def extract_bounded(
    item: PageItem, limits: ExtractLimits | None = None, plans: Any = None
) -> Extraction:
    """Extract one page within ``limits``; any failure becomes a dropped :class:`Extraction`.
    ``plans``: a :class:`crawlers.clean.extract.SitePlans` kept across the calls of one
    process (the passes each site needs), or None for every pass on every page. A line of a
    pages file that cannot be decoded raises: it is no page, and no page can be dropped."""
    from crawlers.clean import extract_page  # trafilatura: loaded where pages are cleaned

    try:
        page = as_page(item)
    except UnreadablePage as exc:
        return _unreadable(exc)
    limits = limits or ExtractLimits()
    refused = _precheck_result(page, limits)
    if refused is not None:
        return refused
    timed = threading.current_thread() is threading.main_thread() and limits.seconds > 0
    previous: Any = None
    earlier = (0.0, 0.0)
    started = time.monotonic()
    if timed:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        earlier = signal.setitimer(signal.ITIMER_REAL, limits.seconds)
    try:
        return Extraction(page.source, page.url, extract_page(page, plans))
    except _Deadline:
        return _dropped(page, "extraction_timeout", f"extraction took over {limits.seconds:g}s")
    except Exception as exc:  # noqa: BLE001 - one malformed page must not stop the run
        return _dropped(page, "extraction_error", f"{type(exc).__name__}: {exc}")
    finally:
        if timed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            if earlier[0] > 0:  # the caller's own alarm (pytest-timeout, say), re-armed
                left = earlier[0] - (time.monotonic() - started)
                signal.setitimer(signal.ITIMER_REAL, max(0.001, left), earlier[1])


_WARM_UP = (
    "<html><head><title>Warm-up</title></head><body><article><h1>Warm-up</h1>"
    + "<p>The extractor loads what it needs on its first page, not under a deadline.</p>" * 5
    + "</article></body></html>"
)
STARTUP_SECONDS = 120.0  # for a worker to import the extractor and clean its warm-up page


def warm_up(limits: ExtractLimits | None = None) -> None:
    """Load the extractor and clean a small page: trafilatura loads some of what it needs on
    its first call, which then is not timed against a page's deadline."""
    from datetime import UTC, datetime

    url = "https://warm-up.invalid/"
    page = Page(
        url=url, final_url=url, source="warm-up", status=200, fetched_at=datetime.now(UTC),
        html=_WARM_UP,
    )  # fmt: skip
    extract_bounded(page, limits or ExtractLimits())


def _serve(conn: Connection, limits: ExtractLimits, kept_plans: dict[str, Any] | None) -> None:
    """A worker process: extract the pages sent to it, one at a time, until told to stop.
    It first warms the extractor up (:func:`warm_up`; done already when the fork server it
    came from has), then says it is ready: deadlines time pages, not start-up.
    ``kept_plans``: the sites' plans known when it started (SitePlans.export)."""
    warm_up(limits)
    # What each site's pages have shown about the passes they need: learned from this
    # worker's pages and from the notes of the others, which each job brings along.
    plans = SitePlans(share=True)
    plans.load(kept_plans)
    with contextlib.suppress(EOFError, KeyboardInterrupt, BrokenPipeError):
        conn.send("ready")
        while (job := conn.recv()) is not None:
            seq, item, notes = job
            plans.learn_from(notes)
            try:
                page = as_page(item)
            except UnreadablePage as exc:  # the line is sound: a drop like any other
                conn.send((_packed(seq, _unreadable(exc)), ()))
                continue
            except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises
                conn.send(((seq, _Failed(ValueError(f"unreadable page record: {exc}"))), ()))
                continue
            result = _packed(seq, extract_bounded(page, limits, plans))
            conn.send((result, plans.take_notes()))


# An extraction crosses back to the parent as (seq, source, url, the values of its Extracted's
# fields): unpickling a tuple of values and filling a new object's __dict__ from it takes
# about half the time of unpickling the object (its field names, then a dict, per page).
# Anything else (a drop, a failure, an Extracted with other attributes) as (seq, result).
@functools.cache
def _extracted_fields() -> tuple[Any, tuple[str, ...]]:
    """The Extracted class and its field names (crawlers.clean loads trafilatura: imported
    by the processes that clean, not by every command that reads flows.config)."""
    from crawlers.clean.extracted import Extracted

    return Extracted, tuple(f.name for f in dataclasses.fields(Extracted))


def _packed(seq: int, result: Extraction) -> tuple[Any, ...]:
    extracted = result.extracted
    cls, names = _extracted_fields()
    if result.reason is None and type(extracted) is cls and tuple(vars(extracted)) == names:
        return (seq, result.source, result.url, tuple(vars(extracted).values()))
    return (seq, result)


def _unpacked(message: tuple[Any, ...]) -> Any:
    if len(message) == 2:
        return message[1]
    _, source, url, values = message
    cls, names = _extracted_fields()
    extracted = cls.__new__(cls)
    extracted.__dict__.update(zip(names, values, strict=True))
    return Extraction(source, url, extracted)


@dataclass
class _Worker:
    process: Any  # multiprocessing.Process
    conn: Connection
    jobs: collections.deque[tuple[int, PageItem]] = field(default_factory=collections.deque)
    deadline: float = 0.0
    # The other workers' plan notes (SitePlans.take_notes) not yet sent to this one: they go
    # with its next job.
    notes: list[Any] = field(default_factory=list)


# Plan notes held for a worker at most (the newest kept): a worker takes its notes with every
# page, so only one stuck on a page until its deadline comes near this.
MAX_HELD_NOTES = 1000
# Pages a worker holds at once: the one it cleans and the next, waiting in its pipe, so it
# goes on without waiting for the parent to read its result and send it another. Pages are
# still cleaned one at a time, each under its own deadline, which starts when the one before
# it is answered; a worker that dies or is killed costs only the page it was cleaning, and
# the next is sent to another.
DEPTH = 2


# Pools of this process that have started workers and are not closed: the last to close stops
# the fork server (_stop_fork_server).
_open_pools = 0
_open_pools_lock = threading.Lock()


def _stop_fork_server() -> None:
    """Stop this process's multiprocessing fork server and wait for it to exit, so that nothing
    of the extraction outlives its pools, and the workers' CPU time counts in this process's
    children (as ``wait4`` and ``time`` report them), as spawned workers' did. multiprocessing
    has no public call for it: ``ForkServer._stop`` is what its own tests use (Python 3.11 to
    3.13); where it is missing, the server stays until this process exits, as it would."""
    from multiprocessing import forkserver

    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if stop is not None:
        stop()


# What a worker loads before its first page (the extractor, warmed up on a small page): loaded
# once by the fork server, whose forked children (the workers, and any started in place of a
# lost one) have it in memory at once.
WORKER_PRELOAD = ["flows.extraction_preload"]


class ExtractionPool:
    """``workers`` extraction processes, each cleaning one page at a time with the next one
    waiting (``DEPTH``), so a stuck one costs only its page. They are forked from
    multiprocessing's fork server (not from the parent, which runs threads that fork does not
    copy safely), which has loaded the extractor once: a worker starts without importing it
    again.

    The workers learn per site which trafilatura passes it needs (SitePlans) and pass what
    they learn to each other through the pool, which keeps it too: ``plans`` are the plans
    an earlier run learned (SitePlans.export), :meth:`learned_plans` those of the sites this
    pool's pages taught, for the next run."""

    def __init__(
        self,
        workers: int,
        limits: ExtractLimits | None = None,
        plans: dict[str, Any] | None = None,
    ) -> None:
        self.size = max(1, workers)
        self.limits = limits or ExtractLimits()
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(WORKER_PRELOAD)
        self._workers: list[_Worker] = []
        self.replaced = 0  # workers killed or lost, and started again
        self.notes_passed = 0  # plan notes passed from one worker to the others
        self._plans = SitePlans()  # every worker's notes, over the plans kept from before
        self._plans.load(plans)
        self._open = False  # counted in _open_pools: workers started, not closed yet

    def learned_plans(self) -> dict[str, Any]:
        """The plans of the sites this pool's workers cleaned pages of with every pass."""
        return self._plans.export(learned_only=True)

    def _start(self) -> _Worker:
        global _open_pools
        if not self._open:
            with _open_pools_lock:
                _open_pools += 1
            self._open = True
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(
            target=_serve,
            args=(child, self.limits, self._plans.export()),  # a replacement knows it all
            name="newsdedup-extract",
            daemon=True,
        )
        process.start()
        child.close()
        return _Worker(process, parent)

    def _ready(self, worker: _Worker) -> _Worker:
        """Wait until ``worker`` has loaded the extractor (see :func:`_serve`)."""
        try:
            if worker.conn.poll(STARTUP_SECONDS) and worker.conn.recv() == "ready":
                return worker
        except (EOFError, OSError):
            pass
        self._stop(worker, kill=True)
        raise RuntimeError(
            f"an extraction worker did not start (exit {worker.process.exitcode}) "
            f"within {STARTUP_SECONDS:g}s"
        )

    def _stop(self, worker: _Worker, kill: bool) -> None:
        if kill:
            worker.process.kill()
        else:
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send(None)
        worker.process.join(timeout=None if kill else 5)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        worker.conn.close()

    def __enter__(self) -> ExtractionPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> list[int]:
        """Start the worker processes (done by :meth:`map` when needed); their pids."""
        if not self._workers:
            started = [self._start() for _ in range(self.size)]  # they load side by side
            self._workers = [self._ready(w) for w in started]
        return [w.process.pid for w in self._workers]

    def close(self) -> None:
        """Stop the workers; the fork server too when no other pool of this process is open."""
        global _open_pools
        workers, self._workers = self._workers, []
        for worker in workers:
            self._stop(worker, kill=bool(worker.jobs))
        if self._open:
            self._open = False
            with _open_pools_lock:
                _open_pools -= 1
                if _open_pools == 0:
                    _stop_fork_server()

    def map(self, pages: Iterable[PageItem], window: int = 256) -> Iterator[Extraction]:
        """The extraction of every page, in input order. At most ``window`` pages are taken
        from ``pages`` ahead of the one yielded next, so memory stays bounded however many
        pages come. ``pages`` may block (a feed of crawls still running): a thread reads it,
        so the workers' deadlines are watched all the same. A line of a pages file that
        cannot be decoded raises ValueError."""
        self.start()
        feed = _Feed(pages, high=FEED_AHEAD, low=FEED_REFILL)
        waiter = _Waiter()
        next_seq = 0  # sequence number of the next page taken from the input
        emit = 0  # sequence number of the next result to yield
        done: dict[int, Extraction | _Failed] = {}
        queued: list[tuple[int, PageItem]] = []
        room = self.size * DEPTH  # pages queued for the workers at most
        try:
            while True:
                # Take pages while the window allows; refused pages are done at once.
                while next_seq - emit < window and len(queued) < room:
                    item = feed.take()
                    if item is None:
                        break
                    # A page file's line is checked by the worker, which decodes it.
                    refused = None
                    if isinstance(item, Page):
                        refused = _precheck_result(item, self.limits)
                    if refused is not None:
                        done[next_seq] = refused
                    else:
                        queued.append((next_seq, item))
                    next_seq += 1
                for i, worker in enumerate(self._workers):
                    while len(worker.jobs) < DEPTH and queued:
                        try:
                            worker.conn.send((*queued[0], worker.notes))
                        except (OSError, ValueError):
                            if worker.jobs:
                                break  # its death is seen below, with its page
                            # Died while idle (killed for memory, say): a new one takes the
                            # page on the next round.
                            self._stop(worker, kill=True)
                            self._workers[i] = self._ready(self._start())
                            self.replaced += 1
                            break
                        if not worker.jobs:
                            worker.deadline = self._deadline(time.monotonic())
                        worker.jobs.append(queued.pop(0))
                        worker.notes = []
                while emit in done:
                    result = done.pop(emit)
                    if isinstance(result, _Failed):
                        raise result.exc
                    yield result
                    emit += 1
                busy = [w for w in self._workers if w.jobs]
                if not busy and not queued and feed.exhausted:
                    return
                if not busy and queued:
                    continue  # a worker was just replaced: hand it the page
                can_take = next_seq - emit < window and len(queued) < room
                if can_take and feed.ready():
                    continue
                waitables: list[Any] = [w.conn for w in busy]
                waitables += [w.process.sentinel for w in busy]
                if can_take:
                    waitables.append(feed.bell)
                timeout = (
                    max(0.0, min(w.deadline for w in busy) - time.monotonic()) if busy else None
                )
                ready = waiter.wait(waitables, timeout)
                if feed.bell in ready:
                    feed.quiet()
                self._collect(busy, ready, done, queued)
        finally:
            feed.stop()

    def _deadline(self, started: float) -> float:
        """When a worker that took a page at ``started`` (monotonic) is past saving: its own
        alarm stops the page at ``seconds``; the grace is for a worker that cannot."""
        return started + self.limits.seconds + self.limits.grace_seconds

    def _collect(
        self, busy: list[_Worker], ready: set[Any], done: dict[int, Extraction | _Failed],
        queued: list[tuple[int, PageItem]],
    ) -> None:
        """Results of the workers that answered; drops for those that died or overran."""
        now = time.monotonic()
        for worker in busy:
            seq, item = worker.jobs[0]
            lost = False  # the connection broke: the worker is dead or dying
            if worker.conn in ready:
                try:
                    message, notes = worker.conn.recv()
                except (EOFError, OSError):
                    lost = True
                else:
                    done[message[0]] = _unpacked(message)
                    worker.jobs.popleft()
                    if worker.jobs:  # the next page is the one in hand now
                        worker.deadline = self._deadline(now)
                    if notes:
                        self._pass_notes(worker, notes)
                    continue
            # Not is_alive(): for a forked-server worker that is a poll of its sentinel, which
            # the wait above has just done.
            if worker.process.sentinel in ready or lost:
                worker.process.join()
                code = worker.process.exitcode
                done[seq] = _dropped(
                    as_page(item, body=False),
                    "extraction_crashed",
                    f"extraction worker died (exit {code})",
                )
            elif now >= worker.deadline:
                done[seq] = _dropped(
                    as_page(item, body=False),
                    "extraction_timeout",
                    f"extraction worker stuck past {self.limits.seconds:g}s: killed",
                )
            else:
                continue
            log.warning("%s", done[seq].error)  # type: ignore[union-attr]
            worker.jobs.popleft()
            queued[:0] = worker.jobs  # its other pages go to the next worker free
            worker.jobs.clear()
            self._stop(worker, kill=True)
            self._workers[self._workers.index(worker)] = self._ready(self._start())
            self.replaced += 1

    def _pass_notes(self, origin: _Worker, notes: list[Any]) -> None:
        """Give the other workers what ``origin``'s page showed of its site's passes."""
        for worker in self._workers:
            if worker is not origin:
                worker.notes.extend(notes)
                del worker.notes[:-MAX_HELD_NOTES]
        self.notes_passed += len(notes)
        self._plans.learn_from(notes)


class _Waiter:
    """:func:`multiprocessing.connection.wait` with one poll object kept across the calls:
    ``wait`` builds, fills and closes a selector on every call, which cost the pool's loop
    more than receiving a page's result. Objects are connections, sockets or file
    descriptors (process sentinels); the ones readable, closed or failed are returned."""

    def __init__(self) -> None:
        self._poll = select.poll()
        self._watched: dict[int, Any] = {}  # fd -> the object waited for

    def wait(self, objects: Iterable[Any], timeout: float | None) -> set[Any]:
        wanted = {(o if isinstance(o, int) else o.fileno()): o for o in objects}
        if wanted.keys() != self._watched.keys():
            for fd in self._watched.keys() - wanted.keys():
                self._poll.unregister(fd)
            for fd in wanted.keys() - self._watched.keys():
                self._poll.register(fd, select.POLLIN)
        self._watched = wanted
        # poll() counts milliseconds: rounded up, so a deadline is never woken for early.
        ms = None if timeout is None else max(0, math.ceil(timeout * 1000))
        return {wanted[fd] for fd, _ in self._poll.poll(ms)}


_END = object()
# Pages the feed's thread reads ahead: it fills its buffer to FEED_AHEAD, then sleeps until
# the pool has taken it down to FEED_REFILL, so it wakes once per batch of pages rather than
# once per page (every wake-up is a thread switch the flow process pays for).
FEED_AHEAD = 16
FEED_REFILL = 4


class _Feed:
    """Pages read from an iterable by a thread into a small buffer; ``bell`` (a socket the
    pool's loop waits on with its workers) becomes readable when one arrives while the
    buffer is empty."""

    def __init__(self, pages: Iterable[PageItem], high: int, low: int) -> None:
        self._items: collections.deque[Any] = collections.deque()
        self._room = threading.Condition(threading.Lock())
        self._high = max(1, high)
        self._low = max(0, min(low, self._high - 1))
        self.bell, self._ring = socket.socketpair()
        self.bell.setblocking(False)
        self._stopped = threading.Event()
        self.exhausted = False
        self._thread = threading.Thread(
            target=self._read, args=(pages,), name="newsdedup-extract-feed", daemon=True
        )
        self._thread.start()

    def _put(self, item: Any) -> bool:
        with self._room:
            while len(self._items) >= self._high:
                if self._stopped.is_set():
                    return False
                self._room.wait(0.5)
            if self._stopped.is_set():
                return False
            was_empty = not self._items
            self._items.append(item)
        if was_empty:  # the consumer may be waiting for the bell
            with contextlib.suppress(OSError):
                self._ring.send(b"\0")
        return True

    def _read(self, pages: Iterable[PageItem]) -> None:
        try:
            for page in pages:
                if not self._put(page):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            self._put(_Failed(exc))
            return
        self._put(_END)

    def ready(self) -> bool:
        return not self.exhausted and bool(self._items)

    def take(self) -> PageItem | None:
        """The next page if one is waiting, else None (``exhausted`` tells the end)."""
        if self.exhausted:
            return None
        with self._room:
            if not self._items:
                return None
            item = self._items.popleft()
            if len(self._items) == self._low:
                self._room.notify()
        if item is _END:
            self.exhausted = True
            return None
        if isinstance(item, _Failed):
            self.exhausted = True
            raise item.exc
        return item  # type: ignore[no-any-return]

    def quiet(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while self.bell.recv(4096):
                pass

    def stop(self) -> None:
        self._stopped.set()
        with self._room:
            self._room.notify()
        self.bell.close()
        self._ring.close()


@dataclass
class _Failed:
    exc: BaseException
