"""Progress of a run for a person at a terminal: one status line, redrawn in place.

The flow reports what it knows (:func:`report`: the stage, sources crawled, pages fetched and
extracted); :class:`StatusLine` shows it on standard error when that is a terminal. Nothing is
shown otherwise, so logs and CI output stay plain lines.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

_listeners: list[Callable[[dict[str, Any]], None]] = []
_lock = threading.Lock()
_state: dict[str, Any] = {}


def report(**fields: Any) -> None:
    """Merge ``fields`` into the run's progress and tell the listeners (cheap without any)."""
    if not _listeners:
        return
    with _lock:
        _state.update(fields)
        snapshot = dict(_state)
    for listener in list(_listeners):
        listener(snapshot)


def add(**fields: int) -> None:
    """Add to counters of the run's progress."""
    if not _listeners:
        return
    with _lock:
        for name, value in fields.items():
            _state[name] = int(_state.get(name, 0)) + value
    report()


def describe(state: dict[str, Any], seconds: float) -> str:
    parts = []
    if "sources" in state:
        parts.append(f"sources {state.get('sources_done', 0)}/{state['sources']} crawled")
    if "fetched" in state:
        parts.append(f"{state['fetched']} pages fetched")
    if "extracted" in state:
        parts.append(f"{state['extracted']} extracted")
    minutes, secs = divmod(int(seconds), 60)
    parts.append(f"{minutes:d}:{secs:02d}")
    return f"newsdedup: [{state.get('stage', 'starting')}] " + ", ".join(parts)


class _ClearLine(logging.Filter):
    """Clears the status line before a log line is written over it."""

    def __init__(self, line: StatusLine) -> None:
        super().__init__()
        self.line = line

    def filter(self, record: logging.LogRecord) -> bool:
        self.line.clear()
        return True


class StatusLine:
    """Shows the run's progress on ``stream`` while the ``with`` block runs. Only INFO log
    lines are hidden from the terminal meanwhile (warnings and errors still show); the
    Prefect API and log files get everything as before."""

    def __init__(
        self,
        stream: TextIO | None = None,
        quiet_info: bool = True,
        handlers: list[logging.Handler] | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self._given_handlers = handlers
        self.quiet_info = quiet_info
        self.started = time.monotonic()
        self._shown = False
        self._drawn = 0.0
        self._write_lock = threading.Lock()
        self._state: dict[str, Any] = {}
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True, name="newsdedup-progress")
        self._handlers: list[tuple[logging.Handler, int]] = []
        self._filter = _ClearLine(self)

    @staticmethod
    def wanted(stream: TextIO | None = None) -> bool:
        stream = stream or sys.stderr
        try:
            return stream.isatty()
        except (AttributeError, ValueError):
            return False

    def _on_report(self, state: dict[str, Any]) -> None:
        # Counters may change a hundred times a second: redraw at most ten times, and at once
        # when the stage changes.
        stage_changed = state.get("stage") != self._state.get("stage")
        self._state = state
        now = time.monotonic()
        if stage_changed or now - self._drawn >= 0.1:
            self._drawn = now
            self.draw()

    def draw(self) -> None:
        text = describe(self._state, time.monotonic() - self.started)
        with self._write_lock:
            self.stream.write("\r\033[K" + text)
            self.stream.flush()
            self._shown = True

    def clear(self) -> None:
        with self._write_lock:
            if self._shown:
                self.stream.write("\r\033[K")
                self.stream.flush()
                self._shown = False

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            self.draw()

    def _console_handlers(self) -> list[logging.Handler]:
        found = []
        manager = logging.Logger.manager
        loggers = [logging.getLogger()] + [
            lg for lg in manager.loggerDict.values() if isinstance(lg, logging.Logger)
        ]
        for logger in loggers:
            for handler in logger.handlers:
                stream = getattr(handler, "stream", None)
                if stream in (sys.stderr, sys.__stderr__) and handler not in found:
                    found.append(handler)
        return found

    def __enter__(self) -> StatusLine:
        given = self._given_handlers
        for handler in given if given is not None else self._console_handlers():
            self._handlers.append((handler, handler.level))
            if self.quiet_info:
                handler.setLevel(max(handler.level, logging.WARNING))
            handler.addFilter(self._filter)
        _state.clear()
        _listeners.append(self._on_report)
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._ticker.join(timeout=2)
        if self._on_report in _listeners:
            _listeners.remove(self._on_report)
        for handler, level in self._handlers:
            handler.setLevel(level)
            handler.removeFilter(self._filter)
        self.clear()
