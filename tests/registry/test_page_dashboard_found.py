"""The artist's dashboard says where their works and claims were found and removed."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from optout.models import Chunk, Manifest, Match, MatchJob
from optout.selectors import found_counts
from registry.services import claim_create, image_register_hashes

PHASH = "d1c4f0e8b3a29587"


def job(curator, *, state="succeeded", remove_levels=()) -> tuple[MatchJob, Chunk]:
    manifest = Manifest.objects.create(
        owner=curator, name="m", format="csv", sha256="0"
    )
    j = MatchJob.objects.create(
        manifest=manifest,
        owner=curator,
        state=state,
        manifest_sha256="0",
        thresholds={},
        remove_levels=list(remove_levels),
    )
    return j, Chunk.objects.create(job=j, index=0, spec={})


def match(j, chunk, row, **kw) -> Match:
    return Match.objects.create(job=j, chunk=chunk, row=row, **kw)


def test_counts_matches_jobs_and_removals_per_work_and_claim(
    client, artist, holder, curator
):
    image = image_register_hashes(
        owner=holder, hashes={"phash": PHASH}, title="Harbour"
    )
    quiet = image_register_hashes(
        owner=holder, hashes={"phash": "0" * 16}, title="Never found"
    )
    claim = claim_create(owner=holder, kind="url", value="https://a.example/")
    default, c1 = job(curator, remove_levels=["verified", "strong"])
    loose, c2 = job(curator, remove_levels=["verified", "strong", "possible"])
    running, c3 = job(curator, state="running")
    match(default, c1, 0, kind="phash", image=image, level="strong")
    match(default, c1, 1, kind="phash", image=image, level="possible")  # kept
    match(default, c1, 2, kind="sha256", image=image)  # exact: always removed
    match(loose, c2, 0, kind="phash", image=image, level="possible")
    match(running, c3, 0, kind="phash", image=image, level="strong")  # not finished
    match(default, c1, 3, kind="url", claim=claim)
    match(loose, c2, 1, kind="url", claim=claim)

    with CaptureQueriesContext(connection) as queries:
        works, claims = found_counts(holder=holder)
    assert len(queries) == 3
    assert vars(works[image.work_id]) == {
        "matches": 4,
        "jobs": 2,
        "removed": 3,
        "removed_jobs": 2,
    }
    assert quiet.work_id not in works
    assert vars(claims[claim.pk]) == {
        "matches": 2,
        "jobs": 2,
        "removed": 2,
        "removed_jobs": 2,
    }

    client.force_login(artist)
    text = client.get(reverse("dashboard")).content.decode()
    work_url = reverse("work_detail", args=[image.work_id])
    assert (
        f'<tr data-work="{image.work_id}"><td><a href="{work_url}">Harbour</a></td>\n'
        "                <td>4</td><td>2</td><td>3</td><td>2</td></tr>"
    ) in text
    assert f'<tr data-claim="{claim.pk}">' in text
    assert "Never found" not in text.split('id="found"')[1].split("</section>")[0]
    assert "carol" not in text  # no curator identities


def test_an_artist_never_found_is_told_so(client, artist):
    client.force_login(artist)
    text = client.get(reverse("dashboard")).content.decode()
    assert (
        "None of your works or claims has been found in a checked dataset yet." in text
    )


def test_a_curator_has_no_found_section(client, curator):
    client.force_login(curator)
    assert 'id="found"' not in client.get(reverse("dashboard")).content.decode()


def test_a_job_that_removes_no_perceptual_level_counts_none_as_removed(holder, curator):
    image = image_register_hashes(
        owner=holder, hashes={"phash": PHASH}, title="Harbour"
    )
    keep_all, chunk = job(curator, remove_levels=[])  # the curator unticked all
    match(keep_all, chunk, 0, kind="phash", image=image, level="verified")

    works, _ = found_counts(holder=holder)

    assert (works[image.work_id].matches, works[image.work_id].removed) == (1, 0)
