"""Proof of domain control against a local HTTP server (workers.engine.webproof)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from tests.webserver import Site, local_site
from workers.engine.webproof import (
    META_NAME,
    WELL_KNOWN_PATH,
    FetchFailed,
    ProofConfig,
    address_refusal,
    check_domain,
    fetch,
    file_url,
    home_url,
    meta_tag,
)

TOKEN = "tok-3f9a8c7e1b2d4a6f"


@pytest.fixture
def site() -> Iterator[Site]:
    with local_site() as s:
        yield s


def public_names(site: Site, **names: str):
    """A resolver: alice.example (and any name given) -> the local server."""
    table = {"alice.example": "127.0.0.1", **names}

    def resolver(host: str, port: int) -> list[str]:
        if host not in table:
            raise FetchFailed(f"{host} does not resolve")
        return [table[host]]

    return resolver


def config(site: Site, **kw) -> ProofConfig:
    """The local server stands in for a public site: its one address is let
    through, every other private address is refused as in production."""
    base = ProofConfig(
        scheme="http",
        connect_timeout=1,
        read_timeout=1,
        max_bytes=1024,
        resolver=public_names(site),
        allowed_addresses=frozenset({"127.0.0.1"}),
        port=site.port,
    )
    return replace(base, **kw)


def test_it_documents_where_the_token_goes():
    assert WELL_KNOWN_PATH == "/.well-known/dnt-registry-verification.txt"
    assert file_url("alice.example") == (
        "https://alice.example/.well-known/dnt-registry-verification.txt"
    )
    assert home_url("alice.example") == "https://alice.example/"
    assert meta_tag("abc") == '<meta name="dnt-registry-verification" content="abc">'


def test_it_accepts_the_token_in_the_well_known_file(site):
    site.serve(WELL_KNOWN_PATH, f"\n  {TOKEN}  \nsomeone-else\n")
    result = check_domain("alice.example", TOKEN, config(site))
    assert (result.ok, result.method, result.error) == (True, "file", "")
    assert site.requests == [(f"alice.example:{site.port}", WELL_KNOWN_PATH)]


def test_it_accepts_the_token_in_a_meta_tag_on_the_home_page(site):
    site.serve(
        "/",
        f'<!doctype html><html><head><META Name="{META_NAME}" content="{TOKEN}">'
        "</head><body>hi</body></html>",
    )
    result = check_domain("alice.example", TOKEN, config(site))
    assert (result.ok, result.method) == (True, "meta")
    assert [path for _, path in site.requests] == [WELL_KNOWN_PATH, "/"]


def test_it_refuses_a_wrong_token_and_says_where_it_looked(site):
    site.serve(WELL_KNOWN_PATH, "another-token\n")
    site.serve("/", f'<meta name="{META_NAME}" content="another-token">')
    result = check_domain("alice.example", TOKEN, config(site))
    origin = f"http://alice.example:{site.port}"
    assert not result.ok
    assert result.error == (
        f"{origin}{WELL_KNOWN_PATH}: the file does not contain this claim's token; "
        f'the <meta name="{META_NAME}"> tag in {origin}/ holds another token'
    )


def test_it_reports_missing_file_and_missing_tag(site):
    site.serve("/", "<html><head></head></html>")
    result = check_domain("alice.example", TOKEN, config(site))
    origin = f"http://alice.example:{site.port}"
    assert result.error == (
        f"{origin}{WELL_KNOWN_PATH}: HTTP 404; "
        f'no <meta name="{META_NAME}"> tag in {origin}/'
    )


def test_it_follows_up_to_three_redirects(site):
    site.redirect(WELL_KNOWN_PATH, "/r1")
    site.redirect("/r1", "/r2")
    site.redirect("/r2", f"http://alice.example:{site.port}/r3")
    site.serve("/r3", TOKEN)
    result = check_domain("alice.example", TOKEN, config(site))
    assert (result.ok, result.method) == (True, "file")


def test_it_refuses_a_chain_of_more_than_three_redirects(site):
    for hop in range(4):
        site.redirect("/r0" if hop == 0 else f"/r{hop}", f"/r{hop + 1}")
    site.serve("/r4", TOKEN)
    url = f"http://alice.example:{site.port}/r3"
    with pytest.raises(FetchFailed) as exc:
        fetch(f"http://alice.example:{site.port}/r0", config(site))
    assert str(exc.value) == f"{url}: more than 3 redirects"
    assert "/r4" not in [path for _, path in site.requests]


def test_it_refuses_the_very_first_request_to_a_loopback_address(site):
    site.serve(WELL_KNOWN_PATH, TOKEN)
    strict = config(site, allowed_addresses=frozenset(), resolver=public_names(site))
    result = check_domain("alice.example", TOKEN, strict)
    assert not result.ok
    assert result.error == "refused: alice.example resolves to a private address"
    assert "127.0.0.1" not in result.error
    assert site.requests == []


def test_it_refuses_a_redirect_from_a_public_host_to_a_private_one(site):
    resolver = public_names(site, **{"intranet.example": "10.1.2.3"})
    site.redirect(WELL_KNOWN_PATH, f"http://intranet.example:{site.port}/secret")
    site.redirect("/", "http://[::1]/admin")
    result = check_domain("alice.example", TOKEN, config(site, resolver=resolver))
    assert not result.ok
    # The redirect's own literal address is named (the site sent it); the
    # address a name resolves to is not.
    assert result.error == (
        "refused: intranet.example resolves to a private address; "
        "refused: ::1 is a loopback address"
    )
    assert "10.1.2.3" not in result.error
    # Only the two public requests were made; the private hops never were.
    assert [path for _, path in site.requests] == [WELL_KNOWN_PATH, "/"]


def test_it_refuses_a_name_with_any_private_address():
    def resolver(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "192.168.1.10"]

    with pytest.raises(FetchFailed) as exc:
        fetch("https://mixed.example/", ProofConfig(resolver=resolver))
    assert str(exc.value) == "refused: mixed.example resolves to a private address"
    assert "192.168.1.10" not in str(exc.value)


def test_allow_private_lets_a_local_server_be_checked(site):
    site.serve(WELL_KNOWN_PATH, TOKEN)
    open_config = config(site, allowed_addresses=frozenset(), allow_private=True)
    assert check_domain("alice.example", TOKEN, open_config).ok


def test_it_refuses_an_oversized_file(site):
    site.serve(WELL_KNOWN_PATH, TOKEN + "\n" + "x" * 5000)
    result = check_domain("alice.example", TOKEN, config(site))
    origin = f"http://alice.example:{site.port}"
    assert result.error.startswith(
        f"{origin}{WELL_KNOWN_PATH}: the file is larger than 1024 bytes; "
    )


def test_it_reads_only_the_start_of_a_large_home_page(site):
    site.serve("/", "<html><head>" + "<!-- pad -->" * 200 + meta_tag(TOKEN))
    result = check_domain("alice.example", TOKEN, config(site))
    assert not result.ok
    assert result.error.endswith(
        f'no <meta name="{META_NAME}"> tag in the first 1024 bytes of '
        f"http://alice.example:{site.port}/"
    )


def test_it_gives_up_on_a_server_slower_than_the_timeout(site):
    site.serve(WELL_KNOWN_PATH, TOKEN, delay=2)
    site.serve("/", meta_tag(TOKEN), delay=2)
    result = check_domain(
        "alice.example", TOKEN, config(site, read_timeout=0.2, connect_timeout=0.2)
    )
    origin = f"http://alice.example:{site.port}"
    assert result.error == (
        f"{origin}{WELL_KNOWN_PATH}: no answer within 0.2 s; "
        f"{origin}/: no answer within 0.2 s"
    )


def test_it_says_when_nothing_listens(site):
    closed = config(site, port=1)
    result = check_domain("alice.example", TOKEN, closed)
    assert result.error.startswith(
        f"http://alice.example:1{WELL_KNOWN_PATH}: could not connect (connection "
        "refused)"
    )


def test_it_says_when_a_name_does_not_resolve(site):
    result = check_domain("nowhere.example", TOKEN, config(site))
    assert result.error == "nowhere.example does not resolve"


@pytest.mark.parametrize(
    "address, reason",
    [
        ("127.0.0.1", "a loopback address"),
        ("10.0.0.1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("240.0.0.1", "a private address"),
        ("100.64.0.1", "not a public address"),
        ("::1", "a loopback address"),
        ("fe80::1", "a link-local address"),
        ("fc00::1", "a private address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("93.184.215.14", None),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", None),
    ],
)
def test_address_policy(address, reason):
    assert address_refusal(address) == reason
