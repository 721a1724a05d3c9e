"""The publishers' signals step for a manifest of many distinct hosts, served
locally: how long a job's workers take to read every host's site, and what
that costs over matching the same rows without the step.

A local HTTP server (its own process, threads per request) answers for every
host name: a robots.txt (a third with a Content-Usage refusal, a third with a
Content-Signal line, a third plain) and, for one host in ten, a tdmrep.json;
the others answer 404 for it. The fetcher resolves every name to 127.0.0.1
(the one private address let through, as in the tests). The step runs as a
worker runs it (optout/services/publishers.host_signals, against a SQLite
database made for the run), cold (every host fetched) and warm (every host
from the cache), then the rows are matched (websignals.match_rows). The
baseline, in the same run, is the rows' URL lookup in an index of the same
size (snapshot matching without the step).

    .venv/bin/python bench/publishers.py --hosts 10000 --rows-per-host 10

Cold and warm are single runs (a second cold run would find the cache
warm); the row figures are medians of --repeat.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def serve(port_out: multiprocessing.Queue) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            host = self.headers.get("Host", "").rsplit(":", 1)[0]
            n = int(host.split(".")[0][1:] or 0)
            status, body = 404, b"not found"
            if self.path == "/robots.txt":
                status, body = 200, robots(n).encode()
            elif self.path == "/.well-known/tdmrep.json" and n % 10 == 0:
                status = 200
                body = b'[{"location": "/private/", "tdm-reservation": 1}]'
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer.request_queue_size = 1024
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_out.put(server.server_address[1])
    server.serve_forever()


def robots(n: int) -> str:
    text = "User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    if n % 3 == 0:
        text += "Content-Usage: /art/ train-ai=n\n"
    elif n % 3 == 1:
        text += "Content-Signal: search=yes, ai-train=no\n"
    return text + "Sitemap: https://example.com/sitemap.xml\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--rows-per-host", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    queue: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(queue,), daemon=True)
    server.start()
    port = queue.get(timeout=30)

    work = Path(tempfile.mkdtemp(prefix="bench-publishers-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{work / 'db.sqlite3'}"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from optout.services import publishers
    from workers.engine.snapshot import RegistrySnapshot
    from workers.engine.types import RowBatch
    from workers.engine.websignals import WEB_PROTOCOLS, match_rows

    original = publishers.publisher_config
    publishers.publisher_config = lambda: replace(
        original(),
        scheme="http",
        port=port,
        resolver=lambda host, p: ["127.0.0.1"],
        allowed_addresses=frozenset({"127.0.0.1"}),
    )
    settings.SIGNAL_WEB_RATE = 0  # the server is ours: no rate limit
    hosts = [f"h{i}.example" for i in range(args.hosts)]
    urls = [
        f"https://{host}/{'art' if r % 2 else 'blog'}/{r}.jpg"
        for host in hosts
        for r in range(args.rows_per_host)
    ]
    n = len(urls)
    batch = RowBatch.of(urls=urls)
    print(
        f"{args.hosts:,} hosts, {n:,} rows; server on 127.0.0.1 (its own process); "
        f"{settings.SIGNAL_WEB_CONCURRENCY} fetch threads"
    )

    started = time.perf_counter()
    cold = publishers.host_signals(hosts, WEB_PROTOCOLS)
    cold_s = time.perf_counter() - started
    started = time.perf_counter()
    warm = publishers.host_signals(hosts, WEB_PROTOCOLS)
    warm_s = time.perf_counter() - started
    assert len(cold) == len(warm) == args.hosts
    assert not any(s.problems for s in cold.values()), "a host failed"

    snapshot = RegistrySnapshot.build(
        revision=1, url_claims=[(i, u) for i, u in enumerate(urls[::97])]
    )
    base, step = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        snapshot.match(batch)
        base.append(time.perf_counter() - started)
        started = time.perf_counter()
        found, problems = match_rows(batch, warm)
        step.append(time.perf_counter() - started)
    refusing = len({m.row for m in found})
    b, w = statistics.median(base), statistics.median(step)
    print("| measure | seconds | per second |")
    print("| --- | ---: | ---: |")
    for label, seconds in (
        ("every host fetched and read (cold)", cold_s),
        ("every host from the cache (warm)", warm_s),
    ):
        print(f"| {label} | {seconds:.2f} | {args.hosts / seconds:,.0f} hosts |")
    print(
        f"| match the rows against their hosts' rules | {w:.2f} | {n / w:,.0f} rows |"
    )
    print(f"| baseline: the rows' URL lookup, no step | {b:.2f} | {n / b:,.0f} rows |")
    print(
        f"ratio (rule matching / URL lookup): {w / b:.2f}; rows refused: "
        f"{refusing:,} of {n:,}"
    )
    server.terminate()


if __name__ == "__main__":
    main()
