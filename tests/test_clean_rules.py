"""Known-boilerplate rules: every junk class of the issue is covered in English and Indonesian
by data rules, and article sentences that share their words survive."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crawlers.clean.boilerplate import default_rules, load_rules, remove_boilerplate

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
