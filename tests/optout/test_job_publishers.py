"""The publishers' signals step: a job reads the sites of its manifest's hosts
(served here by a local server) and removes rows their publishers refuse
for AI training, with the evidence in its reports, receipt and
publishers.jsonl."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from optout.models import PublisherSignals
from optout.services import manifest_upload, match_job_start, publishers
from tests.images import image_bytes
from tests.registry.trust import freeze, served_locally
from tests.signal_images import iptc_data_mining, with_xmp
from tests.webserver import local_site

from .helpers import (
    download,
    enforce,
    report_rows,
    run_job,
    upload,
    wait_for_job,
    webdataset_tar,
)

HOSTS = ("art.example", "news.example", "down.example", "open.example")


def serve_publishers(site) -> None:
    site.serve(
        "/robots.txt",
        "User-agent: GPTBot\nDisallow: /\n\n"
        "User-agent: *\nAllow: /\nContent-Usage: /works/ train-ai=n\n",
        host="art.example",
    )
    site.serve("/robots.txt", "not here", status=404, host="news.example")
    site.serve(
        "/.well-known/tdmrep.json",
        '[{"location": "/photos/", "tdm-reservation": 1,'
        ' "tdm-policy": "https://news.example/tdm-policy.json"}]',
        host="news.example",
    )
    site.serve("/robots.txt", "try later", status=503, host="down.example")
    site.serve("/robots.txt", "User-agent: *\nAllow: /\n", host="open.example")


def point_publishers_at(monkeypatch, site) -> None:
    original = publishers.publisher_config
    monkeypatch.setattr(
        publishers,
        "publisher_config",
        lambda: served_locally(replace(original(), scheme="http"), site, *HOSTS),
    )


def samples() -> list[tuple[str, bytes, dict]]:
    def meta(url: str) -> dict:
        return {"url": url, "caption": "a picture"}

    return [
        ("000000000", image_bytes(40, "JPEG"), meta("https://art.example/works/a.jpg")),
        ("000000001", image_bytes(41, "JPEG"), meta("https://art.example/blog/b.jpg")),
        (
            "000000002",
            image_bytes(42, "JPEG"),
            meta("https://news.example/photos/c.jpg"),
        ),
        ("000000003", image_bytes(43, "JPEG"), meta("https://down.example/d.jpg")),
        (
            "000000004",
            with_xmp(44, iptc_data_mining("DMI-PROHIBITED")),
            meta("https://open.example/e.jpg"),
        ),
        ("000000005", image_bytes(45, "JPEG"), meta("https://open.example/f.jpg")),
    ]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_job_reads_its_publishers_sites_and_the_files(
    celery_worker, curator_client, holder, monkeypatch, tmp_path
):
    enforce(holder)
    with local_site() as site:
        serve_publishers(site)
        point_publishers_at(monkeypatch, site)
        response = curator_client.post(
            "/api/v1/manifests/",
            {
                "files": [upload("00000.tar", webdataset_tar(samples()))],
                "web_signals": "true",
            },
            format="multipart",
        )
        assert response.status_code == 201, response.json()
        job = wait_for_job(curator_client, response.json()["job"]["url"])
        agents = {host for host, path in site.requests if path == "/robots.txt"}
    assert job["state"] == "succeeded", job["failure_reason"]
    assert agents == {f"{h}:{site.port}" for h in HOSTS}

    def output(kind: str) -> bytes:
        return download(
            curator_client,
            next(o["url"] for o in job["outputs"] if o["kind"] == kind),
        )

    report = [json.loads(line) for line in output("report_jsonl").splitlines()]
    lines = [
        (r["key"], r["kind"], r["source"] or r["signal"], r["removed"]) for r in report
    ]
    assert lines == [
        ("000000000", "signal", "robots", True),
        ("000000002", "signal", "tdmrep", True),
        ("000000003", "unchecked", "publisher", True),
        ("000000004", "signal", "iptc", True),
    ]
    evidence = {r["key"]: r["evidence"] for r in report if r["kind"] == "signal"}
    assert evidence["000000000"].startswith(
        "art.example: Content-Usage: /works/ train-ai=n (fetched 20"
    )
    assert evidence["000000002"].startswith(
        "news.example: location /photos/: tdm-reservation 1, tdm-policy "
        "https://news.example/tdm-policy.json (fetched "
    )
    down = next(r for r in report if r["kind"] == "unchecked")
    assert down["reason"] == "robots.txt of down.example could not be fetched: HTTP 503"
    assert down["field"] == "url"

    payload = job["receipt"]["payload"]
    checks = {c["signal"]: c for c in payload["checks"]}
    assert checks["metadata"]["protocols"] == ["iptc", "c2pa", "cawg", "rsl"]
    assert checks["publisher"]["protocols"] == [
        "rsl",
        "robots",
        "content-signal",
        "tdmrep",
    ]
    assert payload["publishers"] == {
        "protocols": ["rsl", "robots", "content-signal", "tdmrep"],
        "hosts": 4,
        "hosts_refusing_training_somewhere": 2,
        "documents": {
            "robots.txt": {"absent": 1, "error": 1, "ok": 2},
            "tdmrep.json": {"absent": 3, "ok": 1},
        },
        "ai_crawlers_kept_out": {"GPTBot": 1},
        "file": "publishers.jsonl",
    }
    listed = [json.loads(line) for line in output("publishers").splitlines()]
    assert [h["host"] for h in listed] == sorted(HOSTS)
    art = listed[0]
    assert art["crawlers"] == {"GPTBot": "disallowed: /"}
    assert [(d["url"].split("/", 3)[-1], d["outcome"]) for d in art["documents"]] == [
        ("robots.txt", "ok"),
        (".well-known/tdmrep.json", "absent"),
    ]
    published = {o["name"]: o for o in payload["outputs"]}
    assert published["publishers.jsonl"]["kind"] == "publishers"
    assert payload["rows"]["removed"] == 4


@pytest.mark.django_db
def test_each_host_is_fetched_once_a_day(curator, holder, monkeypatch):
    enforce(holder)
    clock = freeze(monkeypatch)
    shard = webdataset_tar(samples())

    def check() -> list[str]:
        manifest = manifest_upload(owner=curator, files=[upload("00000.tar", shard)])
        job = run_job(
            match_job_start(manifest=manifest, owner=curator, web_signals=True)
        )
        assert job.state == job.State.SUCCEEDED, job.failure_reason
        return sorted(r["key"] for r in report_rows(job) if r["removed"] == "True")

    with local_site() as site:
        serve_publishers(site)
        point_publishers_at(monkeypatch, site)
        assert check() == ["000000000", "000000002", "000000003", "000000004"]
        fetched = len(site.requests)
        # The publisher changes its mind; within the day the cache answers.
        site.serve("/robots.txt", "User-agent: *\nAllow: /\n", host="art.example")
        clock.advance(hours=23)
        assert check() == ["000000000", "000000002", "000000003", "000000004"]
        assert len(site.requests) == fetched
        clock.advance(hours=2)
        assert check() == ["000000002", "000000003", "000000004"]
        assert len(site.requests) > fetched
    row = PublisherSignals.objects.get(host="art.example")
    assert row.fetched_at == clock.now and row.claim == ""


@pytest.mark.django_db
def test_without_the_step_no_site_is_fetched(curator, holder, monkeypatch):
    enforce(holder)
    with local_site() as site:
        serve_publishers(site)
        point_publishers_at(monkeypatch, site)
        manifest = manifest_upload(
            owner=curator, files=[upload("00000.tar", webdataset_tar(samples()))]
        )
        job = run_job(match_job_start(manifest=manifest, owner=curator))
        assert site.requests == []
    assert job.thresholds["web_signals"] is False  # SIGNAL_WEB off by default
    assert not job.outputs.filter(kind="publishers").exists()
    assert "publishers" not in job.receipt["payload"]
    assert [r["key"] for r in report_rows(job)] == ["000000004"]  # the file's own


@pytest.mark.django_db
def test_a_claim_that_ran_out_is_taken_over(curator, monkeypatch):
    """A worker killed while fetching leaves its claim; once it runs out the
    next worker fetches the host."""
    clock = freeze(monkeypatch)
    PublisherSignals.objects.create(
        host="art.example", claim="dead", claimed_until=clock.now + timedelta(seconds=5)
    )
    with local_site() as site:
        serve_publishers(site)
        point_publishers_at(monkeypatch, site)
        calls = []

        def alive() -> bool:
            calls.append(1)
            clock.advance(seconds=3)  # each wait, time goes on
            return True

        monkeypatch.setattr(publishers, "WAIT_STEP", 0)
        said = publishers.host_signals(["art.example"], ["robots"], alive=alive)
    assert len(calls) == 2  # waited while the claim held, then took it
    assert [r.value for r in said["art.example"].rules] == [
        "Content-Usage: /works/ train-ai=n"
    ]
