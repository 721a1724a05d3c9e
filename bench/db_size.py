"""PostgreSQL bytes per registered image: PDQ variants as one row each (the
layout before migration 0014) against one packed value per image.

    .venv/bin/python bench/db_size.py [--images 20000]

On its own database (`bench_dbsize` on 127.0.0.1:5432, dropped and made
again), migrated, with N hashed images written as the registry leaves them
(bench/load/seed.py: SHA-256, MD5, pHash and PDQ rows, and the PDQ variants
of MATCH_VARIANT_SCHEME, 25 by default, packed on the image). The sizes are
pg_total_relation_size (heap, TOAST and every index) of registry_image and
registry_fingerprint after VACUUM FULL, divided by N; then the same images
with their variants as Fingerprint rows (what 0014 moved), measured again.
The ratio is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pg import fresh_database, psql  # noqa: E402

DB = "bench_dbsize"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=20_000)
    args = parser.parse_args()
    database_url = fresh_database(DB)
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from bench.load import seed
    from registry.models import Fingerprint, Image
    from workers.engine.fingerprint import unpack_variants

    call_command("migrate", verbosity=0)
    seed.seed_registry(claims=0, images=args.images, artists=10, curators=0, accounts=0)

    def per_image() -> dict[str, float]:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM FULL registry_image")
            cursor.execute("VACUUM FULL registry_fingerprint")
            sizes = {}
            for table in ("registry_image", "registry_fingerprint"):
                cursor.execute("SELECT pg_total_relation_size(%s)", [table])
                sizes[table] = cursor.fetchone()[0] / args.images
        return sizes

    packed = per_image()
    now = timezone.now()
    rows = seed._Rows(Fingerprint, now)
    next_id = seed._next_id(Fingerprint)

    def variant_rows():
        pk = next_id
        for image_id, data, version in Image.objects.values_list(
            "pk", "pdq_variants", "variants_version"
        ).iterator(chunk_size=5_000):
            for name, (raw, quality) in unpack_variants(data).items():
                yield rows.row(
                    id=pk,
                    image_id=image_id,
                    algorithm="pdq",
                    variant=name,
                    version=version,
                    value=raw,
                    quality=quality,
                )
                pk += 1

    made = list(variant_rows())
    seed._write(rows, made)
    Image.objects.update(pdq_variants=None)
    one_row_each = per_image()
    result = {
        "images": args.images,
        "variants_per_image": len(made) / args.images,
        "bytes_per_image_packed": {k: round(v) for k, v in packed.items()},
        "bytes_per_image_row_each": {k: round(v) for k, v in one_row_each.items()},
        "total_packed": round(sum(packed.values())),
        "total_row_each": round(sum(one_row_each.values())),
        "ratio_packed_to_row_each": round(
            sum(packed.values()) / sum(one_row_each.values()), 3
        ),
    }
    print(json.dumps(result))
    connection.close()
    psql(f"DROP DATABASE IF EXISTS {DB}")


if __name__ == "__main__":
    main()
