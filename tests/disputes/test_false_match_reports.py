"""False-match reports, match exceptions, and what later jobs match after decisions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEvent, Notification
from core.errors import Conflict
from disputes.models import FalseMatchReport, MatchException
from disputes.services import (
    dispute_resolve,
    dispute_withdraw,
    false_match_report_create,
    false_match_report_decide,
)
from optout.models import Match
from registry.selectors import registry_revision_current
from tests.disputes.helpers import (
    open_dispute,
)
from tests.optout.helpers import EXACT_URL, PHASH, laion_parquet, run_job, start_job

pytestmark = pytest.mark.django_db


def matched(job) -> dict[int, set[str]]:
    rows: dict[int, set[str]] = {}
    for row, kind in Match.objects.filter(job=job).values_list("row", "kind"):
        rows.setdefault(row, set()).add(kind)
    return rows


@pytest.fixture
def job(registry, curator):
    return run_job(start_job(curator))


def match_of(job, kind: str) -> Match:
    return Match.objects.get(job=job, kind=kind)


def report_url(match: Match) -> str:
    return reverse("match_report", args=[match.pk])


# --- reporting -------------------------------------------------------------------


def test_the_job_page_links_each_match_to_a_report_and_a_dispute(
    client, job, curator, registry
):
    client.force_login(curator)
    text = client.get(reverse("job_detail", args=[job.pk])).content.decode()
    url_match = match_of(job, "url")
    assert f'href="{report_url(url_match)}"' in text
    assert f'href="/disputes/new/?target=claim:{registry.url.pk}"' in text
    assert f'href="/disputes/new/?target=image:{registry.image.pk}"' in text


def test_a_curator_reports_a_wrong_match(client, job, curator):
    match = match_of(job, "style")
    client.force_login(curator)
    text = client.get(report_url(match)).content.decode()
    assert f"Row {match.row} of" in text
    response = client.post(
        report_url(match),
        {"reason": "name_other_sense", "text": "a street named Alice Moreau"},
        follow=True,
    )
    report = FalseMatchReport.objects.get()
    assert "is with the admins" in response.content.decode()
    assert (report.kind, report.row, report.claim_id) == ("style", 3, match.claim_id)
    assert report.row_hashes["url"] == "https://free.example/3.jpg"
    assert AuditEvent.objects.filter(action="false_match.reported").exists()


def test_other_needs_details(client, job, curator):
    client.force_login(curator)
    response = client.post(report_url(match_of(job, "url")), {"reason": "other"})
    assert response.status_code == 400
    assert "text: say what is wrong with the match" in response.content.decode()


def test_a_match_is_reported_once_while_open(client, job, curator):
    client.force_login(curator)
    url = report_url(match_of(job, "url"))
    client.post(url, {"reason": "not_same_image"})
    response = client.post(url, {"reason": "not_same_image"})
    assert response.status_code == 400
    assert "you have already reported this match" in response.content.decode()


@pytest.mark.parametrize("who", ["artist", "other_curator"])
def test_only_the_jobs_owner_reports_its_matches(request, client, job, who):
    client.force_login(request.getfixturevalue(who))
    url = report_url(match_of(job, "url"))
    assert client.get(url).status_code == 404
    assert client.post(url, {"reason": "other", "text": "x"}).status_code == 404
    assert not FalseMatchReport.objects.exists()


def test_anonymous_visitors_are_sent_to_log_in(client, job):
    response = client.get(report_url(match_of(job, "url")))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- deciding, and what later jobs match ------------------------------------------


def test_an_accepted_url_report_stops_that_row_matching_in_later_jobs(
    client, job, curator, admin_user, registry
):
    report = false_match_report_create(
        reporter=curator,
        match_id=match_of(job, "prefix").pk,
        reason="other",
        text="this gallery is someone else's",
    )
    revision = registry_revision_current()
    client.force_login(admin_user)
    url = reverse("review_report", args=[report.pk])
    response = client.post(url, {"decision": "accept", "reason": ""})
    assert response.status_code == 400
    assert "Give a reason for the decision." in response.content.decode()
    text = client.post(
        url, {"decision": "accept", "reason": "agreed"}, follow=True
    ).content.decode()
    assert f"Report #{report.pk} was accepted." in text

    exception = MatchException.objects.get()
    assert (exception.key_type, exception.key) == (
        "url",
        "https://alice.example/gallery/2021/boats.jpg",
    )
    assert exception.claim_id == registry.prefix.pk
    assert exception.revision == registry_revision_current() == revision + 1
    note = Notification.objects.get(user=curator, kind="false_match_decided")
    assert "was accepted" in note.subject
    assert AuditEvent.objects.filter(action="false_match.accepted").exists()

    later = run_job(start_job(curator))
    assert later.registry_revision == revision + 1
    assert later.receipt["payload"]["registry"]["revision"] == revision + 1
    rows = matched(later)
    assert 1 not in rows
    assert rows == {0: {"url"}, 2: {"domain"}, 3: {"style"}, 4: {"phash"}}
    # The earlier job, at the earlier revision, keeps its matches.
    assert 1 in matched(job)


def test_an_accepted_hash_report_stops_that_image_matching_that_row(
    job, curator, admin_user, registry
):
    match = match_of(job, "phash")
    report = false_match_report_create(
        reporter=curator, match_id=match.pk, reason="not_same_image"
    )
    assert report.row_hashes["phash"] == PHASH
    false_match_report_decide(
        admin=admin_user, report_id=report.pk, accept=True, reason="different"
    )
    assert MatchException.objects.get().key == PHASH
    later = run_job(start_job(curator))
    assert set(matched(later)) == {0, 1, 2, 3}


def test_a_rejected_report_changes_nothing(job, curator, admin_user):
    report = false_match_report_create(
        reporter=curator, match_id=match_of(job, "url").pk, reason="not_same_image"
    )
    revision = registry_revision_current()
    false_match_report_decide(
        admin=admin_user, report_id=report.pk, accept=False, reason="it is hers"
    )
    assert not MatchException.objects.exists()
    assert registry_revision_current() == revision
    note = Notification.objects.get(user=curator, kind="false_match_decided")
    assert "was rejected" in note.subject
    with pytest.raises(Conflict, match="the report is already rejected"):
        false_match_report_decide(
            admin=admin_user, report_id=report.pk, accept=True, reason="x"
        )


def test_the_review_page_shows_both_sides_and_the_figures(
    client, job, curator, admin_user, registry
):
    match = match_of(job, "phash")
    report = false_match_report_create(
        reporter=curator, match_id=match.pk, reason="not_same_image"
    )
    client.force_login(admin_user)
    text = client.get(reverse("review") + "?tab=reports").content.decode()
    assert f'data-report="{report.pk}"' in text
    text = client.get(reverse("review_report", args=[report.pk])).content.decode()
    assert f'data-image="{registry.image.pk}"' in text
    assert "No image of the row is stored; its hashes:" in text
    assert f'<code class="hash">{PHASH}</code>' in text
    assert '<dd data-distance="phash">0</dd>' in text
    assert "Record decision" in text


def test_the_review_page_shows_a_verified_match_s_figures(
    client, job, curator, admin_user
):
    # As a job with MATCH_MIN_ALIGNMENT on stores a pair its dense alignment
    # verified: the keypoints' figures, and the alignment that decided it.
    match = match_of(job, "phash")
    Match.objects.filter(pk=match.pk).update(
        level="verified", inliers=11, agreement=0.93, coverage=0.48, alignment=0.97
    )
    report = false_match_report_create(
        reporter=curator, match_id=match.pk, reason="not_same_image"
    )
    client.force_login(admin_user)
    text = client.get(reverse("review_report", args=[report.pk])).content.decode()
    for name, value in (
        ("Level", "verified"),
        ("Inliers", "11"),
        ("Agreement", "0.93"),
        ("Coverage", "0.48"),
        ("Alignment", "0.97"),
    ):
        assert f"<dt>{name}</dt><dd>{value}</dd>" in text


def test_the_review_page_says_how_a_url_match_matched(
    client, registry, curator, admin_user
):
    rows = [("http://www.alice.example/art/harbour.png", "a harbour", None)]
    job = run_job(start_job(curator, laion_parquet(rows)))
    report = false_match_report_create(
        reporter=curator, match_id=match_of(job, "url").pk, reason="not_same_image"
    )
    client.force_login(admin_user)
    text = client.get(reverse("review_report", args=[report.pk])).content.decode()
    assert f'<dd class="mono">{EXACT_URL}</dd>' in text
    assert "<dt>Matched as</dt><dd>scheme+www</dd>" in text


def test_a_job_started_after_a_revoke_does_not_match_the_revoked_claim(
    job, curator, other_artist, admin_user, registry
):
    dispute = open_dispute(other_artist, f"claim:{registry.url.pk}")
    dispute_resolve(
        admin=admin_user, dispute_id=dispute.pk, outcome="revoked", reason="forged"
    )
    later = run_job(start_job(curator))
    assert later.registry_revision == job.registry_revision + 1
    assert later.receipt["payload"]["registry"]["revision"] == later.registry_revision
    assert 0 not in matched(later)
    assert set(matched(later)) == {1, 2, 3, 4}


def test_a_revoked_image_is_left_out_of_later_jobs(
    job, curator, other_artist, admin_user, registry
):
    dispute = open_dispute(other_artist, f"image:{registry.image.pk}")
    dispute_resolve(
        admin=admin_user, dispute_id=dispute.pk, outcome="revoked", reason="stock"
    )
    later = run_job(start_job(curator))
    assert set(matched(later)) == {0, 1, 2, 3}


# --- the API ----------------------------------------------------------------------


def test_a_curator_reports_a_match_through_the_api(
    curator_client, other_curator_client, anon_client, job
):
    match = match_of(job, "url")
    url = f"/api/v1/matches/{match.pk}/report/"
    body = {"reason": "not_same_image"}
    assert anon_client.post(url, body, format="json").status_code == 401
    stranger = other_curator_client.post(url, body, format="json")
    assert stranger.status_code == 404
    assert stranger.json()["message"] == "match not found"

    response = curator_client.post(url, body, format="json")
    assert response.status_code == 201
    assert response.json()["state"] == "open"
    assert response.json()["match"] == match.pk
    again = curator_client.post(url, body, format="json")
    assert again.status_code == 409
    assert again.json()["message"] == (
        "you have already reported this match; it awaits review"
    )
    bad = curator_client.post(url, {"reason": "other"}, format="json")
    assert bad.status_code == 400


def test_suspend_while_open_leaves_a_disputed_image_out_until_withdrawn(
    job, curator, other_artist, registry, settings
):
    settings.DISPUTE_SUSPEND_WHILE_OPEN = True
    dispute = open_dispute(other_artist, f"image:{registry.image.pk}")
    assert set(matched(run_job(start_job(curator)))) == {0, 1, 2, 3}
    dispute_withdraw(user=other_artist, dispute_id=dispute.pk)
    assert set(matched(run_job(start_job(curator)))) == {0, 1, 2, 3, 4}
