"""A run's state, read back: the seen URLs, the site templates and the dedup index of the last
state version (flows.state stores them), and the runs that published after it but crashed
before their state commit, replayed into them (``recover_unrecorded_runs``)."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from typing import Any

from crawlers.clean import TemplateState
from dedup import DedupConfig, Document, ReprintIndex
from dedup.redis_segments import RedisSegmentedIndex
from dedup.segments import SegmentedIndex, default_cache_dir
from flows.config import PipelineSettings
from flows.lake import STATE_DEDUP, STATE_SEEN, STATE_TEMPLATES, state_blob_key
from flows.maintenance import published_rows_of, runs_since_state, seen_entries
from flows.state import damaged, load_seen


def open_index(
    blobs: dict[str, bytes], settings: PipelineSettings, output_uri: str, storage: Any = None
) -> Any:
    """The dedup index of this output root: segments under _state/dedup/ (with ``storage``),
    or shared in Redis. The state blob is the segments' manifest; an old whole-index blob is
    migrated to segments by the next commit. ``NEWSDEDUP_DEDUP_STATE=npz`` keeps new and old
    whole-index states in the old format (a state already in segments stays in segments).

    In Redis the keys are named after the output root, so one Redis server can hold the
    dedup state of several roots. The window is the run's; the signature scheme is pinned
    and a saved index made with another one is refused (dedup.IndexConfigError).
    """

    config = DedupConfig(window_days=settings.window_days)
    if settings.redis_url:
        root = hashlib.sha256(output_uri.encode()).hexdigest()[:16]
        if os.environ.get("NEWSDEDUP_REDIS_LAYOUT") == "segments":  # the segments, in Redis
            return RedisSegmentedIndex.connect(
                settings.redis_url,
                f"newsdedup:{root}:segments",
                default_cache_dir(output_uri),
                config,
            )
        from dedup import RedisReprintIndex  # the Redis client: loaded where it is used

        return RedisReprintIndex(settings.redis_url, basename=f"newsdedup:{root}", config=config)
    raw = blobs.get(STATE_DEDUP)
    segmented = os.environ.get("NEWSDEDUP_DEDUP_STATE", "segments") != "npz"
    if storage is not None and (segmented or (raw or b"")[:1] == b"{"):
        return SegmentedIndex.open(storage, raw, default_cache_dir(output_uri), config)
    return ReprintIndex.from_bytes(raw, config=config) if raw else ReprintIndex(config)


def read_state(state: Any, blobs: dict[str, bytes], settings: PipelineSettings) -> Any:
    """The seen URLs, site templates and dedup index of the loaded state; a blob that cannot
    be read is named in a StateError that says how to recover (``newsdedup state repair``)."""

    def blob(name: str, read: Any) -> Any:
        try:
            return read()
        except Exception as exc:  # noqa: BLE001 - any failure to read a blob is damage
            key = state.storage.url_for(state_blob_key(state.version, name))
            raise damaged(state.storage, f"{key} cannot be read: {exc}") from exc

    seen = blob(STATE_SEEN, lambda: load_seen(blobs.get(STATE_SEEN)))
    templates = blob(
        STATE_TEMPLATES, lambda: TemplateState.from_bytes(blobs.get(STATE_TEMPLATES, b""))
    )
    if settings.redis_url:
        index = open_index(blobs, settings, state.storage.uri)  # not in _state/: no repair
    else:
        index = blob(
            STATE_DEDUP, lambda: open_index(blobs, settings, state.storage.uri, state.storage)
        )
    return seen, templates, index


def recover_unrecorded_runs(
    storage: Any, state_version: str | None, seen: dict[str, dict[str, Any]], index: Any
) -> list[str]:
    """Replay committed runs newer than the state into ``seen`` and the dedup index.

    A run that crashed between its manifest and its state commit published stories that the
    state does not know: without this, the next run would fetch and publish them again.
    """

    manifests = runs_since_state(storage, state_version)
    if not manifests:
        return []
    columns = ["article_id", "url", "text", "published_at", "credited_source", "site_name"]
    articles = published_rows_of(storage, manifests, "articles", columns + ["source", "domain"])
    duplicates = published_rows_of(storage, manifests, "duplicates", ["url"])
    for url, entry in seen_entries(
        articles.column("url").to_pylist() + duplicates.column("url").to_pylist()
    ).items():
        seen.setdefault(url, entry)
    docs = [
        Document(
            id=row["article_id"],
            text=row["text"] or "",
            published_at=row["published_at"],
            credited_source=row["credited_source"],
            outlet_names=tuple(n for n in (row["site_name"], row["source"], row["domain"]) if n),
        )
        for row in articles.to_pylist()
    ]
    if docs:
        index.dedup(docs, datetime.now(UTC))
    return [str(m["run_id"]) for m in manifests]
