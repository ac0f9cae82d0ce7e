"""crawlers.heap: the collector settings of the crawl and flow processes, checked in a fresh
interpreter (the test process's own collector is left as it is)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PROBE = r"""
import gc, json, weakref
from crawlers import heap

before = gc.get_threshold()
heap.settle()
frozen = gc.get_freeze_count()
after = gc.get_threshold()
extra = [[i] for i in range(1000)]  # alive after the first call: not frozen by a second one
heap.settle()
frozen_again = gc.get_freeze_count()


class Node:
    pass


a, b = Node(), Node()
a.other, b.other = b, a  # a cycle made after start-up: still garbage the collector frees
gone = weakref.ref(a)
del a, b
gc.collect()
print(json.dumps({
    "before": before, "after": after, "frozen": frozen, "frozen_again": frozen_again,
    "cycle_collected": gone() is None,
}))
"""


def _probe() -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_settle_freezes_startup_and_raises_the_young_threshold_once():
    from crawlers.heap import YOUNG_THRESHOLD

    got = _probe()
    assert got["after"][0] == YOUNG_THRESHOLD
    assert got["after"][1:] == got["before"][1:]  # the older generations as they were
    assert got["frozen"] > 1_000  # the interpreter's and the imports' objects
    assert got["frozen_again"] == got["frozen"]  # a second call changes nothing
    assert got["cycle_collected"]
