from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from registry.models import Image, Work
from tests.images import image_bytes, truncated_png, zip_bytes
from tests.pages import assert_login_redirect, upload

URL = reverse("upload")


def png(name, seed=0):
    return SimpleUploadedFile(name, image_bytes(seed), content_type="image/png")


def test_it_sends_anonymous_visitors_to_log_in(client, db):
    assert_login_redirect(client.get(URL), URL)
    assert_login_redirect(client.post(URL, {"files": [png("a.png")]}), URL)
    assert not Image.objects.exists()


def test_it_sends_a_curator_to_the_dashboard(client, curator):
    client.force_login(curator)
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    text = client.get(reverse("dashboard")).content.decode()
    assert "That page is for artists. You can become one from your dashboard." in text


def test_it_shows_the_upload_form(client, artist):
    client.force_login(artist)
    response = client.get(URL)
    assert response.status_code == 200
    text = response.content.decode()
    assert 'enctype="multipart/form-data"' in text
    assert 'accept="image/*,.zip"' in text
    assert "multiple" in text
    assert '<label for="id_files">Images or ZIP archives:</label>' in text


def test_it_adds_the_good_file_and_reports_the_broken_one(client, artist, holder):
    client.force_login(artist)
    broken = SimpleUploadedFile("broken.png", truncated_png(2), "image/png")
    response = client.post(URL, {"files": [png("sunset-sea.png", 1), broken]})
    assert response.status_code == 200
    text = response.content.decode()
    assert "Added (1)" in text
    assert "<strong>sunset-sea.png</strong>" in text
    assert "Not accepted (1)" in text
    assert "<strong>broken.png</strong>: the image file is truncated" in text

    image = Image.objects.get()
    assert image.original_name == "sunset-sea.png"
    assert image.status == Image.Status.PENDING
    assert image.work.owner == holder
    assert image.work.title == "sunset sea"
    assert f'href="{reverse("work_detail", args=[image.work_id])}"' in text


def test_it_unpacks_zip_archives(client, artist):
    client.force_login(artist)
    archive = zip_bytes({"art/a.png": image_bytes(1), "art/notes.txt": b"hello"})
    response = client.post(
        URL,
        {"files": [SimpleUploadedFile("portfolio.zip", archive, "application/zip")]},
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "<strong>portfolio.zip: art/a.png</strong>" in text
    assert (
        "<strong>portfolio.zip: art/notes.txt</strong>: "
        "not an image (unrecognised file format)" in text
    )
    assert Image.objects.get().original_name == "portfolio.zip: art/a.png"


def test_it_rerenders_the_form_when_no_file_is_good(client, artist):
    client.force_login(artist)
    files = [
        SimpleUploadedFile("a.png", truncated_png(1), "image/png"),
        SimpleUploadedFile("empty.png", b"", "image/png"),
    ]
    response = client.post(URL, {"files": files})
    assert response.status_code == 400
    text = response.content.decode()
    assert (
        "none of the 2 files was accepted: a.png: the image file is truncated; "
        "empty.png: the file is empty" in text
    )
    assert "<strong>a.png</strong>: the image file is truncated" in text
    assert "<strong>empty.png</strong>: the file is empty" in text
    assert 'name="files"' in text
    assert not Image.objects.exists()
    assert not Work.objects.exists()


def test_it_says_when_no_file_was_chosen(client, artist):
    client.force_login(artist)
    response = client.post(URL, {})
    assert response.status_code == 400
    assert "no files were uploaded" in response.content.decode()


def test_it_adds_images_to_a_chosen_work(client, artist, holder):
    (first,) = upload(holder, 1)
    client.force_login(artist)
    response = client.get(URL, {"work": first.work_id})
    assert f'<option value="{first.work_id}" selected>art 1</option>' in (
        response.content.decode()
    )

    response = client.post(URL, {"files": [png("b.png", 2)], "work": first.work_id})
    assert response.status_code == 200
    assert Image.objects.filter(work_id=first.work_id).count() == 2
    assert Work.objects.count() == 1


def test_it_will_not_add_to_someone_elses_work(client, other_artist, holder):
    (image,) = upload(holder, 1)
    client.force_login(other_artist)
    response = client.post(URL, {"files": [png("b.png", 2)], "work": image.work_id})
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert Image.objects.count() == 1
