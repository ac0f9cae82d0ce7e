"""A large synthetic demo network for benchmarks, derived deterministically from the stories.

Each generated original draws its sentences at random from the pool of all bundled English
sentences, randomises the numbers in them, swaps a few words for synonyms and a share of its
long words for other words of the pool (so two generated stories share little text);
reprints get the same syndication edits as the hand-made ones (credit line, dropped
paragraph or sentence, word edits, sometimes a truncated excerpt). Only text is kept in
memory; pages are rendered on request.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from functools import cache

from flows.demo.content import (
    Article,
    SiteSpec,
    apply_credit,
    article_path,
    load_originals,
    load_sites,
    slugify,
    split_sentences,
)

THEMES = ["wordpress", "portal", "plain"]
SECTIONS = ["world", "business", "markets", "technology", "local", "science", "politics"]
TAGS = [
    "economy", "trade", "energy", "transport", "education", "health", "security", "climate",
    "startups", "labour", "housing", "mining", "shipping", "elections", "courts", "culture",
]  # fmt: skip
AUTHORS = [
    "Amara Lindqvist", "Bayu Santoso", "Clara Weiss", "Dewi Lestari", "Ethan Brooks",
    "Farah Haddad", "Gabriel Moreau", "Hana Kobayashi", "Ivan Petrov", "Julia Ferreira",
    "Kofi Mensah", "Laila Rahman", "Mateo Alvarez", "Nadia Suryani", "Oscar Nilsson",
]  # fmt: skip
SYNONYMS = {
    "said": ["noted", "added", "said"],
    "rose": ["climbed", "increased"],
    "fell": ["dropped", "declined"],
    "about": ["around", "roughly"],
    "expected": ["forecast", "anticipated"],
    "company": ["firm", "group"],
    "officials": ["authorities", "administrators"],
    "people": ["residents", "people"],
    "new": ["fresh", "new"],
    "large": ["big", "major"],
    "quickly": ["rapidly", "swiftly"],
    "plan": ["proposal", "scheme"],
}
# Share of a generated story's distinct long words swapped for others (_shift_words).
WORD_SHIFT = 0.3
NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)?")
LONG_WORD_RE = re.compile(r"\b[A-Za-z][a-z]{4,}\b")
WORD_RE = re.compile(r"\b(" + "|".join(SYNONYMS) + r")\b")


@cache
def sentence_pool() -> tuple[str, ...]:
    """Every English sentence of the bundled stories (wire datelines removed)."""
    out = []
    for a in load_originals(load_sites()):
        if a.lang != "en":
            continue
        for p in a.paragraphs:
            p = re.sub(r"^[A-Z][A-Z .'-]+ — ", "", p)
            out += [s for s in split_sentences(p) if len(s.split()) >= 7 and s.count('"') % 2 == 0]
    return tuple(out)


def _renumber(text: str, rng: random.Random) -> str:
    def sub(m: re.Match[str]) -> str:
        digits = m.group(0)
        if len(digits) == 4 and digits.startswith(("19", "20")):
            return str(rng.randint(2015, 2025))
        if "." in digits or "," in digits:
            whole = str(rng.randint(1, 99))
            return f"{whole}.{rng.randint(0, 9)}"
        return str(rng.randint(2, 10 ** len(digits) - 1))

    return NUMBER_RE.sub(sub, text)


def _reword(text: str, rng: random.Random, share: float) -> str:
    def sub(m: re.Match[str]) -> str:
        return rng.choice(SYNONYMS[m.group(1)]) if rng.random() < share else m.group(1)

    return WORD_RE.sub(sub, text)


@cache
def vocabulary() -> tuple[str, ...]:
    """The pool's lower-case words of five letters or more, for :func:`_shift_words`."""
    words = {w for s in sentence_pool() for w in LONG_WORD_RE.findall(s) if w.islower()}
    return tuple(sorted(words))


def _shift_words(sentences: list[str], rng: random.Random, share: float) -> list[str]:
    """Give a story words of its own: ``share`` of its distinct long words (names included)
    are swapped, the same way throughout the story, for other words of the pool. Stories drawn
    from one small sentence pool otherwise share whole sentences: hundreds of pairs of
    unrelated stories had word 3-gram containment of 0.4 to 0.59, which real unrelated news
    stories do not have."""
    vocab = vocabulary()
    swap: dict[str, str] = {}

    def sub(m: re.Match[str]) -> str:
        word = m.group(0)
        if word not in swap:
            new = rng.choice(vocab) if rng.random() < share else word
            swap[word] = new.capitalize() if word[0].isupper() else new
        return swap[word]

    return [LONG_WORD_RE.sub(sub, s) for s in sentences]


def synth_paragraphs(rng: random.Random, n_sentences: int | None = None) -> list[str]:
    """A natural-looking story body of 4-7 paragraphs."""
    pool = sentence_pool()
    n = n_sentences or rng.randint(11, 17)
    sentences = [_reword(_renumber(s, rng), rng, 0.4) for s in rng.sample(pool, n)]
    sentences = _shift_words(sentences, rng, WORD_SHIFT)
    paras, i = [], 0
    while i < len(sentences):
        k = rng.choice([1, 2, 2, 3])
        paras.append(" ".join(sentences[i : i + k]))
        i += k
    return paras


def synth_title(rng: random.Random, paragraphs: list[str]) -> str:
    words = re.sub(r"[\"“”,.]", "", paragraphs[0]).split()[: rng.randint(6, 10)]
    title = " ".join(words)
    return title[:1].upper() + title[1:]


def _sites(n_sites: int) -> list[SiteSpec]:
    n_orig = max(1, round(n_sites * 0.6)) if n_sites > 1 else 1
    specs = []
    for i in range(n_orig):
        specs.append(
            SiteSpec(
                name=f"gen-pub-{i + 1:02d}", outlet=f"Generated Publisher {i + 1}",
                credit=f"Publisher {i + 1}", role="original", theme="publisher",
                city="Riverton", url_style="news" if i % 2 else "dated",
                feed="rss", sitemap="plain", priority=10, page_size=20,
            )
        )  # fmt: skip
    for j in range(n_sites - n_orig):
        specs.append(
            SiteSpec(
                name=f"gen-agg-{j + 1:02d}", outlet=f"Generated Aggregator {j + 1}",
                role="aggregator", theme=THEMES[j % 3], url_style="dated" if j % 2 else "news",
                feed="rss", sitemap="plain", priority=1, page_size=20,
                junk={"breadcrumb": ["Home", "today"], "editor": f"(g{j}/g{j})",
                      "visits": [1000 + 37 * j, j + 1], "noise_tag": "viral"},
            )
        )  # fmt: skip
    return specs


def generate(
    n_articles: int, n_sites: int, reprint_share: float, seed: int
) -> tuple[list[SiteSpec], list[Article]]:
    if n_sites < 2:
        raise ValueError("a generated network needs at least 2 sites")
    specs = _sites(n_sites)
    originals_sites = [s for s in specs if s.role == "original"]
    aggregators = [s for s in specs if s.role == "aggregator"]
    by_name = {s.name: s for s in specs}
    rng = random.Random(seed)
    n_reprints = int(round(n_articles * reprint_share)) if aggregators else 0
    n_originals = max(1, n_articles - n_reprints)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    # A further 5% of originals (with a few reprints) form batch 2, for incremental runs:
    # DemoNetwork.publish_next_batch() makes them appear.
    n_later = max(1, n_originals // 20)
    step = timedelta(days=540) / max(1, n_originals + n_later)
    articles: list[Article] = []
    originals: list[Article] = []
    for i in range(n_originals + n_later):
        site = originals_sites[i % len(originals_sites)]
        arng = random.Random(f"{seed}-orig-{i}")
        paras = synth_paragraphs(arng)
        title = synth_title(arng, paras)
        slug = f"{slugify(title)[:60].rstrip('-')}-{i}"
        published = start + step * i + timedelta(minutes=arng.randint(0, 59))
        a = Article(
            site=site.name, slug=slug, title=title, section=arng.choice(SECTIONS),
            tags=arng.sample(TAGS, 3), author=arng.choice(AUTHORS), published=published,
            lang="en", paragraphs=paras, batch=2 if i >= n_originals else 1,
            path=article_path(site.url_style, slug, published),
        )  # fmt: skip
        originals.append(a)
    articles += originals
    used: set[tuple[str, str]] = set()
    n_later_reprints = int(round(n_later * reprint_share)) if aggregators else 0
    if n_reprints > len(aggregators) * n_originals:
        raise ValueError("reprint_share too high: every aggregator would reprint a story twice")
    for k in range(n_reprints + n_later_reprints):
        if k < n_reprints:
            orig = originals[rng.randrange(n_originals)]
        else:
            orig = originals[n_originals + rng.randrange(n_later)]
        agg = aggregators[rng.randrange(len(aggregators))]
        if (agg.name, orig.slug) in used:
            agg = aggregators[(aggregators.index(agg) + 1) % len(aggregators)]
        while (agg.name, orig.slug) in used:  # another reprint of an earlier original
            pool = range(n_originals) if k < n_reprints else range(n_originals, len(originals))
            orig = originals[rng.choice(pool)]
        used.add((agg.name, orig.slug))
        articles.append(_reprint(orig, agg, by_name[orig.site], random.Random(f"{seed}-rep-{k}")))
    return specs, articles


def _reprint(orig: Article, agg: SiteSpec, orig_site: SiteSpec, rng: random.Random) -> Article:
    paras = list(orig.paragraphs)
    if len(paras) > 3 and rng.random() < 0.5:
        del paras[rng.randrange(1, len(paras))]
    if rng.random() < 0.5:
        i = rng.randrange(len(paras))
        sents = split_sentences(paras[i])
        if len(sents) > 1:
            del sents[rng.randrange(len(sents))]
            paras[i] = " ".join(sents)
    paras = [_reword(p, rng, 0.15) for p in paras]
    excerpt = len(paras) > 4 and rng.random() < 0.1
    if excerpt:
        paras = paras[: max(3, int(len(paras) * 0.6))]
    style = rng.choice(["dateline", "paren", "quoted", "source"])
    paras = apply_credit(paras, style, orig_site.credit, orig_site.city, orig.lang)
    if excerpt:
        paras.append(f"Read the full story at {orig_site.credit}")
    published = orig.published + timedelta(hours=rng.uniform(1, 48))
    return Article(
        site=agg.name, slug=orig.slug, title=orig.title, section=orig.section,
        tags=list(orig.tags), author=orig.author, published=published, lang=orig.lang,
        paragraphs=paras, batch=orig.batch, original=orig.key, read_more=excerpt,
        path=article_path(agg.url_style, orig.slug, published),
    )  # fmt: skip
