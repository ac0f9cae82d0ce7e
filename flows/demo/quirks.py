"""The quirks site: the awkward things real sites do, for crawler robustness tests.

Opt-in (``DemoNetwork(quirks=True)``) and never in the demo seeds. Its sitemap lists every
quirk, including a URL under the robots-disallowed ``/private/``:

=================  ==========================================================================
/flaky             500 on the first request, 200 (an article) afterwards
/slow              answers after ``SLOW_SECONDS`` (returns early when the network stops)
/redirect1         301 -> /redirect2 -> 302 -> the article at REDIRECT_TARGET
/doc.pdf           application/pdf
/malformed         broken HTML (unclosed tags, stray end tags) that still holds an article
/cp1252            windows-1252 bytes, charset declared only in <meta>
/cp1252-header     windows-1252 bytes, charset declared only in the Content-Type header
/huge              an HTML page larger than 10 MB, streamed
/to-loopback       302 to an article of another site of the network (127.0.0.1:<port>)
/to-metadata       302 to the cloud metadata address 169.254.169.254
robots.txt         Crawl-delay: 1, Disallow: /private/
=================  ==========================================================================
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from html import escape
from typing import Any, Protocol
from urllib.parse import urlsplit

from flows.demo.content import Article, SiteSpec, key_sentences
from flows.demo.generated import synth_paragraphs
from flows.demo.response import Response


class NetworkView(Protocol):
    """What the quirks site uses of the demo network (flows.demo.network.DemoNetwork)."""

    sites: list[Any]
    stopping: threading.Event

    def site(self, name: str) -> Any: ...

    def articles(self, site_name: str | None = None) -> list[Any]: ...

    def url_of(self, key: tuple[str, str]) -> str: ...


SLOW_SECONDS = 30.0
HUGE_BYTES = 10 * 1024 * 1024 + 512 * 1024
REDIRECT_TARGET = "/2024/06/03/redirected-article/"
METADATA_URL = "http://169.254.169.254/latest/meta-data/"
QUIRKS_DATE = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)

# Hand-written so that decoding mistakes show: curly quotes, dashes, é, è, ü.
CP1252_META = [
    "The café on Rue Sainte-Catherine reopened on Monday after a two-month renovation, and "
    "its owner, André Lefèvre, says the queue outside surprised even him.",
    "“We expected the regulars,” Lefèvre said, wiping down the new zinc counter. “We did not "
    "expect the students from the university to come back before their exams.”",
    "The renovation replaced the café’s old espresso machine, rebuilt the kitchen and added a "
    "small terrace facing the market square. The city granted the terrace permit in March "
    "after neighbours – worried about noise in the evenings – agreed to a closing time of "
    "nine o’clock.",
    "Lefèvre, who took over the business from his aunt Hélène in 2011, said prices would rise "
    "slightly to cover higher rents and the cost of coffee beans, which have become much "
    "more expensive over the past year. A café crème now costs €3.20.",
    "Regulars seemed untroubled. “It’s the same coffee and the same view,” said Zoë Müller, "
    "a retired teacher who has come every morning for almost twenty years. “That’s what "
    "matters.”",
]
CP1252_HEADER = [
    "The régional orchestra’s winter season opens on Friday with a programme that its new "
    "conductor, Inès Delacroix, describes as “a love letter to the river towns”.",
    "Delacroix, who arrived from Lyon in September, has paired familiar symphonies with "
    "three pieces by local composers – one of them written for the orchestra’s centenary "
    "and never performed since.",
    "“Audiences here are loyal but curious,” she said after a rehearsal on Tuesday. “They "
    "will forgive you a risk if you explain why you took it.”",
    "Ticket sales are up by about a fifth compared with last winter, the orchestra said, "
    "helped by a scheme that offers seats for €5 to anyone under twenty-six. The opening "
    "concert is almost sold out, but a few places remain for the Sunday matinée.",
    "The season also includes a series of free lunchtime recitals in the cathedral, which "
    "reopened last spring after repairs to its roof and façade.",
]

QUIRK_PATHS = {
    "flaky": "/flaky",
    "slow": "/slow",
    "redirect": "/redirect1",
    "redirect_hop": "/redirect2",
    "redirect_target": REDIRECT_TARGET,
    "pdf": "/doc.pdf",
    "malformed": "/malformed",
    "cp1252_meta": "/cp1252",
    "cp1252_header": "/cp1252-header",
    "huge": "/huge",
    "to_loopback": "/to-loopback",
    "to_metadata": "/to-metadata",
    "private": "/private/listed-in-sitemap",
}


def quirks_spec() -> SiteSpec:
    return SiteSpec(
        name="quirks",
        outlet="The Quirks Gazette",
        role="quirks",
        theme="quirks",
        feed="none",
        sitemap="plain",
        priority=0,
    )


def _pdf() -> bytes:
    text = b"BT /F1 12 Tf 72 720 Td (Annual report 2024) Tj ET"
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, obj)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


class QuirksSite:
    """Answers the quirks site's requests; created by DemoNetwork(quirks=True)."""

    def __init__(self, network: NetworkView, slow_seconds: float = SLOW_SECONDS) -> None:
        self.network = network
        self.slow_seconds = slow_seconds
        self._flaky_hits = 0
        self._lock = threading.Lock()
        rng = random.Random("quirks")
        self.texts = {
            "flaky": ("Harbour authority approves dredging plan", synth_paragraphs(rng, 12)),
            "slow": ("Regional rail timetable changes from June", synth_paragraphs(rng, 12)),
            "redirect_target": ("Museum extends opening hours", synth_paragraphs(rng, 12)),
            "malformed": ("Water utility warns of summer shortages", synth_paragraphs(rng, 12)),
            "huge": ("A very long page", synth_paragraphs(rng, 12)),
            "cp1252_meta": ("Café reopens after renovation", CP1252_META),
            "cp1252_header": ("Orchestra’s new season opens", CP1252_HEADER),
        }

    @property
    def site(self):  # type: ignore[no-untyped-def]
        return self.network.site("quirks")

    def urls(self) -> dict[str, str]:
        base = self.site.base_url
        return {name: base + path for name, path in QUIRK_PATHS.items()}

    def article_sentences(self) -> dict[str, list[str]]:
        """Sentences the article-bearing quirk pages must yield after cleaning."""
        urls = self.urls()
        out = {}
        for name in ("flaky", "redirect_target", "malformed", "cp1252_meta", "cp1252_header"):
            title, paras = self.texts[name]
            a = Article("quirks", name, title, "news", [], "Staff", QUIRKS_DATE, "en", paras)
            out[urls[name]] = key_sentences(a)
        return out

    # ---------------------------------------------------------------- pages

    def _article_html(self, name: str, head_extra: str = "") -> str:
        title, paras = self.texts[name]
        body = "\n".join(f"<p>{escape(p)}</p>" for p in paras)
        return (
            f'<!DOCTYPE html>\n<html lang="en">\n<head>\n{head_extra}\n'
            f'<title>{escape(title)}</title>\n</head>\n<body>\n<header><a href="/">The Quirks '
            f'Gazette</a></header>\n<article>\n<h1>{escape(title)}</h1>\n<p class="byline">By '
            f"Staff Reporter</p>\n{body}\n</article>\n<footer>© 2024 The Quirks Gazette</footer>"
            "\n</body>\n</html>\n"
        )

    def _malformed(self) -> str:
        title, paras = self.texts["malformed"]
        body = "\n".join(
            f"<p>{escape(p)}" + ("</div>" if i == 1 else "") + ("<b>" if i == 2 else "")
            for i, p in enumerate(paras)
        )
        return (
            f"<html><head><title>{escape(title)}<title>\n<meta charset=utf-8>\n<body>"
            f"<div id=main><table><tr><td><h1>{escape(title)}</h2>\n<div class=story>\n{body}\n"
            "<p>Comments are closed.<span></td></tr>\n<footer>© The Quirks Gazette"
        )

    def _home(self) -> str:
        links = "\n".join(f'<li><a href="{p}">{escape(n)}</a></li>' for n, p in QUIRK_PATHS.items())
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            "<title>The Quirks Gazette</title></head><body><h1>The Quirks Gazette</h1>"
            f"<ul>\n{links}\n</ul></body></html>\n"
        )

    def _huge(self) -> tuple[int, Iterator[bytes]]:
        title, paras = self.texts["huge"]
        head = (
            f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"</head><body><h1>{escape(title)}</h1>"
        ).encode()
        tail = b"</body></html>\n"
        filler = ("".join(f"<p>{escape(p)}</p>\n" for p in paras)).encode()
        n_fill = (HUGE_BYTES - len(head) - len(tail)) // len(filler) + 1
        length = len(head) + n_fill * len(filler) + len(tail)

        def chunks() -> Iterator[bytes]:
            yield head
            block = filler * 64
            left = n_fill
            while left >= 64:
                yield block
                left -= 64
            yield filler * left
            yield tail

        return length, chunks()

    def _loopback_target(self) -> str:
        for site in self.network.sites:
            if site.role != "quirks":
                articles = self.network.articles(site.name)
                if articles:
                    return self.network.url_of(articles[-1].key)
        return self.site.base_url + "/"

    def respond(self, raw_path: str) -> Response:
        path = urlsplit(raw_path).path
        base = self.site.base_url
        lm = QUIRKS_DATE
        if path == "/":
            return Response(200, self._home().encode(), last_modified=lm)
        if path == "/robots.txt":
            robots = (
                "User-agent: *\nCrawl-delay: 1\nDisallow: /private/\n\n"
                f"Sitemap: {base}/sitemap.xml\n"
            )
            return Response(200, robots.encode(), "text/plain; charset=utf-8", lm)
        if path == "/sitemap.xml":
            rows = "\n".join(
                f"<url><loc>{base}{p}</loc></url>"
                for n, p in QUIRK_PATHS.items()
                if n not in ("redirect_hop", "redirect_target")
            )
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/'
                f'schemas/sitemap/0.9">\n{rows}\n</urlset>\n'
            )
            return Response(200, xml.encode(), "application/xml; charset=utf-8", lm)
        if path == "/flaky":
            with self._lock:
                self._flaky_hits += 1
                first = self._flaky_hits == 1
            if first:
                return Response(
                    500, b"<html><body><h1>Internal Server Error</h1></body></html>",
                    last_modified=lm,
                )  # fmt: skip
            return Response(200, self._article_html("flaky").encode(), last_modified=lm)
        if path == "/slow":
            self.network.stopping.wait(self.slow_seconds)
            return Response(200, self._article_html("slow").encode(), last_modified=lm)
        if path == "/redirect1":
            return Response(301, b"", headers={"Location": "/redirect2"}, last_modified=lm)
        if path == "/redirect2":
            return Response(302, b"", headers={"Location": base + REDIRECT_TARGET})
        if path == REDIRECT_TARGET:
            return Response(200, self._article_html("redirect_target").encode(), last_modified=lm)
        if path == "/doc.pdf":
            return Response(200, _pdf(), "application/pdf", lm)
        if path == "/malformed":
            return Response(200, self._malformed().encode(), last_modified=lm)
        if path == "/cp1252":
            page = self._article_html(
                "cp1252_meta",
                '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">',
            )
            return Response(200, page.encode("cp1252"), "text/html", lm)
        if path == "/cp1252-header":
            page = self._article_html("cp1252_header")
            return Response(200, page.encode("cp1252"), "text/html; charset=windows-1252", lm)
        if path == "/huge":
            return Response(
                200, None, last_modified=lm, stream=self._huge(), etag='"huge-v1"'
            )  # fmt: skip
        if path == "/to-loopback":
            return Response(302, b"", headers={"Location": self._loopback_target()})
        if path == "/to-metadata":
            return Response(302, b"", headers={"Location": METADATA_URL})
        if path.startswith("/private/"):
            return Response(200, b"<html><body>Private.</body></html>", last_modified=lm)
        body = b"<html><body><h1>Page not found</h1></body></html>"
        return Response(404, body, last_modified=lm)
