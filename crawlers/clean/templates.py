"""Per-site template learning: lines that repeat across many pages of one site are template.

Line-level deduplication as in CCNet and Dolma, but per site and with memory across runs: for
every site we keep how many pages we have seen and, for each normalised line, on how many of
those pages it appeared. A line is template when it appeared on at least ``min_pages`` pages
*and* on at least ``min_share`` of the site's pages, so a sentence that two articles share
because one quotes the other stays.

A page counts once: each site remembers the keys (URL hashes) of the pages it counted, a rolling
window of the most recent ``MAX_SEEN_PER_SITE``, so an article refetched in a later run (a
feed that still lists it, an updated story) does not count its lines again and push them
towards the template threshold.
"""

from __future__ import annotations

import json
import re
import zlib
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import xxhash

from crawlers.wordcount import ascii_table

STATE_VERSION = 2
# Halve all counts once a site has this many pages counted: old templates fade out after a
# redesign, and the state of a site stays bounded.
DECAY_AT_PAGES = 2000
# Keep at most this many line hashes per site (the most frequent ones).
MAX_LINES_PER_SITE = 50_000
# Remember this many counted page keys per site (about 20 bytes each in the stored state).
MAX_SEEN_PER_SITE = 10_000

_DIGITS = re.compile(r"\d+")
_NON_WORD = re.compile(r"[^\w]+")


def page_key(url: str) -> str:
    """Key of a counted page: a hash of its canonical URL without the fragment."""
    return xxhash.xxh64_hexdigest(url.split("#", 1)[0].strip().encode("utf-8"))


# ASCII digits as "0" and other non-word characters as spaces (line_key's ASCII path).
_ASCII_KEY = ascii_table(
    {c: ("0" if c.isdigit() else " ") for c in map(chr, range(128)) if not c.isalpha() and c != "_"}
)


def line_key(line: str) -> str:
    """Hash of a line normalised as CCNet does: lower case, digits to 0, punctuation out."""
    low = line.lower()
    if low.isascii():
        # The same normal form without the regex engine: every digit a 0 and every other
        # non-word character a space, then runs of 0s (only digits give 0s) and of spaces
        # made one; ASCII, so its bytes are its UTF-8.
        norm = low.encode("ascii").translate(_ASCII_KEY)
        while b"00" in norm:
            norm = norm.replace(b"00", b"0")
        return xxhash.xxh64_hexdigest(b" ".join(norm.split()))
    return xxhash.xxh64_hexdigest(_NON_WORD.sub(" ", _DIGITS.sub("0", low)).strip().encode())


@dataclass
class SiteStats:
    pages: int = 0
    lines: Counter[str] = field(default_factory=Counter)
    # Keys of the pages counted, oldest first (an ordered set: values are unused).
    seen: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def remember(self, key: str) -> bool:
        """Record a page key; False when the page was counted before."""
        if key in self.seen:
            self.seen.move_to_end(key)
            return False
        self.seen[key] = None
        while len(self.seen) > MAX_SEEN_PER_SITE:
            self.seen.popitem(last=False)
        return True


class TemplateState:
    """Line statistics per site, kept across runs (the caller stores ``to_bytes()``), and
    the cleaning plans the extraction workers learned per site (``plans``, in the form of
    ``crawlers.clean.plans.SitePlans.export``)."""

    def __init__(
        self, sites: dict[str, SiteStats] | None = None, plans: dict[str, Any] | None = None
    ) -> None:
        self.sites: dict[str, SiteStats] = sites or {}
        self.plans: dict[str, Any] = plans or {}

    @classmethod
    def empty(cls) -> TemplateState:
        return cls()

    def to_bytes(self) -> bytes:
        data = {
            "version": STATE_VERSION,
            "sites": {
                site: {"pages": s.pages, "lines": dict(s.lines), "seen": list(s.seen)}
                for site, s in self.sites.items()
            },
        }
        if self.plans:
            data["plans"] = self.plans
        return zlib.compress(json.dumps(data, sort_keys=True).encode("utf-8"), 6)

    @classmethod
    def from_bytes(cls, blob: bytes) -> TemplateState:
        if not blob:
            return cls.empty()
        data = json.loads(zlib.decompress(blob).decode("utf-8"))
        # Version 1 had no page keys: its counts stay valid, only the memory of pages is new.
        if data.get("version") not in (1, STATE_VERSION):
            return cls.empty()  # an unknown format is safe to forget: it only costs re-learning
        return cls(
            {
                site: SiteStats(
                    pages=int(s["pages"]),
                    lines=Counter(s["lines"]),
                    seen=OrderedDict.fromkeys(s.get("seen", [])),
                )
                for site, s in data["sites"].items()
            },
            plans=data["plans"] if isinstance(data.get("plans"), dict) else None,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TemplateState) and self.sites == other.sites

    def add_line_keys(self, site: str, pages: Mapping[str, Iterable[str]]) -> int:
        """Count each page's distinct lines into the site's statistics. ``pages`` maps page
        URLs to their lines' :func:`line_key` values (the caller filters the lines by the
        same keys); a page counted before, in this run or an earlier one, is skipped.
        Returns how many pages were counted."""
        stats = self.sites.setdefault(site, SiteStats())
        new = [keys for url, keys in pages.items() if stats.remember(page_key(url))]
        for keys in new:
            stats.pages += 1
            stats.lines.update(set(keys))
        if stats.pages >= DECAY_AT_PAGES:
            stats.pages //= 2
            stats.lines = Counter({k: v // 2 for k, v in stats.lines.items() if v >= 2})
        if len(stats.lines) > MAX_LINES_PER_SITE:
            stats.lines = Counter(dict(stats.lines.most_common(MAX_LINES_PER_SITE)))
        return len(new)

    def template_keys(self, site: str, min_pages: int, min_share: float) -> set[str]:
        stats = self.sites.get(site)
        if stats is None or stats.pages == 0:
            return set()
        need = max(min_pages, min_share * stats.pages)
        return {k for k, n in stats.lines.items() if n >= need}
