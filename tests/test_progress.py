"""A run shows its progress on one status line at a terminal, and nothing more elsewhere."""

from __future__ import annotations

import io
import logging
import os
import pty
import time

from flows import progress
from flows.progress import StatusLine


def _read_all(fd: int) -> str:
    os.set_blocking(fd, False)
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except (BlockingIOError, OSError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


def test_status_line_on_a_terminal_replaces_info_lines():
    leader, follower = pty.openpty()
    stream = open(follower, "w", encoding="utf-8", closefd=True)  # noqa: SIM115
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("newsdedup.test-progress")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        assert StatusLine.wanted(stream)
        with StatusLine(stream, handlers=[handler]):
            progress.report(stage="crawl", sources=8, sources_done=0, fetched=0)
            progress.add(sources_done=3, fetched=12)
            progress.add(extracted=5)
            logger.info("an info line the status line stands for")
            logger.warning("a warning still shows")
            progress.report(stage="publish")
            time.sleep(0.1)
        out = _read_all(leader)
    finally:
        logger.removeHandler(handler)
        stream.close()
        os.close(leader)
    assert "[crawl] sources 0/8 crawled" in out
    assert "[publish] sources 3/8 crawled, 12 pages fetched, 5 extracted" in out
    assert "[publish]" in out and "\r\x1b[K" in out
    assert "a warning still shows" in out and "an info line" not in out
    assert handler.level == logging.NOTSET and not handler.filters  # put back


def test_no_status_line_off_a_terminal():
    assert not StatusLine.wanted(io.StringIO())
    progress.report(stage="crawl")  # without a listener: nothing happens
