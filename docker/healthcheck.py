"""Health check of the web container: GET /healthz the way the proxy sends it.

Run by docker-compose.yml inside the web container. Django checks the Host
header against ALLOWED_HOSTS and, with DEBUG off, redirects plain HTTP to HTTPS
unless the proxy says the request came over HTTPS; so the request names the
first allowed host and carries X-Forwarded-Proto: https, as the proxy's would.
Exits 0 if the answer is 200, 1 otherwise. Standard library only.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def allowed_host() -> str:
    for host in os.environ.get("ALLOWED_HOSTS", "").split(","):
        host = host.strip().lstrip(".")  # ".example.org" allows example.org too
        if host and host != "*":
            return host
    return "localhost"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect (to HTTPS, say) means the check is misconfigured: report it.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def main() -> int:
    port = os.environ.get("PORT", "8000")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz",
        headers={"Host": allowed_host(), "X-Forwarded-Proto": "https"},
    )
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), _NoRedirects()
    )
    try:
        with opener.open(request, timeout=5) as response:
            body = response.read(100).decode(errors="replace")
            status = response.status
    except urllib.error.HTTPError as exc:
        print(f"unhealthy: HTTP {exc.code}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"unhealthy: HTTP {status}: {body}", file=sys.stderr)
        return 1
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
