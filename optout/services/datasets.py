"""The dataset search's writes: add a dataset to the index, index it chunk by
chunk, sweep what a lost worker left, and opt out rows an artist found.

A dataset's files are a Manifest (uploaded as any manifest is, so every
layout a job reads can be indexed). Indexing plans the manifest's chunks
(`MATCH_CHUNK_ROWS` rows each) and queues one task per chunk; a chunk is
leased like a match chunk (a lease renewed by a heartbeat, taken over when
it runs out), and written in one commit of the dataset's tantivy index
(workers.engine.datasetindex), so a worker killed mid-chunk leaves nothing
of it and the chunk is indexed again whole. The sweep (beat, with the match
sweep) queues again what a lost message or a dead worker left.

Rows that carry their image (tar shards, Parquet with images) also get a
thumbnail (JPEG, 256 px), the copy-detection descriptor's vector and a PDQ
hash, for the search by image; once the dataset is indexed, a task gathers
them into its image index (faiss and the Hamming index; the sweep builds it
again when it is missing or behind).

Memory per chunk task: one chunk's documents (about 300 bytes a row beside
its caption, so 30 MB for 100,000 rows; with images, their thumbnails, about
10 KB each) plus the writer's 50 MB heap.
"""

from __future__ import annotations

import fcntl
import shutil
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from core import leases
from core.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from core.tasks import NORMAL, URGENT, enqueue
from optout.models import Dataset, DatasetChunk, DatasetOptOut, Manifest, MatchJob
from optout.selectors import dataset_folder, dataset_rows, manifest_paths
from registry.models import Claim, RightsHolder, Work
from registry.services.claims import claim_create_bulk
from workers.engine import datasetindex, descriptor
from workers.engine import manifests as engine_manifests
from workers.engine.manifests import ManifestRejected
from workers.engine.types import ChunkSpec, ManifestFormat
from workers.engine.urls import UrlRejected, normalize_url


def _queue(task_name: str, *args: object, priority: int | None = None) -> None:
    enqueue(f"optout.{task_name}", *args, priority=priority)


def dataset_add(
    *,
    by: User,
    manifest_id: int,
    name: str,
    description: str = "",
    source_url: str = "",
) -> Dataset:
    """Add a manifest's rows to the search index as a dataset, and queue its
    indexing. An admin may add any manifest; a curator only their own, and
    only once a job checked it (the curator opts in)."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("name: give the dataset a name", field="name")
    if len(name) > 200:
        raise ValidationFailed("name: at most 200 characters", field="name")
    source_url = (source_url or "").strip()
    if source_url:
        try:
            normalize_url(source_url)
        except UrlRejected as exc:
            raise ValidationFailed(f"source_url: {exc}", field="source_url") from None
    manifest = Manifest.objects.filter(pk=manifest_id).first()
    if manifest is None or not (by.is_staff or manifest.owner_id == by.pk):
        raise NotFound("manifest not found")
    if (
        not by.is_staff
        and not MatchJob.objects.filter(
            manifest=manifest, state=MatchJob.State.SUCCEEDED
        ).exists()
    ):
        raise NotAllowed(
            "only a manifest a job of yours checked can be added to the search"
        )
    with transaction.atomic():
        if Dataset.objects.filter(name__iexact=name).exists():
            raise Conflict(f"a dataset named {name!r} is already indexed")
        dataset = Dataset.objects.create(
            name=name,
            description=(description or "").strip()[:4000],
            source_url=source_url,
            manifest=manifest,
            added_by=by,
            queued_at=timezone.now(),
        )
        audit_record(
            actor=by,
            action="dataset.add",
            target=dataset,
            after={"name": name, "manifest": manifest.pk},
        )
        _queue("dataset_ingest", dataset.pk)
    return dataset


def dataset_remove(*, by: User, dataset_id: int) -> None:
    """Take a dataset out of the search (admins): its index folder is
    deleted; opt-outs made from it stay (their claims stand)."""
    if not by.is_staff:
        raise NotAllowed("only an admin can remove a dataset")
    dataset = Dataset.objects.filter(pk=dataset_id).first()
    if dataset is None:
        raise NotFound("dataset not found")
    with transaction.atomic():
        # The name is free again for a new copy of the dataset.
        Dataset.objects.filter(pk=dataset.pk).update(
            state=Dataset.State.REMOVED,
            finished=timezone.now(),
            name=f"{dataset.name[:180]} (removed #{dataset.pk})",
        )
        DatasetChunk.objects.filter(dataset=dataset).delete()
        audit_record(actor=by, action="dataset.remove", target=dataset)
        transaction.on_commit(
            partial(shutil.rmtree, dataset_folder(dataset.pk), ignore_errors=True)
        )


def _fail(dataset_id: int, reason: str) -> None:
    Dataset.objects.filter(
        pk=dataset_id, state__in=[Dataset.State.QUEUED, Dataset.State.INDEXING]
    ).update(
        state=Dataset.State.FAILED,
        failure_reason=reason[:4000],
        finished=timezone.now(),
    )


def dataset_ingest(*, dataset_id: int) -> None:
    """Plan the dataset's chunks and queue one indexing task each
    (idempotent: only a queued dataset is planned)."""
    now = timezone.now()
    if not Dataset.objects.filter(pk=dataset_id, state=Dataset.State.QUEUED).update(
        state=Dataset.State.INDEXING, started=now
    ):
        return
    dataset = Dataset.objects.select_related("manifest").get(pk=dataset_id)
    manifest = dataset.manifest
    try:
        specs = engine_manifests.plan_chunks(
            manifest_paths(manifest),
            ManifestFormat(manifest.format),
            target_rows=settings.MATCH_CHUNK_ROWS,
        )
    except ManifestRejected as exc:
        _fail(dataset_id, str(exc))
        return
    with transaction.atomic():
        DatasetChunk.objects.filter(dataset_id=dataset_id).delete()
        DatasetChunk.objects.bulk_create(
            DatasetChunk(
                dataset_id=dataset_id,
                index=i,
                spec=spec.as_dict(),
                rows=spec.rows,
                queued_at=now,
            )
            for i, spec in enumerate(specs)
        )
        Dataset.objects.filter(pk=dataset_id).update(
            rows_total=sum(s.rows for s in specs),
            chunks_total=len(specs),
        )
        if not specs:
            _finish(dataset_id)
        for chunk_id in DatasetChunk.objects.filter(dataset_id=dataset_id).values_list(
            "pk", flat=True
        ):
            _queue("dataset_chunk", chunk_id)


def _finish(dataset_id: int) -> None:
    if Dataset.objects.filter(pk=dataset_id, state=Dataset.State.INDEXING).update(
        state=Dataset.State.READY, finished=timezone.now()
    ):
        _queue("dataset_images", dataset_id)


def dataset_images(*, dataset_id: int) -> str:
    """Build the dataset's image index (descriptors in faiss, PDQ hashes in
    the Hamming index: datasetindex.build_image_index) from its chunks'
    image rows, unless it already holds them all or another worker is
    building it. Searches are complete without it (they scan what it does
    not hold); it makes them fast. Returns what happened, for logs."""
    if not Dataset.objects.filter(pk=dataset_id, state=Dataset.State.READY).exists():
        return "not ready"
    folder = dataset_folder(dataset_id)
    if not folder.exists() or datasetindex.image_index_current(folder):
        return "current"
    lock = (folder / "images.lock").open("a")
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return "busy"
        if datasetindex.image_index_current(folder):
            return "current"
        built = datasetindex.build_image_index(
            folder,
            hnsw_min=settings.MATCH_DESCRIPTOR_HNSW_MIN,
            ivfpq_min=settings.MATCH_DESCRIPTOR_IVFPQ_MIN,
            ivf_codes=settings.MATCH_DESCRIPTOR_IVF_CODES,
        )
    finally:
        lock.close()
    kind = built["kind"] or "none"
    return f"built: {built['vectors']} vectors ({kind}), {built['hashes']} hashes"


def _lease(chunk_id: int) -> str | None:
    token = uuid.uuid4().hex
    now = timezone.now()
    leased = (
        DatasetChunk.objects.filter(
            pk=chunk_id,
            dataset__state=Dataset.State.INDEXING,
            attempts__lt=settings.MATCH_MAX_ATTEMPTS,
        )
        .filter(
            Q(state=DatasetChunk.State.PENDING)
            | Q(state=DatasetChunk.State.LEASED, lease_expires__lt=now)
        )
        .update(
            state=DatasetChunk.State.LEASED,
            lease_token=token,
            lease_expires=now + timedelta(seconds=settings.MATCH_LEASE_SECONDS),
            attempts=F("attempts") + 1,
        )
    )
    return token if leased else None


def _renew(chunk_id: int, token: str) -> bool:
    return bool(
        DatasetChunk.objects.filter(
            pk=chunk_id, lease_token=token, state=DatasetChunk.State.LEASED
        ).update(
            lease_expires=timezone.now()
            + timedelta(seconds=settings.MATCH_LEASE_SECONDS)
        )
    )


def _embed(images: list) -> object:
    # Loaded on the first image, not for chunks without images (most
    # datasets are metadata only).
    return descriptor.model().embed(images)


def dataset_chunk_run(*, chunk_id: int) -> str:
    """Index one chunk of a dataset; returns what happened, for logs."""
    token = _lease(chunk_id)
    if token is None:
        return "not leased"
    chunk = DatasetChunk.objects.select_related("dataset__manifest").get(pk=chunk_id)
    dataset = chunk.dataset
    manifest = dataset.manifest
    with leases.Heartbeat(
        partial(_renew, chunk_id, token), settings.MATCH_LEASE_SECONDS / 4
    ) as heartbeat:
        try:
            batches = engine_manifests.read_chunk(
                manifest_paths(manifest),
                ManifestFormat(manifest.format),
                ChunkSpec.from_dict(chunk.spec),
                manifest.columns,
            )
            rows = datasetindex.write_chunk(
                dataset_folder(dataset.pk),
                chunk.index,
                batches,
                wait=settings.MATCH_REQUEUE_SECONDS,
                still_ours=lambda: not heartbeat.lost,
                embed=_embed,
            )
        except ManifestRejected as exc:
            _fail(dataset.pk, str(exc))
            return "failed"
        except Exception as exc:
            DatasetChunk.objects.filter(pk=chunk_id, lease_token=token).update(
                state=DatasetChunk.State.PENDING,
                lease_token="",
                queued_at=timezone.now(),
                error=f"{type(exc).__name__}: {exc}"[:2000],
            )
            raise
    with transaction.atomic():
        done = DatasetChunk.objects.filter(
            pk=chunk_id, lease_token=token, state=DatasetChunk.State.LEASED
        ).update(state=DatasetChunk.State.DONE, error="")
        if not done:
            return "lease lost"
        Dataset.objects.filter(pk=dataset.pk).update(
            rows_done=F("rows_done") + rows, chunks_done=F("chunks_done") + 1
        )
        if (
            not DatasetChunk.objects.filter(dataset_id=dataset.pk)
            .exclude(state=DatasetChunk.State.DONE)
            .exists()
        ):
            _finish(dataset.pk)
    return "done"


def dataset_sweep() -> dict[str, int]:
    """Queue again the chunks a dead worker or a lost message left, and the
    datasets whose planning message was lost; fail a dataset whose chunk
    keeps failing. Run by beat with the match sweep."""
    now = timezone.now()
    requeue_before = now - timedelta(seconds=settings.MATCH_REQUEUE_SECONDS)
    report: Counter[str] = Counter()
    lost = DatasetChunk.objects.filter(dataset__state=Dataset.State.INDEXING).filter(
        Q(state=DatasetChunk.State.LEASED, lease_expires__lt=now)
        | Q(state=DatasetChunk.State.PENDING, queued_at__lt=requeue_before)
    )
    for chunk in lost.only("pk", "dataset_id", "attempts", "index", "state", "error"):
        if chunk.attempts >= settings.MATCH_MAX_ATTEMPTS:
            _fail(
                chunk.dataset_id,
                f"chunk {chunk.index} failed {chunk.attempts} times"
                + (f": {chunk.error}" if chunk.error else "; see the worker logs"),
            )
            report["failed"] += 1
            continue
        dead = chunk.state == DatasetChunk.State.LEASED
        with transaction.atomic():
            if (
                DatasetChunk.objects.filter(pk=chunk.pk)
                .filter(
                    Q(state=DatasetChunk.State.LEASED, lease_expires__lt=now)
                    | Q(state=DatasetChunk.State.PENDING, queued_at__lt=requeue_before)
                )
                .update(state=DatasetChunk.State.PENDING, lease_token="", queued_at=now)
            ):
                _queue("dataset_chunk", chunk.pk, priority=URGENT if dead else NORMAL)
                report["chunks"] += 1
    for dataset_id in Dataset.objects.filter(
        state=Dataset.State.QUEUED, queued_at__lt=requeue_before
    ).values_list("pk", flat=True):
        with transaction.atomic():
            if Dataset.objects.filter(pk=dataset_id, state=Dataset.State.QUEUED).update(
                queued_at=now
            ):
                _queue("dataset_ingest", dataset_id)
                report["ingest"] += 1
    # Indexed, but the image index is missing or behind its chunks (its
    # message was lost, or its builder died): build it.
    for dataset_id in Dataset.objects.filter(state=Dataset.State.READY).values_list(
        "pk", flat=True
    ):
        folder = dataset_folder(dataset_id)
        if folder.exists() and not datasetindex.image_index_current(folder):
            _queue("dataset_images", dataset_id)
            report["images"] += 1
    # Planned (state indexing) but its chunks never written: the planning
    # worker died between the two.
    for dataset_id in Dataset.objects.filter(
        state=Dataset.State.INDEXING, chunks_total=0, started__lt=requeue_before
    ).values_list("pk", flat=True):
        if not DatasetChunk.objects.filter(dataset_id=dataset_id).exists():
            Dataset.objects.filter(pk=dataset_id, chunks_total=0).update(
                state=Dataset.State.QUEUED, queued_at=now
            )
            _queue("dataset_ingest", dataset_id)
            report["ingest"] += 1
    return dict(report)


def search_opt_out(
    *,
    owner: RightsHolder,
    dataset_id: int,
    rows: Iterable[int] = (),
    prefix: str = "",
    work_id: int | None = None,
) -> dict:
    """Opt out rows an artist found: each row's URL becomes a URL claim (the
    claims' own rules: caps, revoked claims), or one prefix claim covers them
    (enforced at once only on a host the artist proved, else it waits for
    review). Each row is recorded as opted out from this dataset, for the
    dashboard; `work_id` (one of the owner's works, found by searching with
    its image) links each row to that work as a copy of it. Returns
    {"created": [claim ids], "errors": [...], "rows": n, "unusable": [...]}."""
    work = None
    if work_id is not None:
        work = Work.objects.filter(
            pk=work_id, owner=owner, status=Work.Status.ACTIVE
        ).first()
        if work is None:
            raise ValidationFailed("work: not one of your works", field="work")
    dataset = Dataset.objects.filter(pk=dataset_id, state=Dataset.State.READY).first()
    if dataset is None:
        raise NotFound("dataset not found")
    rows = sorted({int(r) for r in rows})
    if not rows:
        raise ValidationFailed("rows: select at least one row", field="rows")
    if len(rows) > settings.CLAIM_BULK_MAX_LINES:
        raise ValidationFailed(
            f"rows: at most {settings.CLAIM_BULK_MAX_LINES:,} rows at once",
            field="rows",
        )
    found = {hit.row: hit.url for hit in dataset_rows(dataset, rows)}
    missing = [r for r in rows if r not in found]
    if missing:
        raise ValidationFailed(
            f"rows: {', '.join(map(str, missing[:10]))} not in {dataset.name}",
            field="rows",
        )
    urls: dict[int, str] = {}
    for row, url in found.items():
        try:
            urls[row] = normalize_url(url).href
        except UrlRejected:
            continue
    kind = Claim.Kind.URL
    if prefix:
        try:
            text = normalize_url(prefix.strip()).href
        except UrlRejected as exc:
            raise ValidationFailed(f"prefix: {exc}", field="prefix") from None
        index = datasetindex.open_index(dataset_folder(dataset.pk))
        covered = datasetindex.covered(index, text, urls)
        outside = [r for r in urls if r not in covered]
        if outside:
            raise ValidationFailed(
                f"prefix: {text} does not cover row "
                + ", ".join(map(str, outside[:10])),
                field="prefix",
            )
        kind = Claim.Kind.PREFIX
    else:
        text = "\n".join(urls[r] for r in rows if r in urls)
    result = claim_create_bulk(owner=owner, text=text, default_kind=kind)
    mine = {
        c.normalized: c
        for c in Claim.objects.filter(
            owner=owner,
            kind=kind,
            normalized__in=[text] if prefix else list(urls.values()),
        ).exclude(
            state__in=[
                Claim.State.WITHDRAWN,
                Claim.State.REJECTED,
                Claim.State.REVOKED,
            ]
        )
    }
    # The claim that stands for each row now: made now, or already there.
    standing = {
        r: mine[key]
        for r in rows
        if r in urls and (key := text if prefix else urls[r]) in mine
    }
    with transaction.atomic():
        DatasetOptOut.objects.bulk_create(
            [
                DatasetOptOut(
                    holder=owner,
                    dataset=dataset,
                    row=r,
                    url=found[r][:2048],
                    claim=claim,
                    work=work,
                )
                for r, claim in standing.items()
            ],
            ignore_conflicts=True,
        )
    return {
        "created": [c.pk for c in result.created],
        "errors": [
            {"line": e.line, "value": e.value, "message": e.message}
            for e in result.errors
        ],
        "rows": len(standing),
        "unusable": [r for r in rows if r not in urls],
    }
