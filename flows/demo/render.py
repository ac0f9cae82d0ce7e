"""HTML, feeds, sitemaps and robots.txt for one demo site.

Publisher sites get a clean but realistic template (nav, JSON-LD NewsArticle, canonical,
og:url, related links, footer). Aggregators get one of three junk-laden themes: ``wordpress``
(WordPress-like classes), ``portal`` (an Indonesian news portal) and ``plain`` (no classes at
all, table layout), which is the hardest for boilerplate removal.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from xml.sax.saxutils import escape as xesc

from flows.demo.content import Article, SiteSpec, slugify
from flows.demo.junk import AKISMET, page_junk


def label(slug: str) -> str:
    return slug.replace("-", " ").title()


@dataclass
class SiteView:
    """What a renderer needs to know about one site at one moment."""

    spec: SiteSpec
    base_url: str
    articles: list[Article]  # visible articles, newest first
    url_of: Callable[[tuple[str, str]], str]  # absolute URL of any article in the network
    credit_of: Callable[[str], str]  # how aggregators credit a site

    def abs(self, path: str) -> str:
        return self.base_url + path

    @property
    def sections(self) -> list[str]:
        return sorted({a.section for a in self.articles})

    def related(self, article: Article, n: int = 3) -> list[Article]:
        return [a for a in self.articles if a is not article][:n]


# ---------------------------------------------------------------- shared bits


def _head(view: SiteView, title: str, extra: str = "", canonical: str = "") -> str:
    spec = view.spec
    feed = ""
    if spec.feed_path:
        kind = "application/atom+xml" if spec.feed == "atom" else "application/rss+xml"
        feed = (
            f'<link rel="alternate" type="{kind}" title="{escape(spec.outlet)}" '
            f'href="{spec.feed_path}">'
        )
    canon = f'<link rel="canonical" href="{escape(canonical)}">' if canonical else ""
    return (
        f'<!DOCTYPE html>\n<html lang="{spec.lang}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n{canon}\n{feed}\n{extra}\n</head>\n"
    )


def _paras(view: SiteView, article: Article) -> list[str]:
    out = []
    for i, p in enumerate(article.paragraphs):
        if article.read_more and i == len(article.paragraphs) - 1 and article.original:
            credit = view.credit_of(article.original[0])
            href = escape(view.url_of(article.original))
            out.append(f'<p>Read the full story at <a href="{href}">{escape(credit)}</a></p>')
        else:
            out.append(f"<p>{escape(p)}</p>")
    return out


def _listing_items(articles: list[Article], cls: bool = True) -> str:
    rows = []
    for a in articles:
        date = f"{a.published:%d %b %Y}"
        if cls:
            rows.append(
                f'<li class="teaser"><a class="teaser-title" href="{a.path}">{escape(a.title)}</a>'
                f' <span class="teaser-date">{date}</span>'
                f'<p class="teaser-summary">{escape(a.summary)}</p></li>'
            )
        else:
            rows.append(f'<li><a href="{a.path}">{escape(a.title)}</a> - {date}</li>')
    return "\n".join(rows)


def _pager(base: str, page: int, pages: int) -> str:
    links = []
    if page > 1:
        prev = base if page == 2 else f"{base}page/{page - 1}/"
        links.append(f'<a rel="prev" href="{prev}">« Newer</a>')
    if page < pages:
        links.append(f'<a rel="next" href="{base}page/{page + 1}/">Older »</a>')
    return f'<nav class="pagination">{" ".join(links)}</nav>' if links else ""


def _nav(view: SiteView) -> str:
    items = "".join(
        f'<li><a href="/category/{s}/">{escape(label(s))}</a></li>' for s in view.sections
    )
    return f'<ul class="menu"><li><a href="/">Home</a></li>{items}</ul>'


# ---------------------------------------------------------------- listing pages


def render_listing(
    view: SiteView, heading: str, base: str, articles: list[Article], page: int, pages: int
) -> str:
    spec = view.spec
    title = spec.outlet if base == "/" and page == 1 else f"{heading} – {spec.outlet}"
    head = _head(view, title, canonical=view.abs(base if page == 1 else f"{base}page/{page}/"))
    private = ""
    if base == "/":
        # robots.txt disallows /private/; a polite crawler must not follow this link.
        private = '<p class="staff"><a href="/private/drafts/">Staff drafts</a></p>'
    tags = sorted({t for a in view.articles for t in a.tags})[:12]
    tag_links = " ".join(f'<a href="/tag/{t}/">#{escape(t)}</a>' for t in tags)
    authors = sorted({a.author for a in view.articles})
    author_links = " · ".join(f'<a href="/author/{slugify(a)}/">{escape(a)}</a>' for a in authors)
    return (
        f'{head}<body>\n<header><a href="/"><b>{escape(spec.outlet)}</b></a>\n'
        f"<nav>{_nav(view)}</nav></header>\n<main>\n<h1>{escape(heading)}</h1>\n"
        f'<ul class="article-list">\n{_listing_items(articles, spec.theme != "plain")}\n</ul>\n'
        f"{_pager(base, page, pages)}\n</main>\n"
        f"<aside><h2>Topics</h2><p>{tag_links}</p><h2>Writers</h2><p>{author_links}</p></aside>\n"
        f"<footer><p>© 2025 {escape(spec.outlet)}. All rights reserved.</p>{private}</footer>\n"
        "</body>\n</html>\n"
    )


def render_private(view: SiteView) -> str:
    return (
        _head(view, f"Staff area – {view.spec.outlet}")
        + "<body><h1>Staff area</h1><p>Unpublished drafts. Crawlers must not fetch this.</p>"
        "</body></html>\n"
    )


def render_not_found(view: SiteView) -> str:
    return (
        _head(view, f"Page not found – {view.spec.outlet}")
        + "<body><h1>Page not found</h1>"
        + '<p><a href="/">Back to the front page</a></p></body></html>\n'
    )


# ---------------------------------------------------------------- article pages


def render_article(view: SiteView, article: Article) -> str:
    theme = view.spec.theme
    if theme == "publisher":
        return _publisher_article(view, article)
    credit = view.credit_of(article.original[0]) if article.original else view.spec.outlet
    junk = page_junk(view.spec, article, credit)
    if theme == "wordpress":
        return _wordpress_article(view, article, junk)
    if theme == "portal":
        return _portal_article(view, article, junk)
    return _plain_article(view, article, junk)


def _publisher_article(view: SiteView, a: Article) -> str:
    spec = view.spec
    url = view.abs(a.path)
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": a.title,
        "datePublished": a.published.isoformat(),
        "dateModified": a.published.isoformat(),
        "author": [{"@type": "Person", "name": a.author}],
        "publisher": {"@type": "Organization", "name": spec.outlet},
        "mainEntityOfPage": url,
        "articleSection": label(a.section),
        "keywords": a.tags,
        "inLanguage": a.lang,
    }
    extra = (
        f'<meta name="description" content="{escape(a.summary)}">\n'
        f'<meta property="og:type" content="article">\n'
        f'<meta property="og:title" content="{escape(a.title)}">\n'
        f'<meta property="og:url" content="{escape(url)}">\n'
        f'<meta property="og:site_name" content="{escape(spec.outlet)}">\n'
        f'<meta property="article:published_time" content="{a.published.isoformat()}">\n'
        f'<meta name="author" content="{escape(a.author)}">\n'
        f'<script type="application/ld+json">{json.dumps(ld, ensure_ascii=False)}</script>'
    )
    related = "".join(f'<li><a href="{r.path}">{escape(r.title)}</a></li>' for r in view.related(a))
    tags = "".join(f'<li><a href="/tag/{t}/">{escape(t)}</a></li>' for t in a.tags)
    figure = (
        f'<figure class="lead-image"><img src="/img/{a.slug}.jpg" alt="{escape(a.photo)}">'
        f"<figcaption>{escape(a.photo)}</figcaption></figure>"
        if a.photo
        else ""
    )
    body = "\n".join(_paras(view, a))
    return (
        _head(view, f"{a.title} | {spec.outlet}", extra, canonical=url)
        + f'<body class="article-page">\n<header class="masthead"><a class="logo" href="/">'
        f'{escape(spec.outlet)}</a>\n<nav class="sections">{_nav(view)}</nav></header>\n'
        f'<main>\n<article class="story">\n<p class="kicker"><a href="/category/{a.section}/">'
        f'{escape(label(a.section))}</a></p>\n<h1 class="headline">{escape(a.title)}</h1>\n'
        f'<p class="byline">By <a href="/author/{slugify(a.author)}/">{escape(a.author)}</a>'
        f' · <time datetime="{a.published.isoformat()}">{a.published:%B %d, %Y %H:%M}</time></p>\n'
        f'{figure}\n<div class="story-body">\n{body}\n</div>\n'
        f'<ul class="story-tags">{tags}</ul>\n</article>\n'
        f'<aside class="related"><h2>More from {escape(spec.outlet)}</h2>'
        f"<ul>{related}</ul></aside>\n"
        f'</main>\n<footer class="site-footer"><p>© 2025 {escape(spec.outlet)}. '
        f'All rights reserved.</p><p><a href="/">Front page</a></p></footer>\n</body>\n</html>\n'
    )


def _comments_html(junk, with_classes: bool) -> str:
    if with_classes:
        items = "".join(
            f'<li class="comment"><div class="comment-author"><b class="fn">{escape(n)}</b> '
            f'<span class="says">says:</span></div><div class="comment-content"><p>{escape(t)}</p>'
            f"</div></li>"
            for n, t in junk.comments
        )
        return f'<ol class="comment-list">{items}</ol>'
    return "".join(f"<div><b>{escape(n)}</b>: {escape(t)}</div>" for n, t in junk.comments)


def _comment_form(with_classes: bool) -> str:
    if with_classes:
        return (
            '<div id="respond" class="comment-respond">'
            '<h3 id="reply-title" class="comment-reply-title">Leave a Comment</h3>'
            '<form action="/wp-comments-post.php" method="post" id="commentform">'
            '<p class="comment-form-comment"><textarea id="comment" name="comment"></textarea></p>'
            '<p class="comment-form-author">'
            '<input id="author" name="author" placeholder="Name*"></p>'
            '<p class="form-submit"><input type="submit" value="Post Comment"></p></form>'
            '<p class="akismet_comment_form_privacy_notice">This site uses Akismet to reduce spam. '
            '<a href="https://akismet.com/privacy/" target="_blank">Learn how your comment data is '
            "processed.</a></p></div>"
        )
    return (
        '<div><b>Leave a Comment</b><form method="post" action="/comment">'
        '<textarea name="comment"></textarea><br><input name="author"><input type="submit" '
        f'value="Post Comment"></form><p>{AKISMET}</p></div>'
    )


def _wordpress_article(view: SiteView, a: Article, junk) -> str:
    spec = view.spec
    crumbs = " » ".join(f'<a href="/">{escape(c)}</a>' for c in junk.breadcrumb)
    related = view.related(a, 4)
    also = "".join(
        f'<li class="related-post"><a href="{r.path}">{escape(r.title)}</a></li>'
        for r in related[:2]
    )
    widget = "".join(f'<li><a href="{r.path}">{escape(r.title)}</a></li>' for r in related)
    body = "\n".join(_paras(view, a))
    tag_links = ", ".join(f'<a href="/tag/{t}/" rel="tag">{escape(t)}</a>' for t in a.tags)
    return (
        _head(view, f"{a.title} – {spec.outlet}", canonical=view.abs(a.path))
        + '<body class="post-template-default single single-post single-format-standard">\n'
        f'<div id="page" class="site">\n<header id="masthead" class="site-header">'
        f'<p class="site-title"><a href="/" rel="home">{escape(spec.outlet)}</a></p>'
        f'<nav id="site-navigation" class="main-navigation">{_nav(view)}</nav></header>\n'
        f'<div class="breadcrumbs" typeof="BreadcrumbList">{crumbs} » '
        f'<a href="/category/{a.section}/">{escape(junk.category)}</a> » '
        f'<span class="current">{escape(a.title)}</span></div>\n'
        f'<div id="content" class="site-content"><main id="main" class="site-main">\n'
        f'<article class="post type-post status-publish format-standard hentry">\n'
        f'<header class="entry-header"><h1 class="entry-title">{escape(a.title)}</h1>\n'
        f'<span class="cat-links"><a href="/category/{a.section}/" rel="category tag">'
        f"{escape(junk.category)}</a></span>\n"
        f'<div class="entry-meta"><span class="byline author vcard">{escape(junk.byline)}</span>'
        f' <span class="post-kind">News</span> <span class="posted-on"><time class="entry-date '
        f'published" datetime="{a.published.isoformat()}">{escape(junk.dateline)}</time></span>'
        f"</div></header>\n"
        + (
            f'<figure class="wp-block-image size-large">'
            f'<img src="/wp-content/uploads/{a.slug}.jpg" '
            f'alt=""><figcaption class="wp-element-caption">{escape(junk.photo_caption)}'
            f"</figcaption></figure>\n"
            if junk.photo_caption
            else ""
        )
        + f'<div class="entry-content">\n{body}\n<p>{escape(junk.video_intro)}</p>\n'
        f'<p class="video-title">{escape(junk.video_line)}</p>\n<p>{escape(junk.editor)}</p>\n'
        f'<p class="post-raw-date">{junk.raw_timestamp}</p>\n'
        f'<p class="post-hashtags">{escape(junk.hashtags)}</p>\n</div>\n'
        f'<footer class="entry-footer"><span class="tags-links">Tagged {tag_links}</span>'
        f'<div class="sharedaddy sd-sharing-enabled"><h3 class="sd-title">Share this:</h3>'
        f'<a class="share-facebook" href="#">Share on Facebook</a> '
        f'<a class="share-twitter" href="#">Share on X</a> '
        f'<a class="share-whatsapp" href="#">Share on WhatsApp</a></div>'
        f'<div class="post-views">{escape(junk.visits)}</div></footer>\n</article>\n'
        f'<section class="jp-relatedposts"><h3 class="jp-relatedposts-headline">You may also like'
        f"</h3><ul>{also}</ul></section>\n"
        f'<div id="comments" class="comments-area"><h2 class="comments-title">'
        f"{len(junk.comments)} thoughts on “{escape(a.title)}”</h2>"
        f"{_comments_html(junk, True)}{_comment_form(True)}</div>\n</main>\n"
        f'<aside id="secondary" class="widget-area"><section class="widget widget_recent_entries">'
        f'<h2 class="widget-title">Related posts</h2><ul>{widget}</ul></section>'
        f'<section class="widget widget_newsletter"><h2 class="widget-title">Newsletter</h2>'
        f"<p>Subscribe to our newsletter and get the top stories every morning.</p>"
        f'<form><input type="email" placeholder="Email"><button>Subscribe</button></form>'
        f"</section></aside></div>\n"
        f'<footer id="colophon" class="site-footer"><div class="site-info">© 2025 '
        f"{escape(spec.outlet)} · Proudly powered by WordPress</div></footer>\n</div>\n"
        "</body>\n</html>\n"
    )


def _portal_article(view: SiteView, a: Article, junk) -> str:
    spec = view.spec
    related = view.related(a, 4)
    paras = _paras(view, a)
    if related and len(paras) > 3:
        r = related[0]
        paras.insert(
            2,
            f'<p class="baca-juga"><strong>Baca juga:</strong> <a href="{r.path}">'
            f"{escape(r.title)}</a></p>",
        )
    body = "\n".join(paras)
    crumbs = " » ".join(f'<a href="/">{escape(c)}</a>' for c in junk.breadcrumb)
    terkait = "".join(
        f'<div class="list-berita"><a href="{r.path}">{escape(r.title)}</a></div>' for r in related
    )
    tag_links = " ".join(f'<a href="/tag/{t}/">{escape(t)}</a>' for t in a.tags)
    return (
        _head(view, f"{a.title} - {spec.outlet}", canonical=view.abs(a.path))
        + f'<body>\n<div class="header"><div class="logo"><a href="/">{escape(spec.outlet)}</a>'
        f'</div><div class="nav">{_nav(view)}</div></div>\n'
        f'<div class="container"><div class="detail">\n'
        f'<div class="detail__breadcrumb">{crumbs} » <a href="/category/{a.section}/">'
        f"{escape(junk.category)}</a> » {escape(a.title)}</div>\n"
        f'<div class="detail__header"><h1 class="detail__title">{escape(a.title)}</h1>\n'
        f'<div class="detail__label">{escape(junk.category)}</div>\n'
        f'<div class="detail__author">{escape(junk.byline)}</div>\n'
        f'<div class="detail__kanal">News</div>\n'
        f'<div class="detail__date">{escape(junk.dateline)}</div></div>\n'
        + (
            f'<div class="detail__media"><img src="/foto/{a.slug}.jpg" alt="">'
            f'<div class="detail__media-caption">{escape(junk.photo_caption)}</div></div>\n'
            if junk.photo_caption
            else ""
        )
        + f'<div class="detail__body-text">\n{body}\n'
        f"<p><strong>{escape(junk.video_intro)}</strong></p>\n"
        f'<div class="video-embed"><p>{escape(junk.video_line)}</p></div>\n'
        f"<p>{escape(junk.editor)}</p>\n</div>\n"
        f'<div class="detail__raw-date">{junk.raw_timestamp}</div>\n'
        f'<div class="detail__hashtag">{escape(junk.hashtags)}</div>\n'
        f'<div class="detail__tag">Tag: {tag_links}</div>\n'
        f'<div class="detail__share">Bagikan: <a href="#">Facebook</a> <a href="#">Twitter</a> '
        f'<a href="#">WhatsApp</a> <a href="#">Salin Tautan</a></div>\n'
        f'<div class="detail__views">{escape(junk.visits)}</div>\n'
        f'<div class="berita-terkait"><h3>Berita Terkait</h3>{terkait}</div>\n'
        f'<div class="komentar">{_comments_html(junk, True)}{_comment_form(True)}</div>\n'
        f'</div>\n<div class="sidebar"><div class="newsletter"><p>Subscribe to our newsletter, '
        f'dapatkan berita pilihan setiap pagi.</p><form><input type="email"></form></div>'
        f'</div></div>\n<div class="footer">© 2025 {escape(spec.outlet)} | Redaksi | '
        f"Pedoman Media Siber</div>\n</body>\n</html>\n"
    )


def _plain_article(view: SiteView, a: Article, junk) -> str:
    spec = view.spec
    related = view.related(a, 4)
    body = "\n".join(_paras(view, a))
    also = "".join(f'<li><a href="{r.path}">{escape(r.title)}</a></li>' for r in related[:2])
    side = "".join(f'<li><a href="{r.path}">{escape(r.title)}</a></li>' for r in related)
    crumbs = " » ".join(escape(c) for c in junk.breadcrumb)
    nav = " | ".join(f'<a href="/category/{s}/">{escape(label(s))}</a>' for s in view.sections)
    return (
        _head(view, f"{a.title} :: {spec.outlet}")
        + f'<body>\n<table width="100%"><tr><td valign="top">\n'
        f'<div><a href="/"><b>{escape(spec.outlet)}</b></a> | {nav}</div>\n'
        f'<div><a href="/">{crumbs}</a> » {escape(junk.category)} » {escape(a.title)}</div>\n'
        f"<div><h2>{escape(a.title)}</h2>\n<div>{escape(junk.category)}</div>\n"
        f"<div>{escape(junk.byline)}</div>\n<div>News</div>\n<div>{escape(junk.dateline)}</div>\n"
        + (
            f'<div><img src="/images/{a.slug}.jpg"><br>{escape(junk.photo_caption)}</div>\n'
            if junk.photo_caption
            else ""
        )
        + f"{body}\n<p>{escape(junk.video_intro)}</p>\n<p>{escape(junk.video_line)}</p>\n"
        f"<p>{escape(junk.editor)}</p>\n<div>{junk.raw_timestamp}<br>{escape(junk.hashtags)}</div>\n"
        f'<div><b>Share:</b> <a href="#">Facebook</a> <a href="#">Twitter</a> '
        f'<a href="#">Email</a></div>\n<div>{escape(junk.visits)}</div>\n'
        f"<div><b>You may also like</b><ul>{also}</ul></div>\n"
        f"{_comment_form(False)}\n<div><b>Comments ({len(junk.comments)})</b>"
        f'{_comments_html(junk, False)}</div>\n</div>\n</td>\n<td width="250" valign="top">'
        f"<b>Related posts</b><ul>{side}</ul><p>Subscribe to our newsletter</p>"
        f'<form><input name="email"></form></td></tr></table>\n'
        f"<div>© 2025 {escape(spec.outlet)}</div>\n</body>\n</html>\n"
    )


# ---------------------------------------------------------------- machine-readable files


def http_date(dt: datetime) -> str:
    return format_datetime(dt.astimezone(UTC).replace(microsecond=0), usegmt=True)


def render_robots(view: SiteView, crawl_delay: int | None = None) -> str:
    lines = ["User-agent: *", "Disallow: /private/"]
    if crawl_delay:
        lines.append(f"Crawl-delay: {crawl_delay}")
    lines.append("")
    lines += [f"Sitemap: {view.abs(p)}" for p in view.spec.sitemap_paths]
    return "\n".join(lines) + "\n"


def render_rss(view: SiteView, limit: int = 50) -> str:
    spec = view.spec
    items = []
    for a in view.articles[:limit]:
        url = view.abs(a.path)
        items.append(
            f"<item><title>{xesc(a.title)}</title><link>{xesc(url)}</link>"
            f'<guid isPermaLink="true">{xesc(url)}</guid>'
            f"<pubDate>{http_date(a.published)}</pubDate>"
            f"<category>{xesc(label(a.section))}</category><description>{xesc(a.summary)}"
            "</description></item>"
        )
    updated = http_date(view.articles[0].published) if view.articles else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        f"<title>{xesc(spec.outlet)}</title><link>{xesc(view.abs('/'))}</link>"
        f"<description>Latest stories from {xesc(spec.outlet)}</description>"
        f"<language>{spec.lang}</language><lastBuildDate>{updated}</lastBuildDate>"
        f'<atom:link href="{xesc(view.abs("/feed.xml"))}" rel="self" type="application/rss+xml"/>\n'
        + "\n".join(items)
        + "\n</channel>\n</rss>\n"
    )


def render_atom(view: SiteView, limit: int = 50) -> str:
    spec = view.spec
    entries = []
    for a in view.articles[:limit]:
        url = view.abs(a.path)
        entries.append(
            f'<entry><title>{xesc(a.title)}</title><link rel="alternate" href="{xesc(url)}"/>'
            f"<id>{xesc(url)}</id><published>{a.published.isoformat()}</published>"
            f"<updated>{a.published.isoformat()}</updated><author><name>{xesc(a.author)}</name>"
            f"</author><summary>{xesc(a.summary)}</summary></entry>"
        )
    updated = view.articles[0].published.isoformat() if view.articles else "2024-01-01T00:00:00Z"
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
        f"<title>{xesc(spec.outlet)}</title><id>{xesc(view.abs('/'))}</id>"
        f'<link rel="self" href="{xesc(view.abs("/atom.xml"))}"/>'
        f'<link rel="alternate" href="{xesc(view.abs("/"))}"/><updated>{updated}</updated>\n'
        + "\n".join(entries)
        + "\n</feed>\n"
    )


def render_urlset(view: SiteView, articles: list[Article], with_home: bool = True) -> str:
    rows = []
    if with_home:
        rows.append(f"<url><loc>{xesc(view.abs('/'))}</loc><changefreq>hourly</changefreq></url>")
    for a in articles:
        rows.append(
            f"<url><loc>{xesc(view.abs(a.path))}</loc><lastmod>{a.published.isoformat()}</lastmod></url>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        + "\n".join(rows)
        + "\n</urlset>\n"
    )


def render_news_sitemap(view: SiteView, articles: list[Article]) -> str:
    spec = view.spec
    rows = []
    for a in articles:
        rows.append(
            f"<url><loc>{xesc(view.abs(a.path))}</loc><news:news><news:publication>"
            f"<news:name>{xesc(spec.outlet)}</news:name><news:language>{a.lang}</news:language>"
            f"</news:publication><news:publication_date>{a.published.isoformat()}"
            f"</news:publication_date><news:title>{xesc(a.title)}</news:title></news:news></url>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n'
        + "\n".join(rows)
        + "\n</urlset>\n"
    )


def render_sitemap_index(view: SiteView, children: list[tuple[str, datetime]]) -> str:
    rows = [
        f"<sitemap><loc>{xesc(view.abs(p))}</loc><lastmod>{lm.isoformat()}</lastmod></sitemap>"
        for p, lm in children
    ]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        + "\n".join(rows)
        + "\n</sitemapindex>\n"
    )


def gzip_bytes(text: str) -> bytes:
    return gzip.compress(text.encode("utf-8"), mtime=0)
