"""Known-boilerplate rules: every junk class of the issue is covered in English and Indonesian
by data rules, and article sentences that share their words survive."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crawlers.clean.boilerplate import _edge_chars, default_rules, load_rules, remove_boilerplate

CASES = yaml.safe_load(
    (Path(__file__).parent / "fixtures" / "clean" / "junk_lines.yaml").read_text(encoding="utf-8")
)
JUNK = [
    pytest.param(line, id=f"{cls}-{lang}-{i}")
    for cls, spec in CASES["classes"].items()
    for lang in ("en", "id")
    for i, line in enumerate(spec[lang])
]
KEEP = [
    pytest.param(line, id=f"{lang}-{i}")
    for lang, lines in CASES["keep"].items()
    for i, line in enumerate(lines)
]


def test_every_junk_class_has_english_and_indonesian_examples_and_rules() -> None:
    rules = default_rules()
    for cls, spec in CASES["classes"].items():
        assert spec["en"] and spec["id"], cls
        langs = {r.lang for r in rules if r.reason == spec["reason"]}
        assert langs & {"en", "any"} and langs & {"id", "any"}, (cls, langs)


@pytest.mark.parametrize("line", JUNK)
def test_junk_line_is_removed(line: str) -> None:
    kept, hits = remove_boilerplate([line])
    assert kept == [], hits


@pytest.mark.parametrize("case", CASES["strip"], ids=lambda c: c["line"][:30])
def test_junk_at_a_paragraph_end_is_cut_out(case: dict[str, str]) -> None:
    kept, _ = remove_boilerplate([case["line"]])
    assert kept == [case["kept"]]


@pytest.mark.parametrize("line", KEEP)
def test_article_sentence_is_kept(line: str) -> None:
    kept, hits = remove_boilerplate([line])
    assert kept == [line], hits


def test_rules_file_is_valid_and_ids_are_unique() -> None:
    rules = load_rules()
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids))
    assert all(r.reason and r.lang for r in rules)


def test_a_comment_heading_early_in_the_text_does_not_cut_the_article() -> None:
    body = [
        f"Paragraph {i} of the report, long enough to count as article text here." for i in range(6)
    ]
    kept, _ = remove_boilerplate(["Comments", *body])
    assert kept == body
    kept, _ = remove_boilerplate([*body, "Leave a Reply", "Great post, thanks!"])
    assert kept == body


def test_first_characters_of_a_pattern_are_read_from_its_parse_tree() -> None:

    assert _edge_chars(r"(share|tweet) this") == set("sStT")
    # Optional parts: the first character can come from any of them or from what follows.
    assert _edge_chars(r"\(?\s*visited \d+") == set("(vV") | set(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f")
    assert _edge_chars(r"(\d+ )?views") == set("0123456789vV")
    # Case folding is the regex engine's: the Kelvin sign matches "k" and "K".
    assert _edge_chars("\u212a") == {"k", "K"}
    # Sets this cannot bound: any character may start the line.
    assert _edge_chars(r".{0,80} click here") is None
    assert _edge_chars(r"[^.]{1,80} at") is None
    assert _edge_chars(r"(?=a)abc") is None


def test_the_rule_index_matches_as_trying_every_rule_in_order() -> None:
    from crawlers.clean.boilerplate import default_index

    index = default_index()
    lines = [str(p.values[0]) for p in JUNK + KEEP]
    lines += [v(line) for line in lines for v in (str.upper, str.lower, str.title)]
    lines += ["\u212aomentar", "© 2024 Kantor Berita", "1 comment", "Share this\u212a", "(AP)"]

    def linear(line: str) -> object:
        return next((r for r, _ in index.all if r.regex.fullmatch(line)), None)

    assert sum(linear(line) is not None for line in lines) > len(JUNK)
    for line in lines:
        assert index.match(line) is linear(line), line


def test_strip_rules_are_tried_only_on_lines_that_can_end_as_they_do() -> None:
    from collections import Counter

    from crawlers.clean.boilerplate import _anchored_at_end, default_index

    assert _anchored_at_end(r"\s*click to tweet\s*$") and not _anchored_at_end(r"tweet\$")
    assert _edge_chars(r"\s*click to tweet\s*$", last=True) == set(
        "tT \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
    )
    index = default_index()
    for case in CASES["strip"]:
        line, hits = case["line"], Counter[str]()
        expected = line
        for rule in (r for r in default_rules() if r.kind == "strip"):
            expected = rule.regex.sub("", expected)
        assert index.strip(line, hits) == expected and hits, line
