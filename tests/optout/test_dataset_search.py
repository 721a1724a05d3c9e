"""The dataset search: an admin indexes datasets, an artist finds their rows
and opts them out (issue 16)."""

from __future__ import annotations

import csv
import io
import re
import shutil
import time
from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from optout import selectors
from optout.models import Dataset, DatasetChunk, DatasetOptOut
from optout.services import (
    dataset_add,
    dataset_chunk_run,
    dataset_images,
    dataset_ingest,
    dataset_sweep,
    manifest_upload,
)
from registry.models import Claim
from registry.services import claim_create
from workers.engine import datasetindex

from .helpers import activate_domain, csv_manifest, upload, webdataset_tar

ROWS = [
    (
        "https://cdn.bob-art.example/gallery/harbour.jpg",
        "Harbour at dusk by Bob Artist",
    ),
    ("https://www.bob-art.example/gallery/fog.jpg", "bob_ARTIST — fog"),
    ("http://bob-art.example/gallery2/sea.jpg", "Sea, after Bob Artiste"),
    ("https://img.other.example/p/1.jpg", "A cat on a mat"),
    ("https://img.other.example/p/2.jpg", "Portrait by Émile Zolá"),
    ("https://img.other.example/p/3.jpg", "葛飾北斎の浮世絵"),
    ("not a url", "Bob Artist unreachable"),
]


def laion_parts(rows, parts: int = 2) -> list:
    files = []
    per = -(-len(rows) // parts)
    for p in range(parts):
        chunk = rows[p * per : (p + 1) * per]
        table = pa.table({"URL": [r[0] for r in chunk], "TEXT": [r[1] for r in chunk]})
        out = io.BytesIO()
        pq.write_table(table, out, row_group_size=2)
        files.append(upload(f"part-{p:05d}.parquet", out.getvalue()))
    return files


def index_now(dataset: Dataset) -> Dataset:
    """Run the dataset's tasks in-process, as the workers would."""
    dataset_ingest(dataset_id=dataset.pk)
    for chunk_id in DatasetChunk.objects.filter(dataset=dataset).values_list(
        "pk", flat=True
    ):
        dataset_chunk_run(chunk_id=chunk_id)
    # Queued when the last chunk is done: the image index.
    dataset_images(dataset_id=dataset.pk)
    dataset.refresh_from_db()
    return dataset


def add_dataset(admin, files, name="LAION sample", settings=None) -> Dataset:
    manifest = manifest_upload(owner=admin, files=files)
    return dataset_add(by=admin, manifest_id=manifest.pk, name=name)


@pytest.fixture
def small_chunks(settings):
    settings.MATCH_CHUNK_ROWS = 2


@pytest.fixture
def laion(db, admin_user, small_chunks) -> Dataset:
    return index_now(add_dataset(admin_user, laion_parts(ROWS)))


def rows_of(client, **params) -> list[tuple[str, int]]:
    answer = client.get("/api/v1/search/", params)
    assert answer.status_code == 200, answer.content
    return [(hit["url"], hit["row"]) for hit in answer.json()["results"]]


@pytest.mark.django_db
def test_laion_parts_are_indexed_in_chunks_and_every_row_once(laion):
    assert laion.state == Dataset.State.READY
    assert laion.rows_total == laion.rows_done == len(ROWS)
    assert laion.chunks_total == DatasetChunk.objects.filter(dataset=laion).count() > 2
    # A chunk indexed twice (its message delivered again) holds its rows once.
    chunk = DatasetChunk.objects.filter(dataset=laion).first()
    DatasetChunk.objects.filter(pk=chunk.pk).update(state="pending")
    Dataset.objects.filter(pk=laion.pk).update(state="indexing")
    assert dataset_chunk_run(chunk_id=chunk.pk) == "done"
    from optout.selectors import dataset_search

    Dataset.objects.filter(pk=laion.pk).update(state="ready")
    assert dataset_search(by="site", q="bob-art.example").total == 3
    assert dataset_search(by="text", q="a cat").total == 1


@pytest.mark.django_db
def test_a_name_is_found_as_whole_words_whatever_the_case_and_accents(
    laion, artist_client
):
    assert rows_of(artist_client, q="Bob Artist") == [
        (ROWS[0][0], 0),
        (ROWS[1][0], 1),
        (ROWS[6][0], 6),
    ]  # not "Bob Artiste" (row 2)
    assert rows_of(artist_client, q="ÉMILE zolá") == [(ROWS[4][0], 4)]
    assert rows_of(artist_client, q="Émile Zola") == []  # an accent is a letter
    assert rows_of(artist_client, q="北斎") == [(ROWS[5][0], 5)]
    answer = artist_client.get("/api/v1/search/", {"q": "bob artist"}).json()
    assert answer["count"] == 3
    assert answer["per_dataset"] == [
        {"dataset": laion.pk, "name": "LAION sample", "rows": 3}
    ]
    assert answer["results"][0]["why"] == 'caption has "bob artist" as whole words'
    assert answer["results"][0]["caption"] == "Harbour at dusk by Bob Artist"


@pytest.mark.django_db
def test_a_site_is_found_by_host_with_its_subdomains_or_by_prefix(laion, artist_client):
    assert rows_of(artist_client, q="bob-art.example", by="site") == [
        (ROWS[0][0], 0),
        (ROWS[1][0], 1),
        (ROWS[2][0], 2),
    ]
    # A gallery: the prefix claims' rule (scheme and www do not matter; a
    # path boundary, so /gallery is not /gallery2).
    assert rows_of(artist_client, q="https://bob-art.example/gallery", by="site") == [
        (ROWS[1][0], 1)
    ]
    assert rows_of(
        artist_client, q="http://cdn.bob-art.example/gallery/", by="site"
    ) == [(ROWS[0][0], 0)]
    assert rows_of(artist_client, q="other.example", by="site") == [
        (ROWS[3][0], 3),
        (ROWS[4][0], 4),
        (ROWS[5][0], 5),
    ]


@pytest.mark.django_db
def test_results_are_paginated_and_exported_as_csv(laion, artist, artist_client):
    page = artist_client.get(
        "/api/v1/search/", {"q": "bob-art.example", "by": "site", "limit": 2}
    ).json()
    assert [r["row"] for r in page["results"]] == [0, 1] and page["count"] == 3
    page = artist_client.get(
        "/api/v1/search/",
        {"q": "bob-art.example", "by": "site", "limit": 2, "offset": 2},
    ).json()
    assert [r["row"] for r in page["results"]] == [2]

    browser = Client()
    browser.force_login(artist)
    answer = browser.get(reverse("search_export"), {"q": "bob artist", "by": "text"})
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    table = list(
        csv.DictReader(io.StringIO(b"".join(answer.streaming_content).decode()))
    )
    assert [(r["dataset"], r["row"], r["url"]) for r in table] == [
        ("LAION sample", "0", ROWS[0][0]),
        ("LAION sample", "1", ROWS[1][0]),
        ("LAION sample", "6", ROWS[6][0]),
    ]


@pytest.mark.django_db
def test_bad_searches_name_the_field(laion, artist_client, anon_client):
    for params, field in (
        ({"q": "   "}, "q"),
        ({"q": "!!!"}, "q"),
        ({"q": "x", "by": "colour"}, "by"),
        ({"q": "not a host at all", "by": "site"}, "q"),
        ({"q": "bob", "limit": 0}, "limit"),
    ):
        answer = artist_client.get("/api/v1/search/", params)
        assert answer.status_code == 400, params
        assert field in answer.json()["message"] or field in str(
            answer.json()["extra"]
        ), answer.json()
    assert anon_client.get("/api/v1/search/", {"q": "bob"}).status_code == 401


@pytest.mark.django_db
def test_opting_out_rows_makes_url_claims_and_counts_them_per_dataset(
    laion, artist, holder, artist_client
):
    answer = artist_client.post(
        "/api/v1/search/opt-out/",
        {"dataset": laion.pk, "rows": [0, 1, 6]},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["rows"] == 2 and body["unusable"] == [6]
    claims = Claim.objects.filter(owner=holder, kind="url").order_by("normalized")
    assert sorted(c.normalized for c in claims) == sorted([ROWS[0][0], ROWS[1][0]])
    assert all(c.state == Claim.State.ACTIVE for c in claims)
    assert sorted(body["created"]) == sorted(c.pk for c in claims)
    # Marked in later searches, for this artist only.
    results = artist_client.get("/api/v1/search/", {"q": "bob artist"}).json()
    assert [r["opted_out"] for r in results["results"]] == [True, True, False]
    # Again: nothing new, the rows stay opted out once.
    again = artist_client.post(
        "/api/v1/search/opt-out/", {"dataset": laion.pk, "rows": [0]}, format="json"
    ).json()
    assert again["created"] == [] and again["rows"] == 1
    assert DatasetOptOut.objects.filter(holder=holder, dataset=laion).count() == 2
    browser = Client()
    browser.force_login(artist)
    page = browser.get(reverse("dashboard")).content.decode()
    assert "Opted out from the search" in page
    assert "<td>LAION sample</td><td>2</td>" in page


@pytest.mark.django_db
def test_a_prefix_opt_out_is_enforced_only_on_a_proved_host(
    laion, holder, artist_client
):
    answer = artist_client.post(
        "/api/v1/search/opt-out/",
        {
            "dataset": laion.pk,
            "rows": [0],
            "prefix": "https://cdn.bob-art.example/gallery/",
        },
        format="json",
    )
    assert answer.status_code == 200, answer.content
    claim = Claim.objects.get(owner=holder, kind="prefix")
    assert claim.state == Claim.State.PENDING_REVIEW  # a stranger to the host
    # A prefix that does not cover a selected row is refused, naming it.
    answer = artist_client.post(
        "/api/v1/search/opt-out/",
        {"dataset": laion.pk, "rows": [0, 3], "prefix": ROWS[0][0]},
        format="json",
    )
    assert answer.status_code == 400
    assert "prefix" in answer.json()["message"] and "3" in answer.json()["message"]

    activate_domain(claim_create(owner=holder, kind="domain", value="bob-art.example"))
    answer = artist_client.post(
        "/api/v1/search/opt-out/",
        {
            "dataset": laion.pk,
            "rows": [1],
            "prefix": "https://bob-art.example/gallery/",
        },
        format="json",
    )
    assert answer.status_code == 200
    proved = Claim.objects.get(
        owner=holder, kind="prefix", normalized="https://bob-art.example/gallery/"
    )
    assert proved.state == Claim.State.ACTIVE


@pytest.mark.django_db
def test_searching_reveals_no_one_elses_opt_outs_or_claims(
    laion, other_holder, other_client, artist_client
):
    other_client.post(
        "/api/v1/search/opt-out/", {"dataset": laion.pk, "rows": [0]}, format="json"
    )
    hits = artist_client.get("/api/v1/search/", {"q": "bob artist"}).json()["results"]
    assert [h["opted_out"] for h in hits] == [False, False, False]
    assert set(hits[0]) == {
        "dataset",
        "dataset_name",
        "row",
        "url",
        "caption",
        "why",
        "opted_out",
        "thumbnail",
        "similarity",
        "level",
    }


@pytest.mark.django_db
def test_only_admins_add_datasets_and_curators_only_their_checked_manifests(
    curator, curator_client, artist_client, admin_user
):
    manifest = manifest_upload(
        owner=curator, files=[upload("m.csv", csv_manifest(ROWS[:2]))]
    )
    answer = curator_client.post(
        "/api/v1/datasets/",
        {"manifest": manifest.pk, "name": "Mine"},
        format="json",
    )
    assert answer.status_code == 403
    assert "checked" in answer.json()["message"]
    answer = artist_client.post(
        "/api/v1/datasets/", {"manifest": manifest.pk, "name": "Theirs"}, format="json"
    )
    assert answer.status_code in (403, 404)
    from tests.conftest import client_for

    answer = client_for(admin_user).post(
        "/api/v1/datasets/",
        {"manifest": manifest.pk, "name": "CSV sample", "source_url": "ftp://x"},
        format="json",
    )
    assert answer.status_code == 400 and "source_url" in answer.json()["message"]
    answer = client_for(admin_user).post(
        "/api/v1/datasets/",
        {"manifest": manifest.pk, "name": "CSV sample"},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["state"] == "queued"
    # Not searchable until indexed: the list shows ready datasets only.
    assert artist_client.get("/api/v1/datasets/").json() == {"results": []}


@pytest.mark.django_db
def test_img2dataset_shards_and_csv_are_indexed_too(admin_user, artist_client):
    shard = webdataset_tar(
        [
            (
                "000000000",
                b"\xff\xd8not really a jpeg",
                {"url": "https://bob-art.example/a.jpg", "caption": "by Bob Artist"},
            ),
            (
                "000000001",
                b"\xff\xd8not really a jpeg",
                {"url": "https://x.example/b.jpg", "caption": "a dog"},
            ),
        ]
    )
    shards = index_now(add_dataset(admin_user, [upload("00000.tar", shard)], "Shards"))
    table = index_now(
        add_dataset(admin_user, [upload("t.csv", csv_manifest(ROWS[3:5]))], "CSV")
    )
    assert shards.state == table.state == Dataset.State.READY
    assert rows_of(artist_client, q="bob artist") == [
        ("https://bob-art.example/a.jpg", 0)
    ]
    assert rows_of(artist_client, q="a dog") == [("https://x.example/b.jpg", 1)]
    assert rows_of(artist_client, q="zolá", dataset=table.pk) == [(ROWS[4][0], 1)]


@pytest.mark.django_db
def test_a_file_that_cannot_be_read_fails_the_dataset_with_the_reason(admin_user):
    manifest = manifest_upload(owner=admin_user, files=laion_parts(ROWS, parts=1))
    dataset = dataset_add(by=admin_user, manifest_id=manifest.pk, name="Broken")
    part = manifest.parts.get()
    with part.file.open("wb") as f:  # damaged after the upload checked it
        f.write(b"PAR1 this is not Parquet any more PAR1")
    dataset = index_now(dataset)
    assert dataset.state == Dataset.State.FAILED
    assert "not a readable Parquet file" in dataset.failure_reason
    assert not DatasetChunk.objects.filter(dataset=dataset).exists()


@pytest.mark.django_db
def test_the_sweep_takes_back_a_chunk_whose_worker_died(admin_user, small_chunks):
    dataset = add_dataset(admin_user, laion_parts(ROWS))
    dataset_ingest(dataset_id=dataset.pk)
    chunks = list(DatasetChunk.objects.filter(dataset=dataset).order_by("index"))
    # The first chunk's worker died holding it: its lease ran out.
    DatasetChunk.objects.filter(pk=chunks[0].pk).update(
        state="leased",
        lease_token="dead",
        lease_expires=timezone.now() - timedelta(seconds=1),
        attempts=1,
    )
    for chunk in chunks[1:]:
        dataset_chunk_run(chunk_id=chunk.pk)
    dataset.refresh_from_db()
    assert dataset.state == Dataset.State.INDEXING
    assert dataset_sweep() == {"chunks": 1}
    dataset_chunk_run(chunk_id=chunks[0].pk)
    dataset.refresh_from_db()
    assert dataset.state == Dataset.State.READY
    assert dataset.rows_done == len(ROWS)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_admin_indexes_a_dataset_through_the_api_and_a_real_worker(
    celery_worker, admin_user, artist_client, settings
):
    settings.MATCH_CHUNK_ROWS = 3
    from tests.conftest import client_for

    # An admin who indexes datasets through the API uploads their files as a
    # curator does (the page for admins takes the files itself).
    type(admin_user).objects.filter(pk=admin_user.pk).update(is_curator=True)
    admin = client_for(admin_user)
    manifest = admin.post(
        "/api/v1/manifests/", {"files": laion_parts(ROWS)}, format="multipart"
    )
    assert manifest.status_code == 201, manifest.content
    answer = admin.post(
        "/api/v1/datasets/",
        {"manifest": manifest.json()["id"], "name": "LAION sample"},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = admin.get("/api/v1/datasets/").json()["results"]
        if listed and listed[0]["state"] in ("ready", "failed"):
            break
        time.sleep(0.2)
    assert listed[0]["state"] == "ready", listed
    assert listed[0]["rows_done"] == len(ROWS)
    assert [r for _, r in rows_of(artist_client, q="Bob Artist")] == [0, 1, 6]


@pytest.mark.django_db
def test_an_admin_adds_a_dataset_on_its_page_and_others_only_see_the_list(
    admin_user, artist, small_chunks
):
    admin = Client()
    admin.force_login(admin_user)
    answer = admin.post(
        reverse("search_datasets"),
        {
            "name": "LAION sample",
            "description": "Two parts",
            "source_url": "https://laion.example/",
            "files": laion_parts(ROWS),
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    dataset = Dataset.objects.get()
    assert dataset.state == Dataset.State.QUEUED
    page = admin.get(reverse("search_datasets")).content.decode()
    assert "LAION sample" in page and "queued" in page
    # The same name again is refused on the form, naming the clash.
    answer = admin.post(
        reverse("search_datasets"),
        {"name": "laion SAMPLE", "files": laion_parts(ROWS[:2], parts=1)},
    )
    assert answer.status_code == 200
    assert "already indexed" in answer.content.decode()

    index_now(dataset)
    browser = Client()
    browser.force_login(artist)
    page = browser.get(reverse("search_datasets")).content.decode()
    assert "LAION sample" in page and "Add a dataset" not in page
    assert browser.post(reverse("search_datasets"), {"name": "x"}).status_code == 404
    page = browser.get(reverse("search"), {"q": "!!", "by": "text"}).content.decode()
    assert "no letters or digits" in page
    page = browser.get(
        reverse("search"), {"q": "bob-art.example", "by": "site"}
    ).content.decode()
    assert "3 rows found" in page and "URL on bob-art.example or a subdomain" in page


@pytest.mark.django_db
def test_index_dataset_adds_a_folder_on_the_server(tmp_path, admin_user):
    from django.core.management import call_command

    for i, f in enumerate(laion_parts(ROWS)):
        (tmp_path / f"part-{i:05d}.parquet").write_bytes(f.read())
    out = io.StringIO()
    call_command("index_dataset", str(tmp_path), "--name", "Server copy", stdout=out)
    dataset = Dataset.objects.get(name="Server copy")
    assert f"dataset {dataset.pk} (Server copy): 2 file(s) queued" in out.getvalue()
    assert [p.original_name for p in dataset.manifest.parts.order_by("index")] == [
        "part-00000.parquet",
        "part-00001.parquet",
    ]
    assert index_now(dataset).rows_done == len(ROWS)


@pytest.mark.django_db
def test_an_admin_removes_a_dataset_from_the_search(
    laion, admin_user, artist, django_capture_on_commit_callbacks
):
    from optout.selectors import dataset_folder, dataset_search

    browser = Client()
    browser.force_login(artist)
    remove = reverse("search_dataset_remove", args=[laion.pk])
    assert browser.post(remove).status_code == 404
    assert dataset_search(by="text", q="a cat").total == 1
    admin = Client()
    admin.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        assert admin.post(remove).status_code == 302
    laion.refresh_from_db()
    assert laion.state == Dataset.State.REMOVED
    assert dataset_search(by="text", q="a cat").total == 0
    assert not dataset_folder(laion.pk).exists()
    # Its name is free for a new copy.
    assert index_now(add_dataset(admin_user, laion_parts(ROWS))).state == "ready"


@pytest.mark.django_db
def test_a_curator_adds_their_checked_manifest_from_the_job_page(
    curator, other_curator, small_chunks
):
    from optout.models import MatchJob

    from .helpers import run_job, start_job

    job = run_job(start_job(curator, csv_manifest(ROWS[:4]), name="crawl.csv"))
    assert job.state == MatchJob.State.SUCCEEDED
    browser = Client()
    browser.force_login(curator)
    page = browser.get(reverse("job_detail", args=[job.pk])).content.decode()
    assert (
        "Add to the artists&#x27; search" in page
        or "Add to the artists' search" in page
    )
    answer = browser.post(reverse("job_share", args=[job.pk]), {"name": "Crawl 12"})
    assert answer.status_code == 302
    dataset = Dataset.objects.get(name="Crawl 12")
    assert dataset.manifest_id == job.manifest_id and dataset.added_by == curator
    page = browser.get(reverse("job_detail", args=[job.pk])).content.decode()
    assert "in the artists&#x27; search as <strong>Crawl 12</strong>" in page or (
        "in the artists' search as <strong>Crawl 12</strong>" in page
    )
    # Someone else's job is not theirs to share.
    stranger = Client()
    stranger.force_login(other_curator)
    assert stranger.post(reverse("job_share", args=[job.pk])).status_code == 404


def _jpeg(image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.fixture
def art_shards(db, admin_user, small_chunks) -> Dataset:
    from tests.images import drawing

    samples = [
        (
            f"{i:09d}",
            _jpeg(drawing(100 + i, (480, 360))),
            {"url": f"https://img.example/p/{i}.jpg", "caption": f"picture {i}"},
        )
        for i in range(6)
    ]
    samples.append(("000000006", b"\xff\xd8broken", {"url": "https://img.example/b"}))
    return index_now(
        add_dataset(admin_user, [upload("00000.tar", webdataset_tar(samples))], "Art")
    )


@pytest.mark.django_db
def test_an_image_search_finds_the_row_holding_a_crop_of_it(art_shards, artist_client):
    from tests.images import drawing

    # A crop of row 3's picture, a quarter cut off, recompressed.
    crop = drawing(103, (480, 360)).crop((60, 40, 420, 330))
    answer = artist_client.post(
        "/api/v1/search/image/",
        {"image": upload("mine.jpg", _jpeg(crop))},
        format="multipart",
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    top = body["results"][0]
    assert (top["row"], top["url"], top["level"]) == (
        3,
        "https://img.example/p/3.jpg",
        "verified",
    )
    assert top["similarity"] > 0.8
    assert top["thumbnail"].endswith(f"/search/thumb/{art_shards.pk}/3.jpg")
    # No other row is verified; the broken image's row is there by URL only.
    assert [r["row"] for r in body["results"] if r["level"] == "verified"] == [3]
    thumb = artist_client.get(top["thumbnail"])
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    # A text search shows the same row's thumbnail.
    found = artist_client.get("/api/v1/search/", {"q": "picture 3"}).json()
    assert [r["thumbnail"] for r in found["results"]] == [top["thumbnail"]]
    assert rows_of(artist_client, q="img.example", by="site")[-1] == (
        "https://img.example/b",
        6,
    )


@pytest.mark.django_db
def test_an_image_search_by_a_registered_work_and_bad_inputs(
    art_shards, holder, artist_client, other_client
):
    from core.uploads import bytes_file
    from registry.services import portfolio_upload
    from tests.images import drawing

    result = portfolio_upload(
        owner=holder, files=[bytes_file("h.jpg", _jpeg(drawing(104, (480, 360))))]
    )
    work = result.works[0]
    answer = artist_client.post(
        "/api/v1/search/image/", {"work": work.pk}, format="multipart"
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["results"][0]["row"] == 4
    # Opted out as copies of that work: a URL claim, and the row linked to it.
    answer = artist_client.post(
        "/api/v1/search/opt-out/",
        {"dataset": art_shards.pk, "rows": [4], "work": work.pk},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    opted = DatasetOptOut.objects.get(holder=holder, dataset=art_shards, row=4)
    assert opted.work_id == work.pk
    assert opted.claim.normalized == "https://img.example/p/4.jpg"
    answer = other_client.post(
        "/api/v1/search/opt-out/",
        {"dataset": art_shards.pk, "rows": [5], "work": work.pk},
        format="json",
    )
    assert answer.status_code == 400
    assert answer.json()["message"].startswith("work")
    # Someone else's work, no image, an image that does not decode.
    for client, data, field in (
        (other_client, {"work": work.pk}, "work"),
        (artist_client, {}, "image"),
        (artist_client, {"image": upload("x.jpg", b"not an image")}, "image"),
    ):
        answer = client.post("/api/v1/search/image/", data, format="multipart")
        assert answer.status_code == 400, (data, answer.content)
        assert answer.json()["message"].startswith(field), answer.json()


@pytest.mark.django_db
def test_the_search_page_searches_by_an_uploaded_image(art_shards, artist):
    from tests.images import drawing

    browser = Client()
    browser.force_login(artist)
    page = browser.get(reverse("search")).content.decode()
    assert "Search by image" in page
    crop = drawing(102, (480, 360)).crop((30, 20, 450, 340))
    answer = browser.post(
        reverse("search_image"), {"image": upload("mine.jpg", _jpeg(crop))}
    )
    page = answer.content.decode()
    assert answer.status_code == 200
    assert "https://img.example/p/2.jpg" in page
    assert f'src="/search/thumb/{art_shards.pk}/2.jpg"' in page
    assert '<span class="level level-verified">verified</span>' in page
    answer = browser.post(reverse("search_image"), {})
    assert "image: upload an image or pick a work" in answer.content.decode()


@pytest.mark.django_db
def test_image_results_are_paginated_and_exported_with_their_levels(
    art_shards, artist, artist_client, settings, monkeypatch
):
    from tests.images import drawing

    # Every row with an image is listed, nearest first (no similarity floor).
    settings.MATCH_DESCRIPTOR_MIN = -1.0
    # A smaller recompressed copy of row 4's picture: PDQ finds it too.
    mine = _jpeg(drawing(104, (480, 360)).resize((400, 300)))

    def api(**params):
        answer = artist_client.post(
            "/api/v1/search/image/",
            {"image": upload("mine.jpg", mine), **params},
            format="multipart",
        )
        assert answer.status_code == 200, answer.content
        return answer.json()

    everything = api(limit=100)
    rows = [r["row"] for r in everything["results"]]
    assert everything["count"] == 6 and sorted(rows) == [0, 1, 2, 3, 4, 5]
    assert rows[0] == 4 and everything["results"][0]["level"] == "verified"
    assert "PDQ" in everything["results"][0]["why"]
    sims = [r["similarity"] for r in everything["results"]]
    assert sims == sorted(sims, reverse=True)
    assert [r["row"] for r in api(offset=2, limit=2)["results"]] == rows[2:4]
    assert api(offset=2, limit=2)["count"] == 6

    # The page: two rows a page; the next page and the export search the
    # image the first page carried, without uploading it again.
    monkeypatch.setattr(selectors, "IMAGE_PER_PAGE", 2)
    browser = Client()
    browser.force_login(artist)
    first = browser.post(reverse("search_image"), {"image": upload("mine.jpg", mine)})
    html = first.content.decode()
    assert "Rows 1–2 of 6" in html
    carried = re.search(r'name="query" value="([^"]+)"', html).group(1)
    second = browser.post(reverse("search_image"), {"query": carried, "page": "2"})
    html = second.content.decode()
    assert "Rows 3–4 of 6" in html
    assert [int(r) for r in re.findall(r'name="pick" value="\d+:(\d+)"', html)] == (
        rows[2:4]
    )
    export = browser.post(reverse("search_image"), {"query": carried, "export": "csv"})
    assert export["Content-Type"].startswith("text/csv")
    table = list(
        csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode()))
    )
    assert [int(r["row"]) for r in table] == rows
    assert table[0]["level"] == "verified" and float(table[0]["similarity"]) > 0.8
    assert {r["level"] for r in table[1:]} <= {"possible", "verified"}
    # A carried image that is not base64 asks for the upload again.
    answer = browser.post(reverse("search_image"), {"query": "%%%", "page": "2"})
    assert "image: the search expired; upload the image again" in (
        answer.content.decode()
    )


@pytest.mark.django_db
def test_the_image_index_is_built_once_the_dataset_is_indexed_and_by_the_sweep(
    art_shards, django_capture_on_commit_callbacks
):
    folder = selectors.dataset_folder(art_shards.pk)
    assert datasetindex.image_index_current(folder)
    assert dataset_images(dataset_id=art_shards.pk) == "current"
    # The index lost (a disk restored without it): the sweep builds it again.
    shutil.rmtree(folder / datasetindex.IMAGES_DIR)
    assert not datasetindex.image_index_current(folder)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert dataset_sweep().get("images") == 1
    assert len(queued) == 1
    assert dataset_images(dataset_id=art_shards.pk).startswith("built: 6 vectors")
    assert datasetindex.image_index_current(folder)


@pytest.mark.django_db
def test_an_artists_whole_picture_finds_a_dataset_row_holding_a_crop_of_it(
    admin_user, artist_client
):
    from tests.images import drawing

    whole = drawing(300, (480, 360))
    samples = [
        (
            "000000000",
            _jpeg(whole.crop((0, 0, 380, 300))),
            {"url": "https://c.example/0"},
        ),
        ("000000001", _jpeg(drawing(301, (480, 360))), {"url": "https://c.example/1"}),
    ]
    index_now(add_dataset(admin_user, [upload("c.tar", webdataset_tar(samples))], "C"))
    answer = artist_client.post(
        "/api/v1/search/image/",
        {"image": upload("whole.jpg", _jpeg(whole))},
        format="multipart",
    )
    assert answer.status_code == 200, answer.content
    results = answer.json()["results"]
    assert [r["row"] for r in results][:1] == [0]
    assert 1 not in [r["row"] for r in results if r["level"] == "verified"]


@pytest.mark.django_db
def test_numbers_too_big_for_the_index_are_not_found_never_a_crash(laion, artist):
    browser = Client()
    browser.force_login(artist)
    huge = 2**64 + 5
    assert browser.get(f"/search/thumb/{laion.pk}/{huge}.jpg").status_code == 404
    assert browser.get(f"/search/thumb/{huge}/1.jpg").status_code == 404
    answer = browser.post(
        reverse("search_opt_out"), {"pick": [f"{laion.pk}:{huge}", f"{huge}:1"]}
    )
    assert answer.status_code == 302
    assert not DatasetOptOut.objects.exists()


@pytest.mark.django_db
def test_pages_are_the_same_when_many_matches_walk_the_chunks(
    laion, admin_user, monkeypatch
):
    # A second dataset, so a page's offset runs from one into the next.
    index_now(add_dataset(admin_user, laion_parts(ROWS), name="Second sample"))

    def pages(by: str, q: str) -> list[tuple[int, list[tuple[str, int]]]]:
        return [
            (r.total, [(h.dataset, h.row) for h in r.hits])
            for r in (
                selectors.dataset_search(by=by, q=q, offset=offset, limit=2)
                for offset in range(0, 12, 2)
            )
        ]

    searches = [("text", "bob"), ("site", "bob-art.example"), ("text", "bob artist")]
    counted = [pages(by, q) for by, q in searches]
    assert counted[1][0] == (6, [("LAION sample", 0), ("LAION sample", 1)])
    assert counted[1][1] == (6, [("LAION sample", 2), ("Second sample", 0)])
    monkeypatch.setattr(datasetindex, "WALK_FROM", 1)
    assert [pages(by, q) for by, q in searches] == counted
