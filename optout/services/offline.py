"""The offline snapshot: what a curator's own machines need to match a
manifest as the registry's jobs do, signed with the registry's key.

A snapshot at revision N is a signed document naming the segments whose view
is N (each with the SHA-256 of every file, so a download can be checked
file by file), the match exceptions and opt-ins (with their terms) in force
at N, and the matching settings a job started now would use. The segments
hold what is matched (claimed URLs, prefixes, domains and style names;
image hashes, PDQ variants and descriptors) under numeric ids: no
originals, thumbnails, accounts or evidence; the only contact details are
those a holder published with an opt-in's terms. A client holding
revision M downloads only the segments it does not have (the deltas since
M, or the merged segment that replaced them); the dnt-check client
(client/) does that.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.utils import timezone

from core.errors import ValidationFailed
from disputes.selectors import match_exceptions_at
from optout import segments
from optout.selectors import default_levels, default_thresholds
from optout.services.jobs import PERCEPTUAL_LEVELS
from optout.services.receipts import receipt_sign
from registry.selectors import (
    opt_in_overrides,
    opt_ins_at,
    registry_identity,
    registry_revision_current,
)
from workers.engine.datasignals import EMBEDDED_PROTOCOLS

SNAPSHOT_TYPE = "dnt-registry-snapshot"
SNAPSHOT_VERSION = 1


def _plain(value: Any) -> Any:
    """Floats as their shortest decimal string: a signed payload holds none."""
    return repr(value) if isinstance(value, float) else value


def snapshot_document(*, revision: int | None = None) -> dict[str, Any]:
    """The signed snapshot document at `revision` (default: the current one).

    Raises ValidationFailed for a revision the registry has not reached, and
    optout.segments.IndexUnavailable when its segments were merged away.
    """
    current = registry_revision_current()
    if revision is None:
        revision = current
    if not 0 <= revision <= current:
        raise ValidationFailed(
            f"revision: this registry is at revision {current}; ask for one "
            f"from 0 to {current}",
            field="revision",
        )
    chain = segments.chain_for_revision(revision)
    exceptions = [
        {"target": target, "key_type": key_type, "key": key}
        for target, pairs in sorted(match_exceptions_at(revision=revision).items())
        for key_type, key in sorted(pairs)
    ]
    offered = opt_ins_at(revision=revision)
    overrides = opt_in_overrides(targets=offered)
    opt_ins = [
        {"target": target, "terms": terms, "overrides": overrides.get(target, [])}
        for target, terms in sorted(offered.items())
    ]
    levels = asdict(default_levels())
    payload = {
        "type": SNAPSHOT_TYPE,
        "version": SNAPSHOT_VERSION,
        "registry": {
            "id": registry_identity(),
            "name": settings.SITE_NAME,
            "url": settings.SITE_URL,
            "revision": revision,
        },
        "index": segments.index_identity(),
        "descriptor_model": segments.descriptor_version(),
        "segments": chain,
        "exceptions": exceptions,
        # Claims and images offered for AI training on terms at `revision`
        # (workers/engine/consent.py): their matches remove nothing.
        "opt_ins": opt_ins,
        "matching": {
            "thresholds": asdict(default_thresholds()),
            "levels": {name: _plain(value) for name, value in levels.items()},
            "remove_levels": [
                lv for lv in PERCEPTUAL_LEVELS if lv in settings.MATCH_REMOVE_LEVELS
            ],
            "variant_scheme": settings.MATCH_VARIANT_SCHEME,
            # The protocols read in the images' metadata (docs/SIGNALS.md);
            # publishers' sites are not read offline.
            "signals": [
                p for p in EMBEDDED_PROTOCOLS if p in settings.SIGNAL_PROTOCOLS
            ],
            # Verification compares a row's image with the registered
            # original's features, which a snapshot does not carry.
            "verify": False,
        },
        "created": timezone.now().isoformat(),
    }
    return receipt_sign(payload)
