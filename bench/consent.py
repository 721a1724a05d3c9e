"""What applying opt-ins costs a job's batch: the step a chunk runs after the
engine's matching and the match exceptions (registry.selectors.
opt_ins_apply: the offers in force at the revision for the claims and
images the batch hit, the holders' broader claims they override, and the
engine's relabelling), against the same batch without it.

A SQLite database made for the run holds one holder per 100 claims: a
verified domain and 99 prefix claims under it, and every tenth prefix
offered for training on terms. The batch's URLs fall under the prefixes
(each URL hits its prefix and its holder's domain claim), so every row has
two matches and one row in ten an offer. Baseline, in the same run: the
engine's matching plus the exception filter, as a chunk runs them.

    .venv/bin/python bench/consent.py --claims 10000 --rows 10000 --repeat 5

Medians of --repeat; "none" is the same batch on a registry with no offer.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-consent-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{work / 'db.sqlite3'}"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from accounts.models import User
    from disputes.selectors import match_exceptions_filter
    from registry.models import Claim, OptIn, RightsHolder
    from registry.selectors import opt_ins_apply
    from registry.services.revision import registry_revision_bump
    from workers.engine.snapshot import RegistrySnapshot
    from workers.engine.types import RowBatch

    holders = max(1, args.claims // 100)
    domains, prefixes, offered = [], [], []
    with transaction.atomic():
        for h in range(holders):
            user = User.objects.create(username=f"artist{h}", email=f"a{h}@x.example")
            holder = RightsHolder.objects.create(user=user, display_name=f"A{h}")
            domain = Claim.objects.create(
                owner=holder,
                kind="domain",
                value=f"h{h}.example",
                normalized=f"h{h}.example",
                state="active",
            )
            domains.append((domain.pk, domain.normalized))
            for p in range(99):
                value = f"https://h{h}.example/p{p}/"
                claim = Claim.objects.create(
                    owner=holder,
                    kind="prefix",
                    value=value,
                    normalized=value,
                    state="active",
                )
                prefixes.append((claim.pk, value))
                if p % 10 == 0:
                    offered.append((holder, claim))
        revision = registry_revision_bump(reason="bench", rebuild=True)
    snapshot = RegistrySnapshot.build(
        revision=revision, prefix_claims=prefixes, domain_claims=domains
    )
    urls = [f"{prefixes[i % len(prefixes)][1]}{i}.jpg" for i in range(args.rows)]
    batch = RowBatch.of(urls=urls)
    found, _ = snapshot.match(batch)
    print(
        f"{len(domains) + len(prefixes):,} claims, {len(offered):,} offered; "
        f"batch of {len(urls):,} rows, {len(found):,} matches"
    )

    def chunk_step(apply: bool, at: int) -> tuple[float, int]:
        started = time.perf_counter()
        found, _ = snapshot.match(batch)
        found = match_exceptions_filter(revision=at, batch=batch, found=found)
        if apply:
            found = opt_ins_apply(revision=at, found=found)
        return time.perf_counter() - started, sum(m.level == "opt-in" for m in found)

    def median(apply: bool, at: int) -> tuple[float, int]:
        runs = [chunk_step(apply, at) for _ in range(args.repeat)]
        return statistics.median(r[0] for r in runs), runs[0][1]

    base_none, _ = median(False, revision)
    step_none, _ = median(True, revision)
    with transaction.atomic():
        at = registry_revision_bump(reason="bench offers")
        OptIn.objects.bulk_create(
            OptIn(
                owner=holder,
                claim=claim,
                licence="https://licence.example/terms",
                payment="attribution",
                verified=f"domain proof ({claim.normalized.split('/')[2]})",
                from_revision=at,
                created=timezone.now(),
            )
            for holder, claim in offered
        )
    base_some, _ = median(False, at)
    step_some, opt_in = median(True, at)
    assert opt_in, "no match became an opt-in match"
    print(f"{opt_in:,} matches became opt-in matches")
    print("| registry | without the step (s) | with it (s) | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for label, base, step in (
        ("no offer", base_none, step_none),
        (f"{len(offered):,} offers", base_some, step_some),
    ):
        print(f"| {label} | {base:.3f} | {step:.3f} | {step / base:.2f} |")


if __name__ == "__main__":
    main()
