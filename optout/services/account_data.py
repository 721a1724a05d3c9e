"""A deleted account's curator data: its manifests, jobs and outputs."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from optout.models import JobOutput, Manifest, ManifestPart, ManifestSidecar


def manifests_delete_for_account(*, user: User) -> int:
    """Delete the account's manifests with their jobs, outputs and files.

    The rows go in the caller's transaction; the files once it commits (a
    rolled-back deletion keeps them). Returns how many manifests went.
    """
    manifests = Manifest.objects.filter(owner=user)
    files = [
        *(p.file for p in ManifestPart.objects.filter(manifest__in=manifests)),
        *(s.file for s in ManifestSidecar.objects.filter(manifest__in=manifests)),
        *(o.file for o in JobOutput.objects.filter(job__manifest__in=manifests)),
    ]
    count = manifests.count()
    manifests.delete()

    def delete_files() -> None:
        for f in files:
            if f.name:
                f.storage.delete(f.name)

    transaction.on_commit(delete_files)
    return count
