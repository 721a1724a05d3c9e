"""bench/load/run.py reads py-spy's collapsed stacks of the gunicorn workers:
how busy they were and which part of a request the time went to, decided by
the innermost frame that names one."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

RUN_FILE = Path(__file__).resolve().parents[2] / "bench" / "load" / "run.py"

WORKER = (
    'process 1:"gunicorn";process 2:"gunicorn";<module> (gunicorn:6);'
    "Arbiter.spawn_worker (gunicorn/arbiter.py:752);"
    "Worker.init_process (gunicorn/workers/base.py:146);"
    "SyncWorker.run (gunicorn/workers/sync.py:132)"
)
REQUEST = (
    WORKER + ";SyncWorker.handle_request (gunicorn/workers/sync.py:184);"
    "WSGIHandler.__call__ (django/core/handlers/wsgi.py:124);"
    "SecurityHeadersMiddleware.__call__ (core/middleware.py:64);"
    "APIView.dispatch (rest_framework/views.py:512)"
)


def run_module():
    spec = importlib.util.spec_from_file_location("bench_load_run", RUN_FILE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_it_splits_request_time_by_the_innermost_part_named(tmp_path):
    raw = tmp_path / "profile.txt"
    raw.write_text(
        "\n".join(
            [
                # the arbiter: not a worker, not counted
                'process 1:"gunicorn";Arbiter.run (gunicorn/arbiter.py:247) 500',
                # a worker waiting for a connection
                WORKER + ";SyncWorker.wait (gunicorn/workers/sync.py:36) 40",
                # the token's query: database, not authentication
                REQUEST + ";APIView.initial (rest_framework/views.py:414);"
                "ApiTokenAuthentication.authenticate (accounts/authentication.py:40);"
                "Cursor.execute (psycopg/cursor.py:97);"
                "wait_c (psycopg/waiting.py:300) 30",
                # the snapshot's URL index
                REQUEST + ";SpawningQueryUrlsApi.post (optout/api/spawning.py:230);"
                "registry_lookup (optout/selectors.py:290);"
                "UrlIndex.lookup (workers/engine/urlindex.py:400) 20",
                # the view's own Python
                REQUEST + ";SpawningQueryUrlsApi.post (optout/api/spawning.py:224) 10",
            ]
        )
        + "\n"
    )
    summary = run_module().summarize_profile(raw)
    assert summary["worker_samples"] == 100
    assert summary["busy_percent"] == 60.0
    assert summary["parts_percent"] == {
        "database: psycopg, queries and waiting for PostgreSQL": 50.0,
        "matching: the snapshot's indexes (workers/engine)": 33.3,
        "the view and the lookup (Python: lines, slots, the answer)": 16.7,
    }
    functions = summary["functions_inclusive_percent"]
    assert functions["SpawningQueryUrlsApi.post (optout/api/spawning.py)"] == 50.0
    assert functions["APIView.dispatch (rest_framework/views.py)"] == 100.0
