#!/usr/bin/env bash
# Starts the web server and a Celery worker together; Ctrl-C stops both.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
HOST=${RUN_HOST:-127.0.0.1}
PORT=${RUN_PORT:-8000}
mkdir -p var

"$PY" -m celery -A config worker -Q images,ingest,match,celery \
    --concurrency "${WORKER_CONCURRENCY:-2}" --loglevel INFO \
    --without-mingle --without-gossip --beat \
    --schedule var/celerybeat-schedule &
worker=$!
"$PY" manage.py runserver --noreload "$HOST:$PORT" &
web=$!

stop() {
    trap - INT TERM EXIT
    kill -TERM "$web" "$worker" 2>/dev/null || true
    wait "$web" "$worker" 2>/dev/null || true
    echo "Stopped web server and worker."
}
interrupted=0
trap 'interrupted=1' INT TERM
trap stop EXIT

sleep 1
cat <<MSG

  Opt-out registry is running.
    Web:        http://$HOST:$PORT/
    API:        http://$HOST:$PORT/api/v1/
    API docs:   http://$HOST:$PORT/api/docs/
    Admin:      http://$HOST:$PORT/admin/   (create an admin with: make superuser)
  Press Ctrl-C to stop both the web server and the worker.

MSG
# Stop everything when either process exits. Ctrl-C reaches both children too,
# so one may exit before the trap runs: that is a clean stop, not a failure.
status=0
wait -n "$web" "$worker" || status=$?
stop
if [ "$interrupted" = 1 ] || [ "$status" = 0 ]; then
    exit 0
fi
echo "A process exited with status $status." >&2
exit "$status"
