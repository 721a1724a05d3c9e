"""GET /api/v1/jobs/{id}/matches/: a job's matches, page by page, by kind."""

from __future__ import annotations

from optout.models import MatchJob

from .helpers import EXACT_URL, LAION_ROWS, PREFIX, run_job, start_job


def url(job: MatchJob) -> str:
    return f"/api/v1/jobs/{job.pk}/matches/"


def test_it_lists_every_match_in_row_order(curator_client, curator, registry):
    job = run_job(start_job(curator))

    response = curator_client.get(url(job))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 5
    rows = body["results"]
    assert [(m["row"], m["kind"]) for m in rows] == [
        (0, "url"),
        (1, "prefix"),
        (2, "domain"),
        (3, "style"),
        (4, "phash"),
    ]
    assert rows[0] == {
        "row": 0,
        "key": "",
        "url": EXACT_URL,
        "kind": "url",
        "claim": registry.url.pk,
        "image": None,
        "work": None,
        "distance": None,
        "matched": EXACT_URL,
        "matched_as": "exact",
        "level": "",
        "variant": "",
        "inliers": None,
        "agreement": None,
        "coverage": None,
        "alignment": None,
        "chance": None,
        "similarity": None,
        "source": "",
        "evidence": "",
        "terms": None,
        "removed": True,
    }
    assert rows[1]["claim"] == registry.prefix.pk
    assert rows[1]["matched"] == PREFIX
    assert rows[2]["claim"] == registry.domain.pk
    assert rows[3]["claim"] == registry.style.pk
    assert rows[3]["url"] == LAION_ROWS[3][0]
    assert rows[4]["image"] == registry.image.pk
    assert rows[4]["work"] == registry.image.work_id
    assert rows[4]["claim"] is None
    assert rows[4]["distance"] == 0


def test_it_filters_by_kind(curator_client, curator, registry):
    job = run_job(start_job(curator))

    body = curator_client.get(url(job), {"kind": "prefix"}).json()

    assert [m["row"] for m in body["results"]] == [1]


def test_it_rejects_an_unknown_kind(curator_client, curator):
    job = start_job(curator)

    response = curator_client.get(url(job), {"kind": "colour"})

    assert response.status_code == 400
    assert response.json()["message"] == 'kind: "colour" is not a valid choice.'


def test_another_curators_matches_are_not_found(
    other_curator_client, curator, registry
):
    job = run_job(start_job(curator))

    response = other_curator_client.get(url(job))

    assert response.status_code == 404
    assert response.json()["message"] == "job not found"


def test_anonymous_visitors_get_401(anon_client, curator):
    job = start_job(curator)

    assert anon_client.get(url(job)).status_code == 401
