"""Known boilerplate lines, kept as data in ``boilerplate.yaml`` and applied line by line."""

from __future__ import annotations

import importlib
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

RULES_FILE = Path(__file__).with_name("boilerplate.yaml")
KINDS = ("line", "tail", "block", "strip")
# A tail marker (comment section) only cuts the rest of the page when it sits this far into the
# text; earlier it is dropped as a single line, so a stray "Comments" heading cannot eat an article.
TAIL_MIN_POSITION = 0.4
# Lines under a "You may also like" heading are headlines: short and without a final full stop.
_BLOCK_LINE_MAX_WORDS = 16
_SENTENCE_END = re.compile(r"[.!?…\"”’)]\s*$")


@dataclass(frozen=True)
class Rule:
    id: str
    lang: str
    reason: str
    kind: str
    regex: re.Pattern[str]


def load_rules(path: Path | str = RULES_FILE) -> tuple[Rule, ...]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    rules = []
    for entry in data["rules"]:
        kind = entry.get("kind", "line")
        if kind not in KINDS:
            raise ValueError(f"rule {entry['id']}: unknown kind {kind!r}")
        rules.append(
            Rule(
                id=entry["id"],
                lang=entry.get("lang", "any"),
                reason=entry["reason"],
                kind=kind,
                regex=re.compile(entry["pattern"], re.IGNORECASE),
            )
        )
    return tuple(rules)


@lru_cache(maxsize=1)
def default_rules() -> tuple[Rule, ...]:
    return load_rules()


_NO_WORD = re.compile(r"[\W_]*")
# A contact address alone on a line is the author's box, not article text. A bare URL is kept:
# articles list links the author wrote out (sources, shop links, references).
_EMAIL_ONLY = re.compile(r"(e-?mail\s*:?\s*)?[\w.+-]+@[\w-]+(\.[\w-]+)+")


_ASCII = tuple(chr(code) for code in range(128))


def _ascii_matching(char_class: str) -> set[str]:
    """The ASCII characters a one-character pattern matches, case ignored as the rules are."""
    regex = re.compile(char_class, re.IGNORECASE)
    return {ch for ch in _ASCII if regex.fullmatch(ch)}


try:  # the regex engine's own parser, to read which characters a rule's match can start with
    _sre: Any = importlib.import_module("re._parser")
    _sre_codes: Any = importlib.import_module("re._constants")
except ImportError:  # another Python's private modules: every rule is simply always tried
    _sre = _sre_codes = None


def _parse(pattern: str) -> list | None:
    """The pattern's parse tree, or None where it cannot be read."""
    try:
        return list(_sre.parse(pattern, re.IGNORECASE))
    except Exception:  # noqa: BLE001 - no parse tree: the rule is simply always tried
        return None


def _edge_chars(pattern: str, last: bool = False) -> frozenset[str] | None:
    """The ASCII characters a non-empty match of ``pattern`` can start with (``last``: end
    with), or None when that is not known (``.``, a negated set, a look-around). Read from
    the pattern's parse tree; each character set is probed over ASCII with the regex engine
    itself, so case folding is the engine's own (the Kelvin sign matches "k")."""
    items = _parse(pattern)
    if items is None:
        return None
    c = _sre_codes

    categories = {
        c.CATEGORY_DIGIT: r"\d", c.CATEGORY_NOT_DIGIT: r"\D", c.CATEGORY_SPACE: r"\s",
        c.CATEGORY_NOT_SPACE: r"\S", c.CATEGORY_WORD: r"\w", c.CATEGORY_NOT_WORD: r"\W",
    }  # fmt: skip

    def one_char(op: object, arg: Any) -> set[str] | None:
        if op is c.LITERAL:
            return _ascii_matching(re.escape(chr(arg)))
        if op is c.RANGE:
            low, high = arg
            return _ascii_matching(f"[{re.escape(chr(low))}-{re.escape(chr(high))}]")
        if op is c.CATEGORY and arg in categories:
            return _ascii_matching(categories[arg])
        return None

    def edge(seq: Any) -> tuple[set[str] | None, bool]:  # (edge characters, may be empty)
        found: set[str] = set()
        for op, arg in reversed(list(seq)) if last else seq:
            sub: set[str] | None
            if op is c.LITERAL:
                sub, empty = one_char(op, arg), False
            elif op is c.IN:
                sub, empty = set(), False
                for kind, value in arg:
                    chars = one_char(kind, value)
                    if chars is None:  # NEGATE among them, or a set this code does not read
                        return None, False
                    sub |= chars
            elif op is c.AT:  # \b, ^, $: no character
                continue
            elif op is c.SUBPATTERN:
                sub, empty = edge(arg[3])
            elif op is c.BRANCH:
                sub, empty = set(), False
                for branch in arg[1]:
                    part, part_empty = edge(branch)
                    if part is None:
                        return None, False
                    sub |= part
                    empty = empty or part_empty
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
                sub, empty = edge(arg[2])
                empty = empty or arg[0] == 0
            else:
                return None, False
            if sub is None:
                return None, False
            found |= sub
            if not empty:
                return found, False
        return found, True  # all optional: a non-empty match still has its edge in one of them

    try:
        chars, _ = edge(items)
    except Exception:  # noqa: BLE001 - a parse tree this code does not read: try the rule always
        return None
    return frozenset(chars) if chars is not None else None


def _anchored_at_end(pattern: str) -> bool:
    """Whether every match of ``pattern`` ends the line (it ends in ``$``)."""
    items = _parse(pattern)
    return items is not None and len(items) > 0 and items[-1] == (_sre_codes.AT, _sre_codes.AT_END)


class RuleIndex:
    """The rules worth trying on a line. Each rule is a compiled pattern of its own (one
    alternation of all of them was measured 2.3x slower: the regex engine's fast checks on
    a pattern's start are per pattern), and most rules begin and end with a word or a
    known sign, so a line is tried only against the rules that can start with its first
    character and end with its last one, in the rules' order. Characters beyond ASCII, and
    rules whose edges are not known, are always tried."""

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        line_rules = [
            (r, _edge_chars(r.regex.pattern, last=True)) for r in rules if r.kind != "strip"
        ]
        starts = [_edge_chars(r.regex.pattern) for r, _ in line_rules]
        self.all = tuple(line_rules)
        self.by_char = {
            chr(code): tuple(
                entry for entry, chars in zip(line_rules, starts, strict=True)
                if chars is None or chr(code) in chars
            )
            for code in range(128)
        }  # fmt: skip
        # A strip rule cuts a line's end: tried only when the line can end as it does.
        self.strips = tuple(
            (r, _edge_chars(r.regex.pattern, last=True) if _anchored_at_end(r.regex.pattern)
             else None)
            for r in rules if r.kind == "strip"
        )  # fmt: skip

    def match(self, line: str) -> Rule | None:
        """The first whole-line rule ``line`` matches."""
        first, end = line[:1], line[-1:]
        candidates = self.by_char.get(first, self.all) if first.isascii() else self.all
        any_end = not end.isascii()
        for rule, ends in candidates:
            if (any_end or ends is None or end in ends) and rule.regex.fullmatch(line):
                return rule
        return None

    def strip(self, text: str, hits: Counter[str]) -> str:
        """``text`` with the strip rules' matches cut out, each counted in ``hits``."""
        for rule, ends in self.strips:
            end = text[-1:]
            if ends is not None and end.isascii() and end not in ends:
                continue
            stripped = rule.regex.sub("", text)
            if stripped != text:
                hits[rule.id] += 1
                text = stripped
        return text


@lru_cache(maxsize=1)
def default_index() -> RuleIndex:
    """The index of :func:`default_rules`, built once per process."""
    return RuleIndex(default_rules())


def remove_boilerplate(
    lines: list[str], rules: tuple[Rule, ...] | None = None
) -> tuple[list[str], Counter[str]]:
    """Drop lines matching a known boilerplate rule. Returns kept lines and rule-id counts.
    Other ``rules`` than the default are indexed on each call."""
    index = default_index() if rules is None else RuleIndex(rules)
    total = sum(len(x) for x in lines) or 1
    seen = 0
    kept: list[str] = []
    hits: Counter[str] = Counter()
    in_block = False
    for line in lines:
        seen += len(line)
        text = line.strip()
        if not text:
            continue
        if _NO_WORD.fullmatch(text):
            hits["no-text"] += 1
            continue
        if _EMAIL_ONLY.fullmatch(text):
            hits["email-only"] += 1
            continue
        # A table cell row as trafilatura writes it ("| caption |"): match what is inside.
        rule = index.match(text.strip("| ") if text.startswith("|") else text)
        if rule is None:
            if (
                in_block
                and len(text.split()) <= _BLOCK_LINE_MAX_WORDS
                and not _SENTENCE_END.search(text)
            ):
                hits["block-item"] += 1
                continue
            in_block = False
            text = index.strip(text, hits)
            if text:
                kept.append(text)
            continue
        hits[rule.id] += 1
        in_block = rule.kind == "block"
        if rule.kind == "tail" and (seen - len(line)) / total >= TAIL_MIN_POSITION:
            break
    return kept, hits
