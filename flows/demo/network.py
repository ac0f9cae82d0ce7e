"""The demo news network: several small news sites served on loopback, one HTTP server each.

``DemoNetwork`` serves publisher sites and aggregators that reprint their stories (see
``content.py``), records every request, answers conditional requests with 304, and knows the
ground truth (``DemoTruth``): which pages are reprints of which originals, which sentences
must survive cleaning and which template strings must not.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flows.demo import render
from flows.demo.content import (
    Article,
    SiteSpec,
    apply_credit,
    article_path,
    key_sentences,
    load_originals,
    load_reprints,
    load_sites,
    same_event_pairs,
    slugify,
)
from flows.demo.generated import generate
from flows.demo.http import RecordedRequest, _Handler, _Server
from flows.demo.junk import page_junk
from flows.demo.quirks import QuirksSite, quirks_spec
from flows.demo.response import Response
from flows.demo.routes import SiteIndex, route

DEFAULT_HOST = "127.0.0.1"
DEFAULT_FIRST_PORT = 18701
QUIRKS_NAME = "quirks"


@dataclass
class DemoSite:
    """One site of the network as seen from outside."""

    name: str
    outlet: str
    role: str  # "original" | "aggregator" | "quirks"
    spec: SiteSpec = field(repr=False)
    host: str = DEFAULT_HOST
    port: int = 0

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError(f"site {self.name!r} has no port yet: start the network first")
        return f"http://{self.host}:{self.port}"

    @property
    def priority(self) -> int:
        return self.spec.priority

    @property
    def feed_urls(self) -> list[str]:
        return [self.base_url + self.spec.feed_path] if self.spec.feed_path else []

    @property
    def sitemap_urls(self) -> list[str]:
        return [self.base_url + p for p in self.spec.sitemap_paths]

    @property
    def start_urls(self) -> list[str]:
        return [self.base_url + "/"]


@dataclass
class DemoTruth:
    """What a correct crawl + clean + dedup of the network must find."""

    originals: list[str]
    reprints: dict[str, str]  # reprint URL -> original URL
    same_event_pairs: list[tuple[str, str]]  # independent stories: never duplicates
    template_strings: list[str]  # junk that must never appear in cleaned text
    article_sentences: dict[str, list[str]]  # URL -> sentences that must survive cleaning
    non_article_urls: list[str]  # home, pagination, category, tag and author pages
    disallowed_urls: list[str]  # linked from home pages but disallowed by robots.txt
    page_template_strings: dict[str, list[str]] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    published: dict[str, datetime] = field(default_factory=dict)
    languages: dict[str, str] = field(default_factory=dict)
    quirks: dict[str, str] = field(default_factory=dict)  # quirk name -> URL

    @property
    def article_urls(self) -> list[str]:
        return self.originals + list(self.reprints)

    def duplicate_groups(self) -> list[set[str]]:
        """Each original with all of its reprints."""
        groups: dict[str, set[str]] = {u: {u} for u in self.originals}
        for rep, orig in self.reprints.items():
            groups.setdefault(orig, {orig}).add(rep)
        return list(groups.values())


class DemoNetwork:
    """Small local news websites on loopback: original publishers and aggregators.

    >>> with DemoNetwork() as net:          # free ports
    ...     seeds = net.write_seeds(tmp / "seeds.yaml")
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        ports: dict[str, int] | None = None,
        *,
        quirks: bool = False,
        _specs: list[SiteSpec] | None = None,
        _articles: list[Article] | None = None,
        _same_event: list[tuple[tuple[str, str], tuple[str, str]]] | None = None,
    ) -> None:
        if _specs is None:
            _specs = load_sites()
            originals = load_originals(_specs)
            _articles = originals + load_reprints(_specs, originals)
            _same_event = same_event_pairs()
        self.host = host
        self._specs = list(_specs)
        if quirks:
            self._specs.append(quirks_spec())
        ports = ports or {}
        self.sites = [
            DemoSite(s.name, s.outlet, s.role, s, host, int(ports.get(s.name, 0)))
            for s in self._specs
        ]
        self._site_by_name = {s.name: s for s in self.sites}
        self._articles: dict[str, list[Article]] = {s.name: [] for s in self._specs}
        self._by_key: dict[tuple[str, str], Article] = {}
        for a in _articles or []:
            self._add(a)
        self._same_event = list(_same_event or [])
        self._batch = 1
        self._version = 0
        self._lock = threading.RLock()
        self._indexes: dict[str, tuple[int, SiteIndex]] = {}
        self._cache: dict[tuple[str, str], tuple[int, Response]] = {}
        self._requests: list[RecordedRequest] = []
        self._req_lock = threading.Lock()
        self._servers: list[tuple[_Server, threading.Thread]] = []
        self.stopping = threading.Event()
        self._quirks = None
        if quirks:
            self._quirks = QuirksSite(self)

    # ------------------------------------------------------------ construction helpers

    @staticmethod
    def default_ports() -> dict[str, int]:
        """The fixed ports of ``seeds/demo.yaml`` (the quirks site takes the next one)."""
        names = [s.name for s in load_sites()]
        ports = {name: DEFAULT_FIRST_PORT + i for i, name in enumerate(names)}
        ports[QUIRKS_NAME] = DEFAULT_FIRST_PORT + len(names)
        return ports

    @classmethod
    def generated(
        cls,
        n_articles: int = 5000,
        n_sites: int = 20,
        reprint_share: float = 0.3,
        seed: int = 0,
        host: str = DEFAULT_HOST,
        ports: dict[str, int] | None = None,
    ) -> DemoNetwork:
        """A large synthetic network for benchmarks (text derived from the bundled stories)."""
        specs, articles = generate(n_articles, n_sites, reprint_share, seed)
        return cls(host, ports, _specs=specs, _articles=articles, _same_event=[])

    def _add(self, article: Article) -> None:
        if article.key in self._by_key:
            raise ValueError(f"duplicate article {article.key}")
        self._articles[article.site].append(article)
        self._by_key[article.key] = article

    def site(self, name: str) -> DemoSite:
        return self._site_by_name[name]

    # ------------------------------------------------------------ lifecycle

    def start(self) -> DemoNetwork:
        if self._servers:
            return self
        self.stopping.clear()
        bound: list[_Server] = []
        try:
            for site in self.sites:
                server = _Server((self.host, site.port), _Handler)
                server.network = self  # type: ignore[attr-defined]
                server.site = site  # type: ignore[attr-defined]
                site.port = server.server_address[1]
                bound.append(server)
        except OSError as exc:
            for server in bound:
                server.server_close()
            raise OSError(f"demo network cannot listen on {self.host}:{site.port}: {exc}") from exc
        for server, site in zip(bound, self.sites, strict=True):
            t = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.2},
                daemon=True,
                name=f"demo-{site.name}",
            )
            t.start()
            self._servers.append((server, t))
        return self

    def stop(self) -> None:
        self.stopping.set()
        for server, thread in self._servers:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
        self._servers = []

    def __enter__(self) -> DemoNetwork:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return bool(self._servers)

    # ------------------------------------------------------------ requests log

    def _record(self, req: RecordedRequest) -> None:
        with self._req_lock:
            self._requests.append(req)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request served so far (a copy)."""
        with self._req_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._req_lock:
            self._requests.clear()

    # ------------------------------------------------------------ content changes

    @property
    def pending_batches(self) -> int:
        top = max((a.batch for arts in self._articles.values() for a in arts), default=1)
        return max(0, top - self._batch)

    def publish_next_batch(self) -> list[str]:
        """Make the next batch of articles appear (home, feeds, sitemaps); return their URLs."""
        with self._lock:
            if not self.pending_batches:
                return []
            self._batch += 1
            self._version += 1
            return [
                self.url_of(a.key)
                for arts in self._articles.values()
                for a in arts
                if a.batch == self._batch
            ]

    def add_article(
        self,
        site_name: str,
        title: str,
        body: str | list[str] | None = None,
        *,
        reprint_of: str | None = None,
        section: str = "news",
        tags: list[str] | tuple[str, ...] = (),
        author: str = "Staff Reporter",
        published: datetime | None = None,
        lang: str = "en",
    ) -> str:
        """Publish a new article now; return its URL. ``reprint_of`` (an article URL) makes it a
        reprint of that article with a closing "Source: <outlet>" credit."""
        with self._lock:
            spec = self._site_by_name[site_name].spec
            original = None
            if reprint_of is not None:
                original = self._article_at(reprint_of)
                if original is None:
                    raise ValueError(f"no article at {reprint_of}")
                orig_spec = self._site_by_name[original.site].spec
                paragraphs = apply_credit(
                    original.paragraphs,
                    "source",
                    orig_spec.credit or orig_spec.outlet,
                    orig_spec.city,
                    original.lang,
                )
            elif isinstance(body, str):
                paragraphs = [" ".join(p.split()) for p in body.split("\n\n") if p.strip()]
            else:
                paragraphs = list(body or [])
            if not paragraphs:
                raise ValueError("an article needs a body")
            visible = self._index(site_name).articles
            latest = max(
                [a.published for a in visible] + ([original.published] if original else []),
                default=datetime(2025, 1, 1, tzinfo=UTC),
            )
            when = published or latest + timedelta(hours=1)
            slug = slugify(title)[:80]
            n = 2
            while (site_name, slug) in self._by_key:
                slug = f"{slugify(title)[:80]}-{n}"
                n += 1
            article = Article(
                site=site_name,
                slug=slug,
                title=title,
                section=section,
                tags=list(tags),
                author=author,
                published=when,
                lang=lang,
                paragraphs=paragraphs,
                batch=self._batch,
                original=original.key if original else None,
                path=article_path(spec.url_style, slug, when),
                photo=original.photo if original else "",
            )
            self._add(article)
            self._version += 1
            return self.url_of(article.key)

    def update_article(self, url: str, when: datetime | None = None) -> None:
        """Announce the article at ``url`` as updated at ``when`` (default: an hour after the
        site's newest): its date in the feed and the sitemap, and its page's Last-Modified,
        move on; the URL stays."""
        article = self._article_at(url)
        if article is None:
            raise KeyError(f"no article at {url}")
        with self._lock:
            newest = max(a.published for a in self._articles[article.site])
            article.published = when or newest + timedelta(hours=1)
            self._version += 1

    # ------------------------------------------------------------ views and truth

    def url_of(self, key: tuple[str, str]) -> str:
        return self._site_by_name[key[0]].base_url + self._by_key[key].path

    def _credit_of(self, site_name: str) -> str:
        spec = self._site_by_name[site_name].spec
        return spec.credit or spec.outlet

    def _article_at(self, url: str) -> Article | None:
        parts = urlsplit(url)
        for site in self.sites:
            if site.port == parts.port and site.host == parts.hostname:
                return self._index(site.name).by_path.get(parts.path)
        return None

    def _visible(self, site_name: str) -> list[Article]:
        return [a for a in self._articles[site_name] if a.batch <= self._batch]

    def _index(self, site_name: str) -> SiteIndex:
        with self._lock:
            cached = self._indexes.get(site_name)
            if cached and cached[0] == self._version:
                return cached[1]
            index = SiteIndex(self._visible(site_name))
            self._indexes[site_name] = (self._version, index)
            return index

    def _view(self, site: DemoSite) -> render.SiteView:
        return render.SiteView(
            spec=site.spec,
            base_url=site.base_url,
            articles=self._index(site.name).articles,
            url_of=self.url_of,
            credit_of=self._credit_of,
        )

    def articles(self, site_name: str | None = None) -> list[Article]:
        """Visible articles (of one site, or of all), newest first per site."""
        names = [site_name] if site_name else [s.name for s in self.sites]
        return [a for n in names for a in self._index(n).articles]

    @property
    def truth(self) -> DemoTruth:
        originals: list[str] = []
        reprints: dict[str, str] = {}
        sentences: dict[str, list[str]] = {}
        page_junk_map: dict[str, list[str]] = {}
        titles: dict[str, str] = {}
        published: dict[str, datetime] = {}
        languages: dict[str, str] = {}
        template: dict[str, None] = {}
        non_article: list[str] = []
        disallowed: list[str] = []
        for site in self.sites:
            if site.role == QUIRKS_NAME:
                continue
            index = self._index(site.name)
            view = self._view(site)
            for a in index.articles:
                url = self.url_of(a.key)
                titles[url] = a.title
                published[url] = a.published
                languages[url] = a.lang
                sentences[url] = key_sentences(a)
                if a.original:
                    reprints[url] = self.url_of(a.original)
                else:
                    originals.append(url)
                if site.spec.theme in ("wordpress", "portal", "plain"):
                    credit = self._credit_of(a.original[0]) if a.original else site.outlet
                    strings = page_junk(site.spec, a, credit).strings(site.spec.theme)
                    page_junk_map[url] = strings
                    template.update(dict.fromkeys(strings))
            for base, items in self._listings(index):
                pages = max(1, -(-len(items) // site.spec.page_size))
                non_article.append(view.abs(base))
                non_article += [view.abs(f"{base}page/{p}/") for p in range(2, pages + 1)]
            disallowed.append(view.abs("/private/drafts/"))
        pairs = []
        for ka, kb in self._same_event:
            a, b = self._by_key[ka], self._by_key[kb]
            if a.batch <= self._batch and b.batch <= self._batch:
                pairs.append((self.url_of(ka), self.url_of(kb)))
        truth = DemoTruth(
            originals=originals,
            reprints=reprints,
            same_event_pairs=pairs,
            template_strings=list(template),
            article_sentences=sentences,
            non_article_urls=non_article,
            disallowed_urls=disallowed,
            page_template_strings=page_junk_map,
            titles=titles,
            published=published,
            languages=languages,
        )
        if self._quirks is not None:
            truth.quirks = self._quirks.urls()
            for url, sents in self._quirks.article_sentences().items():
                truth.article_sentences[url] = sents
        return truth

    @staticmethod
    def _listings(index: SiteIndex) -> Iterator[tuple[str, list[Article]]]:
        yield "/", index.articles
        for name, items in sorted(index.by_section.items()):
            yield f"/category/{name}/", items
        for name, items in sorted(index.by_tag.items()):
            yield f"/tag/{name}/", items
        for name, items in sorted(index.by_author.items()):
            yield f"/author/{name}/", items

    # ------------------------------------------------------------ seeds

    def seeds_yaml(self, include_quirks: bool = False) -> str:
        """A newsdedup seeds file for this network (the running one, or its fixed ports)."""
        lines = [
            "# Seeds for the bundled demo news network (flows.demo).",
            "# Written by DemoNetwork.seeds_yaml(); `python -m flows.demo seeds` regenerates it.",
            "sources:",
        ]
        for site in self.sites:
            if site.role == QUIRKS_NAME and not include_quirks:
                continue
            lines.append(f"  - name: {site.name}")
            if site.feed_urls:
                lines.append(f"    feeds: [{', '.join(site.feed_urls)}]")
            if site.sitemap_urls:
                lines.append(f"    sitemaps: [{', '.join(site.sitemap_urls)}]")
            lines.append(f"    start_urls: [{', '.join(site.start_urls)}]")
            lines.append(f"    priority: {site.priority}")
        return "\n".join(lines) + "\n"

    def write_seeds(self, path: str | Path, include_quirks: bool = False) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.seeds_yaml(include_quirks), encoding="utf-8")
        return p

    # ------------------------------------------------------------ serving

    def _respond(self, site: DemoSite, raw_path: str) -> Response:
        if self._quirks is not None and site.role == QUIRKS_NAME:
            return self._quirks.respond(raw_path)
        path = urlsplit(raw_path).path
        version = self._version
        cached = self._cache.get((site.name, path))
        if cached and cached[0] == version:
            return cached[1]
        resp = route(site.spec, self._index(site.name), self._view(site), path)
        # Listings, feeds and sitemaps are cached per content version; article pages are cheap
        # to render and would make the cache grow with the size of the network.
        if resp.stream is None and path not in self._index(site.name).by_path:
            self._cache[(site.name, path)] = (version, resp)
        return resp
