"""Curators' side: manifests, match jobs, their chunks, the matches found and
the rows that could not be checked.

The database, not the broker, is the source of truth for a job: every chunk's
state and lease live here, so a task lost by the broker (a killed worker, a
restarted Redis) is found by the sweep and queued again.
"""

from __future__ import annotations

import json
import secrets

from django.conf import settings
from django.db import models


def _part_path(instance: ManifestPart | ManifestSidecar, filename: str) -> str:
    return f"manifests/{secrets.token_hex(2)}/{secrets.token_hex(16)}"


def _output_path(instance: JobOutput, filename: str) -> str:
    """Where an output is stored. Not the curator's file name, which may be
    any length and script (downloads carry it: JobOutput.name), but a random
    one keeping a short ASCII extension, so no name can fail the write."""
    suffix = filename.rsplit(".", 1)[-1] if "." in filename else ""
    suffix = (
        suffix if suffix.isascii() and suffix.isalnum() and len(suffix) <= 10 else ""
    )
    return f"outputs/{instance.job_id}/{secrets.token_hex(16)}" + (
        f".{suffix.lower()}" if suffix else ""
    )


class Manifest(models.Model):
    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        TSV = "tsv", "TSV"
        JSONL = "jsonl", "JSON lines"
        PARQUET = "parquet", "Parquet"
        WEBDATASET = "webdataset", "WebDataset tar shards"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="manifests"
    )
    name = models.CharField(max_length=255)
    format = models.CharField(max_length=16, choices=Format.choices)
    # logical column -> the file's column, as detected or given by the curator
    columns = models.JSONField(default=dict, blank=True)
    column_overrides = models.JSONField(default=dict, blank=True)
    # Every column the file offers (the first part's), to say which were unused.
    found_columns = models.JSONField(default=list, blank=True)
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.name


class ManifestPart(models.Model):
    """One uploaded file of a manifest (several for multi-shard WebDatasets)."""

    manifest = models.ForeignKey(
        Manifest, on_delete=models.CASCADE, related_name="parts"
    )
    index = models.PositiveIntegerField()
    file = models.FileField(upload_to=_part_path, max_length=200)
    original_name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(fields=["manifest", "index"], name="part_unique")
        ]


class ManifestSidecar(models.Model):
    """A file that describes one part (img2dataset's `NNNNN.parquet` beside
    `NNNNN.tar`, or `NNNNN_stats.json`): not matched, but written again to fit
    the filtered part (workers/engine/manifests/layout.py)."""

    class Kind(models.TextChoices):
        PARQUET = "parquet", "shard metadata (Parquet)"
        STATS = "stats", "shard statistics (JSON)"

    manifest = models.ForeignKey(
        Manifest, on_delete=models.CASCADE, related_name="sidecars"
    )
    part = models.PositiveIntegerField(help_text="The index of the part it describes.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    file = models.FileField(upload_to=_part_path, max_length=200)
    original_name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["part", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["manifest", "original_name"], name="sidecar_unique_name"
            )
        ]


class MatchJob(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINAL_STATES = (State.SUCCEEDED, State.FAILED, State.CANCELLED)

    manifest = models.ForeignKey(
        Manifest, on_delete=models.CASCADE, related_name="jobs"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="match_jobs"
    )
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.QUEUED, db_index=True
    )
    # What the job is doing now, for people: ingesting, matching, finalizing.
    phase = models.CharField(max_length=32, blank=True)
    failure_reason = models.TextField(blank=True)
    registry_revision = models.BigIntegerField(null=True, blank=True)
    manifest_sha256 = models.CharField(max_length=64)
    thresholds = models.JSONField(default=dict)
    # Which perceptual levels the filtered manifest removes; the others are
    # listed in the reports for review. Exact, URL and style matches always are.
    remove_levels = models.JSONField(default=list, blank=True)
    # Rows that could not be checked are left out of the filtered manifest
    # unless the curator asked to keep them.
    keep_unchecked = models.BooleanField(default=False)
    rows_total = models.BigIntegerField(null=True, blank=True)
    rows_done = models.BigIntegerField(default=0)
    rows_unchecked = models.BigIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    # reason -> how many times a row could not be checked for it
    unchecked_reasons = models.JSONField(default=dict, blank=True)
    receipt = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    # Set when a finalize task takes the job and renewed while it runs (a
    # lease: core/leases.py); one not renewed for MATCH_LEASE_SECONDS is taken
    # to be dead and retried by the sweep.
    finalize_started = models.DateTimeField(null=True, blank=True)
    # How many finalize tasks took the job, and why the last one failed: past
    # MATCH_MAX_ATTEMPTS the job fails with that reason instead of retrying.
    finalize_attempts = models.PositiveIntegerField(default=0)
    finalize_error = models.TextField(blank=True)
    # The same for the ingest task.
    ingest_started = models.DateTimeField(null=True, blank=True)
    # A queued job: when the sweep last queued its ingest, and how many times.
    ingest_requeued_at = models.DateTimeField(null=True, blank=True)
    ingest_requeues = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.state})"

    @property
    def is_final(self) -> bool:
        return self.state in self.FINAL_STATES

    @property
    def can_retry(self) -> bool:
        """Failed once its matching had finished (writing the outputs):
        match_job_retry writes them again from the stored matches."""
        return (
            self.state == self.State.FAILED
            and self.rows_total is not None
            and self.chunks_done == self.chunks_total
        )

    @property
    def progress(self) -> float:
        if not self.rows_total:
            return 1.0 if self.state == self.State.SUCCEEDED else 0.0
        return min(1.0, self.rows_done / self.rows_total)


class Chunk(models.Model):
    class State(models.TextChoices):
        PENDING = "pending"
        LEASED = "leased"
        DONE = "done"
        FAILED = "failed"

    job = models.ForeignKey(MatchJob, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    spec = models.JSONField()
    rows = models.BigIntegerField(default=0)
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.PENDING, db_index=True
    )
    lease_token = models.CharField(max_length=32, blank=True)
    # A short lease renewed while the chunk runs (core/leases.py), and the
    # process holding it (`host:pid`), so a redelivered message can tell a
    # killed holder from a live one.
    lease_expires = models.DateTimeField(null=True, blank=True)
    lease_holder = models.CharField(max_length=128, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    # Times the sweep queued it again while it was still pending (its wait
    # doubles each time, so a slow backlog is not multiplied).
    requeues = models.PositiveSmallIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    rows_unchecked = models.BigIntegerField(default=0)
    matches = models.BigIntegerField(default=0)
    unchecked_reasons = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="chunk_unique")
        ]
        indexes = [
            models.Index(fields=["state", "lease_expires"], name="chunk_lease"),
        ]


class Match(models.Model):
    class Kind(models.TextChoices):
        URL = "url", "URL"
        PREFIX = "prefix", "URL prefix"
        DOMAIN = "domain", "domain"
        SHA256 = "sha256", "SHA-256"
        MD5 = "md5", "MD5"
        PHASH = "phash", "pHash"
        PDQ = "pdq", "PDQ"
        DESCRIPTOR = "descriptor", "copy-detection descriptor"
        STYLE = "style", "style name"
        SIGNAL = "signal", "the file's own signal"

    class Level(models.TextChoices):
        VERIFIED = "verified"  # local features agree under one geometric transform
        STRONG = "strong"  # hashes this close are not expected by chance
        POSSIBLE = "possible"  # a candidate for review; not removed by default
        # On a claim or work its holder offers for AI training on terms
        # (in `evidence`, as JSON): never removes (workers/engine/consent.py).
        OPT_IN = "opt-in"

    job = models.ForeignKey(MatchJob, on_delete=models.CASCADE, related_name="matches")
    chunk = models.ForeignKey(Chunk, on_delete=models.CASCADE, related_name="+")
    row = models.BigIntegerField()
    key = models.CharField(max_length=255, blank=True)
    url = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The registry entry hit: a claim (url, prefix, domain, style) or an image.
    claim = models.ForeignKey(
        "registry.Claim",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    image = models.ForeignKey(
        "registry.Image",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    distance = models.SmallIntegerField(null=True, blank=True)
    matched = models.CharField(max_length=2048, blank=True)
    # url, prefix and domain matches: which equivalence the match took, "exact"
    # or "scheme", "www" and "query" joined with "+" (workers/engine/urlindex.py).
    matched_as = models.CharField(max_length=32, blank=True)
    # Perceptual matches only: how sure we are, and the figures behind it.
    level = models.CharField(
        max_length=16, choices=Level.choices, blank=True, db_index=True
    )
    variant = models.CharField(max_length=32, blank=True)
    inliers = models.IntegerField(null=True, blank=True)
    agreement = models.FloatField(
        null=True,
        blank=True,
        help_text="Correlation of the aligned images (verified pairs).",
    )
    coverage = models.FloatField(
        null=True,
        blank=True,
        help_text="How evenly the inliers cover the overlap of both images "
        "(0-1; checked pairs).",
    )
    alignment = models.FloatField(
        null=True,
        blank=True,
        help_text="Thumbnails aligned densely: the lower of their correlation "
        "and their cells' agreement (0-1; pairs the keypoints did not verify).",
    )
    chance = models.FloatField(
        null=True,
        blank=True,
        help_text="Estimated probability that an unrelated image is this close.",
    )
    similarity = models.FloatField(
        null=True,
        blank=True,
        help_text="Cosine similarity of the copy-detection descriptors "
        "(descriptor matches).",
    )
    # Signal matches: the protocol that said it (iptc, c2pa, cawg, rsl) and
    # what the file says, as written, with what is known of who signed it.
    source = models.CharField(max_length=16, blank=True)
    evidence = models.CharField(max_length=4096, blank=True)

    class Meta:
        ordering = ["row", "id"]
        indexes = [
            models.Index(fields=["job", "row"], name="match_job_row"),
            models.Index(fields=["job", "kind"], name="match_job_kind"),
        ]

    @property
    def terms(self) -> dict[str, str] | None:
        """Opt-in matches: the holder's terms (licence, payment, contact,
        verified); None otherwise."""
        if self.level != self.Level.OPT_IN or not self.evidence:
            return None
        return json.loads(self.evidence)


class UncheckedRow(models.Model):
    """Something a row could not be checked for; the row is an unchecked row.

    Written with its chunk's matches, in the same transaction and under the
    same lease (deleted and written again if the chunk is), so a retried chunk
    stores each once. `signal` is what went unchecked: url, caption, sha256,
    md5, phash, pdq or image, `metadata` when the preferences its image's
    metadata states could not be read, or `row` when the row could not be
    read at all.
    """

    job = models.ForeignKey(
        MatchJob, on_delete=models.CASCADE, related_name="unchecked_rows"
    )
    chunk = models.ForeignKey(Chunk, on_delete=models.CASCADE, related_name="+")
    row = models.BigIntegerField()
    key = models.CharField(max_length=255, blank=True)
    url = models.TextField(blank=True)
    signal = models.CharField(max_length=16)
    field = models.CharField(max_length=255, blank=True)
    reason = models.TextField()

    class Meta:
        ordering = ["row", "id"]
        indexes = [
            models.Index(fields=["job", "row"], name="unchecked_job_row"),
        ]


class JobOutput(models.Model):
    """A file a finished job produced: reports, the filtered manifest, the receipt."""

    class Kind(models.TextChoices):
        REPORT_CSV = "report_csv", "matches (CSV)"
        REPORT_JSONL = "report_jsonl", "matches (JSONL)"
        REPORT_PARQUET = "report_parquet", "matches (Parquet)"
        FILTERED = "filtered", "filtered manifest"
        SIDECAR = "sidecar", "filtered shard metadata"
        RECEIPT = "receipt", "receipt (JSON)"
        PUBLISHERS = "publishers", "publishers' signals (JSONL)"
        OPT_IN = "opt_in", "opt-in rows (manifest)"
        OPT_IN_SIDECAR = "opt_in_sidecar", "opt-in shard metadata"

    job = models.ForeignKey(MatchJob, on_delete=models.CASCADE, related_name="outputs")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    name = models.CharField(max_length=255)
    file = models.FileField(upload_to=_output_path, max_length=300)
    size = models.BigIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "name"]


class PublisherSignals(models.Model):
    """What one host's site said about the use of what it serves (robots.txt,
    tdmrep.json, RSL licences; workers/engine/websignals.HostSignals as
    JSON), cached for SIGNAL_WEB_CACHE_SECONDS. A worker about to fetch a
    host claims its row until `claimed_until`, so each host is fetched by
    one worker at a time (optout/services/publishers.py)."""

    host = models.CharField(max_length=253, unique=True)
    fetched_at = models.DateTimeField(null=True, blank=True, db_index=True)
    signals = models.JSONField(default=dict, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)

    class Meta:
        verbose_name_plural = "publisher signals"

    def __str__(self) -> str:
        return self.host


class JobHost(models.Model):
    """A host a job's rows were checked against, with what its site said at
    the fetch the job used: the evidence the job's publishers.jsonl lists."""

    job = models.ForeignKey(MatchJob, on_delete=models.CASCADE, related_name="hosts")
    host = models.CharField(max_length=253)
    signals = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "host"], name="jobhost_job_host")
        ]


class LookupSeen(models.Model):
    """A registered image an account was shown by a lookup: one of the
    legitimate paths to disputing it (with its own jobs' matches)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    image = models.ForeignKey(
        "registry.Image", on_delete=models.CASCADE, related_name="+"
    )
    seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "image"], name="lookup_seen_once")
        ]


class Dataset(models.Model):
    """A public training set indexed for the artists' search ("have I been
    trained?"): its files are a Manifest, its index a folder of
    SEARCH_INDEX_DIR (optout.services.datasets)."""

    class State(models.TextChoices):
        QUEUED = "queued"
        INDEXING = "indexing"
        READY = "ready"
        FAILED = "failed"
        REMOVED = "removed"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    source_url = models.CharField(max_length=2048, blank=True)
    manifest = models.ForeignKey(
        Manifest, on_delete=models.PROTECT, related_name="datasets"
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    failure_reason = models.TextField(blank=True)
    rows_total = models.BigIntegerField(null=True, blank=True)
    rows_done = models.BigIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["state"])]

    def __str__(self) -> str:
        return self.name


class DatasetChunk(models.Model):
    """One chunk of a dataset's indexing: leased by a worker, done once its
    rows are committed to the index."""

    class State(models.TextChoices):
        PENDING = "pending"
        LEASED = "leased"
        DONE = "done"

    dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="chunks"
    )
    index = models.PositiveIntegerField()
    spec = models.JSONField()
    rows = models.BigIntegerField(default=0)
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.PENDING
    )
    lease_token = models.CharField(max_length=32, blank=True)
    lease_expires = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "index"], name="dataset_chunk_index_unique"
            )
        ]
        indexes = [models.Index(fields=["state", "queued_at"])]


class DatasetOptOut(models.Model):
    """A row an artist opted out from the search's results, with the claim
    that stands for it: the dashboard counts them per dataset."""

    holder = models.ForeignKey(
        "registry.RightsHolder", on_delete=models.CASCADE, related_name="+"
    )
    dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="opt_outs"
    )
    row = models.BigIntegerField()
    url = models.TextField()
    claim = models.ForeignKey(
        "registry.Claim", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # The artist's registered work the row is a copy of, when they found it
    # by searching with that work's image.
    work = models.ForeignKey(
        "registry.Work",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["holder", "dataset", "row"], name="dataset_opt_out_once"
            )
        ]
