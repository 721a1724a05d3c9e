#!/usr/bin/env bash
# Browser tests drive Debian's chromium; install it if it is missing (root only).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = "0" ]; then
    echo "Installing Debian's chromium for the browser tests..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
    echo "Browser tests need Debian's chromium: sudo apt-get install chromium" >&2
    exit 1
fi
