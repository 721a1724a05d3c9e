"""A small HTTP server on 127.0.0.1 in a thread, standing in for artists' sites.

Routes map a path to (status, headers, body, delay seconds), for every host
or for one (`serve(..., host=...)`: the Host header's name, port left out);
every request's path is logged, so a test can tell what was (and was not)
fetched.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Site:
    port: int
    routes: dict[str | tuple[str, str], Route]
    requests: list[tuple[str, str]]  # (Host header, path)

    @property
    def origin(self) -> str:
        return f"127.0.0.1:{self.port}"

    def serve(
        self,
        path: str,
        body: bytes | str = b"",
        status: int = 200,
        *,
        host: str | None = None,
        **kw,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.routes[(host, path) if host else path] = Route(
            status=status, body=data, **kw
        )

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = Route(status=status, headers={"Location": location})


@contextmanager
def local_site() -> Iterator[Site]:
    routes: dict[str | tuple[str, str], Route] = {}
    requests: list[tuple[str, str]] = []
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            host = self.headers.get("Host", "")
            requests.append((host, self.path))
            route = routes.get((host.rsplit(":", 1)[0], self.path)) or routes.get(
                self.path, Route(status=404, body=b"not found")
            )
            if route.delay:
                stop.wait(route.delay)
            self.send_response(route.status)
            for name, value in route.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            try:
                self.wfile.write(route.body)
            except OSError:
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield Site(port=server.server_address[1], routes=routes, requests=requests)
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
