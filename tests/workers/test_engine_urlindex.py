"""URL, prefix and domain claims against manifest URLs: what each one covers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workers.engine import urlindex
from workers.engine.types import Match, MatchKind, RowProblem
from workers.engine.urlindex import UrlIndex, prepare_urls, stable_hash
from workers.engine.urls import normalize_domain, normalize_url


def href(value: str) -> str:
    return normalize_url(value).href


def index_of(*, urls=(), prefixes=(), domains=()) -> UrlIndex:
    return UrlIndex.build(
        urls=[(ref, href(v)) for ref, v in urls],
        prefixes=[(ref, href(v)) for ref, v in prefixes],
        domains=[(ref, normalize_domain(v)) for ref, v in domains],
    )


def hits(index: UrlIndex, url: str) -> list[tuple[str, int, str]]:
    matches, problems = index.match([url], 0)
    assert problems == []
    return [(m.kind.value, m.ref, m.matched) for m in matches]


def hits_as(index: UrlIndex, url: str) -> list[tuple[str, int, str, str]]:
    """Like hits, with each match's matched_as."""
    matches, problems = index.match([url], 0)
    assert problems == []
    return [(m.kind.value, m.ref, m.matched, m.matched_as) for m in matches]


CLAIMED = "https://art.example/works/Blue%20Hour.png?size=large"


@pytest.mark.parametrize(
    "spelling",
    [
        "https://art.example/works/Blue%20Hour.png?size=large",
        "HTTPS://ART.Example/works/Blue%20Hour.png?size=large",
        "https://art.example:443/works/Blue%20Hour.png?size=large",
        "https://art.example/works/Blue%20Hour.png?size=large#top",
        "https://art.example/a/../works/./Blue%20Hour.png?size=large",
        "https://art.example/works/Blue Hour.png?size=large",
        "https://art.example./works/Blue%20Hour.png?size=large",
        "https://art.example/works/Blue%20Hour.png?size=l%61rge",
        "  https://art.example/%77orks/Blue%20Hour.png?size=large\n",
    ],
)
def test_it_matches_an_exact_url_however_it_is_spelled(spelling):
    index = index_of(urls=[(7, CLAIMED)])
    assert hits(index, spelling) == [("url", 7, href(CLAIMED))]


@pytest.mark.parametrize(
    "other",
    [
        "https://art.example:8443/works/Blue%20Hour.png?size=large",
        "https://art.example/works/blue%20hour.png?size=large",  # path case
        "https://art.example/works/Blue%20Hour.png",  # the claim has a query
        "https://art.example/works/Blue%20Hour.png?size=small",
        "https://art.example/works/Blue%20Hour.png?size=large&w=512",
        "https://img.art.example/works/Blue%20Hour.png?size=large",
        "https://www2.art.example/works/Blue%20Hour.png?size=large",
        "https://wwwart.example/works/Blue%20Hour.png?size=large",
    ],
)
def test_it_does_not_match_another_url(other):
    assert hits(index_of(urls=[(7, CLAIMED)]), other) == []


# (claim, manifest URL, matched_as): scheme, a leading "www." and, for a claim
# without a query, the query string do not matter; each match says which
# equivalence it took.
URL_EQUIVALENCES = [
    ("https://al.example/a.png", "https://al.example/a.png", "exact"),
    ("https://al.example/a.png", "http://al.example/a.png", "scheme"),
    ("http://al.example/a.png", "https://al.example/a.png", "scheme"),
    ("https://al.example/a.png", "https://www.al.example/a.png", "www"),
    ("https://www.al.example/a.png", "https://al.example/a.png", "www"),
    ("https://www.al.example/a.png", "https://WWW.Al.example/a.png", "exact"),
    ("http://www.al.example/a.png", "https://al.example/a.png", "scheme+www"),
    ("https://al.example/a.png", "https://al.example/a.png?w=512", "query"),
    ("https://al.example/a.png", "https://al.example/a.png?", "query"),
    ("https://al.example/a.png", "http://www.al.example/a.png?w=1", "scheme+www+query"),
    ("https://al.example/a.png", "https://www.al.example/a.png?w=1#x", "www+query"),
    ("https://al.example/a.png?v=2", "http://al.example/a.png?v=2", "scheme"),
    ("https://www.al.example/a.png?v=2", "https://al.example/a.png?v=2", "www"),
    ("https://al.example:8443/a.png", "http://al.example:8443/a.png", "scheme"),
    ("https://www.bücher.de/ä.png", "http://xn--bcher-kva.de/%C3%A4.png", "scheme+www"),
]  # fmt: skip


@pytest.mark.parametrize(("claim", "url", "matched_as"), URL_EQUIVALENCES)
def test_a_url_claim_covers_the_url_up_to_scheme_www_and_query(claim, url, matched_as):
    index = index_of(urls=[(7, claim)])
    assert hits_as(index, url) == [("url", 7, href(claim), matched_as)]


@pytest.mark.parametrize(
    ("claim", "url"),
    [
        # A claim with a query covers that query only.
        ("https://alice.example/a.png?v=2", "https://alice.example/a.png"),
        ("https://alice.example/a.png?v=2", "https://alice.example/a.png?v=3"),
        ("https://alice.example/a.png?v=2", "https://alice.example/a.png?v=2&w=5"),
        # Only a leading "www." label, and only with a name after it.
        ("https://alice.example/a.png", "https://m.alice.example/a.png"),
        ("https://alice.example/a.png", "https://www.www.alice.example/a.png"),
        ("https://example/a.png", "https://www.example/a.png"),
        ("https://alice.example/a.png", "https://user@www.alice.example/a.png"),
        # The port stays: http://a/ is port 80, https://a/ port 443.
        ("https://alice.example/a.png", "http://alice.example:443/a.png"),
        ("https://alice.example/a.png", "https://alice.example:8443/a.png"),
        # The path still has to be the same.
        ("https://alice.example/a.png", "https://alice.example/a.png/"),
        ("https://alice.example/a", "https://alice.example/a.png?w=1"),
    ],
)
def test_a_url_claim_does_not_cover_other_urls(claim, url):
    assert hits(index_of(urls=[(7, claim)]), url) == []


@pytest.mark.parametrize(
    ("value", "key", "flags"),
    [
        ("https://a.example/x", "a.example/x", urlindex.HTTPS),
        ("http://a.example/x", "a.example/x", 0),
        ("https://www.a.example/x", "a.example/x", urlindex.HTTPS | urlindex.WWW),
        ("http://www.a.example:8080/x?q", "a.example:8080/x?q", urlindex.WWW),
        ("http://www.example/x", "www.example/x", 0),
        ("http://www.example:8080/x", "www.example:8080/x", 0),
        ("http://user@www.a.example/x", "user@www.a.example/x", 0),
        ("http://www.www.a.example/x", "www.a.example/x", urlindex.WWW),
        ("http://www2.a.example/x", "www2.a.example/x", 0),
        ("http://[::1]/x", "[::1]/x", 0),
    ],
)
def test_the_key_drops_the_scheme_and_a_leading_www(value, key, flags):
    assert urlindex.url_key(href(value)) == (key, flags)


def test_claims_that_differ_by_scheme_or_www_each_say_how_they_matched():
    index = index_of(
        urls=[
            (1, "http://alice.example/a.png"),
            (2, "https://alice.example/a.png"),
            (3, "https://www.alice.example/a.png"),
            (4, "https://alice.example/a.png?w=512"),
        ]
    )
    assert hits_as(index, "https://alice.example/a.png?w=512") == [
        ("url", 1, "http://alice.example/a.png", "scheme+query"),
        ("url", 2, "https://alice.example/a.png", "query"),
        ("url", 3, "https://www.alice.example/a.png", "www+query"),
        ("url", 4, "https://alice.example/a.png?w=512", "exact"),
    ]


def test_a_prefix_claim_covers_http_and_www_urls_under_it():
    # The LAION case: an artist claims a folder as https://; datasets hold
    # the same images as http:// and on www.
    index = index_of(prefixes=[(3, "https://alice.example/art/")])
    claim = "https://alice.example/art/"
    assert hits_as(index, "http://alice.example/art/x.png") == [
        ("prefix", 3, claim, "scheme")
    ]
    assert hits_as(index, "https://www.alice.example/art/y.png") == [
        ("prefix", 3, claim, "www")
    ]
    assert hits_as(index, "http://www.alice.example/art/z.png?w=64") == [
        ("prefix", 3, claim, "scheme+www")
    ]
    assert hits_as(index, "https://alice.example/art/w.png") == [
        ("prefix", 3, claim, "exact")
    ]
    assert hits(index, "http://alice.example/artwork/x.png") == []
    assert hits(index, "http://img.alice.example/art/x.png") == []


def test_a_prefix_claim_on_www_covers_the_bare_host():
    index = index_of(prefixes=[(3, "http://www.alice.example/art")])
    assert hits_as(index, "https://alice.example/art/x.png") == [
        ("prefix", 3, "http://www.alice.example/art", "scheme+www")
    ]


def test_a_domain_claim_on_www_covers_the_bare_host_and_nothing_beside_it():
    index = index_of(domains=[(4, "www.alice.example")])
    assert hits_as(index, "https://alice.example/a.png") == [
        ("domain", 4, "www.alice.example", "www")
    ]
    assert hits_as(index, "http://www.alice.example/a.png") == [
        ("domain", 4, "www.alice.example", "exact")
    ]
    assert hits_as(index, "https://img.www.alice.example/a.png") == [
        ("domain", 4, "www.alice.example", "exact")
    ]
    assert hits(index, "https://shop.alice.example/a.png") == []
    assert hits(index, "https://example/a.png") == []


def test_a_domain_claim_covers_www_as_a_subdomain():
    index = index_of(domains=[(4, "alice.example"), (5, "www.alice.example")])
    assert hits_as(index, "https://www.alice.example/a.png") == [
        ("domain", 4, "alice.example", "exact"),
        ("domain", 5, "www.alice.example", "exact"),
    ]
    assert hits_as(index, "https://alice.example/a.png") == [
        ("domain", 4, "alice.example", "exact"),
        ("domain", 5, "www.alice.example", "www"),
    ]


@pytest.mark.parametrize(
    ("claim", "url"),
    [
        ("https://bücher.de/Kunst/Ä.png", "https://xn--bcher-kva.de/Kunst/%C3%84.png"),
        ("https://xn--bcher-kva.de/a%7eb", "https://BÜCHER.de/a~b"),
        ("http://example.com:80/%e2%82%ac", "http://example.com/%E2%82%AC"),
    ],
)
def test_it_matches_across_idna_and_percent_encoding(claim, url):
    assert hits(index_of(urls=[(1, claim)]), url) == [("url", 1, href(claim))]


@pytest.mark.parametrize(
    ("claim", "url", "covered"),
    [
        ("https://a.example/gallery/", "https://a.example/gallery/x.png", True),
        ("https://a.example/gallery/", "https://a.example/gallery/", True),
        ("https://a.example/gallery/", "https://a.example/gallery/a/b/c.png", True),
        ("https://a.example/gallery/", "https://a.example/gallery/?p=2", True),
        ("https://a.example/gallery/", "https://a.example/gallery//x", True),
        ("https://a.example/gallery//", "https://a.example/gallery//x", True),
        ("https://a.example/gallery//", "https://a.example/gallery/x", False),
        ("https://a.example/gallery/", "https://a.example/gallery", False),
        ("https://a.example/gallery/", "https://a.example/gallery?x", False),
        ("https://a.example/gallery", "https://a.example/gallery", True),
        ("https://a.example/gallery", "https://a.example/gallery/x.png", True),
        ("https://a.example/gallery", "https://a.example/gallery?id=3", True),
        ("https://a.example/gallery", "https://a.example/gallery2", False),
        ("https://a.example/gallery", "https://a.example/gallery.png", False),
        ("https://a.example/gallery", "https://a.example/Gallery/x", False),
        ("https://a.example/gallery", "https://a.example/x/gallery/y", False),
        ("https://a.example/gallery", "http://a.example/gallery/x", True),
        ("https://a.example/gallery", "https://www.a.example/gallery/x", True),
        ("https://a.example/gallery", "https://a.example:8443/gallery/x", False),
        ("https://a.example/gallery", "https://b.a.example/gallery/x", False),
        ("https://a.example/gallery", "https://A.EXAMPLE:443/x/../gallery/y#f", True),
        ("https://a.example/", "https://a.example/anything/at/all?x=1", True),
        ("https://a.example", "https://a.example/", True),
        ("https://a.example/a/b", "https://a.example/a/b/c/d", True),
        ("https://a.example/a/b", "https://a.example/a/bc/d", False),
        # A query string in the claim: only that exact URL.
        ("https://a.example/p?id=1", "https://a.example/p?id=1", True),
        ("https://a.example/p?id=1", "https://a.example/p?id=12", False),
        ("https://a.example/p?id=1", "https://a.example/p?id=1&x=2", False),
        ("https://a.example/p?id=1", "https://a.example/p", False),
        # No boundaries inside the query, even at a "/".
        ("https://a.example/p?u=/x", "https://a.example/p?u=/x/y", False),
    ],
)
def test_a_prefix_claim_covers_urls_under_it_at_a_path_boundary(claim, url, covered):
    expected = [("prefix", 3, href(claim))] if covered else []
    assert hits(index_of(prefixes=[(3, claim)]), url) == expected


def test_nested_prefix_claims_all_match():
    index = index_of(
        prefixes=[
            (1, "https://a.example/"),
            (2, "https://a.example/gallery"),
            (3, "https://a.example/gallery/"),
            (4, "https://a.example/gallery/2024/"),
            (5, "https://a.example/gallery/2024/x.png"),
            (6, "https://a.example/gallery/2023/"),
        ]
    )
    assert [
        ref for _, ref, _ in hits(index, "https://a.example/gallery/2024/x.png")
    ] == [
        1,
        2,
        3,
        4,
        5,
    ]


@pytest.mark.parametrize(
    ("url", "covered"),
    [
        ("https://example.com/a.png", True),
        ("http://example.com:8080/a.png", True),
        ("https://www.example.com/a.png", True),
        ("https://a.b.c.example.com/a.png", True),
        ("https://WWW.EXAMPLE.COM./a.png", True),
        ("https://badexample.com/a.png", False),
        ("https://example.com.evil.net/a.png", False),
        ("https://example.co/a.png", False),
        ("https://com/a.png", False),
        ("https://evil.net/example.com/a.png", False),
        ("https://evil.net/?u=https://example.com/", False),
    ],
)
def test_a_domain_claim_covers_the_host_and_its_subdomains(url, covered):
    expected = [("domain", 9, "example.com")] if covered else []
    assert hits(index_of(domains=[(9, "Example.COM")]), url) == expected


def test_a_domain_claim_on_a_subdomain_does_not_cover_its_parent():
    index = index_of(domains=[(1, "photos.example.com")])
    assert hits(index, "https://example.com/a.png") == []
    assert hits(index, "https://www.example.com/a.png") == []
    assert hits(index, "https://cdn.photos.example.com/a.png") == [
        ("domain", 1, "photos.example.com")
    ]


def test_idna_domain_claims_match_unicode_hosts():
    index = index_of(domains=[(1, "bücher.de")])
    assert hits(index, "https://shop.BÜCHER.de/x") == [
        ("domain", 1, "xn--bcher-kva.de")
    ]


def test_every_claim_on_a_shared_value_matches_once():
    index = index_of(
        urls=[(5, CLAIMED), (2, CLAIMED), (9, CLAIMED)],
        prefixes=[(4, "https://art.example/works/"), (1, "https://art.example/works/")],
        domains=[(8, "art.example"), (3, "ART.example")],
    )
    assert len(index) == 7
    assert [(kind, ref) for kind, ref, _ in hits(index, CLAIMED)] == [
        ("url", 2),
        ("url", 5),
        ("url", 9),
        ("prefix", 1),
        ("prefix", 4),
        ("domain", 3),
        ("domain", 8),
    ]


def test_matches_name_the_manifest_row_kind_claim_and_value():
    index = index_of(urls=[(11, CLAIMED)], domains=[(12, "other.example")])
    matches, problems = index.match(
        [None, "https://x.example/1", CLAIMED, "", "https://cdn.other.example/2"], 1000
    )
    assert problems == []
    assert matches == [
        Match(
            row=1002,
            kind=MatchKind.URL,
            ref=11,
            matched=href(CLAIMED),
            matched_as="exact",
        ),
        Match(
            row=1004,
            kind=MatchKind.DOMAIN,
            ref=12,
            matched="other.example",
            matched_as="exact",
        ),
    ]


def test_urls_that_fail_normalization_are_row_problems_not_errors():
    index = index_of(urls=[(1, CLAIMED)])
    matches, problems = index.match(
        ["images/a.png", None, "", "ftp://art.example/a", "http://./x", CLAIMED, "   "],
        50,
    )
    assert [m.row for m in matches] == [55]
    assert problems == [
        RowProblem(
            row=50,
            reason="'images/a.png' is not a valid URL",
            field="url",
            signal="url",
        ),
        RowProblem(
            row=53,
            reason="'ftp://art.example/a' is not an http(s) URL",
            field="url",
            signal="url",
        ),
        RowProblem(
            row=54, reason="'http://./x' has no host", field="url", signal="url"
        ),
        RowProblem(row=56, reason="the URL is empty", field="url", signal="url"),
    ]


def test_an_empty_index_matches_nothing():
    index = UrlIndex.build()
    assert len(index) == 0
    assert index.match([CLAIMED, "bad", None], 0) == (
        [],
        [
            RowProblem(
                row=1, reason="'bad' is not a valid URL", field="url", signal="url"
            )
        ],
    )
    assert index.match([], 0) == ([], [])


MIXED_CLAIMS = {
    "urls": [
        (1, CLAIMED),
        (2, "https://a.example/x.png"),
        (3, "https://a.example/x.png"),
    ],
    "prefixes": [(4, "https://a.example/gallery"), (5, "https://b.example/")],
    "domains": [(6, "example.com"), (7, "www.example.com"), (8, "www.c.example")],
}
MIXED_URLS = [
    CLAIMED,
    "https://a.example/x.png",
    "https://a.example/y.png",
    "https://a.example/gallery/1.png",
    "https://a.example/gallery2",
    "https://b.example/anything?q",
    "https://www.example.com/",
    "https://badexample.com/",
    "not a url",
    "http://www.a.example/x.png?w=512",
    "http://www.a.example/gallery?p=1",
    "https://c.example/",
    "https://d.c.example/",
]


def test_hash_collisions_are_caught_by_comparing_the_strings(monkeypatch):
    expected = index_of(**MIXED_CLAIMS).match(MIXED_URLS, 0)
    monkeypatch.setattr(urlindex, "_HASH_MASK", 0b11)  # four hash values in all
    weak = index_of(**MIXED_CLAIMS)
    assert set(weak.tables["url"].hashes.tolist()) <= {0, 1, 2, 3}
    assert len(weak.tables["prefix"]) == 2
    assert weak.match(MIXED_URLS, 0) == expected
    assert {m.matched_as for m in expected[0]} == {
        "exact",
        "www",
        "scheme+www",
        "scheme+www+query",
    }


def test_it_survives_a_save_and_load(tmp_path):
    index = index_of(**MIXED_CLAIMS)
    index.save(tmp_path / "urls")
    for mmap in (True, False):
        loaded = UrlIndex.load(tmp_path / "urls", mmap=mmap)
        assert len(loaded) == len(index) == 8
        assert loaded.nbytes == index.nbytes
        assert loaded.match(MIXED_URLS, 10) == index.match(MIXED_URLS, 10)
    assert isinstance(UrlIndex.load(tmp_path / "urls").tables["url"].hashes, np.memmap)


def test_it_refuses_an_index_written_with_another_hash(tmp_path):
    index_of(**MIXED_CLAIMS).save(tmp_path)
    meta = json.loads((tmp_path / "index.json").read_text())
    (tmp_path / "index.json").write_text(json.dumps({**meta, "hash": "blake2b-64"}))
    with pytest.raises(ValueError, match="URL index format 2/blake2b-64"):
        UrlIndex.load(tmp_path)


def test_the_hash_is_stable_across_processes_and_versions():
    # Saved indexes depend on these values: changing the hash means a new
    # HASH_NAME, so old indexes are refused instead of silently missing.
    assert stable_hash(b"https://example.com/") == 0x2636_3D14_A743_38D9
    assert stable_hash(b"example.com", reverse=True) == stable_hash(b"moc.elpmaxe")
    batch = prepare_urls(["https://example.com/", "http://www.Example.com/a?b"], 0)
    # Keys: the normal form without scheme and www.
    assert batch.key_hashes.tolist() == [
        stable_hash(b"example.com/"),
        stable_hash(b"example.com/a?b"),
    ]
    assert batch.bare_hashes.tolist()[1] == stable_hash(b"example.com/a")
    assert batch.origin_hashes.tolist() == [stable_hash(b"example.com")] * 2
    assert [batch.key(i) for i in range(2)] == [b"example.com/", b"example.com/a?b"]


def test_lookup_hashes_finds_claimed_hashes_and_only_those():
    rng = np.random.default_rng(7)
    claims = [
        (i, f"https://c{i % 97}.example/{rng.integers(1 << 40):x}.jpg")
        for i in range(5000)
    ]
    index = UrlIndex.build(urls=claims)
    table = index.tables["url"]
    present = table.hashes[rng.integers(0, len(table), 300)]
    absent = rng.integers(0, 2**63, 300, dtype=np.uint64)
    queries = np.concatenate([present, absent, table.hashes[:1], table.hashes[-1:]])
    found = index.lookup_hashes(queries)
    reference = np.searchsorted(table.hashes, queries)
    is_hit = table.hashes[np.minimum(reference, len(table) - 1)] == queries
    assert np.array_equal(found, np.where(is_hit, reference, -1))
    assert (found[:300] >= 0).all()
    assert index.lookup_hashes(np.zeros(0, np.uint64)).shape == (0,)


def test_strings_with_newlines_are_packed_as_given():
    data, offsets = urlindex._pack_ascii(["a\nb", "", "cd"])
    assert data.tobytes() == b"a\nbcd"
    assert offsets.tolist() == [0, 3, 3, 5]
    data, offsets = urlindex._pack([b"ab", b"", b"c"])
    assert (data.tobytes(), offsets.tolist()) == (b"abc", [0, 2, 2, 3])
