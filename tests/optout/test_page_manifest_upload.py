"""/datasets/upload/: upload a manifest from the browser and start its job."""

from __future__ import annotations

from django.urls import reverse

from accounts.permissions import NOT_A_CURATOR
from optout.models import Manifest, MatchJob
from tests.pages import assert_login_redirect

from .helpers import laion_parquet, upload

URL = reverse("manifest_upload")


def test_the_form_offers_files_columns_and_thresholds(client, curator):
    client.force_login(curator)

    response = client.get(URL)

    assert response.status_code == 200
    text = response.content.decode()
    assert 'type="file" name="files"' in text
    assert "multiple" in text
    for logical in ("url", "caption", "key", "sha256", "md5", "phash", "pdq"):
        assert f'name="column_{logical}"' in text
    assert 'name="threshold_phash"' in text
    assert 'placeholder="8"' in text
    assert 'name="threshold_pdq"' in text
    assert 'placeholder="40"' in text
    assert 'type="checkbox" name="keep_unchecked"' in text
    assert "Keep rows that could not be checked" in text


def test_a_curator_keeps_unchecked_rows_with_the_checkbox(client, curator):
    client.force_login(curator)

    response = client.post(
        URL, {"files": upload("laion.parquet", laion_parquet()), "keep_unchecked": "on"}
    )

    assert response.status_code == 302
    assert MatchJob.objects.get().keep_unchecked is True


def test_a_curator_uploads_a_parquet_and_lands_on_its_job(client, curator):
    client.force_login(curator)

    response = client.post(
        URL,
        {
            "files": upload("laion.parquet", laion_parquet()),
            "name": "LAION sample",
            "threshold_phash": "6",
        },
        follow=True,
    )

    job = MatchJob.objects.get()
    assert response.redirect_chain == [(f"/datasets/jobs/{job.pk}/", 302)]
    text = response.content.decode()
    assert "“LAION sample” was uploaded: matching has started." in text
    assert "Job #" in text
    assert job.owner == curator
    assert job.manifest.name == "LAION sample"
    assert job.manifest.columns["url"] == "URL"
    assert {k: job.thresholds[k] for k in ("phash", "pdq")} == {"phash": 6, "pdq": 40}
    assert job.keep_unchecked is False


def test_column_overrides_are_used(client, curator):
    client.force_login(curator)
    data = b"image_link,words\nhttps://a.example/1.png,a cat\n"

    client.post(
        URL,
        {
            "files": upload("export.csv", data),
            "column_url": "image_link",
            "column_caption": "words",
        },
    )

    manifest = Manifest.objects.get()
    assert manifest.column_overrides == {"url": "image_link", "caption": "words"}
    assert manifest.columns["url"] == "image_link"


def test_a_file_it_cannot_read_is_shown_on_the_form(client, curator):
    client.force_login(curator)

    response = client.post(URL, {"files": upload("notes.bin", b"\x00\x01 nothing")})

    assert response.status_code == 400
    text = response.content.decode()
    assert "notes.bin: " in text
    assert not Manifest.objects.exists()


def test_a_threshold_beyond_the_index_radius_is_refused(client, curator):
    client.force_login(curator)

    response = client.post(
        URL,
        {"files": upload("a.parquet", laion_parquet()), "threshold_pdq": "41"},
    )

    assert response.status_code == 400
    assert "Ensure this value is less than or equal to 40." in (
        response.content.decode()
    )
    assert not Manifest.objects.exists()


def test_no_file_is_an_error(client, curator):
    client.force_login(curator)

    response = client.post(URL, {"name": "nothing"})

    assert response.status_code == 400
    assert "choose a manifest file to upload" in response.content.decode()


def test_an_account_that_is_not_a_curator_cannot_upload(client, artist):
    client.force_login(artist)

    response = client.post(
        URL, {"files": upload("a.parquet", laion_parquet())}, follow=True
    )

    assert response.redirect_chain == [(reverse("dashboard"), 302)]
    assert NOT_A_CURATOR in response.content.decode()
    assert not Manifest.objects.exists()


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    assert_login_redirect(client.get(URL), URL)
