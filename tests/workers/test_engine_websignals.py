"""Publishers' signals: robots.txt, tdmrep.json and RSL licences, parsed and
fetched from a local server through the hardened fetcher."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.webserver import local_site
from workers.engine.types import MatchKind, RowBatch
from workers.engine.webproof import FetchFailed, ProofConfig
from workers.engine.websignals import (
    WEB_PROTOCOLS,
    HostSignals,
    check_host,
    crawlers_refused,
    match_rows,
    parse_robots,
    parse_rsl,
    parse_tdmrep,
    pattern_matches,
)

ROBOTS = """\
# An artist's portfolio
User-agent: GPTBot
User-agent: CCBot
Disallow: /

User-agent: *
Allow: /
Disallow: /private/
Content-Usage: / train-ai=n
Content-Usage: /press/ train-ai=y, search=y
Content-Usage: /mixed/ train-ai=y
Content-Usage: /mixed/ train-ai=n
Content-Usage: /old/ genai=n
Content-Usage: no-path train-ai=n
Content-Usage: /bad/ Train-AI=n
Content-Usage: /private/ train-ai=n
Content-Signal: search=yes, ai-train=no, ai-input=no
Sitemap: https://art.example/sitemap.xml
License: https://art.example/license.xml

User-agent: ExampleBot
Content-Usage: / train-ai=y
"""

RSL = b"""<rsl xmlns="https://rslstandard.org/rsl">
  <content url="/gallery/">
    <license><permits type="usage">search</permits>
      <payment type="purchase"/></license>
  </content>
  <content url="https://other.example/x/">
    <license><prohibits type="usage">all</prohibits></license>
  </content>
</rsl>"""


def signals(robots: str = ROBOTS, extra=()) -> HostSignals:
    rules, _, access = parse_robots(robots, WEB_PROTOCOLS)
    return HostSignals(
        host="art.example",
        fetched_at="2026-12-07T04:00:00+00:00",
        protocols=list(WEB_PROTOCOLS),
        rules=rules + list(extra),
        access=access,
    )


def refused(said: HostSignals, path: str) -> list[tuple[str, str]]:
    return [(r.source, r.value) for r in said.refusals(path)]


def test_content_usage_takes_the_longest_path_and_the_star_group():
    said = signals()
    assert refused(said, "/works/harbour.jpg") == [
        ("robots", "Content-Usage: / train-ai=n"),
        ("content-signal", "Content-Signal: search=yes, ai-train=no, ai-input=no"),
    ]
    # A longer path allows: Content-Usage says yes there (Content-Signal still no).
    assert [s for s, _ in refused(said, "/press/kit.jpg")] == ["content-signal"]
    # Identical paths in conflict: the most restrictive applies.
    assert ("robots", "Content-Usage: /mixed/ train-ai=n") in refused(said, "/mixed/a")
    # An old label for training counts as train-ai.
    assert ("robots", "Content-Usage: /old/ genai=n") in refused(said, "/old/a.png")


def test_malformed_lines_state_nothing_and_uncrawlable_paths_have_no_preference():
    said = signals()
    values = [r.value for r in said.rules]
    assert "Content-Usage: no-path train-ai=n" not in values  # no path
    assert "Content-Usage: /bad/ Train-AI=n" not in values  # uppercase key
    # /bad/ falls back to / (train-ai=n).
    assert ("robots", "Content-Usage: / train-ai=n") in refused(said, "/bad/x")
    # Disallowed for every crawler: attach-05 says no preference applies.
    assert refused(said, "/private/x") == []
    # Rules of another group (ExampleBot) are not read.
    assert all("ExampleBot" not in r.value for r in said.rules)


def test_ai_crawlers_kept_out_are_reported_apart():
    assert crawlers_refused(ROBOTS, "art.example") == {
        "GPTBot": "disallowed: /",
        "CCBot": "disallowed: /",
    }
    assert crawlers_refused("User-agent: *\nDisallow: /\n", "a.example") == {}


def test_the_rsl_licence_line_and_document():
    _, licences, _ = parse_robots(ROBOTS, WEB_PROTOCOLS)
    assert licences == ["https://art.example/license.xml"]
    rules = parse_rsl(RSL, "art.example")
    said = signals("User-agent: *\nAllow: /\n", rules)
    assert refused(said, "/gallery/sea.jpg") == [
        ("rsl", "/gallery/: permits only search")
    ]
    assert refused(said, "/about") == []  # the licence is for /gallery/ only
    with pytest.raises(ValueError, match="no <rsl> root"):
        parse_rsl(b"<html/>", "art.example")


def test_tdmrep_reserves_by_the_most_specific_location():
    rules = parse_tdmrep(
        b'[{"location": "/", "tdm-reservation": 1,'
        b' "tdm-policy": "https://art.example/policy.json"},'
        b' {"location": "/open/*", "tdm-reservation": 0},'
        b' {"location": "/odd", "tdm-reservation": "yes"}]'
    )
    said = signals("User-agent: *\nAllow: /\n", rules)
    assert refused(said, "/works/a.jpg") == [
        (
            "tdmrep",
            "location /: tdm-reservation 1, tdm-policy https://art.example/policy.json",
        )
    ]
    assert refused(said, "/open/a.jpg") == []
    for bad, message in (
        (b"{", "not JSON"),
        (b'{"location": "/"}', "not a JSON array"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_tdmrep(bad)


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("/", "/a", True),
        ("/a/", "/a", False),
        ("/*.jpg$", "/x/y.jpg", True),
        ("/*.jpg$", "/x/y.jpg?w=2", False),
        ("/a*b", "/a/x/b/c", True),
    ],
)
def test_robots_patterns(pattern, path, expected):
    assert pattern_matches(pattern, path) is expected


def local(site, *names: str) -> ProofConfig:
    table = dict.fromkeys(names, "127.0.0.1")

    def resolver(host: str, port: int) -> list[str]:
        if host not in table:
            raise FetchFailed(f"{host} does not resolve")
        return [table[host]]

    return ProofConfig(
        scheme="http",
        port=site.port,
        resolver=resolver,
        allowed_addresses=frozenset({"127.0.0.1"}),
        connect_timeout=1.0,
        read_timeout=1.0,
        user_agent="dnt-registry-signals/1 (+https://registry.example)",
    )


def test_a_host_is_read_whole_from_its_site():
    with local_site() as site:
        # The licence is named by its whole URL: here the local server's.
        robots = ROBOTS.replace(
            "https://art.example/license.xml",
            f"http://art.example:{site.port}/license.xml",
        )
        site.serve("/robots.txt", robots, host="art.example")
        site.serve("/license.xml", RSL, host="art.example")
        site.serve(
            "/.well-known/tdmrep.json",
            '[{"location": "/tdm/", "tdm-reservation": 1}]',
            host="art.example",
        )
        said = check_host(
            "art.example", local(site, "art.example"), WEB_PROTOCOLS, "t0"
        )
        agents = {a for a in site.requests if a[1] in ("/robots.txt", "/license.xml")}
    assert said.problems == []
    assert [(d.url.split("/", 3)[-1], d.outcome) for d in said.documents] == [
        ("robots.txt", "ok"),
        ("license.xml", "ok"),
        (".well-known/tdmrep.json", "ok"),
    ]
    assert {r.source for r in said.rules} == set(WEB_PROTOCOLS)
    assert said.crawlers == {"GPTBot": "disallowed: /", "CCBot": "disallowed: /"}
    assert agents == {
        (f"art.example:{site.port}", "/robots.txt"),
        (f"art.example:{site.port}", "/license.xml"),
    }
    # It survives the cache's JSON.
    assert HostSignals.from_dict(said.as_dict()).refusals("/tdm/a") == said.refusals(
        "/tdm/a"
    )


def test_absent_files_state_nothing_and_failures_are_problems():
    with local_site() as site:
        site.serve("/robots.txt", "gone", status=404, host="quiet.example")
        site.serve("/robots.txt", "oops", status=503, host="broken.example")
        site.serve("/.well-known/tdmrep.json", "{", host="broken.example")
        site.serve("/robots.txt", "User-agent: *\n", delay=3, host="slow.example")
        site.redirect("/robots.txt", "http://127.0.0.1:1/robots.txt")
        config = local(site, "quiet.example", "broken.example", "slow.example")
        quiet = check_host("quiet.example", config, WEB_PROTOCOLS, "t0")
        broken = check_host("broken.example", config, WEB_PROTOCOLS, "t0")
        slow = check_host("slow.example", config, ["robots"], "t0")
        config = replace(config, resolver=lambda h, p: ["10.1.2.3"])
        # Every protocol: a host that did not answer is asked once.
        private = check_host("inside.example", config, WEB_PROTOCOLS, "t0")
    assert quiet.problems == [] and quiet.rules == []
    assert [d.outcome for d in quiet.documents] == ["absent", "absent"]
    assert broken.problems == [
        "robots.txt of broken.example could not be fetched: HTTP 503",
        "broken.example: tdmrep.json is not JSON: Expecting property name "
        "enclosed in double quotes: line 1 column 2 (char 1)",
    ]
    assert slow.problems[0].startswith("robots.txt of slow.example could not be")
    assert "within 1 s" in slow.problems[0]
    assert private.problems == [
        "robots.txt of inside.example could not be fetched: refused: "
        "inside.example resolves to a private address"
    ]
    assert len(private.documents) == 1


def test_a_huge_robots_txt_is_read_to_its_limit():
    body = "User-agent: *\nContent-Usage: / train-ai=n\n" + "#" * (700 * 1024)
    with local_site() as site:
        site.serve("/robots.txt", body, host="big.example")
        said = check_host("big.example", local(site, "big.example"), ["robots"], "t")
    assert said.documents[0].detail == f"first {500 * 1024} bytes read"
    assert [r.value for r in said.rules] == ["Content-Usage: / train-ai=n"]


def test_rows_are_matched_by_their_host_and_path():
    said = signals()
    broken = HostSignals("down.example", "t0", ["robots"], problems=["it is down"])
    batch = RowBatch.of(
        first_row=100,
        urls=[
            "https://ART.example/works/a.jpg",
            "https://art.example/private/b.jpg",
            "https://down.example/c.jpg",
            "not a url",
        ],
    )
    matches, problems = match_rows(batch, {"art.example": said, "down.example": broken})
    assert [(m.row, m.kind, m.source, m.matched) for m in matches] == [
        (100, MatchKind.SIGNAL, "robots", "train-ai=n"),
        (100, MatchKind.SIGNAL, "content-signal", "train-ai=n"),
    ]
    assert matches[0].evidence == (
        "art.example: Content-Usage: / train-ai=n (fetched 2026-12-07T04:00:00+00:00)"
    )
    assert [(p.row, p.signal, p.reason) for p in problems] == [
        (102, "publisher", "it is down")
    ]
