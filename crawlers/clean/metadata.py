"""Page metadata: dates (to UTC), bylines, credited outlets, language."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

from crawlers.wordcount import letter_runs

# Time-zone abbreviations seen in visible datelines, as hours east of UTC. Ambiguous ones (IST,
# CST, AST) are left out. US zones written without S/D ("ET", "PT") follow US daylight time.
TZ_ABBREV: dict[str, float] = {
    "UTC": 0, "GMT": 0, "Z": 0, "WIB": 7, "WITA": 8, "WIT": 9, "EST": -5, "EDT": -4,
    "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "AKST": -9, "AKDT": -8, "HST": -10,
    "BST": 1, "WET": 0, "WEST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3, "MSK": 3,
    "JST": 9, "KST": 9, "SGT": 8, "HKT": 8, "PHT": 8, "MYT": 8, "ICT": 7, "AWST": 8,
    "ACST": 9.5, "ACDT": 10.5, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
}  # fmt: skip
_US_ZONES = {"ET": -5, "CT": -6, "MT": -7, "PT": -8}  # standard offsets; +1 in daylight time
MONTHS = {
    # English
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11,
    "dec": 12, "december": 12,
    # Indonesian / Malay
    "januari": 1, "februari": 2, "pebruari": 2, "maret": 3, "mei": 5, "juni": 6, "juli": 7,
    "agustus": 8, "agu": 8, "agt": 8, "okt": 10, "oktober": 10, "nopember": 11, "des": 12,
    "desember": 12, "ogos": 8, "disember": 12,
}  # fmt: skip

# "WIB", "GMT+7", "UTC+07:00", "+0700"; two letters at least, so "a"/"p" of "am"/"pm" and the
# first letter of a following word are never read as a zone.
_TZ_RE = r"(?:\(?(?P<tz>(?:GMT|UTC)\s?[+-]\d{1,2}(?::?\d\d)?|[A-Z]{2,5}|[+-]\d\d:?\d\d)\b\)?)?"
_TIME_RE = (
    r"(?:[,\s|·•–—-]+(?:pukul\s+|jam\s+|at\s+|um\s+)?(?P<H>\d{1,2})[:.](?P<M>\d\d)"
    r"(?::(?P<S>\d\d))?\s*(?P<ampm>[aApP]\.?[mM]\.?(?![A-Za-z]))?\s*" + _TZ_RE + ")?"
)
_DATE_PATTERNS = [
    # 2023-10-17 06:30:00
    re.compile(r"\b(?P<y>20\d\d|19\d\d)-(?P<m>\d\d)-(?P<d>\d\d)" + _TIME_RE),
    # 17/10/2023 13:30 WIB (day first, as most of the world writes it; month first when the
    # first number cannot be a month)
    re.compile(r"\b(?P<d>\d{1,2})[/.](?P<m>\d{1,2})[/.](?P<y>20\d\d|19\d\d)" + _TIME_RE),
    # 17 October 2023, 13:30 WIB
    re.compile(r"\b(?P<d>\d{1,2})\s+(?P<mon>[A-Za-z]{3,9})\.?,?\s+(?P<y>20\d\d|19\d\d)" + _TIME_RE),
    # October 17, 2023 1:30 PM EDT
    re.compile(
        r"\b(?P<mon>[A-Za-z]{3,9})\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>20\d\d|19\d\d)"
        + _TIME_RE
    ),
]
# A time written before the date: "08:45 GMT, 21 Feb 2025", "13.30 WIB | Selasa, 17/10/2023".
_LEADING_TIME = re.compile(
    r"^\D{0,20}?\b(?P<H>\d{1,2})[:.](?P<M>\d\d)(?::(?P<S>\d\d))?\s*"
    r"(?P<ampm>[aApP]\.?[mM]\.?(?![A-Za-z]))?\s*" + _TZ_RE
)
_URL_DATE = re.compile(r"/(20\d\d|19\d\d)[/-](\d\d)[/-](\d\d)(?:/|$|-|\b)")


def _us_daylight(day: datetime) -> bool:
    """US daylight time (since 2007): second Sunday of March to first Sunday of November."""
    march = datetime(day.year, 3, 8)
    start = march + timedelta(days=(6 - march.weekday()) % 7)
    november = datetime(day.year, 11, 1)
    end = november + timedelta(days=(6 - november.weekday()) % 7)
    naive = day.replace(tzinfo=None)
    return start + timedelta(hours=2) <= naive < end + timedelta(hours=2)


def _tz_from(text: str | None, local: datetime | None = None) -> timezone | None:
    if not text:
        return None
    text = text.strip().upper()
    m = re.fullmatch(r"(?:GMT|UTC)?\s?([+-])(\d{1,2}):?(\d\d)?", text)
    if m:
        sign = 1 if m.group(1) == "+" else -1
        hours, minutes = int(m.group(2)), int(m.group(3) or 0)
        if hours > 14 or minutes >= 60:
            return None
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    offset = TZ_ABBREV.get(text)
    if offset is None and text in _US_ZONES and local is not None:
        offset = _US_ZONES[text] + (1 if _us_daylight(local) else 0)
    return timezone(timedelta(hours=offset)) if offset is not None else None


def to_utc(value: datetime, default_tz: timezone = UTC) -> datetime:
    """Aware UTC datetime; naive values are taken to be in ``default_tz``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=default_tz)
    return value.astimezone(UTC)


def has_zone(text: str | None) -> bool:
    """Whether a machine-readable date string gives its UTC offset ("Z", "+07:00")."""
    return bool(text and re.search(r"(Z|[+-]\d\d:?\d\d)\s*$", text.strip()))


def has_time(text: str | None) -> bool:
    """Whether a machine-readable date string carries a time of day (not just a day)."""
    return bool(text and re.search(r"\d[T ]\d\d:\d\d", text.strip()))


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


def _clock(g: dict[str, str | None]) -> tuple[int, int, int]:
    hour, minute = int(g["H"] or 0), int(g["M"] or 0)
    if g.get("ampm"):
        pm = str(g["ampm"]).lower().startswith("p")
        hour = hour % 12 + (12 if pm else 0)
    return hour, minute, int(g["S"] or 0)


def parse_dateline(text: str) -> tuple[datetime, bool] | None:
    """A visible date ("Tuesday, 17/10/2023 13:30 WIB", "Oct. 17, 2023 1:30 p.m. EDT",
    "08:45 GMT, 21 Feb 2025") as UTC, and whether it gave a time of day. Without a zone the
    time is taken as UTC."""
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            g = m.groupdict()
            if g.get("mon"):
                month = MONTHS.get(g["mon"].lower().rstrip("."))
                if month is None:
                    continue
                day = int(g["d"])
            else:
                month, day = int(g["m"]), int(g["d"])
                if month > 12 and day <= 12:  # 11/19/2019: month first
                    month, day = day, month
            timed = g
            if not g.get("H"):
                lead = _LEADING_TIME.match(text[: m.start()])
                timed = lead.groupdict() if lead else g
            try:
                hour, minute, second = _clock(timed) if timed.get("H") else (0, 0, 0)
                value = datetime(int(g["y"]), month, day, hour, minute, second)
            except (ValueError, TypeError):
                continue
            if not timed.get("H"):
                return to_utc(value), False
            return to_utc(value, _tz_from(timed.get("tz"), value) or UTC), True
    return None


def parse_text_date(text: str) -> datetime | None:
    found = parse_dateline(text)
    return found[0] if found else None


def date_from_url(url: str) -> datetime | None:
    m = _URL_DATE.search(url)
    if not m:
        return None
    try:
        return datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)), tzinfo=UTC)
    except ValueError:
        return None


# --- bylines ---------------------------------------------------------------------------------
_BYLINE_PREFIX = re.compile(
    r"^\s*(by|oleh|penulis|reporter|written by|words by|story by|laporan|kontributor)\s*:?\s+",
    re.I,
)
_NAME_SPLIT = re.compile(r"\s*(?:,|;|\band\b|\bdan\b|&|\||\s[-–—]\s)\s*", re.I)
# Words that mark a part of a byline as an organisation, not a person: the generic words that
# newspaper, agency and portal names are made of, in English and Indonesian.
ORG_HINTS = re.compile(
    r"\b(news|times|post|press|indonesia|tv|radio|media|daily|herald|tribune|journal|agency|"
    r"reuters|ap|afp|antara|bbc|cnn|cnbc|kompas|detik|tempo|bloomberg|associated|gazette|"
    r"online|\.com|\.id|\.co|magazine|network|channel|wire|staff|desk|team|redaksi|"
    r"courier|chronicle|observer|mail|express|telegraph|guardian|standard|examiner|inquirer|"
    r"mirror|bulletin|dispatch|register|ledger|monitor|insider|weekly|digest|sentinel|globe|"
    r"review|report|today|kabar|warta|berita|harian|suara|koran|majalah|tribun|pos)\b",
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


def _is_month_word(part: str) -> bool:
    return len(part.split()) == 1 and part.lower().rstrip(".") in MONTHS


# Parts of a byline that name another role than the writer's ("Editor: Rudi Hartono").
_OTHER_ROLE = re.compile(
    r"^(editor|editors|penyunting|redaktur|editing|edited by|photos?|foto|fotografer|"
    r"photographer|ilustrasi|illustration|illustrator|video|videografer|grafis|graphics)\b",
    re.I,
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
        # "By Dana Whitfield | March 2, 2024": a date or a time is no name and no outlet.
        if not part or any(ch.isdigit() for ch in part) or _is_month_word(part):
            continue
        if _OTHER_ROLE.match(part):
            continue
        if _looks_like_person(part) and outlet is None:
            authors.append(part)
        elif outlet is None and len(part.split()) <= 6:
            outlet = part
    return authors, outlet


_VISIBLE_BY = re.compile(r"(?:^|\s)(?:by|oleh)\s+(?P<rest>[A-Z].{1,80})$", re.I)
_OUTLET_SHAPE = re.compile(r"^[A-Z0-9][\w.&'’-]*(?:\s+[\w.&'’-]+){0,5}$")


def visible_byline(text: str) -> tuple[list[str], str | None] | None:
    """Authors and outlet from a short visible line near the title, or None when the line is
    not a byline. Accepted: a prefixed byline ("By Dana Whitfield", "Oleh Ayu Lestari",
    "Penulis: Ayu Lestari"), "… by Dana Whitfield" after a date, or "Name, Outlet" /
    "Name - Outlet" with a person's name of two words or more. A bare name or label ("World",
    "Middle East") is not taken: without a prefix or an outlet it cannot be told from a section
    name."""
    text = re.sub(r"\s+", " ", text).strip(" |·•")
    if not text or len(text) > 100 or len(text.split()) > 14:
        return None
    if _BYLINE_PREFIX.match(text):
        body = _BYLINE_PREFIX.sub("", text)
    elif m := _VISIBLE_BY.search(text):
        body = m.group("rest")
    else:
        body = None
    if body is not None:
        if any(ch.isdigit() for ch in body):
            return None
        authors, outlet = split_byline(body)
        return (authors, outlet) if authors else None
    if any(ch.isdigit() for ch in text) or not re.search(r",|\s[-–—|]\s", text):
        return None
    authors, outlet = split_byline(text)
    if (
        authors
        and outlet
        and all(len(a.split()) >= 2 for a in authors)
        and _OUTLET_SHAPE.match(outlet)
    ):
        return authors, outlet
    return None


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
        r"\b(?i:as quoted(?: by| from)?|quoted from|as reported by|reported by|citing)\s+" + _OUTLET
    ),
    re.compile(
        r"\b(?i:dikutip dari|mengutip dari|dilansir(?: dari)?|melansir|seperti dilansir)\s+"
        + _OUTLET
    ),  # noqa: E501
    # Syndication notices: "This article originally appeared on X", "Artikel ini telah tayang
    # di X dengan judul ..."
    re.compile(
        r"\b(?i:originally|first) (?:appeared|published|ran|posted) (?:on|in|at|by)\s+" + _OUTLET
    ),
    re.compile(
        r"\b(?i:ini|sebelumnya) (?:telah |sudah )?(?:tayang|terbit|dimuat|dipublikasikan) "
        r"(?:di|pada|dalam)\s+" + _OUTLET
    ),
]
# Words one of CREDIT_ANYWHERE needs: most lines have none, and one search rules them out.
_CREDIT_WORDS = (
    r"quoted|reported|citing|dikutip|mengutip|dilansir|melansir|originally|first|tayang|terbit|"
    r"dimuat|dipublikasikan"
)
_CREDIT_HINT = re.compile(_CREDIT_WORDS, re.I)
_CREDIT_WORD_LIST = _CREDIT_WORDS.split("|")
# The same search in the lower-cased line, case-sensitive: about 5x faster than with re.I on
# the extraction benchmarks' lines. The same answer unless the line holds one of the three
# letters re.I matches to an ASCII letter that lower() leaves alone (dotless i, long s) or
# turns into two characters (dotted capital I); such lines take the re.I search.
_CREDIT_HINT_LOWER = re.compile(_CREDIT_WORDS)
_FOLDS_APART = "\u0130\u0131\u017f"


def _folds_apart(text: str) -> bool:
    """Whether ``text`` holds one of the ``_FOLDS_APART`` letters (``in`` over the text, which
    is many times faster than a regex search for a set of characters)."""
    return not text.isascii() and any(ch in text for ch in _FOLDS_APART)


def _credit_hint(line: str) -> bool:
    if _folds_apart(line):
        return _CREDIT_HINT.search(line) is not None
    return _CREDIT_HINT_LOWER.search(line.lower()) is not None


def _hinted_lines(lines: list[str]) -> list[str]:
    """The lines that hold one of CREDIT_ANYWHERE's words (:func:`_credit_hint`), in order.
    The words are literal, so a line holds one when it is a substring of the line lower-cased:
    the words the whole text holds are found first (with ``in``, several times faster than
    the regex engine, which tries every word at every position), then only they are looked
    for in each line."""
    joined = "\n".join(lines)
    if _folds_apart(joined):
        return [line for line in lines if _credit_hint(line)]
    low = joined.lower()
    words = [word for word in _CREDIT_WORD_LIST if word in low]
    if not words:
        return []
    low_lines = low.split("\n")
    if len(low_lines) != len(lines):  # a line with a line break in it
        low_lines = [line.lower() for line in lines]
    return [
        line
        for line, line_low in zip(lines, low_lines, strict=True)
        if any(word in line_low for word in words)
    ]


CREDIT_LINE = re.compile(r"^\s*(?:source|sumber)\s*:\s*" + _OUTLET + r"\s*\.?\s*$", re.I)
# Capitalised words that start a sentence but are not outlets.
_NOT_OUTLET = re.compile(r"^(The|A|An|He|She|They|It|This|That|On|In|At|Mr|Mrs|Ms|Dr)\b")


def _clean_outlet(name: str) -> str | None:
    # A sentence can follow the name: "by Futurism. Read the original article."
    # (split after a word's end, not after initials: "U.S. News", "St. Louis Post-Dispatch").
    name = re.split(r"(?<=[a-z]{3})\.\s", name, maxsplit=1)[0].strip(" .,'’-")
    if not name or any(ch.isdigit() for ch in name.split()[0]):
        return None
    # "The Jakarta Post" is an outlet; "The" alone, "He", "This" are sentence starts.
    if _NOT_OUTLET.match(name) and not (name.startswith("The ") and len(name.split()) >= 2):
        return None
    return name


def credited_outlet(lines: list[str], raw_lines: list[str] | None = None) -> str | None:
    """The outlet a page credits as its source: from the dateline at the top ("Jakarta, CNBC
    Indonesia –", "(Reuters) -"), else a source line at the end ("Source: AP"), else a quote
    ("as quoted Reuters"). ``lines`` is the cleaned text, whose top is the body's start once
    title, byline and captions are gone; ``raw_lines``, the text before cleaning, still holds
    the credit lines the rules remove. Each kind is looked for in both before the next."""
    texts = [lines] if raw_lines is None else [lines, raw_lines]
    for text in texts:
        for line in text[:4]:
            for pattern in CREDIT_PATTERNS:
                m = pattern.match(line)
                if m and (name := _clean_outlet(m.group(1))):
                    return name
    for text in texts:
        for line in reversed(text[-5:]):
            m = CREDIT_LINE.match(line)
            if m and (name := _clean_outlet(m.group(1))):
                return name
    for line in _hinted_lines(texts[-1]):
        for pattern in CREDIT_ANYWHERE:
            m = pattern.search(line)
            if m and (name := _clean_outlet(m.group(1))):
                return name
    return None


# News agencies whose copyright line under an article says the article is theirs (a wire story
# the site runs). Other copyright lines name the site itself or its parent company.
WIRE_AGENCIES = (
    "Associated Press", "AP", "Reuters", "Agence France-Presse", "AFP", "Bloomberg",
    "Antara", "ANTARA", "Xinhua", "Kyodo", "Yonhap", "dpa", "EFE", "ANSA", "UPI", "Bernama",
    "Press Association", "PA Media", "Australian Associated Press", "AAP", "Canadian Press",
)  # fmt: skip
_WIRE_KEYS = {re.sub(r"[^a-z0-9]+", "", a.lower()): a for a in WIRE_AGENCIES}
_COPYRIGHT = re.compile(
    r"^\s*(?:copyright\s*)?(?:©|\(c\)|copyright)\s*(?:(?:19|20)\d\d\s*)?(?:by\s+)?"
    r"(?:the\s+)?(?P<name>[A-Za-z][\w.&'’ -]{0,40}?)\s*(?:[.,;|]|all rights|$)",
    re.I,
)


def wire_copyright(lines: list[str]) -> str | None:
    """The news agency named by a copyright line at the end ("© 2019 Associated Press. All
    Rights Reserved.", "© Reuters"), or None."""
    for line in reversed(lines[-4:]):
        m = _COPYRIGHT.match(line)
        if m:
            key = re.sub(r"[^a-z0-9]+", "", m.group("name").lower())
            if key in _WIRE_KEYS:
                return _WIRE_KEYS[key]
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
# Each stop word's languages: the text's words are counted once, only the stop words among them.
_STOP_LANGS = {
    word: [lang for lang, stops in _STOPSETS.items() if word in stops]
    for word in set().union(*_STOPSETS.values())
}


def guess_language(text: str, declared: str | None = None) -> str | None:
    """Stop-word vote over the text; falls back to the page's declared language."""
    words = letter_runs(text.lower())[:2000]
    declared = (declared or "").split("-")[0].split("_")[0].lower() or None
    if len(words) >= 20:
        scores = dict.fromkeys(_STOPSETS, 0)  # in _STOPWORDS' order: it breaks a tie
        for word, count in Counter(filter(_STOP_LANGS.__contains__, words)).items():
            for lang in _STOP_LANGS[word]:
                scores[lang] += count
        best = max(scores, key=lambda k: scores[k])
        if scores[best] >= max(3, 0.08 * len(words)):
            if best == "ms" and scores["id"] >= scores["ms"] * 0.9:
                best = "id"
            if declared == "ms" and best == "id":
                best = "ms"
            return best
    return declared
