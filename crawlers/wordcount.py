"""How long a text is in words, also in scripts written without spaces between words."""

from __future__ import annotations

import re

# Scripts written without spaces between words (Han, kana, Thai, Lao, Khmer, Myanmar): a run of
# them is one \w+ token however long, so they count by characters instead.
UNSPACED = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
)
UNSPACED_CHAR = re.compile(f"[{UNSPACED}]")
_SPACED_WORD = re.compile(f"[^\\W{UNSPACED}]+")
CHARS_PER_WORD_UNSPACED = 2  # about the mean word length in Chinese and Japanese text


def ascii_table(mapping: dict[str, str]) -> bytes:
    """A table for ``bytes.translate`` that maps each ASCII character of ``mapping`` to its
    one-character value and leaves the others. On ASCII text, ``text.encode("ascii")
    .translate(table)`` does in one pass over bytes what ``str.translate`` does with a
    dictionary lookup per character: a paragraph's word runs in half the time."""
    return bytes(ord(mapping.get(chr(i), chr(i))) for i in range(128)) + bytes(range(128, 256))


# ASCII characters that are not ``\w`` (letters, digits, underscore) as spaces: on ASCII
# text, the translated text's ``split()`` gives the ``\w+`` runs that a regex search gives,
# several times faster on a paragraph (the search steps through the text in Python's regex
# engine, translate and split in C).
ASCII_NON_WORD = ascii_table(
    {c: " " for c in map(chr, range(128)) if not c.isalnum() and c != "_"}
)


_WORD = re.compile(r"\w+")
# ... and ASCII characters that are not letters (``[^\W\d_]``).
ASCII_NON_LETTER = ascii_table({c: " " for c in map(chr, range(128)) if not c.isalpha()})
_LETTERS = re.compile(r"[^\W\d_]+")


def word_runs(text: str) -> list[str]:
    """The ``\\w+`` runs of ``text`` (``re.findall(r"\\w+", text)``)."""
    if text.isascii():
        return text.encode("ascii").translate(ASCII_NON_WORD).decode("ascii").split()
    return _WORD.findall(text)


def letter_runs(text: str) -> list[str]:
    """The runs of letters of ``text`` (``re.findall(r"[^\\W\\d_]+", text)``)."""
    if text.isascii():
        return text.encode("ascii").translate(ASCII_NON_LETTER).decode("ascii").split()
    return _LETTERS.findall(text)


def word_count(text: str) -> int:
    """Words in ``text``: ``\\w+`` runs, with unspaced scripts counted as characters / 2."""
    if text.isascii():
        return len(text.encode("ascii").translate(ASCII_NON_WORD).split())
    unspaced = len(UNSPACED_CHAR.findall(text))
    return len(_SPACED_WORD.findall(text)) + unspaced // CHARS_PER_WORD_UNSPACED


def token_count(text: str) -> int:
    """Whitespace-separated tokens, plus characters / 2 of unspaced scripts: ``len(split())``
    for spaced text, and a paragraph of Japanese no longer one "word". The cheaper count for
    tests of a line's length (a long paragraph, a line of prose)."""
    tokens = len(text.split())
    if not text.isascii():
        tokens += len(UNSPACED_CHAR.findall(text)) // CHARS_PER_WORD_UNSPACED
    return tokens
