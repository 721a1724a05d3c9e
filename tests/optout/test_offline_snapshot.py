"""The offline snapshot and the dnt-check client (client/).

A curator's token of scope snapshot:read downloads the signed snapshot over
HTTP (a live server), the client checks a manifest against it on the
curator's machine, and its reports and filtered manifest equal the
registry's own job on the same manifest at the same revision.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from accounts.services import api_token_create
from disputes.models import MatchException
from registry.selectors import registry_identity, registry_revision_current
from registry.services import (
    claim_create,
    image_register_hashes,
    registry_revision_bump,
)
from registry.services.optins import opt_in_set
from tests.images import image_bytes
from workers.engine.fingerprint import fingerprint_bytes

from .helpers import (
    EXACT_URL,
    csv_manifest,
    enforce,
    laion_parquet,
    output_bytes,
    run_job,
    start_job,
    webdataset_tar,
)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "client"))

from dnt_check import Matcher, filter_table, load, run, sync  # noqa: E402
from dnt_check.snapshot import SnapshotError  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)

# Rows: the helpers' seven, and more URLs under the claimed prefix and domain,
# one of which a match exception (an upheld false-match report) rules out.
EXCEPTED = "https://bob-art.example/works/not-bob.jpg"
# A prefix of the claimed domain its holder offers for training on terms.
OFFERED = "https://bob-art.example/free/"


def _rows() -> list[tuple[str, str, str | None]]:
    from .helpers import LAION_ROWS

    more = [
        (f"https://alice.example/gallery/{i}.jpg", f"a sketch {i}", None)
        for i in range(20)
    ]
    more += [(EXCEPTED, "a bridge", None), ("https://other.example/x.jpg", "x", None)]
    more += [(f"{OFFERED}{i}.jpg", f"free {i}", None) for i in range(3)]
    return [*LAION_ROWS, *more]


def _token(user, scopes=("snapshot:read",)) -> str:
    return api_token_create(user=user, name="offline", scopes=list(scopes))[1]


def _report(path: Path) -> set[tuple]:
    """What a report says of each row: the match and whether it removes it."""
    out = set()
    for line in path.read_text().splitlines():
        r = json.loads(line)
        out.add(
            (
                r["index"],
                r["kind"],
                r["claim_id"],
                r["image_id"],
                r["level"],
                r["removed"],
            )
        )
    return out


@pytest.fixture
def registry(holder, curator, settings):
    settings.MATCH_VERIFY = False  # a snapshot carries no reference features
    found = enforce(holder)
    MatchException.objects.create(
        target_key=f"claim:{found.domain.pk}",
        claim=found.domain,
        key_type="url",
        key=EXCEPTED,
        revision=registry_revision_bump(reason="false match upheld"),
    )
    offered = claim_create(owner=holder, kind="prefix", value=OFFERED)
    opt_in_set(
        owner=holder,
        claim_id=offered.pk,
        licence="https://bob-art.example/licence",
        payment="purchase",
    )
    return found


def test_offline_check_equals_the_registrys_job_at_the_same_revision(
    registry, curator, live_server, tmp_path
):
    data = laion_parquet(_rows())
    job = run_job(start_job(curator, data))
    assert job.state == "succeeded", job.failure_reason

    folder = tmp_path / "snapshot"
    result = sync(live_server.url, folder, token=_token(curator))
    assert result.snapshot.revision == job.registry_revision
    assert result.snapshot.registry == registry_identity()
    assert result.downloaded and not result.reused

    manifest = tmp_path / "laion-part.parquet"
    manifest.write_bytes(data)
    checked = run([manifest], folder, tmp_path / "out", processes=2)

    server_report = tmp_path / "server.jsonl"
    server_report.write_bytes(output_bytes(job, "report_jsonl"))
    offline = _report(checked.out / "matches.jsonl")
    assert offline == _report(server_report)
    assert not any(r[0] == len(_rows()) - 5 for r in offline)  # the exception held
    # The offered rows are listed, not removed, offline as in the job.
    offered = {r[0] for r in offline if r[4] == "opt-in"}
    assert offered == {len(_rows()) - 3, len(_rows()) - 2, len(_rows()) - 1}
    assert not any(r[0] in offered and r[5] for r in offline)
    server_filtered = pa.BufferReader(output_bytes(job, "filtered"))
    assert pq.read_table(checked.out / "filtered" / manifest.name).equals(
        pq.read_table(server_filtered)
    )
    receipt = json.loads(checked.receipt.read_text())
    assert receipt["registry"]["id"] == registry_identity()
    assert receipt["registry"]["revision"] == job.registry_revision
    server_receipt = json.loads(output_bytes(job, "receipt"))["payload"]
    assert receipt["rows"] == {
        key: server_receipt["rows"][key]
        for key in ("total", "removed", "unchecked", "in_filtered", "opt_in")
    }
    assert receipt["matches"] == server_receipt["matches"]


@pytest.mark.parametrize("kind", ["csv", "webdataset"])
def test_offline_check_equals_the_job_for_csv_and_tar_shards(
    kind, registry, holder, curator, live_server, tmp_path
):
    if kind == "csv":
        name = "part-0.csv"
        data = csv_manifest(
            [
                (EXACT_URL, "a harbour"),
                ("https://alice.example/gallery/x.jpg", "in the style of Alice Moreau"),
                ("https://free.example/1.jpg", "a cat"),
            ]
        )
    else:
        name = "00000.tar"
        art = image_bytes(3)
        image_register_hashes(
            owner=holder,
            hashes={"sha256": fingerprint_bytes(art).fingerprints.sha256.hex()},
            title="Registered by its SHA-256",
        )
        data = webdataset_tar(
            [
                ("000000", art, {"url": "https://free.example/a.jpg"}),
                ("000001", image_bytes(4), {"url": EXACT_URL}),
                ("000002", image_bytes(5), {"url": "https://free.example/c.jpg"}),
            ]
        )
    job = run_job(start_job(curator, data, name=name))
    assert job.state == "succeeded", job.failure_reason
    folder = tmp_path / "snapshot"
    sync(live_server.url, folder, token=_token(curator))
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / name).write_bytes(data)
    checked = run([parts], folder, tmp_path / "out")

    server_report = tmp_path / "server.jsonl"
    server_report.write_bytes(output_bytes(job, "report_jsonl"))
    offline = _report(checked.out / "matches.jsonl")
    assert offline == _report(server_report)
    assert {row[1] for row in offline} >= ({"url"} if kind == "csv" else {"sha256"})
    assert (checked.out / "filtered" / name).read_bytes() == output_bytes(
        job, "filtered"
    )


def test_a_second_sync_downloads_only_the_change(
    registry, curator, live_server, tmp_path
):
    folder = tmp_path / "snapshot"
    token = _token(curator)
    first = sync(live_server.url, folder, token=token)
    claim_create(
        owner=registry.url.owner, kind="url", value="https://alice.example/new.png"
    )
    second = sync(live_server.url, folder, token=token)
    assert (
        second.snapshot.revision
        == registry_revision_current()
        > first.snapshot.revision
    )
    assert set(second.reused) == set(first.downloaded)
    assert len(second.downloaded) == 1  # the delta of that one change
    table = pa.table({"url": ["https://alice.example/new.png", "https://x.example/1"]})
    kept, lines = filter_table(table, folder)
    assert kept.column("url").to_pylist() == ["https://x.example/1"]
    assert [line["kind"] for line in lines] == ["url"]


def test_filter_table_over_partitions_equals_the_whole_run(
    registry, curator, live_server, tmp_path
):
    """As a Dask or Spark map_partitions would call it: one Matcher a process."""
    folder = tmp_path / "snapshot"
    sync(live_server.url, folder, token=_token(curator))
    manifest = tmp_path / "part.parquet"
    manifest.write_bytes(laion_parquet(_rows()))
    whole = run([manifest], folder, tmp_path / "out")
    table = pq.read_table(manifest)
    matcher = Matcher.open(folder)
    kept, first = [], 0
    for size in (5, 9, table.num_rows - 14):
        part, _ = filter_table(table.slice(first, size), matcher, first_row=first)
        kept.append(part)
        first += size
    assert pa.concat_tables(kept).equals(
        pq.read_table(whole.out / "filtered" / manifest.name)
    )


def test_the_snapshot_needs_a_curator_token_of_its_scope(
    registry, curator, artist, client
):
    lookup_only = _token(curator, ("check",))
    response = client.get(
        "/api/v1/snapshot/", HTTP_AUTHORIZATION=f"Token {lookup_only}"
    )
    assert response.status_code == 403
    assert "snapshot:read" in response.json()["message"]
    response = client.get(
        "/api/v1/snapshot/", HTTP_AUTHORIZATION=f"Token {_token(artist, ('*',))}"
    )
    assert response.status_code == 403
    assert "curator" in response.json()["message"]
    response = client.get(
        "/api/v1/snapshot/?revision=99999",
        HTTP_AUTHORIZATION=f"Token {_token(curator)}",
    )
    assert response.status_code == 400
    assert "revision" in response.json()["message"]
    response = client.get(
        "/api/v1/snapshot/segments/base-nope/segment.json",
        HTTP_AUTHORIZATION=f"Token {_token(curator)}",
    )
    assert response.status_code == 404


def test_a_changed_snapshot_or_segment_is_refused(
    registry, curator, live_server, tmp_path
):
    folder = tmp_path / "snapshot"
    sync(live_server.url, folder, token=_token(curator))
    load(folder)  # intact

    document = json.loads((folder / "snapshot.json").read_text())
    document["payload"]["exceptions"] = []
    (folder / "snapshot.json").write_text(json.dumps(document))
    with pytest.raises(SnapshotError, match="signature"):
        load(folder)
    sync(live_server.url, folder, token=_token(curator))  # mends it

    index = next((folder / "segments").glob("*/claims.arrow"))
    index.write_bytes(index.read_bytes()[:-1] + b"\0")
    with pytest.raises(SnapshotError, match="missing or changed"):
        load(folder)


def test_the_client_installs_on_its_own_and_runs_without_django(
    registry, curator, live_server, tmp_path
):
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(ROOT / "client"),
        ],
        check=True,
        capture_output=True,
    )
    assert (target / "workers" / "engine" / "segments.py").is_file()
    assert not (target / "optout").exists()
    env = {
        **os.environ,
        "PYTHONPATH": str(target),
        "DNT_TOKEN": _token(curator),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    manifest = tmp_path / "part.parquet"
    manifest.write_bytes(laion_parquet(_rows()))

    def dnt_check(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from dnt_check.cli import main; code = main(); "
                "assert 'django' not in sys.modules, 'django was imported'; "
                "sys.exit(code)",
                *args,
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    synced = dnt_check("sync", live_server.url, "--dir", "snap")
    assert synced.returncode == 0, synced.stderr
    assert f"at revision {registry_revision_current()}" in synced.stdout
    checked = dnt_check(
        "run", str(manifest), "--dir", "snap", "--processes", "1", "--opt-in"
    )
    assert checked.returncode == 0, checked.stderr
    assert f"{len(_rows())} rows checked, 24 to remove" in checked.stdout
    assert "prefix 24" in checked.stdout  # 21 refusing, 3 offering
    assert "; 3 offered for AI training on terms." in checked.stdout
    offered = pq.read_table(tmp_path / "part-check" / "opt-in" / "part.parquet")
    assert offered.column("URL").to_pylist() == [f"{OFFERED}{i}.jpg" for i in range(3)]
    assert (tmp_path / "part-check" / "filtered" / "part.parquet").is_file()
    refused = dnt_check("run", str(manifest), "--dir", "nowhere")
    assert refused.returncode == 1
    assert "no snapshot; run dnt-check sync" in refused.stderr
