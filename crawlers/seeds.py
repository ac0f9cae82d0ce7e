"""Seeds files: the list of news sources to crawl, validated strictly.

A seeds file is YAML with a ``sources`` list (and optional ``settings``). Every error names
the file and the field, e.g. ``seeds/news.yaml: sources[2].feeds[0]: not an http(s) URL``.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
AGE_RE = re.compile(r"^(\d+)\s*([smhdw])$")
AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

SOURCE_KEYS = {
    "name",
    "feeds",
    "sitemaps",
    "start_urls",
    "allow",
    "deny",
    "max_pages",
    "max_age",
    "max_depth",
    "follow_links",
    "priority",
    "languages",
    "min_words",
}
TOP_KEYS = {"sources", "settings"}

# A seeds file is small data written by people. Anchors and aliases are allowed (a shared
# deny list, say), but what they expand to is bounded, so a few hundred bytes of nested
# aliases (a "billion laughs" file) are refused at once instead of taking gigabytes.
MAX_SEEDS_BYTES = 10 * 1024 * 1024
MAX_EXPANDED_NODES = 100_000  # YAML nodes of the document with every alias expanded
MAX_EXPANDED_CHARS = 10_000_000  # characters of its scalars, likewise
MAX_NESTING = 50  # a seeds file needs about 4 levels


def show_value(value: Any) -> str:
    """A user's value for an error message: its repr, cut short (never the whole of a large
    or deeply nested value)."""
    short = reprlib.Repr()
    short.maxlevel, short.maxstring, short.maxother = 2, 60, 60
    short.maxlist = short.maxtuple = short.maxdict = short.maxset = 3
    text = short.repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader that measures the composed document before building any Python
    object: too deep, too large once aliases are expanded, or recursive is refused."""

    def compose_document(self) -> Any:
        node = super().compose_document()
        _measure(node)
        return node


class _TooBig(ValueError):
    pass


def _measure(root: yaml.Node | None) -> None:
    """Raise :class:`_TooBig` when ``root`` expanded exceeds the bounds. Shared nodes (aliases)
    are measured once and counted at every use, so the walk is as long as the file."""
    memo: dict[int, tuple[int, int]] = {}
    active: set[int] = set()

    def size(node: yaml.Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in memo:
            return memo[key]
        if key in active:
            raise _TooBig("an alias refers to a node that contains it (a recursive structure)")
        if depth > MAX_NESTING:
            raise _TooBig(f"nested more than {MAX_NESTING} levels deep")
        active.add(key)
        nodes, chars = 1, 0
        if isinstance(node, yaml.ScalarNode):
            chars = len(node.value)
        else:
            children: list[yaml.Node] = []
            if isinstance(node, yaml.SequenceNode):
                children = list(node.value)
            elif isinstance(node, yaml.MappingNode):
                children = [part for pair in node.value for part in pair]
            for child in children:
                n, c = size(child, depth + 1)
                nodes, chars = nodes + n, chars + c
                if nodes > MAX_EXPANDED_NODES or chars > MAX_EXPANDED_CHARS:
                    raise _TooBig(
                        f"its aliases expand it to more than {MAX_EXPANDED_NODES:,} nodes or "
                        f"{MAX_EXPANDED_CHARS:,} characters (an alias bomb?)"
                    )
        active.discard(key)
        memo[key] = (nodes, chars)
        return nodes, chars

    if root is not None:
        size(root, 0)


class SeedsError(ValueError):
    """A seeds file that cannot be used. The message names the file and the field."""

    def __init__(self, path: str | Path, where: str, problem: str) -> None:
        self.path = str(path)
        self.where = where
        self.problem = problem
        super().__init__(f"{path}: {where}: {problem}" if where else f"{path}: {problem}")


@dataclass(frozen=True)
class Source:
    """One news source as declared in a seeds file."""

    name: str
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    start_urls: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()  # regexes; a URL must match one of them when any is given
    deny: tuple[str, ...] = ()  # regexes; a URL matching any of them is skipped
    max_pages: int = 1000
    max_age: timedelta | None = None
    max_depth: int = 3
    follow_links: bool = True
    priority: int = 0  # higher wins when choosing the original among equal candidates
    languages: tuple[str, ...] = ()  # ISO 639-1 codes to keep; empty keeps all
    min_words: int | None = None  # overrides the global quality gate for this source

    @property
    def domains(self) -> set[str]:
        """Host[:port] of every URL the source declares."""
        urls = self.feeds + self.sitemaps + self.start_urls
        return {urlsplit(u).netloc.lower() for u in urls}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "feeds": list(self.feeds),
            "sitemaps": list(self.sitemaps),
            "start_urls": list(self.start_urls),
            "allow": list(self.allow),
            "deny": list(self.deny),
            "max_pages": self.max_pages,
            "max_age": f"{int(self.max_age.total_seconds())}s" if self.max_age else None,
            "max_depth": self.max_depth,
            "follow_links": self.follow_links,
            "priority": self.priority,
            "languages": list(self.languages),
            "min_words": self.min_words,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, path: str = "<dict>", where: str = "") -> Source:
        return _parse_source(data, path, where or "source")


@dataclass(frozen=True)
class Seeds:
    path: str
    sources: tuple[Source, ...]
    settings: dict[str, Any] = field(default_factory=dict)

    def select(self, names: list[str] | tuple[str, ...] | None) -> tuple[Source, ...]:
        """The sources with these names (all when none are given)."""
        if not names:
            return self.sources
        known = {s.name: s for s in self.sources}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SeedsError(
                self.path,
                "sources",
                f"no source named {', '.join(map(repr, unknown))} "
                f"(known: {', '.join(sorted(known))})",
            )
        return tuple(known[n] for n in dict.fromkeys(names))


def load_seeds(path: str | Path) -> Seeds:
    """Read and validate a seeds file; raise :class:`SeedsError` on any problem."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_SEEDS_BYTES:
            raise SeedsError(p, "", f"larger than {MAX_SEEDS_BYTES // 2**20} MB: not a seeds file")
        raw = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SeedsError(p, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedsError(p, "", f"cannot read: {exc}") from None
    return parse_seeds(raw, p)


def parse_seeds(raw: str, path: str | Path = "<string>") -> Seeds:
    try:
        doc = yaml.load(raw, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except _TooBig as exc:
        raise SeedsError(path, "", f"refused: {exc}") from None
    except RecursionError:
        raise SeedsError(path, "", f"refused: nested more than {MAX_NESTING} levels deep") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SeedsError(path, where, f"not valid YAML: {problem}") from None
    if not isinstance(doc, dict):
        raise SeedsError(path, "", "must be a mapping with a 'sources' list")
    for key in doc:
        if key not in TOP_KEYS:
            raise SeedsError(
                path, _key(key), f"unknown key (allowed: {', '.join(sorted(TOP_KEYS))})"
            )
    sources_raw = doc.get("sources")
    if not isinstance(sources_raw, list) or not sources_raw:
        raise SeedsError(path, "sources", "must be a non-empty list of sources")
    settings = doc.get("settings") or {}
    if not isinstance(settings, dict):
        raise SeedsError(path, "settings", "must be a mapping")
    sources = []
    seen: dict[str, int] = {}
    for i, item in enumerate(sources_raw):
        src = _parse_source(item, str(path), f"sources[{i}]")
        if src.name in seen:
            raise SeedsError(
                path,
                f"sources[{i}].name",
                f"duplicate name {show_value(src.name)} (also sources[{seen[src.name]}])",
            )
        seen[src.name] = i
        sources.append(src)
    return Seeds(path=str(path), sources=tuple(sources), settings=dict(settings))


def _parse_source(item: Any, path: str, where: str) -> Source:
    if not isinstance(item, dict):
        raise SeedsError(path, where, "must be a mapping")
    for key in item:
        if key not in SOURCE_KEYS:
            raise SeedsError(
                path,
                f"{where}.{_key(key)}",
                f"unknown key (allowed: {', '.join(sorted(SOURCE_KEYS))})",
            )
    name = item.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SeedsError(path, f"{where}.name", f"must match [a-z0-9-]+ (got {show_value(name)})")
    kwargs: dict[str, Any] = {"name": name}
    for key in ("feeds", "sitemaps", "start_urls"):
        kwargs[key] = tuple(_url_list(item.get(key), path, f"{where}.{key}"))
    if not (kwargs["feeds"] or kwargs["sitemaps"] or kwargs["start_urls"]):
        raise SeedsError(path, where, "needs at least one of feeds, sitemaps, start_urls")
    for key in ("allow", "deny"):
        patterns = _str_list(item.get(key), path, f"{where}.{key}")
        for j, pat in enumerate(patterns):
            try:
                re.compile(pat)
            except re.error as exc:
                raise SeedsError(
                    path, f"{where}.{key}[{j}]", f"bad regular expression: {exc}"
                ) from None
        kwargs[key] = tuple(patterns)
    for key, low in (("max_pages", 1), ("max_depth", 0), ("priority", None), ("min_words", 0)):
        if item.get(key) is not None:
            value = item[key]
            if (
                not isinstance(value, int)
                or isinstance(value, bool)
                or (low is not None and value < low)
            ):
                bound = f" >= {low}" if low is not None else ""
                raise SeedsError(
                    path, f"{where}.{key}", f"must be an integer{bound} (got {show_value(value)})"
                )
            kwargs[key] = value
    if item.get("follow_links") is not None:
        if not isinstance(item["follow_links"], bool):
            raise SeedsError(path, f"{where}.follow_links", "must be true or false")
        kwargs["follow_links"] = item["follow_links"]
    if item.get("max_age") is not None:
        kwargs["max_age"] = parse_age(item["max_age"], path, f"{where}.max_age")
    langs = _str_list(item.get("languages"), path, f"{where}.languages")
    for j, lang in enumerate(langs):
        if not re.fullmatch(r"[a-z]{2}", lang):
            raise SeedsError(
                path,
                f"{where}.languages[{j}]",
                f"must be an ISO 639-1 code (got {show_value(lang)})",
            )
    kwargs["languages"] = tuple(langs)
    return Source(**kwargs)


def _key(key: Any) -> str:
    return key if isinstance(key, str) and len(key) <= 80 else show_value(key)


def parse_age(value: Any, path: str = "<value>", where: str = "max_age") -> timedelta:
    """``30d``, ``12h``, ``2w`` or a whole number of days."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return timedelta(days=value)
    if isinstance(value, str):
        m = AGE_RE.match(value.strip())
        if m and int(m.group(1)) > 0:
            return timedelta(**{AGE_UNITS[m.group(2)]: int(m.group(1))})
    raise SeedsError(
        path, where, f"must be a duration like 30d, 12h or 2w (got {show_value(value)})"
    )


def _str_list(value: Any, path: str, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SeedsError(path, where, "must be a list of strings")
    return list(value)


def _url_list(value: Any, path: str, where: str) -> list[str]:
    urls = _str_list(value, path, where)
    for j, url in enumerate(urls):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in url:
            raise SeedsError(path, f"{where}[{j}]", f"not an http(s) URL: {show_value(url)}")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise SeedsError(path, f"{where}[{j}]", f"bad port in URL: {show_value(url)}") from None
    return urls


def split_seen(
    seen: dict[str, dict[str, Any]], sources: Iterable[Source]
) -> dict[str, dict[str, dict[str, Any]]]:
    """The seen-URL store (URL -> validators) split by the source whose site each URL is on,
    in one pass over the store, however many sources."""
    sources = list(sources)
    owners: dict[str, list[str]] = {}
    for src in sources:
        for domain in src.domains:
            owners.setdefault(domain, []).append(src.name)
    split: dict[str, dict[str, dict[str, Any]]] = {src.name: {} for src in sources}
    for url, entry in seen.items():
        for name in owners.get(urlsplit(url).netloc.lower(), ()):
            split[name][url] = entry
    return split
