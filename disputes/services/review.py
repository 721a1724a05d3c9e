"""What waits for the admins, and the notice that tells them."""

from __future__ import annotations

from django.urls import reverse

from accounts.models import User
from audit.services import notify
from disputes.models import Dispute, FalseMatchReport
from registry.models import Claim
from registry.selectors import prefix_review_queue


def review_waiting_counts() -> dict[str, int]:
    """Work that waits for an admin, by kind."""
    return {
        "disputes to decide": Dispute.objects.filter(
            state=Dispute.State.UNDER_REVIEW
        ).count(),
        "decisions to confirm": Dispute.objects.filter(
            state=Dispute.State.PENDING_CONFIRMATION
        ).count(),
        "false-match reports": FalseMatchReport.objects.filter(
            state=FalseMatchReport.State.OPEN
        ).count(),
        "style claims": Claim.objects.filter(
            kind=Claim.Kind.STYLE, state=Claim.State.PENDING_REVIEW
        ).count(),
        "URL claims": prefix_review_queue().count(),
    }


def review_digest_send() -> int:
    """Tell every active admin what waits, when anything does (the beat task,
    REVIEW_DIGEST_SECONDS). Returns how many admins were told."""
    counts = {k: n for k, n in review_waiting_counts().items() if n}
    if not counts:
        return 0
    total = sum(counts.values())
    lines = "\n".join(f"- {n} {what}" for what, n in counts.items())
    admins = User.objects.filter(is_staff=True, is_active=True, suspended_at=None)
    told = 0
    for admin in admins:
        notify(
            user=admin,
            kind="review_waiting",
            subject=f"{total} item{'s' if total != 1 else ''} wait for review",
            body=f"Waiting for an admin:\n{lines}",
            url=reverse("review"),
        )
        told += 1
    return told
