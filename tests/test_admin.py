"""The Django admin: every model viewable by a superuser, actions call services."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, User
from accounts.services import api_token_create
from audit.models import AuditEvent, Notification
from core.uploads import bytes_file
from disputes.models import Dispute, FalseMatchReport, MatchException
from disputes.services import dispute_create
from registry.models import (
    Claim,
    Fingerprint,
    Image,
    RegistryIdentity,
    RegistryRevision,
    RightsHolder,
    Work,
)
from registry.selectors import registry_revision_current
from registry.services import claim_create, image_fingerprint, portfolio_upload
from tests.conftest import make_artist
from tests.images import image_bytes
from workers.engine.fingerprint import variants_version
from workers.engine.perceptual import SCHEMES

pytestmark = pytest.mark.django_db

# admin_client is pytest-django's: a client logged in as conftest's admin_user.

MODELS = [
    ApiToken,
    AuditEvent,
    Claim,
    Dispute,
    FalseMatchReport,
    MatchException,
    Notification,
    Fingerprint,
    Image,
    RegistryIdentity,
    RegistryRevision,
    RightsHolder,
    User,
    Work,
]


def changelist(model: type) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change(obj) -> str:
    return reverse(
        f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk]
    )


def hashed_image(holder: RightsHolder, seed: int = 1) -> Image:
    result = portfolio_upload(
        owner=holder, files=[bytes_file(f"art-{seed}.png", image_bytes(seed))]
    )
    image = image_fingerprint(image_id=result.images[0].pk)
    assert image is not None and image.status == Image.Status.HASHED
    return image


@pytest.fixture
def style_claim(holder: RightsHolder) -> Claim:
    return claim_create(
        owner=holder, kind="style", value="Alice Moreau", aliases=["A. Moreau"]
    )


@pytest.fixture
def everything(
    holder: RightsHolder, style_claim: Claim, curator, admin_user
) -> dict[str, object]:
    """One row of every model."""
    image = hashed_image(holder)
    token, _ = api_token_create(user=holder.user, name="laptop")
    url_claim = claim_create(owner=holder, kind="url", value="https://a.example/1.jpg")
    dispute = dispute_create(
        disputer=curator,
        target=f"claim:{url_claim.pk}",
        grounds="too_broad",
        statement="The name is a common word used by many unrelated artists.",
    )
    report = FalseMatchReport.objects.create(
        reporter=curator, reason="not_same_image", image=image, row=7, kind="pdq"
    )
    exception = MatchException.objects.create(
        target_key=f"image:{image.pk}",
        image=image,
        key_type="url",
        key="https://cdn.example/cat.jpg",
        revision=1,
        created_by=admin_user,
    )
    return {
        "ApiToken": token,
        "AuditEvent": AuditEvent.objects.filter(action__startswith="claim").first(),
        "Dispute": dispute,
        "FalseMatchReport": report,
        "MatchException": exception,
        "Notification": Notification.objects.filter(user=holder.user).first(),
        "Claim": style_claim,
        "Fingerprint": image.fingerprints.get(algorithm="pdq", variant="original"),
        "Image": image,
        "RegistryIdentity": RegistryIdentity.objects.get(pk=1),
        "RegistryRevision": RegistryRevision.objects.get(pk=1),
        "RightsHolder": holder,
        "User": holder.user,
        "Work": image.work,
    }


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_changelist_renders_for_a_superuser(admin_client, everything, model):
    obj = everything[model.__name__]
    response = admin_client.get(changelist(model))
    assert response.status_code == 200
    shown = obj.hex if isinstance(obj, Fingerprint) else str(obj)
    assert shown in response.content.decode()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_change_page_renders_for_a_superuser(admin_client, everything, model):
    response = admin_client.get(change(everything[model.__name__]))
    assert response.status_code == 200


def test_the_image_changelist_shows_each_thumbnail(admin_client, holder):
    image = hashed_image(holder)
    response = admin_client.get(changelist(Image))
    assert (
        f'<img src="/files/image/{image.pk}/thumbnail" alt="art-1.png" loading="lazy" '
        'class="thumbnail-64">'
    ) in response.content.decode()
    assert "/static/registry/admin.css" in response.content.decode()


def test_the_image_page_shows_a_larger_thumbnail_and_fingerprints_in_hex(
    admin_client, holder, settings
):
    image = hashed_image(holder)
    page = admin_client.get(change(image)).content.decode()
    assert (
        f'<img src="/files/image/{image.pk}/thumbnail" alt="art-1.png" loading="lazy" '
        'class="thumbnail-256">'
    ) in page
    assert "/static/registry/admin.css" in page
    for fingerprint in image.fingerprints.filter(variant="original"):
        assert fingerprint.hex in page
    phash = image.fingerprints.get(algorithm="phash")
    assert len(phash.hex) == 16
    # The registry-side PDQ variants are packed on the image; the page says
    # how many, under which version, by name.
    scheme = settings.MATCH_VARIANT_SCHEME
    names = SCHEMES[scheme]
    assert f"{len(names)} ({variants_version(scheme)})" in page
    assert all(name in page for name in names)


def test_the_image_changelist_filters_by_status(admin_client, holder):
    hashed = hashed_image(holder, seed=1)
    portfolio_upload(owner=holder, files=[bytes_file("new.png", image_bytes(2))])
    page = admin_client.get(changelist(Image), {"status__exact": "pending"})
    assert "new.png" in page.content.decode()
    assert hashed.thumbnail_url not in page.content.decode()


def test_the_token_page_shows_the_prefix_never_the_hash(admin_client, artist):
    token, key = api_token_create(user=artist, name="laptop")
    for url in (changelist(ApiToken), change(token)):
        page = admin_client.get(url).content.decode()
        assert token.key_prefix in page
        assert token.key_hash not in page
        assert key not in page


def test_the_user_page_shows_the_roles(admin_client, artist):
    page = admin_client.get(change(artist)).content.decode()
    assert "Roles" in page
    assert 'name="is_artist"' in page
    assert 'name="is_curator"' in page


def test_the_admin_makes_no_model_editable_but_users(admin_client, everything):
    for name, obj in everything.items():
        page = admin_client.get(change(obj)).content.decode()
        assert ('name="_save"' in page) == (name == "User"), name
        assert admin_client.get(changelist(type(obj)) + "add/").status_code == (
            200 if name == "User" else 403
        )


def test_an_artist_is_sent_to_the_admin_login(client, artist):
    client.force_login(artist)
    for url in (changelist(Claim), change(artist)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_anonymous_is_sent_to_the_admin_login(client, style_claim):
    response = client.get(changelist(Claim))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_approving_a_style_claim_activates_it_and_bumps_the_revision(
    admin_client, style_claim
):
    before = registry_revision_current()
    response = admin_client.post(
        changelist(Claim),
        {"action": "approve_style_claim", "_selected_action": [style_claim.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 item approved." in response.content.decode()
    style_claim.refresh_from_db()
    assert style_claim.state == Claim.State.ACTIVE
    assert style_claim.activated_at is not None
    assert registry_revision_current() == before + 1


def test_rejecting_a_style_claim_leaves_the_revision_alone(admin_client, style_claim):
    before = registry_revision_current()
    response = admin_client.post(
        changelist(Claim),
        {"action": "reject_style_claim", "_selected_action": [style_claim.pk]},
        follow=True,
    )
    assert "1 item rejected." in response.content.decode()
    style_claim.refresh_from_db()
    assert style_claim.state == Claim.State.REJECTED
    assert registry_revision_current() == before


def test_approving_a_claim_not_pending_shows_the_service_error(
    admin_client, holder, style_claim
):
    url_claim = claim_create(
        owner=holder, kind="url", value="https://art.example.com/a.png"
    )
    before = registry_revision_current()
    response = admin_client.post(
        changelist(Claim),
        {
            "action": "approve_style_claim",
            "_selected_action": [url_claim.pk, style_claim.pk],
        },
        follow=True,
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert (
        # The admin capitalises messages; the rest is the service's own text.
        '<li class="error">Exact URL: https://art.example.com/a.png: '
        "the claim is active, not pending review</li>"
    ) in page
    assert "1 item approved." in page
    url_claim.refresh_from_db()
    style_claim.refresh_from_db()
    assert url_claim.state == Claim.State.ACTIVE
    assert style_claim.state == Claim.State.ACTIVE
    assert registry_revision_current() == before + 1


def test_claims_filter_by_state_and_kind(admin_client, holder, style_claim):
    claim_create(owner=holder, kind="url", value="https://a.example/x.png")
    page = admin_client.get(
        changelist(Claim), {"state__exact": "pending_review", "kind__exact": "style"}
    ).content.decode()
    assert "Alice Moreau" in page
    assert "https://a.example/x.png" not in page


def test_marking_rights_holders_verified_and_back(admin_client, holder):
    response = admin_client.post(
        changelist(RightsHolder),
        {"action": "mark_verified", "_selected_action": [holder.pk]},
        follow=True,
    )
    assert "1 item marked verified." in response.content.decode()
    holder.refresh_from_db()
    assert holder.verified

    page = admin_client.get(changelist(RightsHolder), {"verified__exact": "1"})
    assert "Alice" in page.content.decode()

    admin_client.post(
        changelist(RightsHolder),
        {"action": "unmark_verified", "_selected_action": [holder.pk]},
    )
    holder.refresh_from_db()
    assert not holder.verified


def test_revoking_a_token(admin_client, artist):
    token, _ = api_token_create(user=artist, name="leaked")
    response = admin_client.post(
        changelist(ApiToken),
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    assert "1 item revoked." in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_staff_who_may_only_view_claims_see_no_review_actions(style_claim):
    from django.contrib.auth.models import Permission

    viewer = make_artist("victor")
    viewer.is_staff = True
    viewer.save()
    viewer.user_permissions.add(Permission.objects.get(codename="view_claim"))
    client = Client()
    client.force_login(viewer)

    page = client.get(changelist(Claim)).content.decode()
    assert "Alice Moreau" in page
    assert "approve_style_claim" not in page

    client.post(
        changelist(Claim),
        {"action": "approve_style_claim", "_selected_action": [style_claim.pk]},
    )
    style_claim.refresh_from_db()
    assert style_claim.state == Claim.State.PENDING_REVIEW


def test_an_artist_added_in_the_admin_gets_a_rights_holder(admin_client):
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "dora",
            "email": "dora@example.com",
            "usable_password": "true",
            "password1": "a long enough passphrase",
            "password2": "a long enough passphrase",
            "is_artist": "on",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="dora")
    assert user.is_artist and not user.is_curator
    assert user.rights_holder.display_name == "dora"
