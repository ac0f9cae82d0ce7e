"""URLs as keys: what the crawler requests, remembers and compares.

A URL is normalised once, where it enters the crawl (seeds, feeds, sitemaps, links,
redirects): no fragment, no ``user:password@`` (the credentials travel as a header instead),
no tracking parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urldefrag, urlencode, urlsplit, urlunsplit

from w3lib.http import basic_auth_header

if TYPE_CHECKING:  # Scrapy is loaded in the crawl process only
    from scrapy.http import Response

# Query parameters that only track where a reader came from (or, for replytocom, open a
# comment form): the page is the same without them.
TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid",
     "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "ref_src", "ref_url", "cmpid",
     "replytocom", "amp_js_v", "usqp", "oly_enc_id", "oly_anon_id", "vero_id", "mkt_tok",
     # Google's merchant-listing and ads auto-tagging, TikTok's, LinkedIn's, Adobe's ad ids
     "srsltid", "gad_source", "gad_campaignid", "ttclid", "li_fat_id", "s_kwcid"}
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")


def tracking(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def normalise(url: str) -> str:
    """The URL as a key: no fragment, no ``user:password@``, no tracking parameters
    (``utm_*``, ``fbclid``, ``gclid``...); other query parameters keep their order."""
    url = split_credentials(urldefrag(url)[0])[0]
    parts = urlsplit(url)
    if not parts.query:
        return url
    params = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in params if not tracking(k)]
    if len(kept) == len(params):
        return url
    return urlunsplit(parts._replace(query=urlencode(kept)))


def site(url: str) -> str:
    """``host[:port]`` of a URL, lower-cased and without any ``user:password@``."""
    netloc = urlsplit(url).netloc.lower()
    return netloc.rsplit("@", 1)[-1]


def site_key(url: str) -> str:
    """:func:`site` without a leading ``www.``: the two forms of one site's name
    (``example.com``, ``www.example.com``) compare equal."""
    return site(url).removeprefix("www.")


def split_credentials(url: str) -> tuple[str, str | None]:
    """A URL without ``user:password@`` and the Basic ``Authorization`` value it carried.

    The credentials then never appear in request URLs, logs, validators or pages; Scrapy
    drops the header when a redirect leaves the host.
    """
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    clean = urlunsplit(parts._replace(netloc=site(url)))
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    return clean, basic_auth_header(user, password).decode("latin-1")


def requested_url(response: Response) -> str:
    """The URL first asked for, before any redirect."""
    redirects = response.meta.get("redirect_urls") or [
        response.request.url if response.request is not None else response.url
    ]
    return normalise(redirects[0])
