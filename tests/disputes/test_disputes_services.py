"""Disputes: the state machine, who may move it, deadlines, revisions and audit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from audit.models import AuditEvent, Notification
from core.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from core.uploads import bytes_file
from disputes.models import Dispute, ImageExclusion
from disputes.selectors import dispute_comparisons, dispute_timeline
from disputes.services import (
    dispute_confirm,
    dispute_deadlines_run,
    dispute_resolve,
    dispute_respond,
    dispute_withdraw,
)
from registry.models import Claim, Work
from registry.selectors import registry_revision_current
from registry.services import claim_create, claim_review, claim_withdraw
from tests.disputes.helpers import (
    Clock,
    fingerprint_evidence,
    make_admin,
    open_dispute,
    prefix_claim,
    seasoned,
)
from tests.images import image_bytes
from tests.pages import fingerprint, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def claim(holder):
    return prefix_claim(holder)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def actions(dispute):
    return list(dispute_timeline(dispute=dispute).values_list("action", flat=True))


# --- opening ---------------------------------------------------------------------


def test_opening_a_dispute_awaits_the_claimants_response_and_tells_them(
    clock, claim, other_artist, artist
):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")

    assert dispute.state == Dispute.State.AWAITING_RESPONSE
    assert dispute.response_due == clock.now + timedelta(days=14)
    assert actions(dispute) == ["dispute.opened", "dispute.awaiting_response"]
    note = Notification.objects.get(user=artist, kind="dispute_opened")
    assert "is disputed" in note.subject
    assert note.url == f"/disputes/{dispute.pk}/"


def test_the_deadline_follows_the_setting(clock, claim, other_artist, settings):
    settings.DISPUTE_RESPONSE_DAYS = 3
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    assert dispute.response_due == clock.now + timedelta(days=3)


def test_a_disputed_claim_stays_enforced_by_default(claim, other_artist):
    revision = registry_revision_current()
    open_dispute(other_artist, f"claim:{claim.pk}")
    claim.refresh_from_db()
    assert claim.state == Claim.State.ACTIVE
    assert registry_revision_current() == revision


def test_suspend_while_open_stops_enforcement_until_the_dispute_is_withdrawn(
    claim, other_artist, settings
):
    settings.DISPUTE_SUSPEND_WHILE_OPEN = True
    revision = registry_revision_current()
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    claim.refresh_from_db()
    assert claim.state == Claim.State.SUSPENDED
    assert registry_revision_current() == revision + 1

    dispute_withdraw(user=other_artist, dispute_id=dispute.pk)
    claim.refresh_from_db()
    assert claim.state == Claim.State.ACTIVE
    assert registry_revision_current() == revision + 2


def test_impersonation_is_for_style_claims_only(claim, other_artist):
    with pytest.raises(ValidationFailed, match="impersonation applies to style"):
        open_dispute(other_artist, f"claim:{claim.pk}", grounds="impersonation")


def test_impersonation_of_a_style_claim_can_be_disputed(holder, other_artist):
    style = claim_create(owner=holder, kind="style", value="Alice Moreau")
    claim_review(claim_id=style.pk, approve=True, admin=make_admin("root"))
    dispute = open_dispute(other_artist, f"claim:{style.pk}", grounds="impersonation")
    assert dispute.grounds == "impersonation"


def test_a_pending_style_claim_is_not_found_by_others(holder, other_artist):
    style = claim_create(owner=holder, kind="style", value="Alice Moreau")
    with pytest.raises(NotFound, match=f"claim {style.pk} not found"):
        open_dispute(other_artist, f"claim:{style.pk}", grounds="impersonation")


@pytest.mark.parametrize(
    ("target", "error", "message"),
    [
        ("claim", ValidationFailed, "you cannot dispute your own registration"),
        ("nothing", ValidationFailed, "target must be work:<id>"),
        ("claim:999999", NotFound, "claim 999999 not found"),
    ],
)
def test_it_refuses_bad_targets(claim, artist, target, error, message):
    target = f"claim:{claim.pk}" if target == "claim" else target
    with pytest.raises(error, match=message):
        open_dispute(artist, target)


def test_a_withdrawn_claim_cannot_be_disputed(claim, holder, other_artist):
    claim_withdraw(owner=holder, claim_id=claim.pk)
    # No longer public: a stranger does not even learn it exists...
    with pytest.raises(NotFound, match=f"claim {claim.pk} not found"):
        open_dispute(other_artist, f"claim:{claim.pk}")
    # ...and an admin, who sees it, is told why there is nothing to dispute.
    with pytest.raises(Conflict, match="the claim is withdrawn"):
        open_dispute(make_admin("root"), f"claim:{claim.pk}")


def test_a_statement_is_required(claim, other_artist):
    with pytest.raises(ValidationFailed, match="statement: say why"):
        open_dispute(other_artist, f"claim:{claim.pk}", statement="  ")


def test_one_unresolved_dispute_per_person_and_target(claim, other_artist, curator):
    first = open_dispute(other_artist, f"claim:{claim.pk}")
    with pytest.raises(
        Conflict, match=f"already have a dispute about this .#{first.pk}"
    ):
        open_dispute(other_artist, f"claim:{claim.pk}", grounds="licensed")
    # Someone else may dispute the same claim.
    assert open_dispute(curator, f"claim:{claim.pk}").pk != first.pk


def test_a_repeat_after_a_decision_needs_other_grounds_or_new_evidence(
    claim, other_artist, admin_user
):
    first = open_dispute(other_artist, f"claim:{claim.pk}")
    dispute_resolve(
        admin=admin_user, dispute_id=first.pk, outcome="upheld", reason="it is hers"
    )
    with pytest.raises(Conflict, match="on these grounds was already decided"):
        open_dispute(other_artist, f"claim:{claim.pk}")
    assert open_dispute(other_artist, f"claim:{claim.pk}", grounds="licensed")


def test_a_repeat_with_new_evidence_text_is_accepted(claim, other_artist, admin_user):
    first = open_dispute(other_artist, f"claim:{claim.pk}")
    dispute_resolve(
        admin=admin_user, dispute_id=first.pk, outcome="upheld", reason="it is hers"
    )
    again = open_dispute(
        other_artist,
        f"claim:{claim.pk}",
        statement="New: the 2019 contract that licenses the series to us.",
    )
    assert again.state == Dispute.State.AWAITING_RESPONSE


def test_a_withdrawn_dispute_does_not_block_a_new_one(claim, other_artist):
    first = open_dispute(other_artist, f"claim:{claim.pk}")
    dispute_withdraw(user=other_artist, dispute_id=first.pk)
    assert open_dispute(other_artist, f"claim:{claim.pk}").pk != first.pk


def test_evidence_urls_are_checked(claim, other_artist):
    with pytest.raises(ValidationFailed, match=r"evidence_urls\[1\]"):
        open_dispute(
            other_artist,
            f"claim:{claim.pk}",
            evidence_urls=["https://ok.example/a", "ftp://nope"],
        )


def test_image_evidence_is_fingerprinted_and_compared_with_the_work(
    holder, other_artist
):
    (image,) = upload(holder, 7)
    fingerprint(image)
    dispute = open_dispute(
        other_artist,
        f"work:{image.work_id}",
        files=[
            bytes_file("mine.png", image_bytes(7)),
            bytes_file("other.png", image_bytes(8)),
            bytes_file("contract.txt", b"signed 2019"),
        ],
    )
    # Stored in the request, not decoded there: the images worker does that.
    assert set(dispute.evidence.values_list("status", "is_image")) == {
        ("processing", False)
    }
    assert list(dispute_comparisons(dispute=dispute)) == []

    fingerprint_evidence(dispute)

    evidence = {e.original_name: e for e in dispute.evidence.all()}
    assert evidence["mine.png"].is_image and evidence["mine.png"].thumbnail
    assert evidence["mine.png"].status == "done"
    assert not evidence["contract.txt"].is_image
    assert evidence["contract.txt"].status == "done"
    comparisons = {
        c.evidence.original_name: c for c in dispute_comparisons(dispute=dispute)
    }
    assert comparisons["mine.png"].phash == 0
    assert comparisons["mine.png"].pdq == 0
    assert comparisons["mine.png"].same_bytes
    assert comparisons["other.png"].pdq > 60
    assert "contract.txt" not in comparisons


# --- responding and withdrawing ---------------------------------------------


def test_the_claimant_responds_and_the_dispute_goes_under_review(
    claim, artist, other_artist
):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    dispute = dispute_respond(
        user=artist, dispute_id=dispute.pk, response="I published it in 2015."
    )
    assert dispute.state == Dispute.State.UNDER_REVIEW
    assert Notification.objects.filter(
        user=other_artist, kind="dispute_responded"
    ).exists()
    assert actions(dispute)[-1] == "dispute.responded"


def test_only_the_claimant_responds(claim, other_artist, curator):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    with pytest.raises(NotAllowed, match="only the claimant"):
        dispute_respond(user=other_artist, dispute_id=dispute.pk, response="x")
    with pytest.raises(NotFound, match="dispute not found"):
        dispute_respond(user=curator, dispute_id=dispute.pk, response="x")


def test_a_response_needs_text(claim, artist, other_artist):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    with pytest.raises(ValidationFailed, match="response: write your answer"):
        dispute_respond(user=artist, dispute_id=dispute.pk, response=" ")


@pytest.mark.parametrize("state", ["under_review", "resolved", "withdrawn"])
def test_responding_is_only_possible_while_a_response_is_awaited(
    claim, artist, other_artist, admin_user, state
):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    Dispute.objects.filter(pk=dispute.pk).update(state=state)
    with pytest.raises(Conflict, match=f"the dispute is {state.replace('_', ' ')}"):
        dispute_respond(user=artist, dispute_id=dispute.pk, response="x")


@pytest.mark.parametrize(
    "state", ["awaiting_response", "under_review", "pending_confirmation"]
)
def test_the_disputer_may_withdraw_before_the_decision(
    claim, artist, other_artist, state
):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    Dispute.objects.filter(pk=dispute.pk).update(state=state)
    dispute = dispute_withdraw(user=other_artist, dispute_id=dispute.pk)
    assert dispute.state == Dispute.State.WITHDRAWN
    assert Notification.objects.filter(user=artist, kind="dispute_withdrawn").exists()
    assert actions(dispute)[-1] == "dispute.withdrawn"


@pytest.mark.parametrize("state", ["resolved", "withdrawn"])
def test_a_finished_dispute_cannot_be_withdrawn(claim, other_artist, state):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    Dispute.objects.filter(pk=dispute.pk).update(state=state)
    with pytest.raises(Conflict, match=f"already {state}; it cannot be withdrawn"):
        dispute_withdraw(user=other_artist, dispute_id=dispute.pk)


def test_only_the_disputer_withdraws(claim, artist, other_artist, admin_user):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    for user in (artist, admin_user):
        with pytest.raises(NotAllowed, match="only the person who opened"):
            dispute_withdraw(user=user, dispute_id=dispute.pk)


# --- decisions ---------------------------------------------------------------------


def test_revoking_a_claim_bumps_the_revision_audits_and_tells_both_sides(
    claim, artist, other_artist, admin_user
):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    revision = registry_revision_current()
    dispute = dispute_resolve(
        admin=admin_user,
        dispute_id=dispute.pk,
        outcome="revoked",
        reason="the sketchbook predates the claim",
    )
    claim.refresh_from_db()
    assert dispute.state == Dispute.State.RESOLVED
    assert dispute.outcome == "revoked"
    assert claim.state == Claim.State.REVOKED
    assert registry_revision_current() == revision + 1
    event = AuditEvent.objects.get(action="claim.revoked")
    assert event.before == {"state": "active"}
    assert event.after == {"state": "revoked", "dispute": dispute.pk}
    assert event.reason == "the sketchbook predates the claim"
    assert event.revision == revision + 1
    assert actions(dispute)[-1] == "dispute.resolved"
    for user in (artist, other_artist):
        assert Notification.objects.filter(user=user, kind="dispute_resolved").exists()


def test_upholding_changes_nothing_enforced(claim, other_artist, admin_user):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    revision = registry_revision_current()
    dispute_resolve(
        admin=admin_user, dispute_id=dispute.pk, outcome="upheld", reason="hers"
    )
    claim.refresh_from_db()
    assert claim.state == Claim.State.ACTIVE
    assert registry_revision_current() == revision


def test_upholding_a_suspended_claim_enforces_it_again(
    claim, other_artist, admin_user, settings
):
    settings.DISPUTE_SUSPEND_WHILE_OPEN = True
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    revision = registry_revision_current()
    dispute_resolve(
        admin=admin_user, dispute_id=dispute.pk, outcome="upheld", reason="hers"
    )
    claim.refresh_from_db()
    assert claim.state == Claim.State.ACTIVE
    assert registry_revision_current() == revision + 1


def test_narrowing_a_prefix_claim_replaces_it_with_the_narrower_prefix(
    claim, other_artist, admin_user
):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}", grounds="too_broad")
    dispute_resolve(
        admin=admin_user,
        dispute_id=dispute.pk,
        outcome="narrowed",
        reason="only the gallery is hers",
        narrowed_to="https://alice.example/gallery/",
    )
    claim.refresh_from_db()
    assert claim.state == Claim.State.REVOKED
    narrower = Claim.objects.get(normalized="https://alice.example/gallery/")
    assert narrower.state == Claim.State.ACTIVE
    assert narrower.owner_id == claim.owner_id


@pytest.mark.parametrize(
    "narrowed_to",
    ["http://alice.example/gallery/", "https://www.alice.example/gallery/"],
)
def test_a_narrowing_may_spell_the_prefix_with_another_scheme_or_www(
    claim, other_artist, admin_user, narrowed_to
):
    # The claim covers those URLs too (scheme and www do not matter).
    dispute = open_dispute(other_artist, f"claim:{claim.pk}", grounds="too_broad")
    dispute_resolve(
        admin=admin_user,
        dispute_id=dispute.pk,
        outcome="narrowed",
        reason="only the gallery is hers",
        narrowed_to=narrowed_to,
    )
    assert Claim.objects.get(normalized=narrowed_to).state == Claim.State.ACTIVE


@pytest.mark.parametrize(
    ("narrowed_to", "message"),
    [
        ("https://elsewhere.example/a/", "is not inside the claim"),
        ("https://alice.example/", "is not inside the claim"),
        ("http://www.alice.example/", "is not inside the claim"),
        ("not a url", "narrowed_to:"),
    ],
)
def test_a_narrowing_must_lie_inside_the_claim(
    claim, other_artist, admin_user, narrowed_to, message
):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    with pytest.raises(ValidationFailed, match=message):
        dispute_resolve(
            admin=admin_user,
            dispute_id=dispute.pk,
            outcome="narrowed",
            reason="x",
            narrowed_to=narrowed_to,
        )


def test_narrowing_a_work_excludes_some_of_its_images(holder, other_artist, admin_user):
    images = upload(holder, 1)
    images += upload(holder, 2, 3, work_id=images[0].work_id)
    dispute = open_dispute(other_artist, f"work:{images[0].work_id}")
    revision = registry_revision_current()
    dispute_resolve(
        admin=admin_user,
        dispute_id=dispute.pk,
        outcome="narrowed",
        reason="one of them is a stock photo",
        excluded_images=[images[1].pk],
    )
    assert list(ImageExclusion.objects.values_list("image_id", flat=True)) == [
        images[1].pk
    ]
    assert registry_revision_current() == revision + 1
    with pytest.raises(Conflict, match="the image is not enforced"):
        open_dispute(admin_user, f"image:{images[1].pk}")


def test_revoking_a_work_withdraws_it(holder, other_artist, admin_user):
    (image,) = upload(holder, 1)
    dispute = open_dispute(other_artist, f"work:{image.work_id}")
    dispute_resolve(
        admin=admin_user, dispute_id=dispute.pk, outcome="revoked", reason="stock"
    )
    assert Work.objects.get(pk=image.work_id).status == Work.Status.WITHDRAWN


def test_a_decision_needs_a_reason(claim, other_artist, admin_user):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    with pytest.raises(ValidationFailed, match="reason: say why"):
        dispute_resolve(
            admin=admin_user, dispute_id=dispute.pk, outcome="revoked", reason=" "
        )


def test_only_admins_decide(claim, artist, other_artist):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    for user in (artist, other_artist):
        with pytest.raises(NotAllowed, match="only admins"):
            dispute_resolve(
                admin=user, dispute_id=dispute.pk, outcome="revoked", reason="x"
            )


@pytest.mark.parametrize(
    "state", ["open", "pending_confirmation", "resolved", "withdrawn"]
)
def test_a_decision_is_possible_only_awaiting_response_or_under_review(
    claim, other_artist, admin_user, state
):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    Dispute.objects.filter(pk=dispute.pk).update(state=state)
    with pytest.raises(Conflict, match="it cannot be decided now"):
        dispute_resolve(
            admin=admin_user, dispute_id=dispute.pk, outcome="upheld", reason="x"
        )


def test_revoking_a_verified_holders_claim_waits_for_a_second_admin(
    claim, holder, other_artist, admin_user
):
    holder.verified = True
    holder.save()
    second = make_admin("root2")
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    revision = registry_revision_current()
    dispute = dispute_resolve(
        admin=admin_user, dispute_id=dispute.pk, outcome="revoked", reason="forged"
    )
    claim.refresh_from_db()
    assert dispute.state == Dispute.State.PENDING_CONFIRMATION
    assert claim.state == Claim.State.ACTIVE
    assert registry_revision_current() == revision

    with pytest.raises(Conflict, match="a second, different admin"):
        dispute_confirm(admin=admin_user, dispute_id=dispute.pk, approve=True)
    dispute = dispute_confirm(admin=second, dispute_id=dispute.pk, approve=True)
    claim.refresh_from_db()
    assert dispute.state == Dispute.State.RESOLVED
    assert dispute.confirmed_by == second
    assert claim.state == Claim.State.REVOKED
    assert registry_revision_current() == revision + 1
    assert actions(dispute)[-2:] == ["dispute.proposed", "dispute.resolved"]


def test_a_second_admin_may_decline_with_a_reason(
    claim, holder, other_artist, admin_user
):
    holder.verified = True
    holder.save()
    second = make_admin("root2")
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    dispute_resolve(
        admin=admin_user, dispute_id=dispute.pk, outcome="revoked", reason="forged"
    )
    with pytest.raises(ValidationFailed, match="reason: say why you decline"):
        dispute_confirm(admin=second, dispute_id=dispute.pk, approve=False)
    dispute = dispute_confirm(
        admin=second, dispute_id=dispute.pk, approve=False, reason="not proven"
    )
    claim.refresh_from_db()
    assert dispute.state == Dispute.State.UNDER_REVIEW
    assert dispute.outcome == ""
    assert dispute.decision_reason == ""
    assert claim.state == Claim.State.ACTIVE
    assert actions(dispute)[-1] == "dispute.declined"


def test_confirming_needs_a_pending_decision(claim, other_artist, admin_user):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    with pytest.raises(Conflict, match="there is no decision to confirm"):
        dispute_confirm(admin=admin_user, dispute_id=dispute.pk, approve=True)


def test_a_decision_over_many_images_waits_for_a_second_admin(
    holder, other_artist, admin_user, settings
):
    settings.DISPUTE_SECOND_ADMIN_IMAGES = 1
    images = upload(holder, 1)
    upload(holder, 2, work_id=images[0].work_id)
    dispute = open_dispute(other_artist, f"work:{images[0].work_id}")
    dispute = dispute_resolve(
        admin=admin_user, dispute_id=dispute.pk, outcome="revoked", reason="stock"
    )
    assert dispute.state == Dispute.State.PENDING_CONFIRMATION
    assert Work.objects.get(pk=images[0].work_id).status == Work.Status.ACTIVE


# --- deadlines ---------------------------------------------------------------


def test_the_claimant_is_reminded_once_before_the_deadline(
    clock, claim, artist, other_artist
):
    open_dispute(other_artist, f"claim:{claim.pk}")
    clock.advance(days=10)
    assert dispute_deadlines_run() == {}
    clock.advance(days=1, minutes=1)
    assert dispute_deadlines_run() == {"reminded": 1}
    assert dispute_deadlines_run() == {}
    reminders = Notification.objects.filter(user=artist, kind="dispute_reminder")
    assert [n.subject for n in reminders] == [
        f"Dispute #{Dispute.objects.get().pk}: your response is due 2026-03-16"
    ]


def test_an_unanswered_dispute_stops_enforcement_at_the_deadline(
    clock, claim, artist, other_artist
):
    seasoned(other_artist)
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    revision = registry_revision_current()
    clock.advance(days=13, hours=23)
    dispute_deadlines_run()
    claim.refresh_from_db()
    assert claim.state == Claim.State.ACTIVE

    clock.advance(hours=1)
    assert dispute_deadlines_run() == {"released": 1}
    dispute.refresh_from_db()
    claim.refresh_from_db()
    assert (dispute.state, dispute.outcome, dispute.lapsed) == (
        "resolved",
        "revoked",
        True,
    )
    assert claim.state == Claim.State.REVOKED
    assert registry_revision_current() == revision + 1
    for user in (artist, other_artist):
        assert Notification.objects.filter(user=user, kind="dispute_resolved").exists()
    assert AuditEvent.objects.filter(action="claim.revoked", actor=None).exists()
    assert dispute_deadlines_run() == {}


def test_an_answered_dispute_is_not_released(clock, claim, artist, other_artist):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    dispute_respond(user=artist, dispute_id=dispute.pk, response="mine")
    clock.advance(days=30)
    assert dispute_deadlines_run() == {}
    claim.refresh_from_db()
    assert claim.state == Claim.State.ACTIVE


def test_without_release_an_unanswered_dispute_goes_to_an_admin(
    clock, claim, artist, other_artist, settings
):
    settings.DISPUTE_UNANSWERED_RELEASES = False
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    clock.advance(days=15)
    assert dispute_deadlines_run() == {"to_review": 1}
    dispute.refresh_from_db()
    claim.refresh_from_db()
    assert dispute.state == Dispute.State.UNDER_REVIEW
    assert claim.state == Claim.State.ACTIVE
    for user in (artist, other_artist):
        assert Notification.objects.filter(
            user=user, kind="dispute_unanswered"
        ).exists()


def test_an_unanswered_dispute_on_a_verified_holder_waits_for_an_admin(
    clock, claim, holder, other_artist, admin_user
):
    holder.verified = True
    holder.save()
    seasoned(other_artist)
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    clock.advance(days=15)
    assert dispute_deadlines_run() == {"to_confirm": 1}
    dispute.refresh_from_db()
    assert dispute.state == Dispute.State.PENDING_CONFIRMATION
    dispute_confirm(admin=admin_user, dispute_id=dispute.pk, approve=True)
    claim.refresh_from_db()
    assert claim.state == Claim.State.REVOKED


def test_the_beat_task_runs_the_deadline_check(clock, claim, other_artist, settings):
    from disputes.tasks import dispute_deadlines

    seasoned(other_artist)
    assert settings.CELERY_TASK_ROUTES["disputes.dispute_deadlines"] == {
        "queue": "celery"
    }
    schedule = settings.CELERY_BEAT_SCHEDULE["dispute-deadlines"]
    assert schedule["task"] == "disputes.dispute_deadlines"
    open_dispute(other_artist, f"claim:{claim.pk}")
    clock.advance(days=15)
    assert dispute_deadlines.apply().get() == {"released": 1}


def test_a_claim_withdrawn_during_the_dispute_stays_withdrawn(
    claim, holder, other_artist, admin_user
):
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    claim_withdraw(owner=holder, claim_id=claim.pk)
    revision = registry_revision_current()
    dispute_resolve(
        admin=admin_user, dispute_id=dispute.pk, outcome="revoked", reason="x"
    )
    claim.refresh_from_db()
    assert claim.state == Claim.State.WITHDRAWN
    assert registry_revision_current() == revision


def test_narrowing_to_a_prefix_the_owner_already_claims_keeps_that_claim(
    claim, holder, other_artist, admin_user
):
    gallery = prefix_claim(holder, "https://alice.example/gallery/")
    dispute = open_dispute(other_artist, f"claim:{claim.pk}")
    dispute_resolve(
        admin=admin_user,
        dispute_id=dispute.pk,
        outcome="narrowed",
        reason="only the gallery",
        narrowed_to="https://alice.example/gallery/",
    )
    assert Claim.objects.filter(state=Claim.State.ACTIVE).get() == gallery


def test_an_admin_does_not_decide_a_dispute_they_opened(claim, admin_user):
    dispute = open_dispute(admin_user, f"claim:{claim.pk}")

    with pytest.raises(NotAllowed, match="you opened this dispute"):
        dispute_resolve(
            admin=admin_user, dispute_id=dispute.pk, outcome="revoked", reason="x"
        )

    claim.refresh_from_db()
    assert claim.state == Claim.State.ACTIVE


def test_an_admin_does_not_decide_a_dispute_about_their_own_claim(other_artist):
    from tests.conftest import make_artist
    from tests.factories import approved_prefix

    admin = make_artist("curating-admin")
    admin.is_staff = True
    admin.save(update_fields=["is_staff"])
    own = approved_prefix(admin.rights_holder, "https://root.example/")
    dispute = open_dispute(other_artist, f"claim:{own.pk}")

    with pytest.raises(NotAllowed, match="about your own work or claim"):
        dispute_resolve(
            admin=admin, dispute_id=dispute.pk, outcome="upheld", reason="mine"
        )
