"""URL normalization for claims and manifests (WHATWG URL Standard via ada-url).

One normal form makes a claim and a manifest row compare equal when a browser
would fetch the same resource: lower-case scheme and host, IDNA (punycode) hosts,
no trailing dot on the host, no default port, no fragment, dot segments
resolved. Percent-encoding follows RFC 3986 section 6.2.2: hex digits in upper
case (%7e and %7E are one URL; WHATWG leaves the case as given) and unreserved
characters (letters, digits, "-", ".", "_", "~") decoded. Only http(s) URLs are
accepted. The query string is kept: on many image hosts it selects the image.

Limits: the normal form keeps the scheme, a leading "www." and the query
(http://a/x and https://a/x are two normal forms); claims match across those
by their keys (workers/engine/urlindex.py), not here. The path and query keep
their case; query parameters keep their order. The normal form is ASCII, so
its byte and character offsets agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ada_url._ada_wrapper import ffi, lib

# ada_url's URL class reads every attribute through __getattr__ and cffi's
# getattr; matching normalizes millions of URLs, so this module calls ada's C
# API directly (seven times faster). ada_url.URL stays the reference behaviour.
_parse, _free, _is_valid = lib.ada_parse, lib.ada_free, lib.ada_is_valid
_scheme_type, _get_href = lib.ada_get_scheme_type, lib.ada_get_href
_get_components, _unpack = lib.ada_get_components, ffi.unpack
_OMITTED = 0xFFFF_FFFF  # ada_url_components: "this component is absent"
_HTTP, _HTTPS = 0, 2  # ada's scheme types
_AT, _DOT = ord("@"), ord(".")
# A percent-escape that normalization changes: lower-case hex, or an unreserved
# character. Searching for these first keeps the common %20, %2C, %E2 fast.
_PERCENT_TO_FIX = re.compile(
    rb"%(?:[0-9A-Fa-f][a-f]|[a-f][0-9A-F]|3[0-9]|[46][1-9A-F]|[57][0-9A]|2[DE]|5F|7E)"
)
_UNRESERVED = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
)


class UrlRejected(ValueError):
    """Not an http(s) URL we can normalize; `str(exc)` says why."""


@dataclass(frozen=True)
class NormalizedUrl:
    href: str  # full normal form, without fragment
    host: str  # IDNA, lower case, no port, no trailing dot
    path: str


def normalize_url(value: str) -> NormalizedUrl:
    """Parse and normalize an absolute http(s) URL.

    Raises UrlRejected for an empty or unparsable value, or a scheme other than
    http/https.
    """
    href, host_start, host_end, path_start = normalize_url_parts(value)
    query = href.find(b"?", path_start)
    return NormalizedUrl(
        href=href.decode("ascii"),
        host=href[host_start:host_end].decode("ascii"),
        path=href[path_start : query if query >= 0 else len(href)].decode("ascii"),
    )


def normalize_url_parts(value: str) -> tuple[bytes, int, int, int]:
    """normalize_url for bulk matching: (href, host_start, host_end, path_start).

    `href` is the normal form as ASCII bytes; the host (no port) is
    href[host_start:host_end] and the path starts at path_start. Raises
    UrlRejected, with the same messages as normalize_url.
    """
    text = value.strip() if value else ""
    if not text:
        raise UrlRejected("the URL is empty")
    try:
        raw = text.encode()
    except UnicodeEncodeError:  # lone surrogates
        raise UrlRejected(f"{_short(text)} is not a valid URL") from None
    url = _parse(raw, len(raw))
    try:
        if not _is_valid(url):
            raise UrlRejected(f"{_short(text)} is not a valid URL")
        if _scheme_type(url) not in (_HTTP, _HTTPS):
            raise UrlRejected(f"{_short(text)} is not an http(s) URL")
        s = _get_href(url)
        href = _unpack(s.data, s.length)
        c = _get_components(url)
        host_start, host_end = c.host_start, c.host_end
        path_start, fragment = c.pathname_start, c.hash_start
    finally:
        _free(url)
    if fragment != _OMITTED:
        href = href[:fragment]
    if href[host_start] == _AT:  # host_start points at the "@" after credentials
        host_start += 1
    if b"%" in href and _PERCENT_TO_FIX.search(href):
        # Hosts are never percent-encoded after parsing; credentials, path and
        # query may be. The port in between has no "%".
        head = _PERCENT_TO_FIX.sub(_percent_normal, href[:host_start])
        tail = _PERCENT_TO_FIX.sub(_percent_normal, href[host_end:])
        shift = host_start - len(head)
        href = head + href[host_start:host_end] + tail
        host_start, host_end, path_start = (
            host_start - shift,
            host_end - shift,
            path_start - shift,
        )
    if href[host_end - 1] == _DOT:  # "example.com." is example.com
        end = host_end
        while end > host_start and href[end - 1] == _DOT:
            end -= 1
        href = href[:end] + href[host_end:]
        path_start -= host_end - end
        host_end = end
    if host_end <= host_start:
        raise UrlRejected(f"{_short(text)} has no host")
    return href, host_start, host_end, path_start


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


def _percent_normal(m: re.Match[bytes]) -> bytes:
    byte = int(m[0][1:], 16)
    return bytes((byte,)) if byte in _UNRESERVED else m[0].upper()


def _short(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
