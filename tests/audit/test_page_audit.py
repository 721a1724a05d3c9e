"""The audit log: staff's /review/audit/ and the artist's own /audit/, with exports."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from audit.services import audit_record
from registry.services import claim_create, claim_review, rights_holder_update
from tests.pages import assert_login_redirect
from tests.registry.trust import freeze

STAFF = reverse("review_audit")
OWN = reverse("audit")


@pytest.fixture
def events(holder, other_holder, monkeypatch, admin_user):
    clock = freeze(monkeypatch)
    mine = claim_create(owner=holder, kind="url", value="https://a.example/x")
    clock.advance(days=1)
    claim_create(owner=other_holder, kind="url", value="https://b.example/")
    clock.advance(days=1)
    style = claim_create(owner=holder, kind="style", value="=HYPERLINK(1)")
    claim_review(claim_id=style.pk, approve=False, admin=admin_user, reason="@impostor")
    return mine


def body(response) -> str:
    return b"".join(response.streaming_content).decode()


@pytest.mark.parametrize("who", ["anonymous", "curator", "artist"])
def test_non_staff_get_a_404_on_the_staff_log(client, who, curator, artist):
    if who != "anonymous":
        client.force_login({"curator": curator, "artist": artist}[who])
    assert client.get(STAFF).status_code == 404
    assert client.get(STAFF + "?format=csv").status_code == 404


def test_staff_filter_by_action_actor_holder_and_dates(
    client, admin_user, events, holder, other_holder
):
    client.force_login(admin_user)
    text = client.get(STAFF).content.decode()
    assert text.count("<tr data-event=") == 4
    # Rows read as sentences, naming who acted (staff see usernames).
    assert "Alice made the claim “exact URL: https://a.example/x”." in text
    assert "Root rejected the claim “style name: =HYPERLINK(1)”." in text
    assert "state: pending review → rejected" in text
    assert "{&#x27;state&#x27;" not in text and "claim.create" not in text.split(
        "<tbody>"
    )[1].replace('data-action="claim.create"', "")

    text = client.get(STAFF, {"action": "claim.reject"}).content.decode()
    assert text.count("<tr data-event=") == 1
    assert "<td>@impostor</td>" in text
    text = client.get(STAFF, {"actor": "BOB"}).content.decode()
    assert text.count("<tr data-event=") == 1
    text = client.get(STAFF, {"holder": holder.pk}).content.decode()
    assert text.count("<tr data-event=") == 3
    text = client.get(
        STAFF, {"since": "2026-11-25", "until": "2026-11-25"}
    ).content.decode()
    assert text.count("<tr data-event=") == 1
    assert "b.example" in text
    text = client.get(STAFF, {"target_type": "work"}).content.decode()
    assert "No events." in text


def test_bad_filters_say_which_field(client, admin_user, events):
    client.force_login(admin_user)
    response = client.get(STAFF, {"since": "2026-11-26", "until": "2026-11-24"})
    assert response.status_code == 400
    assert "until: must not be before since" in response.content.decode()
    response = client.get(STAFF, {"holder": "x"})
    assert response.status_code == 400
    assert "Enter a whole number." in response.content.decode()


def test_staff_export_csv_guards_against_formulas(client, admin_user, events):
    rights_holder_update(holder=events.owner, display_name="-2+3")
    client.force_login(admin_user)
    response = client.get(STAFF, {"format": "csv", "holder": events.owner_id})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    rows = list(csv.DictReader(io.StringIO(body(response))))
    assert [r["action"] for r in rows] == [
        "claim.reject",
        "claim.create",
        "claim.create",
    ]
    assert rows[0]["reason"] == "'@impostor"
    assert rows[0]["holder"] == "'-2+3"
    assert rows[0]["target_label"] == "style name: =HYPERLINK(1)"
    assert rows[0]["actor"] == "root"
    assert json.loads(rows[2]["after"]) == {
        "state": "active",
        "value": "https://a.example/x",
    }


def test_staff_export_jsonl_keeps_values_verbatim(client, admin_user, events):
    client.force_login(admin_user)
    response = client.get(STAFF, {"format": "jsonl", "action": "claim.reject"})
    assert response["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in body(response).splitlines()]
    assert len(lines) == 1
    assert lines[0]["reason"] == "@impostor"
    assert lines[0]["before"] == {"state": "pending_review"}
    assert lines[0]["after"] == {"state": "rejected"}


def test_an_artist_sees_their_own_trail_only_without_names(client, artist, events):
    client.force_login(artist)
    text = client.get(OWN).content.decode()
    assert text.count("<tr data-event=") == 3
    assert "b.example" not in text
    assert "root" not in text  # no staff names
    rows = list(csv.DictReader(io.StringIO(body(client.get(OWN, {"format": "csv"})))))
    assert {r["actor"] for r in rows} == {"you", "admin"}
    assert len(rows) == 3
    # actor and holder filters are staff-only: ignored here
    text = client.get(OWN, {"actor": "root", "holder": 999}).content.decode()
    assert text.count("<tr data-event=") == 3


def test_the_own_trail_is_for_artists(client, curator):
    assert_login_redirect(client.get(OWN), OWN)
    client.force_login(curator)
    assert client.get(OWN)["Location"] == reverse("dashboard")


def test_audit_pages_use_the_fixed_clock(client, admin_user, events):
    client.force_login(admin_user)
    text = client.get(STAFF).content.decode()
    assert "<td>2026-11-24 09:00:00</td>" in text
    assert AuditEvent.objects.count() == 4


def test_an_artist_never_sees_who_else_acted(client, artist, holder, curator):

    audit_record(actor=curator, action="dispute.open", target=holder, holder=holder)
    client.force_login(artist)
    rows = list(csv.DictReader(io.StringIO(body(client.get(OWN, {"format": "csv"})))))
    assert [r["actor"] for r in rows] == ["another user"]
    assert "carol" not in body(client.get(OWN, {"format": "jsonl"}))
