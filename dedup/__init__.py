"""Near-duplicate (reprint) detection: text in, decisions out, plus a saved index.

Imports neither Scrapy nor Prefect.
"""

from dedup.config import SCHEME, DedupConfig
from dedup.index import IndexConfigError, ReprintIndex, dedup_batch
from dedup.model import Decision, Document

__all__ = [
    "SCHEME",
    "DedupConfig",
    "Decision",
    "Document",
    "IndexConfigError",
    "RedisReprintIndex",
    "ReprintIndex",
    "dedup_batch",
]


def __getattr__(name: str):  # the Redis client is imported only when asked for
    if name == "RedisReprintIndex":
        from dedup.redis_index import RedisReprintIndex

        return RedisReprintIndex
    raise AttributeError(name)
