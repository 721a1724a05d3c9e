"""GET /api/v1/jobs/: the signed-in curator's match jobs, newest first."""

from __future__ import annotations

from .helpers import start_job

URL = "/api/v1/jobs/"


def test_it_lists_the_owners_jobs_newest_first(curator_client, curator):
    first = start_job(curator, name="first.parquet")
    second = start_job(curator, name="second.parquet")

    response = curator_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [j["id"] for j in body["results"]] == [second.pk, first.pk]
    assert body["results"][0] == {
        "id": second.pk,
        "manifest": second.manifest_id,
        "manifest_name": "second.parquet",
        "state": "queued",
        "phase": "",
        "progress": 0.0,
        "rows_total": None,
        "rows_done": 0,
        "counts": {},
        "created": second.created.isoformat().replace("+00:00", "Z"),
        "finished": None,
        "url": f"http://testserver/api/v1/jobs/{second.pk}/",
    }


def test_another_curator_sees_none_of_them(other_curator_client, curator):
    start_job(curator)

    response = other_curator_client.get(URL)

    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_anonymous_visitors_get_401(anon_client, db):
    assert anon_client.get(URL).status_code == 401
