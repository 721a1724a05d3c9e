"""Signals on the web: what a publisher's site says about the use of what it
serves, read once per host and applied to each manifest row by its URL.

Per host, fetched through the domain proof's hardened fetcher (no private
addresses, bounded size, time and redirects; workers/engine/webproof.py):

- `/robots.txt`, read for
  - `Content-Usage` rules (draft-ietf-aipref-attach-05): a path pattern and
    an aipref dictionary (`Content-Usage: /images/ train-ai=n`), parsed with
    http-sf; the rule with the longest matching path applies, identical
    paths combine most restrictively, and only crawlable paths have
    preferences. Old labels (`ai`, `genai`, `train-genai`, `tdm`) speak of
    training and map to `train-ai`. Source `robots`.
  - `Content-Signal` lines (Cloudflare's Content Signals Policy:
    `ai-train=no, search=yes, ai-input=no`, optionally after a path).
    Source `content-signal`.
  - RSL `License:` lines: each licence document is fetched and its usage
    terms read per `<content url>` (workers/engine/datasignals.rsl_terms).
    Source `rsl`.
  - the groups that shut named AI crawlers out (GPTBot, CCBot,
    Google-Extended...), with protego: reported per host, never a match,
    since they speak of crawling, not of use.
  Rules are read from the group that applies to every crawler (`*`).
- `/.well-known/tdmrep.json` (W3C TDMRep): `tdm-reservation: 1` for a
  location reserves text and data mining, which covers training
  (`train-ai=n`); the most specific location applies. Source `tdmrep`.

A document that is absent (4xx) states nothing; one that cannot be fetched
(5xx, timeout, refused address) or parsed is a problem for every row on the
host: its signals were not checked. Django-free; the registry caches a
host's HostSignals for a day (optout/services/publishers.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import urlsplit

import http_sf
from defusedxml import ElementTree as SafeET
from protego import Protego

from .datasignals import AI_USE, EMBEDDED_PROTOCOLS, RSL, SEARCH, TRAIN_AI, rsl_terms
from .types import PUBLISHER, Match, MatchKind, RowBatch, RowProblem
from .urls import UrlRejected, normalize_url
from .webproof import FetchFailed, ProofConfig, fetch

WEB_PROTOCOLS = ("robots", "content-signal", "tdmrep", "rsl")
# Every protocol the registry recognises, in the order receipts list them;
# an operator's profile (SIGNAL_PROTOCOLS) and a job's choice pick among them.
PROTOCOLS = EMBEDDED_PROTOCOLS + tuple(
    p for p in WEB_PROTOCOLS if p not in EMBEDDED_PROTOCOLS
)
ROBOTS_PATH = "/robots.txt"
TDMREP_PATH = "/.well-known/tdmrep.json"
MAX_ROBOTS_BYTES = 500 * 1024  # RFC 9309 section 2.5: parse at least 500 KiB
MAX_DOCUMENT_BYTES = 256 * 1024  # tdmrep.json, an RSL licence
MAX_LICENCES = 4  # RSL License: lines fetched per host

# aipref labels, and the older drafts' labels for training (vocab-00..04).
AIPREF_LABELS = {
    "train-ai": TRAIN_AI,
    "ai-use": AI_USE,
    "search": SEARCH,
    "train-genai": TRAIN_AI,
    "genai": TRAIN_AI,
    "ai": TRAIN_AI,
    "tdm": TRAIN_AI,
}
CONTENT_SIGNAL_LABELS = {"ai-train": TRAIN_AI, "search": SEARCH, "ai-input": AI_USE}

# Product tokens of crawlers that gather data for AI models; a site's
# robots.txt group for one of them is reported (crawling, not use).
AI_CRAWLERS = (
    "GPTBot",
    "ChatGPT-User",
    "OAI-SearchBot",
    "CCBot",
    "Google-Extended",
    "ClaudeBot",
    "anthropic-ai",
    "PerplexityBot",
    "Bytespider",
    "Applebot-Extended",
    "meta-externalagent",
    "Amazonbot",
    "cohere-ai",
    "Diffbot",
    "img2dataset",
)

_DIRECTIVE = re.compile(r"^\s*([A-Za-z-]+)\s*:\s*(.*?)\s*$")


@dataclass(frozen=True)
class Rule:
    """One preference a host states for the paths matching `path` (a
    robots.txt pattern: prefix, `*` any run, `$` the end)."""

    source: str
    path: str
    category: str
    allowed: bool
    value: str  # as written: the line, or the licence's terms

    @property
    def preference(self) -> str:
        return f"{self.category}={'y' if self.allowed else 'n'}"


@dataclass(frozen=True)
class Document:
    """How fetching one document went: ok, absent (4xx) or error."""

    url: str
    outcome: str
    status: int | None = None
    detail: str = ""


@dataclass
class HostSignals:
    """What one host says, as fetched at `fetched_at` (ISO 8601)."""

    host: str
    fetched_at: str
    protocols: list[str]
    documents: list[Document] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    crawlers: dict[str, str] = field(default_factory=dict)  # token -> what
    problems: list[str] = field(default_factory=list)  # what was not checked
    # The `*` group's Allow and Disallow lines, for which paths it may crawl.
    access: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> HostSignals:
        return HostSignals(
            host=data["host"],
            fetched_at=data["fetched_at"],
            protocols=list(data.get("protocols") or []),
            documents=[Document(**d) for d in data.get("documents") or []],
            rules=[Rule(**r) for r in data.get("rules") or []],
            crawlers=dict(data.get("crawlers") or {}),
            problems=list(data.get("problems") or []),
            access=list(data.get("access") or []),
        )

    @cached_property
    def _access(self) -> Protego:
        return Protego.parse("User-agent: *\n" + "\n".join(self.access))

    def refusals(self, path: str, category: str = TRAIN_AI) -> list[Rule]:
        """The rules refusing `category` for `path`, one per source."""
        return [r for r in self.applicable(path, category) if not r.allowed]

    def applicable(self, path: str, category: str) -> list[Rule]:
        """The rule that decides `category` for `path`, one per source: per
        source the longest matching pattern applies, and rules of that length
        combine most restrictively. Content-Usage and Content-Signal only
        speak of paths the `*` group may crawl."""
        out = []
        for source in WEB_PROTOCOLS:
            best: list[Rule] = []
            length = -1
            for rule in self.rules:
                if rule.source != source or rule.category != category:
                    continue
                if not pattern_matches(rule.path, path):
                    continue
                if len(rule.path) > length:
                    best, length = [rule], len(rule.path)
                elif len(rule.path) == length:
                    best.append(rule)
            if not best:
                continue
            if source in ("robots", "content-signal") and not self._crawlable(path):
                continue
            refusing = [r for r in best if not r.allowed]
            out.append(refusing[0] if refusing else best[0])
        return out

    def _crawlable(self, path: str) -> bool:
        return self._access.can_fetch(f"http://{self.host}{path}", "*")


def pattern_matches(pattern: str, path: str) -> bool:
    """Whether a robots.txt path pattern matches `path` (RFC 9309 2.2.3)."""
    return _compiled(pattern).match(path) is not None


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    regex = ".*".join(re.escape(part) for part in body.split("*"))
    return re.compile(regex + ("$" if anchored else ""))


def _preferences(text: str, labels: dict[str, str]) -> list[tuple[str, bool]]:
    """(category, allowed) from a structured-field dictionary; unknown keys,
    non-token values and a dictionary that does not parse state nothing
    (aipref-vocab 7: parse failures leave preferences unknown)."""
    try:
        parsed = http_sf.parse(text.encode("ascii", "replace"), tltype="dictionary")
    except Exception:
        return []
    out = []
    for key, (value, _params) in parsed.items():
        category = labels.get(key)
        if category is None or not isinstance(value, http_sf.Token):
            continue
        token = str(value)
        if token in ("y", "yes"):
            out.append((category, True))
        elif token in ("n", "no"):
            out.append((category, False))
    return out


def parse_robots(
    text: str, protocols: Iterable[str]
) -> tuple[list[Rule], list[str], list[str]]:
    """The rules of the `*` group (Content-Usage, Content-Signal), the RSL
    licence URLs a robots.txt names and the `*` group's Allow and Disallow
    lines."""
    chosen = set(protocols)
    rules: list[Rule] = []
    licences: list[str] = []
    access: list[str] = []
    agents: list[str] = []
    in_rules = False  # a rule line was seen since the last user-agent line
    for raw in text.splitlines():
        line = raw.split("#", 1)[0]
        found = _DIRECTIVE.match(line)
        if not found:
            continue
        name, value = found.group(1).lower(), found.group(2)
        if name == "user-agent":
            if in_rules:
                agents, in_rules = [], False
            agents.append(value.strip().lower())
            continue
        if name in ("sitemap", "license"):
            if name == "license" and "rsl" in chosen and value:
                licences.append(value.strip())
            continue
        in_rules = True
        if "*" not in agents:
            continue
        if name in ("allow", "disallow"):
            access.append(f"{name}: {value}")
        elif name == "content-usage" and "robots" in chosen:
            path, _, pref = value.partition(" ")
            if not path.startswith("/"):
                continue  # the path is required and starts with "/"
            for category, allowed in _preferences(pref.strip(), AIPREF_LABELS):
                rules.append(Rule("robots", path, category, allowed, raw.strip()))
        elif name == "content-signal" and "content-signal" in chosen:
            path, pref = "/", value
            if value.startswith("/"):
                path, _, pref = value.partition(" ")
            for category, allowed in _preferences(pref.strip(), CONTENT_SIGNAL_LABELS):
                rules.append(
                    Rule("content-signal", path, category, allowed, raw.strip())
                )
    return rules, licences, access


def crawlers_refused(text: str, host: str) -> dict[str, str]:
    """The AI crawlers a robots.txt names in a group of their own and keeps
    out of the whole site or part of it."""
    parser = Protego.parse(text)
    named = {ua.lower() for ua in _user_agents(text)}
    out = {}
    for token in AI_CRAWLERS:
        if token.lower() not in named:
            continue
        if not parser.can_fetch(f"http://{host}/", token):
            out[token] = "disallowed: /"
    return out


def _user_agents(text: str) -> list[str]:
    agents = []
    for raw in text.splitlines():
        found = _DIRECTIVE.match(raw.split("#", 1)[0])
        if found and found.group(1).lower() == "user-agent":
            agents.append(found.group(2).strip())
    return agents


def parse_tdmrep(data: bytes) -> list[Rule]:
    """TDMRep's rules; raises ValueError naming what is wrong."""
    try:
        items = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"tdmrep.json is not JSON: {exc}") from None
    if not isinstance(items, list):
        raise ValueError("tdmrep.json is not a JSON array")
    rules = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("location"), str):
            continue
        location = item["location"].strip() or "/"
        if not location.startswith("/"):
            location = "/" + location
        reserved = item.get("tdm-reservation")
        if reserved not in (0, 1):
            continue
        value = f"location {location}: tdm-reservation {reserved}"
        if isinstance(item.get("tdm-policy"), str):
            value += f", tdm-policy {item['tdm-policy']}"
        rules.append(Rule("tdmrep", location, TRAIN_AI, reserved == 0, value))
    return rules


def parse_rsl(data: bytes, host: str) -> list[Rule]:
    """An RSL licence document's usage terms for this host's paths; raises
    ValueError when it is not an RSL document."""
    try:
        root = SafeET.fromstring(data)
    except Exception as exc:
        raise ValueError(f"the RSL licence is not well-formed XML: {exc}") from None
    if root.tag != f"{{{RSL}}}rsl":
        raise ValueError("the RSL licence has no <rsl> root element")
    rules = []
    for content in root.iter(f"{{{RSL}}}content"):
        url = (content.get("url") or "").strip()
        if url.startswith("/"):
            path = url
        else:
            parts = urlsplit(url)
            if (parts.hostname or "").lower() != host:
                continue  # another host's content
            path = parts.path or "/"
        for license_ in content.iter(f"{{{RSL}}}license"):
            for category, allowed, value in rsl_terms(license_):
                rules.append(Rule("rsl", path, category, allowed, f"{url}: {value}"))
    return rules


def _get(url: str, config: ProofConfig, max_bytes: int) -> tuple[Document, bytes]:
    # RFC 9309 2.3.1.2: follow at least five redirects.
    limited = replace(config, max_bytes=max_bytes, max_redirects=5)
    try:
        response = fetch(url, limited)
    except FetchFailed as exc:
        return Document(url, "error", None, str(exc)), b""
    if 200 <= response.status < 300:
        detail = f"first {max_bytes} bytes read" if response.truncated else ""
        return Document(url, "ok", response.status, detail), response.body
    if 400 <= response.status < 500:
        return Document(url, "absent", response.status), b""
    return Document(url, "error", response.status, f"HTTP {response.status}"), b""


def check_host(
    host: str, config: ProofConfig, protocols: Iterable[str], fetched_at: str
) -> HostSignals:
    """Fetch and read what `host` says, for the chosen protocols."""
    chosen = [p for p in WEB_PROTOCOLS if p in set(protocols)]
    out = HostSignals(host=host, fetched_at=fetched_at, protocols=chosen)
    if not chosen:
        return out
    port = f":{config.port}" if config.port else ""
    schemes = ["https", "http"] if config.scheme == "https" else ["http"]
    origin = f"{schemes[0]}://{host}{port}"
    robots_wanted = {"robots", "content-signal", "rsl"} & set(chosen)
    unreachable = False
    if robots_wanted:
        for scheme in schemes:
            origin = f"{scheme}://{host}{port}"
            document, body = _get(origin + ROBOTS_PATH, config, MAX_ROBOTS_BYTES)
            if document.outcome != "error" or document.status is not None:
                break  # answered (even with an error status): no fallback
        out.documents.append(document)
        unreachable = document.outcome == "error" and document.status is None
        if document.outcome == "error":
            out.problems.append(
                f"robots.txt of {host} could not be fetched: {document.detail}"
            )
        elif document.outcome == "ok":
            text = body.decode("utf-8", "replace")
            out.rules, licences, out.access = parse_robots(text, chosen)
            out.crawlers = crawlers_refused(text, host)
            for url in licences[:MAX_LICENCES]:
                licence, data = _get(url, config, MAX_DOCUMENT_BYTES)
                out.documents.append(licence)
                if licence.outcome == "ok":
                    try:
                        out.rules += parse_rsl(data, host)
                    except ValueError as exc:
                        out.problems.append(f"{url}: {exc}")
                elif licence.outcome == "error":
                    out.problems.append(
                        f"RSL licence {url} could not be fetched: {licence.detail}"
                    )
    if "tdmrep" in chosen and not unreachable:
        # (A host that did not answer for robots.txt is not asked again: its
        # rows already carry that problem.)
        document, body = _get(origin + TDMREP_PATH, config, MAX_DOCUMENT_BYTES)
        out.documents.append(document)
        if document.outcome == "ok":
            try:
                out.rules += parse_tdmrep(body)
            except ValueError as exc:
                out.problems.append(f"{host}: {exc}")
        elif document.outcome == "error":
            out.problems.append(
                f"tdmrep.json of {host} could not be fetched: {document.detail}"
            )
    return out


def url_host_path(url: str | None) -> tuple[str, str] | None:
    """(host, path with query) of a manifest URL, normalized as claims are;
    None when it does not parse (the URL check reports that)."""
    if not url:
        return None
    try:
        normal = normalize_url(url)
    except UrlRejected:
        return None
    query = normal.href.find("?")
    return normal.host, normal.path + (normal.href[query:] if query >= 0 else "")


def url_places(urls: list[str | None]) -> list[tuple[str, str] | None]:
    """url_host_path of each URL, in order."""
    return [url_host_path(url) for url in urls]


def match_rows(
    batch: RowBatch,
    hosts: Mapping[str, HostSignals],
    places: list[tuple[str, str] | None] | None = None,
) -> tuple[list[Match], list[RowProblem]]:
    """Signal matches for the rows whose URL's host refuses AI training for
    its path, and a problem for each row on a host whose signals could not
    be read. `hosts` holds every host of the batch's URLs; `places` is
    url_places(batch.urls) when the caller has it already."""
    if places is None:
        places = url_places(batch.urls)
    matches: list[Match] = []
    problems: list[RowProblem] = []
    for i, found in enumerate(places):
        if found is None:
            continue
        row = batch.first_row + i
        host, path = found
        said = hosts.get(host)
        if said is None:
            continue
        for reason in said.problems:
            problems.append(
                RowProblem(row=row, reason=reason, field="url", signal=PUBLISHER)
            )
        for rule in said.refusals(path):
            matches.append(
                Match(
                    row=row,
                    kind=MatchKind.SIGNAL,
                    ref=0,
                    matched=rule.preference,
                    source=rule.source,
                    evidence=f"{host}: {rule.value} (fetched {said.fetched_at})",
                )
            )
    return matches, problems
