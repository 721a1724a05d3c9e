"""URL normalization for claims and manifests (WHATWG URL Standard via ada-url).

One normal form makes a claim and a manifest row compare equal when a browser
would fetch the same resource: lower-case scheme and host, IDNA (punycode) hosts,
no default port, no fragment, dot segments resolved, percent-encoding as the
WHATWG parser leaves it. Only http(s) URLs are accepted. The query string is kept:
on many image hosts it selects the image.
"""

from __future__ import annotations

from dataclasses import dataclass

from ada_url import URL


class UrlRejected(ValueError):
    """Not an http(s) URL we can normalize; `str(exc)` says why."""


@dataclass(frozen=True)
class NormalizedUrl:
    href: str  # full normal form, without fragment
    host: str  # IDNA, lower case, no port
    path: str


def normalize_url(value: str) -> NormalizedUrl:
    """Parse and normalize an absolute http(s) URL.

    Raises UrlRejected for an empty or unparsable value, or a scheme other than
    http/https.
    """
    text = (value or "").strip()
    if not text:
        raise UrlRejected("the URL is empty")
    try:
        url = URL(text)
    except ValueError:
        raise UrlRejected(f"{_short(text)} is not a valid URL") from None
    if url.protocol not in ("http:", "https:"):
        raise UrlRejected(f"{_short(text)} is not an http(s) URL")
    if not url.hostname:
        raise UrlRejected(f"{_short(text)} has no host")
    url.hash = ""
    return NormalizedUrl(
        href=url.href, host=url.hostname.rstrip("."), path=url.pathname
    )


def normalize_domain(value: str) -> str:
    """A bare host name (``Example.COM``, ``bücher.de``) in IDNA lower case.

    Accepts a URL too and keeps only its host. Raises UrlRejected.
    """
    text = (value or "").strip()
    if not text:
        raise UrlRejected("the domain is empty")
    candidate = text if "://" in text else f"https://{text}"
    host = normalize_url(candidate).host
    if "." not in host or host.startswith("[") or host.replace(".", "").isdigit():
        raise UrlRejected(f"{_short(text)} is not a domain name")
    return host


def _short(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
