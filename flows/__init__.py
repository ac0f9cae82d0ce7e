"""Orchestration, storage and reading for newsdedup.

``from flows import read_articles`` reads published stories (a pyarrow Table) from a local
output root or ``s3://bucket/prefix``, only from committed runs.
"""

from typing import Any

__all__ = ["list_runs", "read_articles", "read_duplicates", "read_rejected", "read_table", "stats"]


def __getattr__(name: str) -> Any:  # imported on first use: the CLI starts faster
    if name in __all__:
        from flows import read

        return getattr(read, name)
    raise AttributeError(name)
