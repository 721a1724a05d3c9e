"""False-match reports: a curator says a match of their job is wrong; an admin
who agrees adds MatchException rows that the matcher applies (through
disputes.selectors.match_exceptions_filter) to every job matched at that
revision or later.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record, notify
from core.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from disputes.models import FalseMatchReport, MatchException
from disputes.selectors import CLAIM_KINDS, HASH_KINDS, batch_row_keys
from registry.models import Claim, Image
from registry.services import registry_revision_bump
from workers.engine.fingerprint import fingerprint_bytes
from workers.engine.images import ImageRejected
from workers.engine.urls import UrlRejected, normalize_url

log = logging.getLogger(__name__)


def _row_identifiers(match: Any) -> tuple[dict[str, str], bytes | None]:
    """Read the match's manifest row back: its URL and hashes, and a thumbnail.

    Returns ({} , None) when the manifest can no longer be read.
    """
    from optout.selectors import manifest_paths
    from workers.engine import manifests as engine_manifests
    from workers.engine.manifests import ManifestRejected
    from workers.engine.types import ChunkSpec, ManifestFormat

    chunk, manifest = match.chunk, match.job.manifest
    try:
        for batch in engine_manifests.read_chunk(
            manifest_paths(manifest),
            ManifestFormat(manifest.format),
            ChunkSpec.from_dict(chunk.spec),
            manifest.columns,
        ):
            i = match.row - batch.first_row
            if not 0 <= i < len(batch):
                continue
            found: dict[str, str] = {}
            thumb = None
            data = batch.images[i] if batch.images is not None else None
            if data:
                try:
                    result = fingerprint_bytes(
                        data, thumbnail_size=settings.THUMBNAIL_SIZE
                    )
                except ImageRejected:
                    result = None
                if result is not None:
                    prints = result.fingerprints
                    batch.sha256[i] = batch.sha256[i] or prints.sha256
                    batch.md5[i] = batch.md5[i] or prints.md5
                    batch.phash[i] = prints.phash_int
                    batch.pdq[i] = prints.pdq
                    thumb = result.thumbnail
            found.update(batch_row_keys(batch, i))
            return found, thumb
    except (ManifestRejected, OSError, ValueError):
        log.warning("could not read back row %s of job %s", match.row, match.job_id)
    return {}, None


def _report_holder(report: FalseMatchReport) -> Any:
    if report.claim_id:
        return Claim.objects.get(pk=report.claim_id).owner
    if report.image_id:
        return (
            Image.objects.select_related("work__owner")
            .get(pk=report.image_id)
            .work.owner
        )
    return None


def _exception_keys(report: FalseMatchReport) -> list[tuple[str, str]]:
    """What identifies the reported row, for the exception."""
    keys = report.row_hashes or {}
    if report.kind in CLAIM_KINDS:
        if keys.get("url"):
            return [("url", keys["url"])]
        if keys.get("key"):
            return [("key", keys["key"])]
        return []
    return [(name, keys[name]) for name in HASH_KINDS if keys.get(name)]


def false_match_report_create(
    *, reporter: User, match_id: int, reason: str, text: str = ""
) -> FalseMatchReport:
    """A curator reports one match of their own job as wrong."""
    from optout.models import Match

    match = (
        Match.objects.select_related("job__manifest", "chunk")
        .filter(pk=match_id, job__owner=reporter)
        .first()
    )
    if match is None:
        raise NotFound("match not found")
    if match.kind == Match.Kind.SIGNAL:
        # The file or the site said it; the registry holds nothing to correct.
        raise ValidationFailed(
            "a signal match is the image's or its publisher's own statement, "
            f"not the registry's ({match.evidence}); ask whoever published it"
        )
    if reason not in FalseMatchReport.Reason.values:
        raise ValidationFailed(
            "reason must be one of " + ", ".join(FalseMatchReport.Reason.values),
            field="reason",
        )
    text = (text or "").strip()
    if reason == FalseMatchReport.Reason.OTHER and not text:
        raise ValidationFailed("text: say what is wrong with the match", field="text")
    if FalseMatchReport.objects.filter(
        reporter=reporter, match=match, state=FalseMatchReport.State.OPEN
    ).exists():
        raise Conflict("you have already reported this match; it awaits review")
    keys, thumb = _row_identifiers(match)
    if match.url and "url" not in keys:
        try:
            keys["url"] = normalize_url(match.url).href
        except UrlRejected:
            pass
    thumb_path = ""
    if thumb:
        thumb_path = default_storage.save(
            FalseMatchReport._meta.get_field("row_thumbnail").generate_filename(
                None, "t.jpg"
            ),
            ContentFile(thumb),
        )
    try:
        with transaction.atomic():
            report = FalseMatchReport.objects.create(
                reporter=reporter,
                match=match,
                job_id_copy=match.job_id,
                row=match.row,
                kind=match.kind,
                claim_id=match.claim_id,
                image_id=match.image_id,
                row_key=match.key,
                row_url=match.url,
                row_hashes=keys,
                row_thumbnail=thumb_path,
                reason=reason,
                text=text,
            )
            audit_record(
                actor=reporter,
                action="false_match.reported",
                target=report,
                holder=_report_holder(report),
                after={"state": report.state, "reason": reason, "match": match.pk},
                reason=text,
            )
    except IntegrityError:
        if thumb_path:
            default_storage.delete(thumb_path)
        raise Conflict(
            "you have already reported this match; it awaits review"
        ) from None
    return report


def false_match_report_decide(
    *, admin: User, report_id: int, accept: bool, reason: str
) -> FalseMatchReport:
    """An admin agrees (adds match exceptions) or disagrees; the curator is told."""
    if not admin.is_staff:
        raise NotAllowed("only admins decide false-match reports")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: say why you decided so", field="reason")
    with transaction.atomic():
        report = (
            FalseMatchReport.objects.select_for_update().filter(pk=report_id).first()
        )
        if report is None:
            raise NotFound("report not found")
        if report.state != FalseMatchReport.State.OPEN:
            raise Conflict(f"the report is already {report.state}")
        report.decided_by, report.decided_at = admin, timezone.now()
        report.decision_reason = reason
        after: dict[str, Any] = {}
        if accept:
            keys = _exception_keys(report)
            target = (
                f"claim:{report.claim_id}"
                if report.claim_id
                else f"image:{report.image_id}"
            )
            if not keys or not (report.claim_id or report.image_id):
                raise Conflict(
                    "the reported row cannot be identified (its manifest can no "
                    "longer be read, and the match names no URL or hash)"
                )
            revision = registry_revision_bump(
                reason=f"false-match report {report.pk} accepted"
            )
            for key_type, key in keys:
                MatchException.objects.get_or_create(
                    target_key=target,
                    key_type=key_type,
                    key=key,
                    defaults={
                        "claim_id": report.claim_id,
                        "image_id": report.image_id,
                        "report": report,
                        "revision": revision,
                        "created_by": admin,
                    },
                )
            report.state = FalseMatchReport.State.ACCEPTED
            after = {"exceptions": [f"{t}:{k}" for t, k in keys], "target": target}
        else:
            report.state = FalseMatchReport.State.REJECTED
        report.save()
        audit_record(
            actor=admin,
            action=f"false_match.{report.state}",
            target=report,
            holder=_report_holder(report),
            before={"state": FalseMatchReport.State.OPEN},
            after={"state": report.state, **after},
            reason=reason,
        )
        notify(
            user=report.reporter,
            kind="false_match_decided",
            subject=f"Your false-match report #{report.pk} was {report.state}",
            body=(
                "That row will no longer match in new checks. "
                if accept
                else "The match stands. "
            )
            + f"Reason: {reason}",
            url=reverse("job_detail", args=[report.job_id_copy])
            if report.job_id_copy
            else "",
        )
    return report
