"""URL normal forms: two spellings of one resource must compare equal."""

from __future__ import annotations

import pytest

from workers.engine.urls import (
    UrlRejected,
    normalize_domain,
    normalize_url,
    normalize_url_parts,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("HTTP://Example.COM/Art.png", "http://example.com/Art.png"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com/a/./b/../c.png", "https://example.com/a/c.png"),
        ("https://example.com/a.png#section", "https://example.com/a.png"),
        ("https://bücher.de/kunst", "https://xn--bcher-kva.de/kunst"),
        ("https://example.com/a b.png", "https://example.com/a%20b.png"),
        ("https://example.com", "https://example.com/"),
        ("  https://example.com/x?b=2&a=1  ", "https://example.com/x?b=2&a=1"),
        # A trailing dot names the same host, in href as in host.
        ("https://Example.com./a", "https://example.com/a"),
        ("https://example.com..:8443/a", "https://example.com:8443/a"),
        ("https://u:p@example.com./a", "https://u:p@example.com/a"),
        # Percent-escapes: upper-case hex, unreserved characters decoded
        # (RFC 3986 6.2.2); reserved ones (%2F) and others (%20) stay escaped.
        ("https://example.com/%7euser/%7Ea", "https://example.com/~user/~a"),
        ("https://example.com/a%2fb%2Fc", "https://example.com/a%2Fb%2Fc"),
        (
            "https://example.com/%e2%82%ac?q=%c3%a9#%aa",
            "https://example.com/%E2%82%AC?q=%C3%A9",
        ),
        ("https://example.com/%41%2d%2E%5f%30", "https://example.com/A-._0"),
        ("https://example.com/a%20b", "https://example.com/a%20b"),
        ("https://us%65r:p%7e@example.com/", "https://user:p~@example.com/"),
        ("https://example.com/a%zzb%", "https://example.com/a%zzb%"),
        ("https://EXAMPLE.com/%2e%2E/a/%2e/b", "https://example.com/a/b"),
    ],
)
def test_it_normalizes_urls(given, expected):
    assert normalize_url(given).href == expected


@pytest.mark.parametrize(
    "given",
    [
        "https://example.com./%7e%41?q=%e2%82%ac",
        "http://user:p%40ss@[::1]:8080/a/../b?x#y",
        "https://bücher.de/Kunst/Ä.png",
        "https://example.com/%2e%2e%2e/b",
    ],
)
def test_the_normal_form_is_its_own_normal_form(given):
    href = normalize_url(given).href
    assert normalize_url(href).href == href


@pytest.mark.parametrize(
    ("given", "host", "path"),
    [
        ("https://u:p@Example.COM.:8443/a/b?q=1", "example.com", "/a/b"),
        ("http://[::1]/x", "[::1]", "/x"),
        ("https://bücher.de", "xn--bcher-kva.de", "/"),
        ("https://example.com/%7e%e2?q", "example.com", "/~%E2"),
    ],
)
def test_its_parts_point_into_the_normal_form(given, host, path):
    href, host_start, host_end, path_start = normalize_url_parts(given)
    assert href == normalize_url(given).href.encode()
    assert href[host_start:host_end].decode() == host == normalize_url(given).host
    assert href[path_start:].decode().startswith(path)
    assert normalize_url(given).path == path


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "the URL is empty"),
        ("ftp://example.com/a", "'ftp://example.com/a' is not an http(s) URL"),
        ("example.com/a.png", "'example.com/a.png' is not a valid URL"),
        ("http://", "'http://' is not a valid URL"),
        ("http://./x", "'http://./x' has no host"),
        (
            "https://exa\ud800mple.com/",
            "'https://exa\\ud800mple.com/' is not a valid URL",
        ),
    ],
)
def test_it_rejects_what_is_not_an_http_url(given, message):
    with pytest.raises(UrlRejected) as exc:
        normalize_url(given)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Example.COM", "example.com"),
        ("https://www.example.com/portfolio", "www.example.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("example.com.", "example.com"),
    ],
)
def test_it_normalizes_domains(given, expected):
    assert normalize_domain(given) == expected


@pytest.mark.parametrize("given", ["localhost", "127.0.0.1", "", "http://[::1]/"])
def test_it_rejects_what_is_not_a_domain_name(given):
    with pytest.raises(UrlRejected):
        normalize_domain(given)
