"""Template junk that aggregator pages wrap around a reprinted story.

Each value is chosen deterministically per (site, article), so the renderer and the ground
truth (``DemoTruth.template_strings``) agree on exactly which junk strings a page carries.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC

from flows.demo.content import Article, SiteSpec, load_junk_pools

AKISMET = "This site uses Akismet to reduce spam. Learn how your comment data is processed."
WEEKDAYS_ID = ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"]

# Junk present on every aggregator page of a theme; none of it may survive cleaning.
FIXED_STRINGS = {
    "wordpress": [
        "Leave a Comment",
        "Akismet",
        "Learn how your comment data is processed",
        "Watch the video below",
        "You may also like",
        "Related posts",
        "Share on Facebook",
        "Subscribe to our newsletter",
        "(Visited ",
    ],
    "portal": [
        "Leave a Comment",
        "Akismet",
        "Baca juga:",
        "Berita Terkait",
        "Bagikan:",
        "Dibaca ",
        "Subscribe to our newsletter",
    ],
    "plain": [
        "Leave a Comment",
        "Akismet",
        "Watch the video below",
        "You may also like",
        "Related posts",
        "(Visited ",
        "Subscribe to our newsletter",
    ],
}


def _pick(seq: list, *keys: str) -> object:
    return seq[zlib.crc32("|".join(keys).encode()) % len(seq)]


@dataclass(frozen=True)
class PageJunk:
    breadcrumb: list[str]  # crumbs before the section and title
    category: str
    byline: str
    dateline: str
    photo_caption: str
    video_intro: str
    video_line: str
    editor: str
    raw_timestamp: str
    hashtags: str
    visits: str
    comments: list[tuple[str, str]]

    def breadcrumb_line(self, title: str) -> str:
        return " » ".join([*self.breadcrumb, self.category, title])

    def strings(self, theme: str) -> list[str]:
        """Junk strings of this page that must never appear in cleaned article text."""
        out = [
            " » ".join([*self.breadcrumb, self.category]),
            self.byline,
            self.dateline,
            self.photo_caption,
            self.video_intro.rstrip(":"),
            self.video_line,
            self.editor,
            self.raw_timestamp,
            self.hashtags,
            self.visits,
        ]
        out += [text for _, text in self.comments]
        out += FIXED_STRINGS.get(theme, [])
        return [s for s in out if s]


def page_junk(site: SiteSpec, article: Article, credit: str) -> PageJunk:
    pools = load_junk_pools()
    cfg = site.junk
    local = article.published
    lang_id = article.lang == "id"
    category = article.section.replace("-", " ").title()
    if site.theme == "portal":
        wd = WEEKDAYS_ID[local.weekday()]
        dateline = f"{wd}, {local:%d/%m/%Y %H:%M} WIB"
    elif site.theme == "plain":
        dateline = f"{local:%d %b %Y, %H:%M} GMT"
    else:
        dateline = f"{local:%A, %B} {local.day}, {local:%Y} at {local:%H:%M}"
    videos = pools["videos_id"] if lang_id else pools["videos"]
    tags = " ".join("#" + t.replace("-", "") for t in article.tags)
    visits_total, visits_today = cfg.get("visits", [1000, 1])
    if site.theme == "portal":
        visits = f"Dibaca {visits_total:,} kali".replace(",", ".")
    else:
        visits = f"(Visited {visits_total:,} times, {visits_today} visits today)"
    comments = pools["comments"]
    first = zlib.crc32(f"{site.name}|{article.slug}".encode()) % len(comments)
    picked = [tuple(comments[(first + i) % len(comments)]) for i in range(2)]
    return PageJunk(
        breadcrumb=list(cfg.get("breadcrumb", ["Home"])),
        category=category,
        byline=f"{article.author}, {credit}",
        dateline=dateline,
        photo_caption=(
            f"Photo: {article.photo} ({_pick(pools['photographers'], site.name, article.slug)})"
            if article.photo
            else ""
        ),
        video_intro="Simak video berikut ini:" if lang_id else "Watch the video below:",
        video_line=f"Video: {_pick(videos, site.name, article.slug)}",
        editor=str(cfg.get("editor", "(red/red)")),
        raw_timestamp=f"{article.published.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
        hashtags=f"#{cfg.get('noise_tag', 'news')} {tags}".strip(),
        visits=visits,
        comments=[(str(a), str(b)) for a, b in picked],
    )
