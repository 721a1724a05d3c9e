"""URL normal forms: two spellings of one resource must compare equal."""

from __future__ import annotations

import pytest

from workers.engine.urls import UrlRejected, normalize_domain, normalize_url


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
    ],
)
def test_it_normalizes_urls(given, expected):
    assert normalize_url(given).href == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "the URL is empty"),
        ("ftp://example.com/a", "'ftp://example.com/a' is not an http(s) URL"),
        ("example.com/a.png", "'example.com/a.png' is not a valid URL"),
        ("http://", "'http://' is not a valid URL"),
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
