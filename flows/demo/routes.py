"""What each path of a demo site answers: robots.txt, feeds, sitemaps, articles, listings
(section, tag, author, paginated) and 404s, from the site's index at one content version."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flows.demo import render
from flows.demo.content import Article, SiteSpec, slugify
from flows.demo.response import Response

ROBOTS_DATE = datetime(2024, 1, 1, tzinfo=UTC)
LISTING_RE = re.compile(
    r"^(?P<base>/|/category/(?P<cat>[a-z0-9-]+)/|/tag/(?P<tag>[a-z0-9-]+)/"
    r"|/author/(?P<author>[a-z0-9-]+)/)(?:page/(?P<page>[0-9]+)/)?$"
)


def html(body: str, last_modified: datetime | None, status: int = 200) -> Response:
    return Response(status, body.encode("utf-8"), last_modified=last_modified)


class SiteIndex:
    """Lookup tables for one site's visible articles at one content version."""

    def __init__(self, articles: list[Article]) -> None:
        self.articles = sorted(articles, key=lambda a: (a.published, a.slug), reverse=True)
        self.by_path = {a.path: a for a in self.articles}
        self.by_section: dict[str, list[Article]] = {}
        self.by_tag: dict[str, list[Article]] = {}
        self.by_author: dict[str, list[Article]] = {}
        for a in self.articles:
            self.by_section.setdefault(a.section, []).append(a)
            for t in a.tags:
                self.by_tag.setdefault(t, []).append(a)
            self.by_author.setdefault(slugify(a.author), []).append(a)
        self.latest = self.articles[0].published if self.articles else ROBOTS_DATE
        self.names = {slugify(a.author): a.author for a in self.articles}


def route(spec: SiteSpec, index: SiteIndex, view: render.SiteView, path: str) -> Response:
    """The answer to ``path`` of one site at one content version."""
    if path == "/robots.txt":
        return Response(
            200, render.render_robots(view).encode(), "text/plain; charset=utf-8", ROBOTS_DATE
        )
    if spec.feed_path and path == spec.feed_path:
        if spec.feed == "atom":
            return Response(
                200,
                render.render_atom(view).encode(),
                "application/atom+xml; charset=utf-8",
                index.latest,
            )
        return Response(
            200,
            render.render_rss(view).encode(),
            "application/rss+xml; charset=utf-8",
            index.latest,
        )
    xml = "application/xml; charset=utf-8"
    if spec.sitemap == "plain" and path == "/sitemap.xml":
        return Response(200, render.render_urlset(view, index.articles).encode(), xml, index.latest)
    if spec.sitemap == "news" and path == "/news-sitemap.xml":
        return Response(
            200, render.render_news_sitemap(view, index.articles).encode(), xml, index.latest
        )
    if spec.sitemap == "index":
        older, newer = split_for_index(index.articles)
        if path == "/sitemap.xml":
            children = [
                ("/sitemap-articles.xml", older[0].published if older else ROBOTS_DATE),
                ("/sitemap-news.xml.gz", newer[0].published if newer else ROBOTS_DATE),
            ]
            return Response(
                200, render.render_sitemap_index(view, children).encode(), xml, index.latest
            )
        if path == "/sitemap-articles.xml":
            return Response(
                200,
                render.render_urlset(view, older).encode(),
                xml,
                older[0].published if older else ROBOTS_DATE,
            )
        if path == "/sitemap-news.xml.gz":
            body = render.gzip_bytes(render.render_news_sitemap(view, newer))
            return Response(
                200, body, "application/gzip", newer[0].published if newer else ROBOTS_DATE
            )
    if path.startswith("/private/"):
        return html(render.render_private(view), ROBOTS_DATE)
    article = index.by_path.get(path)
    if article is not None:
        return html(render.render_article(view, article), article.published)
    m = LISTING_RE.match(path)
    if m:
        resp = listing(view, index, m)
        if resp is not None:
            return resp
    return html(render.render_not_found(view), ROBOTS_DATE, status=404)


def split_for_index(articles: list[Article]) -> tuple[list[Article], list[Article]]:
    """Sitemap-index sites: the newest half goes to the gzipped news child sitemap."""
    half = (len(articles) + 1) // 2
    return articles[half:], articles[:half]


def listing(view: render.SiteView, index: SiteIndex, m: re.Match) -> Response | None:
    base = m.group("base")
    if m.group("cat"):
        items = index.by_section.get(m.group("cat"))
        heading = render.label(m.group("cat"))
    elif m.group("tag"):
        items = index.by_tag.get(m.group("tag"))
        heading = f"Tag: {m.group('tag')}"
    elif m.group("author"):
        items = index.by_author.get(m.group("author"))
        heading = f"Articles by {index.names.get(m.group('author'), '')}"
    else:
        items = index.articles
        heading = "Latest news"
    if items is None:
        return None
    size = view.spec.page_size
    pages = max(1, -(-len(items) // size))
    page = int(m.group("page") or 1)
    if m.group("page") and not 2 <= page <= pages:
        return None
    chunk = items[(page - 1) * size : page * size]
    latest = items[0].published if items else index.latest
    return html(render.render_listing(view, heading, base, chunk, page, pages), latest)
