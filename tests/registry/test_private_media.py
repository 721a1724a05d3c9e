"""Originals, thumbnails and evidence are served only to those allowed to see them.

/files/... views check who asks: the owner and admins see a work's files; whoever
disputed a work, and a curator whose job matched an image, see its thumbnail;
a dispute's parties and admins see its evidence. Everyone else gets a 404, the
same as for a file that does not exist. The raw MEDIA_URL is not routed.
"""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from accounts.models import User
from core.uploads import bytes_file
from disputes.models import DisputeEvidence, FalseMatchReport
from disputes.services import false_match_report_create
from optout.models import Match
from registry.models import Image
from tests.conftest import client_for, make_artist
from tests.disputes.helpers import (
    open_dispute,
)
from tests.images import image_bytes
from tests.optout.helpers import laion_parquet, run_job, start_job
from tests.pages import fingerprint, upload

pytestmark = pytest.mark.django_db

HTML = b"<html><script>alert(document.cookie)</script></html>"


def original_url(image: Image) -> str:
    return f"/files/image/{image.pk}/original"


def thumbnail_url(image: Image) -> str:
    return f"/files/image/{image.pk}/thumbnail"


def body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def image(holder) -> Image:
    (uploaded,) = upload(holder, 1)
    return fingerprint(uploaded)


@pytest.fixture
def someone(db) -> User:
    """Signed in, neither an artist nor a curator, party to nothing."""
    return User.objects.create_user("dave", "dave@example.com", "pw")


def who(request, name: str) -> User | None:
    return None if name == "anonymous" else request.getfixturevalue(name)


def get_as(client, user: User | None, url: str):
    if user is not None:
        client.force_login(user)
    return client.get(url)


# --- registered images -----------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["anonymous", "someone", "other_artist", "curator"], ids=str
)
@pytest.mark.parametrize("kind", ["original", "thumbnail"])
def test_strangers_get_a_404_for_an_image(request, client, image, name, kind):
    url = original_url(image) if kind == "original" else thumbnail_url(image)
    response = get_as(client, who(request, name), url)
    assert response.status_code == 404
    assert "X-Accel-Redirect" not in response


@pytest.mark.parametrize("name", ["artist", "admin_user"])
def test_the_owner_and_admins_get_the_original(request, client, image, name):
    response = get_as(client, who(request, name), original_url(image))
    assert response.status_code == 200
    assert body(response) == image_bytes(1)
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="art-1.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"].startswith("private")


@pytest.mark.parametrize("name", ["artist", "admin_user"])
def test_the_owner_and_admins_get_the_thumbnail(request, client, image, name):
    response = get_as(client, who(request, name), thumbnail_url(image))
    assert response.status_code == 200
    assert body(response) == image.thumbnail.read()
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"].startswith("private")


def test_an_unknown_image_is_a_404_even_for_admins(client, admin_user):
    client.force_login(admin_user)
    assert client.get("/files/image/999999/original").status_code == 404


def test_a_hashes_only_image_has_no_files_to_serve(client, artist, holder):
    from registry.services import image_register_hashes

    image = image_register_hashes(
        owner=holder, hashes={"phash": "d1c4f0e8b3a29587"}, title="Hashed"
    )
    client.force_login(artist)
    assert client.get(original_url(image)).status_code == 404
    assert client.get(thumbnail_url(image)).status_code == 404


def test_it_takes_only_get_and_head(client, artist, image):
    client.force_login(artist)
    assert client.post(original_url(image)).status_code == 405
    assert client.head(original_url(image)).status_code == 200


def test_the_raw_media_path_is_not_served(client, settings, artist, image):
    assert settings.SERVE_MEDIA is False
    client.force_login(artist)
    for name in (image.original.name, image.thumbnail.name):
        assert client.get(f"/media/{name}").status_code == 404
        assert client.get(f"{settings.MEDIA_URL}{name}").status_code == 404


def test_a_disputer_sees_the_thumbnails_but_not_the_original(
    client, image, other_artist
):
    open_dispute(other_artist, f"work:{image.work_id}")
    client.force_login(other_artist)
    assert client.get(thumbnail_url(image)).status_code == 200
    assert client.get(original_url(image)).status_code == 404


def test_a_disputer_of_another_work_sees_nothing(client, holder, image, other_artist):
    (other,) = upload(holder, 2)
    open_dispute(other_artist, f"work:{other.work_id}")
    client.force_login(other_artist)
    assert client.get(thumbnail_url(image)).status_code == 404


def matched_job(curator: User, image: Image):
    """A curator's job with a manifest row that has the image's own pHash."""
    phash = image.fingerprints.get(algorithm="phash", variant="original").hex
    rows = [("https://free.example/copy.jpg", "a copy", phash)]
    return run_job(start_job(curator, laion_parquet(rows)))


def test_a_curator_whose_job_matched_the_image_sees_its_thumbnail(
    client, image, curator
):
    job = matched_job(curator, image)
    assert Match.objects.filter(job=job, image=image).exists()
    client.force_login(curator)
    assert client.get(thumbnail_url(image)).status_code == 200
    assert client.get(original_url(image)).status_code == 404
    # The page the job links to shows it.
    page = client.get(reverse("dispute_new") + f"?target=image:{image.pk}")
    assert f'<img src="{thumbnail_url(image)}"' in page.content.decode()


def test_another_curators_match_shows_nothing(client, image, curator):
    matched_job(curator, image)
    other = User.objects.create_user("erin", "erin@example.com", "pw")
    other.is_curator = True
    other.save()
    client.force_login(other)
    assert client.get(thumbnail_url(image)).status_code == 404


def test_the_dispute_form_hides_thumbnails_from_strangers(client, image, someone):
    from tests.disputes.helpers import shown_by_lookup

    shown_by_lookup(someone, f"work:{image.work_id}")  # a path to the form
    client.force_login(someone)
    page = client.get(reverse("dispute_new") + f"?target=work:{image.work_id}")
    text = page.content.decode()
    assert page.status_code == 200
    assert thumbnail_url(image) not in text
    assert f"Image {image.pk}: not shown to you" in text


# --- the API ---------------------------------------------------------------------


def test_the_api_links_to_the_checked_urls_and_they_work_with_the_token(
    artist_client, other_artist, image
):
    data = artist_client.get(f"/api/v1/images/{image.pk}/").json()
    assert data["original_url"] == f"http://testserver{original_url(image)}"
    assert data["thumbnail_url"] == f"http://testserver{thumbnail_url(image)}"
    response = artist_client.get(data["original_url"])
    assert response.status_code == 200
    assert body(response) == image_bytes(1)
    assert artist_client.get(data["thumbnail_url"]).status_code == 200
    assert client_for(other_artist).get(data["original_url"]).status_code == 404


def test_a_bad_token_is_a_404_not_a_file(anon_client, image):
    anon_client.credentials(HTTP_AUTHORIZATION="Token nope")
    assert anon_client.get(original_url(image)).status_code == 404


# --- pages -----------------------------------------------------------------------


def test_pages_link_to_the_checked_urls(client, artist, image):
    client.force_login(artist)
    for page in (
        reverse("work_detail", args=[image.work_id]),
        reverse("works"),
        reverse("dashboard"),
    ):
        text = client.get(page).content.decode()
        assert f'src="{thumbnail_url(image)}"' in text, page
        assert "/media/" not in text, page
    response = client.get(thumbnail_url(image))
    assert response.status_code == 200


# --- dispute evidence ------------------------------------------------------------


@pytest.fixture
def evidence(image, other_artist) -> DisputeEvidence:
    dispute = open_dispute(
        other_artist,
        f"work:{image.work_id}",
        files=[
            bytes_file("sketchbook.png", image_bytes(7)),
            bytes_file("letter.html", HTML),
        ],
    )
    from tests.disputes.helpers import fingerprint_evidence

    fingerprint_evidence(dispute)  # what the images worker does
    return dispute.evidence.get(original_name="sketchbook.png")


def evidence_url(item: DisputeEvidence) -> str:
    return f"/files/evidence/{item.pk}"


@pytest.mark.parametrize("name", ["anonymous", "someone", "curator"], ids=str)
def test_strangers_get_a_404_for_evidence(request, client, evidence, name):
    user = who(request, name)
    assert get_as(client, user, evidence_url(evidence)).status_code == 404
    thumb = f"{evidence_url(evidence)}/thumbnail"
    assert get_as(client, user, thumb).status_code == 404


def test_an_artist_not_party_to_the_dispute_gets_a_404(client, evidence):
    client.force_login(make_artist("frank"))
    assert client.get(evidence_url(evidence)).status_code == 404


@pytest.mark.parametrize("name", ["other_artist", "artist", "admin_user"])
def test_the_parties_and_admins_get_the_evidence(request, client, evidence, name):
    response = get_as(client, who(request, name), evidence_url(evidence))
    assert response.status_code == 200
    assert body(response) == image_bytes(7)
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="sketchbook.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    thumb = client.get(f"{evidence_url(evidence)}/thumbnail")
    assert thumb.status_code == 200
    assert thumb["Content-Type"] == "image/jpeg"


def test_a_document_is_an_attachment_never_rendered(client, artist, evidence):
    letter = DisputeEvidence.objects.get(original_name="letter.html")
    client.force_login(artist)
    response = client.get(evidence_url(letter))
    assert response.status_code == 200
    assert body(response) == HTML
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="letter.html"'
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_dispute_page_and_api_link_to_the_checked_evidence_urls(
    client, artist, evidence
):
    client.force_login(artist)
    text = client.get(
        reverse("dispute_detail", args=[evidence.dispute_id])
    ).content.decode()
    assert f'href="{evidence_url(evidence)}"' in text
    assert f'src="{evidence_url(evidence)}/thumbnail"' in text
    assert "/media/" not in text
    api = client_for(artist)
    data = api.get(f"/api/v1/disputes/{evidence.dispute_id}/").json()
    urls = {e["name"]: e["url"] for e in data["evidence"]}
    assert urls["sketchbook.png"] == f"http://testserver{evidence_url(evidence)}"
    assert api.get(urls["sketchbook.png"]).status_code == 200


# --- false-match reports ---------------------------------------------------------


@pytest.fixture
def report(image, curator) -> FalseMatchReport:
    job = matched_job(curator, image)
    match = Match.objects.get(job=job, image=image)
    made = false_match_report_create(
        reporter=curator, match_id=match.pk, reason="not_same_image", text=""
    )
    made.row_thumbnail.save("row.jpg", ContentFile(image.thumbnail.read()))
    return made


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("anonymous", 404),
        ("someone", 404),
        ("artist", 404),
        ("curator", 200),
        ("admin_user", 200),
    ],
)
def test_a_reports_row_thumbnail_is_for_admins_and_its_reporter(
    request, client, report, name, status
):
    url = f"/files/report/{report.pk}/thumbnail"
    response = get_as(client, who(request, name), url)
    assert response.status_code == status
    if status == 200:
        assert response["Content-Type"] == "image/jpeg"


def test_the_review_page_shows_the_row_through_the_checked_url(
    client, admin_user, report
):
    client.force_login(admin_user)
    text = client.get(reverse("review_report", args=[report.pk])).content.decode()
    assert f'src="/files/report/{report.pk}/thumbnail"' in text
    assert "/media/" not in text


# --- how the file is sent ---------------------------------------------------------


def test_behind_nginx_it_answers_with_x_accel_redirect(client, settings, artist, image):
    settings.MEDIA_ACCEL_REDIRECT = "/protected-media/"
    client.force_login(artist)
    response = client.get(original_url(image))
    assert response.status_code == 200
    assert response.content == b""
    assert response["X-Accel-Redirect"] == f"/protected-media/{image.original.name}"
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="art-1.png"'
    assert response["Cache-Control"].startswith("private")
    client.force_login(make_artist("frank"))
    refused = client.get(original_url(image))
    assert refused.status_code == 404
    assert "X-Accel-Redirect" not in refused


def test_behind_apache_it_answers_with_x_sendfile(client, settings, artist, image):
    settings.MEDIA_SENDFILE = True
    client.force_login(artist)
    response = client.get(thumbnail_url(image))
    assert response.status_code == 200
    assert response.content == b""
    assert response["X-Sendfile"] == image.thumbnail.path
    assert response["Content-Type"] == "image/jpeg"
