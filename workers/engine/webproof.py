"""Proof of domain control: the claimant serves a token on the domain's web site.

Two ways to prove it, tried in this order:

- a file at `<scheme>://DOMAIN/.well-known/dnt-registry-verification.txt` whose
  content (any one line, white space ignored) is the token;
- a tag `<meta name="dnt-registry-verification" content="TOKEN">` in the home
  page `<scheme>://DOMAIN/` (only its first `max_bytes` are read: the tag
  belongs in <head>).

The fetcher is written for hostile input, since the domain is whatever an
artist typed (server-side request forgery):

- the host is resolved once and every address it resolves to is checked with
  `ipaddress`: private, loopback, link-local, multicast, reserved, unspecified
  and other non-global addresses are refused (unless `allow_private`); then the
  connection goes to that checked address, never to a second lookup of the
  name, so DNS rebinding between check and connect is not possible. HTTPS
  still verifies the certificate against the host name (SNI);
- redirects are followed by hand, at most `max_redirects`, and each hop is
  checked the same way (a public host redirecting to 127.0.0.1 is refused);
- connect and read timeouts, and an overall deadline per request;
- at most `max_bytes` of a response are read.

Limits: HTTP/1.1 over one connection per request, no proxies, no cookies, no
DNS TXT records. Standard library only.
"""

from __future__ import annotations

import hmac
import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

SLUG = "dnt-registry"
WELL_KNOWN_PATH = f"/.well-known/{SLUG}-verification.txt"
META_NAME = f"{SLUG}-verification"
USER_AGENT = f"{SLUG}-domain-check/1"

Resolver = Callable[[str, int], Sequence[str]]


class FetchFailed(Exception):
    """A request that could not be made or answered; the message is for people."""


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (IPv4 and IPv6), in the resolver's order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchFailed(f"{host} does not resolve ({exc})") from None
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen


@dataclass(frozen=True)
class ProofConfig:
    scheme: str = "https"
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    max_bytes: int = 64 * 1024
    max_redirects: int = 3
    allow_private: bool = False
    # Name lookup; tests point names at a local server with it.
    resolver: Resolver = resolve
    # Addresses fetched even when `allow_private` is off: for tests (a local
    # server standing in for a public host) and closed networks.
    allowed_addresses: frozenset[str] = field(default_factory=frozenset)
    # A port instead of the scheme's own (tests: the local server's).
    port: int | None = None
    # Who is asking: the domain check, or the publishers' signals step.
    user_agent: str = USER_AGENT


@dataclass(frozen=True)
class Response:
    url: str  # the final URL, after redirects
    status: int
    body: bytes
    truncated: bool  # more than max_bytes were sent; body holds the first ones


@dataclass(frozen=True)
class ProofResult:
    ok: bool
    method: str  # "file", "meta" or "" when not proven
    error: str  # why not, for people; "" when proven


def _origin(domain: str, scheme: str, port: int | None) -> str:
    return f"{scheme}://{domain}" + (f":{port}" if port else "")


def file_url(domain: str, scheme: str = "https", port: int | None = None) -> str:
    """Where the token file is looked for."""
    return _origin(domain, scheme, port) + WELL_KNOWN_PATH


def home_url(domain: str, scheme: str = "https", port: int | None = None) -> str:
    """The home page searched for the meta tag."""
    return _origin(domain, scheme, port) + "/"


def meta_tag(token: str) -> str:
    return f'<meta name="{META_NAME}" content="{token}">'


# --- addresses ------------------------------------------------------------------


def address_refusal(address: str) -> str | None:
    """What kind of address `address` is ("a loopback address") if requests to
    it are refused; None for a public address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, flag in (
        ("an unspecified", ip.is_unspecified),
        ("a loopback", ip.is_loopback),
        ("a link-local", ip.is_link_local),
        ("a multicast", ip.is_multicast),
        ("a private", ip.is_private),
        ("a reserved", ip.is_reserved),
    ):
        if flag:
            return f"{kind} address"
    if not ip.is_global:
        return "not a public address"
    return None


def _checked_addresses(host: str, port: int, config: ProofConfig) -> list[str]:
    try:
        literal: str | None = str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        literal = None
    addresses = [literal] if literal else list(config.resolver(host, port))
    if not addresses:
        raise FetchFailed(f"{host} does not resolve")
    if not config.allow_private:
        # Every address, not just the first: a name with one public and one
        # private address could be made to reach the private one.
        for address in addresses:
            if address in config.allowed_addresses:
                continue
            kind = address_refusal(address)
            if kind and literal:
                raise FetchFailed(f"refused: {address} is {kind}")
            if kind:
                # Not which address: the message reaches the claimant, and
                # naming it would map our internal network (DNS) for them.
                raise FetchFailed(f"refused: {host} resolves to a private address")
    return addresses


# --- one request --------------------------------------------------------------


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Sends Host: <host> but connects to an address checked beforehand."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection(
            (self._address, self.port), timeout=self.timeout
        )


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    default_port = 443

    def connect(self) -> None:
        super().connect()
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(self.sock, server_hostname=self.host)


def _request(
    url: str, config: ProofConfig, deadline: float
) -> tuple[int, str, bytes, bool]:
    """(status, Location, body, truncated) of one GET, no redirects followed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchFailed(f"refused: {url} is not an http(s) URL")
    host = parts.hostname
    if not host:
        raise FetchFailed(f"{url} has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchFailed(f"{url} has a bad port") from None
    addresses = _checked_addresses(host, port, config)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    cls = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    last_error: Exception | None = None
    for address in addresses:
        conn = cls(host, port, address, timeout=config.connect_timeout)
        try:
            conn.connect()
        except (OSError, ssl.SSLError) as exc:
            conn.close()
            last_error = exc
            continue
        try:
            assert conn.sock is not None
            conn.sock.settimeout(config.read_timeout)
            conn.request(
                "GET",
                path,
                headers={
                    "User-Agent": config.user_agent,
                    "Accept": "text/plain, text/html;q=0.9, */*;q=0.1",
                    "Accept-Encoding": "identity",
                    "Connection": "close",
                },
            )
            response = conn.getresponse()
            location = response.getheader("Location", "") or ""
            body, truncated = _read_capped(response, config.max_bytes, deadline)
            return response.status, location, body, truncated
        except TimeoutError:
            raise FetchFailed(
                f"{url}: no answer within {config.read_timeout:g} s"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise FetchFailed(f"{url}: {_describe(exc)}") from None
        finally:
            conn.close()
    if isinstance(last_error, TimeoutError):
        raise FetchFailed(
            f"{url}: could not connect within {config.connect_timeout:g} s"
        )
    raise FetchFailed(f"{url}: could not connect ({_describe(last_error)})")


def _read_capped(
    response: http.client.HTTPResponse, max_bytes: int, deadline: float
) -> tuple[bytes, bool]:
    body = bytearray()
    while len(body) <= max_bytes:
        if time.monotonic() > deadline:
            raise TimeoutError
        block = response.read1(min(8192, max_bytes + 1 - len(body)))
        if not block:
            return bytes(body), False
        body += block
    return bytes(body[:max_bytes]), True


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the TLS certificate is not valid ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return str(exc) or type(exc).__name__


def fetch(url: str, config: ProofConfig) -> Response:
    """GET `url`, following at most `config.max_redirects` redirects, each checked.

    Raises FetchFailed with a reason for people.
    """
    hops = 0
    while True:
        # Each request gets its own deadline: connect + read, so a server
        # dripping one byte at a time cannot hold the worker.
        deadline = time.monotonic() + config.connect_timeout + config.read_timeout
        status, location, body, truncated = _request(url, config, deadline)
        if status in (301, 302, 303, 307, 308) and location:
            hops += 1
            if hops > config.max_redirects:
                raise FetchFailed(f"{url}: more than {config.max_redirects} redirects")
            url = urljoin(url, location)
            continue
        return Response(url=url, status=status, body=body, truncated=truncated)


# --- the proof ------------------------------------------------------------------


class _MetaFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.contents: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "meta":
            return
        values = {k.lower(): (v or "") for k, v in attrs}
        if values.get("name", "").strip().lower() == META_NAME:
            self.contents.append(values.get("content", "").strip())


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _file_proof(domain: str, token: str, config: ProofConfig) -> str | None:
    """None if the file holds the token, else why not."""
    url = file_url(domain, config.scheme, config.port)
    try:
        response = fetch(url, config)
    except FetchFailed as exc:
        return str(exc)
    if response.status != 200:
        return f"{response.url}: HTTP {response.status}"
    if response.truncated:
        return f"{response.url}: the file is larger than {config.max_bytes} bytes"
    text = response.body.decode("utf-8", errors="replace")
    if any(_same(line.strip(), token) for line in text.splitlines()):
        return None
    return f"{response.url}: the file does not contain this claim's token"


def _meta_proof(domain: str, token: str, config: ProofConfig) -> str | None:
    """None if the home page has the meta tag with the token, else why not."""
    url = home_url(domain, config.scheme, config.port)
    try:
        response = fetch(url, config)
    except FetchFailed as exc:
        return str(exc)
    if response.status != 200:
        return f"{response.url}: HTTP {response.status}"
    finder = _MetaFinder()
    finder.feed(response.body.decode("utf-8", errors="replace"))
    if any(_same(content, token) for content in finder.contents):
        return None
    where = (
        f"in the first {config.max_bytes} bytes of {response.url}"
        if response.truncated
        else f"in {response.url}"
    )
    if finder.contents:
        return f'the <meta name="{META_NAME}"> tag {where} holds another token'
    return f'no <meta name="{META_NAME}"> tag {where}'


def check_domain(domain: str, token: str, config: ProofConfig) -> ProofResult:
    """Is `token` served by `domain`, as a file or a meta tag? Never raises for
    network trouble: the reasons come back in ProofResult.error."""
    if not token:
        return ProofResult(ok=False, method="", error="the claim has no token")
    file_error = _file_proof(domain, token, config)
    if file_error is None:
        return ProofResult(ok=True, method="file", error="")
    meta_error = _meta_proof(domain, token, config)
    if meta_error is None:
        return ProofResult(ok=True, method="meta", error="")
    if meta_error == file_error:  # the same host refused or unreachable twice
        return ProofResult(ok=False, method="", error=file_error)
    return ProofResult(ok=False, method="", error=f"{file_error}; {meta_error}")
