"""The one definition of each published table, shared by the writer and the reader.

Evolution rule: columns are only ever *added* (nullable) at the end; never renamed, retyped
or removed. :func:`conform` turns a file written under any earlier version into the current
schema by filling missing columns with nulls, so old files stay readable. Bump
``SCHEMA_VERSION`` whenever a column is added.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from importlib.abc import MetaPathFinder
from typing import Any

import pyarrow as pa

SCHEMA_VERSION = 2  # 2: duplicates gained authors, language, word_count, site_name, reason;
# the table rejected was added

TS = pa.timestamp("us", tz="UTC")

ARTICLES_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("url", pa.string(), nullable=False),
        pa.field("canonical_url", pa.string()),
        pa.field("domain", pa.string()),
        pa.field("source", pa.string()),
        pa.field("title", pa.string()),
        pa.field("authors", pa.list_(pa.string())),
        pa.field("published_at", TS),
        pa.field("fetched_at", TS),
        pa.field("language", pa.string()),
        pa.field("text", pa.string()),
        pa.field("word_count", pa.int32()),
        pa.field("cluster_id", pa.string()),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("credited_source", pa.string()),
        pa.field("section", pa.string()),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("extractor", pa.string()),
        pa.field("site_name", pa.string()),
    ],
    metadata={"newsdedup.table": "articles"},
)

DUPLICATES_SCHEMA = pa.schema(
    [
        pa.field("url", pa.string(), nullable=False),
        pa.field("domain", pa.string()),
        pa.field("source", pa.string()),
        pa.field("title", pa.string()),
        pa.field("text", pa.string()),
        pa.field("cluster_id", pa.string()),
        pa.field("duplicate_of", pa.string()),
        pa.field("similarity", pa.float64()),
        pa.field("fetched_at", TS),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("article_id", pa.string()),
        pa.field("canonical_url", pa.string()),
        pa.field("published_at", TS),
        pa.field("credited_source", pa.string()),
        pa.field("section", pa.string()),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("extractor", pa.string()),
        # version 2
        pa.field("authors", pa.list_(pa.string())),
        pa.field("language", pa.string()),
        pa.field("word_count", pa.int32()),
        pa.field("site_name", pa.string()),
        pa.field("reason", pa.string()),  # canonical | exact | near_duplicate
    ],
    metadata={"newsdedup.table": "duplicates"},
)

# Fetched pages that became neither a story nor a duplicate, and why (version 2).
REJECTED_SCHEMA = pa.schema(
    [
        pa.field("url", pa.string(), nullable=False),
        pa.field("final_url", pa.string()),
        pa.field("domain", pa.string()),
        pa.field("source", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("stage", pa.string()),  # crawl | clean | dedup
        pa.field("title", pa.string()),
        pa.field("word_count", pa.int32()),
        pa.field("canonical_url", pa.string()),
        pa.field("fetched_at", TS),
        pa.field("run_id", pa.string(), nullable=False),
    ],
    metadata={"newsdedup.table": "rejected"},
)

SCHEMAS: dict[str, pa.Schema] = {
    "articles": ARTICLES_SCHEMA,
    "duplicates": DUPLICATES_SCHEMA,
    "rejected": REJECTED_SCHEMA,
}
TABLES = tuple(SCHEMAS)
# Rows in a file are ordered by these columns: equal input gives byte-equal files (which makes
# a re-publish recognisable) and a source filter prunes row groups.
SORT_KEYS: dict[str, list[str]] = {
    "articles": ["source", "article_id"],
    "duplicates": ["source", "duplicate_of", "url"],
    "rejected": ["source", "reason", "url"],
}


def schema_for(table: str) -> pa.Schema:
    try:
        return SCHEMAS[table]
    except KeyError:
        raise ValueError(f"unknown table {table!r}; known: {', '.join(TABLES)}") from None


def _to_utc(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime or ISO string, got {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _column(values: list[Any], type_: pa.DataType) -> list[Any]:
    """A column's values as the schema takes them: timestamps in UTC, lists (never None)."""
    if pa.types.is_timestamp(type_):
        return [_to_utc(v) for v in values]
    if pa.types.is_list(type_):
        return [list(v) if v is not None else [] for v in values]
    return values


class _PandasHeldBack(MetaPathFinder):
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError(f"{name} held back while Arrow starts (flows.schema)")
        return None


@functools.cache
def _start_arrow() -> None:
    """Convert this process's first Python values to Arrow with pandas held back.

    pyarrow asks for pandas the first time it converts Python values (to tell pandas objects
    from others) and imports it: 0.14 s of CPU and 39 MB in the flow process (with NumPy
    loaded already; 0.4 s alone), which never hands Arrow a pandas object. Refused then, it
    goes on without, for good; ``Table.to_pandas`` and pyarrow's other pandas conversions
    still import pandas when they are called. Where pandas is loaded already, nothing is
    held back."""
    if "pandas" in sys.modules:
        return
    finder = _PandasHeldBack()
    sys.meta_path.insert(0, finder)
    try:
        pa.array(["start"])
    finally:
        sys.meta_path.remove(finder)


def rows_to_table(table: str, rows: Iterable[Mapping[str, Any] | Any]) -> pa.Table:
    """Build a table in the published schema from dicts (``Article.to_dict()`` and the like).

    Records with a ``to_dict()`` (:class:`crawlers.records.Article`) are accepted too.
    Unknown keys are ignored, missing keys become nulls (empty lists for list columns),
    datetimes and ISO strings become UTC timestamps. A missing required field (``article_id``,
    ``url``, ``run_id``) raises, so a bad row fails the publish instead of landing.
    """
    _start_arrow()
    schema = schema_for(table)
    dicts = [r.to_dict() if hasattr(r, "to_dict") else r for r in rows]
    # Column by column: one pass and one Arrow conversion per column, not a dict per row.
    columns = [_column([r.get(f.name) for r in dicts], f.type) for f in schema]
    for f, values in zip(schema, columns, strict=True):
        if not f.nullable:
            for i, value in enumerate(values):
                if value is None:
                    raise ValueError(f"{table} row {i}: required column {f.name!r} is missing")
    arrays = [pa.array(values, type=f.type) for f, values in zip(schema, columns, strict=True)]
    return pa.Table.from_arrays(arrays, schema=schema)


def conform(table: pa.Table, name: str, columns: list[str] | None = None) -> pa.Table:
    """Cast a table read from any schema version to the current schema (or the given columns):
    missing columns become nulls, columns the schema does not know are dropped."""
    schema = schema_for(name)
    wanted = columns if columns is not None else schema.names
    arrays = []
    fields = []
    for col in wanted:
        if col not in schema.names:
            raise ValueError(f"unknown column {col!r} for table {name!r}")
        f = schema.field(col)
        if col in table.column_names:
            arr = table.column(col)
            if arr.type != f.type:
                arr = arr.cast(f.type)
        else:
            arr = pa.nulls(table.num_rows, f.type)
        arrays.append(arr)
        # Old files may hold nulls the current field forbids: keep the reader lenient.
        fields.append(f.with_nullable(True))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=schema.metadata))
