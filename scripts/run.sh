#!/usr/bin/env bash
# Starts the web server and a Celery worker together; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
HOST=${RUN_HOST:-127.0.0.1}
PORT=${RUN_PORT:-8000}
mkdir -p var

"$PY" -m celery -A config worker -Q images,ingest,match,celery \
    --concurrency "${WORKER_CONCURRENCY:-2}" --loglevel INFO \
    --without-mingle --without-gossip &
worker=$!
"$PY" manage.py runserver --noreload "$HOST:$PORT" &
web=$!

stop() {
    trap - INT TERM EXIT
    kill -TERM "$web" "$worker" 2>/dev/null || true
    wait "$web" "$worker" 2>/dev/null || true
    echo "Stopped web server and worker."
}
trap stop INT TERM EXIT

sleep 1
cat <<MSG

  Opt-out registry is running.
    Web:        http://$HOST:$PORT/
    API:        http://$HOST:$PORT/api/v1/
    API docs:   http://$HOST:$PORT/api/docs/
    Admin:      http://$HOST:$PORT/admin/   (create an admin with: make superuser)
  Press Ctrl-C to stop both the web server and the worker.

MSG
# Stop everything when either process exits.
wait -n "$web" "$worker"
