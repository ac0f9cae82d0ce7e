"""The cyclic garbage collector set for a long batch process, once its start-up is over.

A crawl process or the flow process imports a large framework (Scrapy and Twisted; Prefect,
pydantic, boto3, pyarrow) and then allocates objects that mostly die young, freed by their
reference counts (requests, responses, Deferreds, page records). With CPython's defaults the
collector runs every 700 net allocations of container objects, and every hundredth run walks
the whole heap, the start-up's hundreds of thousands of objects included, which are never
garbage. Measured on the benchmark network's 5,000 pages (collector callbacks, CPU time):
each crawl process spent about 0.5 s collecting, the flow process 0.7 s, 0.5 s of it in full
collections.

:func:`settle` moves everything alive at the end of start-up out of the collector's sight
(``gc.freeze``: those objects stay, as they would anyway) and lets the young generation grow
to :data:`YOUNG_THRESHOLD` objects before a collection. Cycles are still collected: later
and in bigger batches, a few thousand objects at most waiting, which is no measurable
memory. The extraction workers are left alone: a page's cleaning allocates few container
objects (lxml's trees are not the collector's), and they collected about 10 ms per 1,000
pages.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000  # CPython's default is 700
_settled = False


def settle() -> None:
    """Freeze what start-up left alive and collect the young generation less often. Call it
    when the process has imported what it runs and is about to start its work; only the
    first call does anything (a process running several commands, the tests', keeps its
    later objects collectable)."""
    global _settled
    if _settled:
        return
    _settled = True
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
