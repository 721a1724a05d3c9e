"""From a change in the database to a job that sees it, through the
registry's own code: the outbox, a delta segment published to the object
store, and the next job's view (optout.segments).

    .venv/bin/python bench/change_latency.py [--images 100000] [--changes 20]

On its own PostgreSQL database (`bench_change` on 127.0.0.1:5432, dropped
and made again) with a registry seeded by bench/load/seed.py (N URL claims
and N hashed images with the default scheme's PDQ variants), segments in a
local folder store (SEGMENT_STORE_URL=file://...; S3 adds one small upload
per change). First the base is built from the database (what a new registry
index costs); then each change (a new URL claim, or a claim withdrawn, in
turn) is timed from the service call returning to `view_for_revision` of
the new revision returning, as the next job calls it on a worker that held
the previous revision. Medians and worst of --changes, one core.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pg import fresh_database, psql  # noqa: E402

DB = "bench_change"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-change-"))
    database_url = fresh_database(DB)
    os.environ.update(
        DATABASE_URL=database_url,
        SEGMENT_STORE_URL=f"file://{work / 'store'}",
        SEGMENT_CACHE_DIR=str(work / "cache"),
        MEDIA_ROOT=str(work / "media"),
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench.load import seed
    from optout import segments
    from registry.models import Claim, RightsHolder
    from registry.selectors import registry_revision_current
    from registry.services import claim_create, claim_withdraw
    from workers.engine.types import RowBatch

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    seed.seed_registry(
        claims=args.images, images=args.images, artists=100, curators=0, accounts=0
    )
    seeded_s = time.perf_counter() - started

    started = time.perf_counter()
    segments.view_for_revision(registry_revision_current())
    base_s = time.perf_counter() - started

    holder = RightsHolder.objects.order_by("pk").first()
    mine = list(
        Claim.objects.filter(owner=holder, kind="url").values_list("pk", flat=True)[
            : args.changes
        ]
    )
    change_ms = []
    found = 0
    for i in range(args.changes):
        url = f"https://bench-change.example/new/{i}.png"
        started = time.perf_counter()
        if i % 2 == 0:
            claim_create(owner=holder, kind="url", value=url)
        else:
            claim_withdraw(owner=holder, claim_id=mine[i])
        view = segments.view_for_revision(registry_revision_current())
        change_ms.append((time.perf_counter() - started) * 1000)
        if i % 2 == 0:
            batch = RowBatch(
                first_row=0,
                keys=[None],
                urls=[url],
                captions=[None],
                sha256=[None],
                md5=[None],
                phash=[None],
                pdq=[None],
            )
            found += len(view.match(batch)[0])
    assert found == (args.changes + 1) // 2, found
    result = {
        "images": args.images,
        "claims": args.images,
        "seed_s": round(seeded_s, 1),
        "base_from_database_s": round(base_s, 2),
        "change_to_view_ms_median": round(statistics.median(change_ms), 1),
        "change_to_view_ms_max": round(max(change_ms), 1),
        "segments": len(view.segments),
    }
    print(json.dumps(result))
    connection.close()
    psql(f"DROP DATABASE IF EXISTS {DB}")


if __name__ == "__main__":
    main()
