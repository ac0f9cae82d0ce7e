"""Page metadata: dates (to UTC), bylines, credited outlets, language."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

# Time-zone abbreviations seen in visible datelines. Ambiguous ones (IST, CST) are left out.
TZ_ABBREV = {
    "UTC": 0, "GMT": 0, "Z": 0, "WIB": 7, "WITA": 8, "WIT": 9, "EST": -5, "EDT": -4,
    "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "BST": 1, "CET": 1, "CEST": 2,
    "EET": 2, "EEST": 3, "MSK": 3, "JST": 9, "KST": 9, "SGT": 8, "HKT": 8, "AEST": 10,
    "AEDT": 11, "NZST": 12, "NZDT": 13, "PHT": 8, "MYT": 8, "ICT": 7,
}  # fmt: skip
MONTHS = {
    # English
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11,
    "dec": 12, "december": 12,
    # Indonesian / Malay
    "januari": 1, "februari": 2, "pebruari": 2, "maret": 3, "mei": 5, "juni": 6, "juli": 7,
    "agustus": 8, "agu": 8, "agt": 8, "okt": 10, "oktober": 10, "nopember": 11, "des": 12,
    "desember": 12,
}  # fmt: skip

_TZ_RE = r"(?P<tz>[A-Z]{1,4}|[+-]\d\d:?\d\d)?"
_TIME_RE = (
    r"(?:[,\s]+(?:pukul\s+|at\s+)?(?P<H>\d{1,2})[:.](?P<M>\d\d)(?::(?P<S>\d\d))?\s*(?P<ampm>[aApP]\.?[mM]\.?(?![A-Za-z]))?\s*"
    + _TZ_RE
    + ")?"
)  # noqa: E501
_DATE_PATTERNS = [
    # 2023-10-17 06:30:00
    re.compile(r"\b(?P<y>20\d\d|19\d\d)-(?P<m>\d\d)-(?P<d>\d\d)" + _TIME_RE),
    # 17/10/2023 13:30 WIB (day first, as most of the world writes it)
    re.compile(r"\b(?P<d>\d{1,2})[/.](?P<m>\d{1,2})[/.](?P<y>20\d\d|19\d\d)" + _TIME_RE),
    # 17 October 2023, 13:30 WIB
    re.compile(r"\b(?P<d>\d{1,2})\s+(?P<mon>[A-Za-z]{3,9})\.?,?\s+(?P<y>20\d\d|19\d\d)" + _TIME_RE),
    # October 17, 2023 1:30 PM EDT
    re.compile(
        r"\b(?P<mon>[A-Za-z]{3,9})\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>20\d\d|19\d\d)"
        + _TIME_RE
    ),  # noqa: E501
]
_URL_DATE = re.compile(r"/(20\d\d|19\d\d)[/-](\d\d)[/-](\d\d)(?:/|$|-|\b)")


def _tz_from(text: str | None) -> timezone | None:
    if not text:
        return None
    if text[0] in "+-":
        sign = 1 if text[0] == "+" else -1
        digits = text[1:].replace(":", "")
        return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4])))
    hours = TZ_ABBREV.get(text.upper())
    return timezone(timedelta(hours=hours)) if hours is not None else None


def to_utc(value: datetime, default_tz: timezone = UTC) -> datetime:
    """Aware UTC datetime; naive values are taken to be in ``default_tz``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=default_tz)
    return value.astimezone(UTC)


def parse_iso(text: str | None) -> datetime | None:
    """Machine-readable dates from JSON-LD, meta tags and ``<time datetime>``."""
    if not text:
        return None
    text = text.strip()
    try:
        return to_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        pass
    m = re.match(
        r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d(?::\d\d)?)(?:\.\d+)?\s*([+-]\d\d:?\d\d|Z)?", text
    )
    if m:
        tz = _tz_from(m.group(3)) if m.group(3) and m.group(3) != "Z" else UTC
        try:
            return to_utc(datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}"), tz or UTC)
        except ValueError:
            return None
    return parse_text_date(text)


def parse_text_date(text: str) -> datetime | None:
    """A visible dateline ("Tuesday, 17/10/2023 13:30 WIB", "Oct. 17, 2023 1:30 p.m. EDT")."""
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            g = m.groupdict()
            if g.get("mon"):
                month = MONTHS.get(g["mon"].lower().rstrip("."))
                if month is None:
                    continue
            else:
                month = int(g["m"])
            try:
                hour, minute = int(g["H"] or 0), int(g["M"] or 0)
                if g.get("ampm"):
                    pm = g["ampm"].lower().startswith("p")
                    hour = hour % 12 + (12 if pm else 0)
                value = datetime(int(g["y"]), month, int(g["d"]), hour, minute, int(g["S"] or 0))
            except (ValueError, TypeError):
                continue
            tz = _tz_from(g.get("tz")) if g.get("H") else None
            return to_utc(value, tz or UTC)
    return None


def date_from_url(url: str) -> datetime | None:
    m = _URL_DATE.search(url)
    if not m:
        return None
    try:
        return datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)), tzinfo=UTC)
    except ValueError:
        return None


# --- bylines ---------------------------------------------------------------------------------
_BYLINE_PREFIX = re.compile(r"^\s*(by|oleh|penulis|reporter|written by|words by)\s*:?\s+", re.I)
_NAME_SPLIT = re.compile(r"\s*(?:,|;|\band\b|\bdan\b|&|\||\s[-–—]\s)\s*", re.I)
# Words that mark a part of a byline as an organisation, not a person.
ORG_HINTS = re.compile(
    r"\b(news|times|post|press|indonesia|tv|radio|media|daily|herald|tribune|journal|agency|"
    r"reuters|ap|afp|antara|bbc|cnn|cnbc|kompas|detik|tempo|bloomberg|associated|gazette|"
    r"online|\.com|\.id|\.co|magazine|network|channel|wire|staff|desk|team|redaksi)\b",
    re.I,
)


def _looks_like_person(part: str) -> bool:
    words = part.split()
    return (
        1 <= len(words) <= 5
        and not ORG_HINTS.search(part)
        and all(
            w[:1].isupper() or w.lower() in {"de", "van", "von", "bin", "binti", "al", "da", "di"}
            for w in words
        )
    )


def split_byline(byline: str | None) -> tuple[list[str], str | None]:
    """'Thea Fathanah Arbar, CNBC Indonesia' -> (['Thea Fathanah Arbar'], 'CNBC Indonesia')."""
    if not byline:
        return [], None
    text = _BYLINE_PREFIX.sub("", byline.strip())
    text = re.sub(r"\s+", " ", text).strip(" -–—|")
    authors: list[str] = []
    outlet = None
    for part in _NAME_SPLIT.split(text):
        part = part.strip(" -–—|.")
        if not part:
            continue
        if _looks_like_person(part) and outlet is None:
            authors.append(part)
        elif outlet is None and len(part.split()) <= 6:
            outlet = part
    return authors, outlet


# --- credited outlet -----------------------------------------------------------------------------
_OUTLET = r"([A-Z][\w.&'’-]*(?:\s+[A-Z][\w.&'’-]*){0,4})"
_DASH = r"\s*[-–—:|]+\s+"
CREDIT_PATTERNS = [
    # "Jakarta, CNBC Indonesia –", "JAKARTA, KOMPAS.com -"
    re.compile(r"^[A-Z][\w.'’ ]{1,30},\s+" + _OUTLET + _DASH),
    # "WASHINGTON (Reuters) -", "Jakarta (ANTARA) -", "LONDON, Oct 17 (Reuters) -", "(AP) -"
    re.compile(r"^(?:[A-Z][\w.,'’ ]{1,40}?\s*)?\(\s*" + _OUTLET + r"\s*\)" + _DASH),
]
CREDIT_ANYWHERE = [
    re.compile(
        r"\b(?:as quoted(?: by| from)?|quoted from|as reported by|reported by|citing)\s+" + _OUTLET
    ),
    re.compile(
        r"\b(?:dikutip dari|mengutip dari|dilansir(?: dari)?|melansir|seperti dilansir)\s+"
        + _OUTLET
    ),  # noqa: E501
]
CREDIT_LINE = re.compile(r"^\s*(?:source|sumber)\s*:\s*" + _OUTLET + r"\s*\.?\s*$", re.I)
# Capitalised words that start a sentence but are not outlets.
_NOT_OUTLET = re.compile(r"^(The|A|An|He|She|They|It|This|That|On|In|At|Mr|Mrs|Ms|Dr)\b")


def _clean_outlet(name: str) -> str | None:
    name = name.strip(" .,'’-")
    if not name or any(ch.isdigit() for ch in name.split()[0]):
        return None
    # "The Jakarta Post" is an outlet; "The" alone, "He", "This" are sentence starts.
    if _NOT_OUTLET.match(name) and not (name.startswith("The ") and len(name.split()) >= 2):
        return None
    return name


def credited_outlet(lines: list[str]) -> str | None:
    """The outlet a page credits as its source, from the dateline, a source line or a quote."""
    for line in lines[:4]:
        for pattern in CREDIT_PATTERNS:
            m = pattern.match(line)
            if m and (name := _clean_outlet(m.group(1))):
                return name
    for line in reversed(lines[-5:]):
        m = CREDIT_LINE.match(line)
        if m and (name := _clean_outlet(m.group(1))):
            return name
    for line in lines:
        for pattern in CREDIT_ANYWHERE:
            m = pattern.search(line)
            if m and (name := _clean_outlet(m.group(1))):
                return name
    return None


# --- language ------------------------------------------------------------------------------------
_STOPWORDS = {
    "en": "the of and to in is that for it was on with as he be by at are this have from",
    "id": "yang dan di ini itu dengan untuk tidak dari dalam akan pada juga ke karena ada oleh",
    "de": "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als",
    "fr": "le la les de des et un une est en du que qui dans pour pas au sur par",
    "es": "el la de que y en los se del las un por con no una su para es al",
    "pt": "de que e o da do em um para é com não uma os no se na por mais",
    "it": "di che il la per un non una sono del della le si con nel al gli",
    "nl": "de van het een en in is dat op te zijn voor met die niet aan er",
    "ms": "yang dan di ini itu dengan untuk tidak dari dalam akan pada juga kerana ialah",
}
_STOPSETS = {lang: set(words.split()) for lang, words in _STOPWORDS.items()}


def guess_language(text: str, declared: str | None = None) -> str | None:
    """Stop-word vote over the text; falls back to the page's declared language."""
    words = re.findall(r"[^\W\d_]+", text.lower())[:2000]
    declared = (declared or "").split("-")[0].split("_")[0].lower() or None
    if len(words) >= 20:
        scores = {lang: sum(w in s for w in words) for lang, s in _STOPSETS.items()}
        best = max(scores, key=lambda k: scores[k])
        if scores[best] >= max(3, 0.08 * len(words)):
            if best == "ms" and scores["id"] >= scores["ms"] * 0.9:
                best = "id"
            if declared == "ms" and best == "id":
                best = "ms"
            return best
    return declared
