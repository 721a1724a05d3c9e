"""Settings: every value comes from the environment (see .env.example and README).

Defaults are the embedded, laptop-friendly set-up (SQLite, a filesystem Celery
broker and media under var/). Production changes environment variables only.
"""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from config.broker import redis_transport_options
from core.objectstore import media_storage

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.FileAwareEnv()
environ.FileAwareEnv.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)
if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-insecure-only-for-debug-mode")
else:
    # No default outside DEBUG: a missing key fails at start-up, not in production.
    SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_NAME = env.str("SITE_NAME", default="Opt-out registry")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    # Swagger UI and ReDoc served from our static files, not a CDN: the docs
    # pages work offline and show the version we pinned.
    "drf_spectacular_sidecar",
    # Log-in failures counted per account and per address (lock-out).
    "axes",
    "accounts",
    "registry",
    "disputes",
    "audit",
    "optout",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise, so static files get Permissions-Policy too.
    "core.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.RequestBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.SuspendedAccountMiddleware",
    # A database that is down or storage that is full: 503/507, not a 500.
    "core.middleware.ServiceFaultMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out log-in into its answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
# Under /api/, JSON in the API's error shape; elsewhere Django's page.
CSRF_FAILURE_VIEW = "core.api_errors.csrf_failure"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # core/ is a package, not an app: its templates (the ReDoc page) by path.
        "DIRS": [BASE_DIR / "templates", BASE_DIR / "core" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker write at the same time: WAL lets readers go on
    # while one writes, IMMEDIATE takes the write lock up front (no upgrade deadlock).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Tests use a file, not memory: the Celery worker and the live server run in
    # other threads and must see the same database.
    # One file per test process, so two runs on one machine do not collide.
    DATABASES["default"].setdefault("TEST", {})["NAME"] = str(
        VAR_DIR / f"test-{os.getpid()}.sqlite3"
    )
else:
    DATABASES["default"].setdefault(
        "CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60)
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation."
        "UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = env.str("MEDIA_URL", default="/media/")
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Originals, thumbnails and evidence are private: the views under /files/ check
# who asks, then send the file (core/files.py). SERVE_MEDIA puts every file under
# MEDIA_ROOT at MEDIA_URL for anyone with the URL, withdrawn works included: for
# a developer's machine only, never in production.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=False)
# Behind nginx: the internal location that maps to MEDIA_ROOT (e.g.
# "/protected-media/"); the views answer with X-Accel-Redirect and nginx sends
# the file. Behind Apache (mod_xsendfile) or lighttpd: MEDIA_SENDFILE sends
# X-Sendfile with the file's path. Both empty: Django sends the file itself.
MEDIA_ACCEL_REDIRECT = env.str("MEDIA_ACCEL_REDIRECT", default="")
MEDIA_SENDFILE = env.bool("MEDIA_SENDFILE", default=False)
if MEDIA_ACCEL_REDIRECT and not (
    MEDIA_ACCEL_REDIRECT.startswith("/") and MEDIA_ACCEL_REDIRECT.endswith("/")
):
    raise ImproperlyConfigured(
        "MEDIA_ACCEL_REDIRECT must start and end with / (e.g. /protected-media/)"
    )
if MEDIA_ACCEL_REDIRECT and MEDIA_SENDFILE:
    raise ImproperlyConfigured("set MEDIA_ACCEL_REDIRECT or MEDIA_SENDFILE, not both")
# The original and thumbnail of a withdrawn work are deleted this many days
# after it was withdrawn; its fingerprints stay (the audit trail of what was
# enforced).
WITHDRAWN_FILES_GRACE_DAYS = env.int("WITHDRAWN_FILES_GRACE_DAYS", default=30)
WITHDRAWN_FILES_SWEEP_SECONDS = env.int("WITHDRAWN_FILES_SWEEP_SECONDS", default=3600)
# Work queued for a worker (image fingerprints, evidence) keeps its state in
# the database; every QUEUE_SWEEP_SECONDS a sweep queues again what still
# waits QUEUE_STALE_SECONDS after its last message (doubling the wait each
# time, so a slow backlog is not multiplied), and fails it with the reason
# after QUEUE_MAX_ATTEMPTS. Lost messages (a broker restarted without its
# data, a broker down at upload) are so recovered.
QUEUE_SWEEP_SECONDS = env.int("QUEUE_SWEEP_SECONDS", default=300)
QUEUE_STALE_SECONDS = env.int("QUEUE_STALE_SECONDS", default=600)
QUEUE_MAX_ATTEMPTS = env.int("QUEUE_MAX_ATTEMPTS", default=5)
# /healthz reports storage as low on space below this many free bytes.
HEALTH_MIN_FREE_BYTES = env.int("HEALTH_MIN_FREE_BYTES", default=1024**3)
if WITHDRAWN_FILES_GRACE_DAYS < 0:
    raise ImproperlyConfigured("WITHDRAWN_FILES_GRACE_DAYS must be 0 or more")
# Media (originals, thumbnails, features, manifests, reports, evidence): the
# folder MEDIA_ROOT by default. MEDIA_STORAGE_URL=s3://bucket/prefix?endpoint=
# http://host:port keeps them in object storage instead, so web and workers on
# different machines share them without a shared disk (credentials from
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY). Files are then streamed through
# the views that check who may see them; MEDIA_STORAGE_REDIRECT sends the
# browser to a signed URL valid for 5 minutes instead, for a store whose
# endpoint users can reach (AWS S3, a public MinIO).
MEDIA_STORAGE_URL = env.str("MEDIA_STORAGE_URL", default="")
MEDIA_STORAGE_REDIRECT = env.bool("MEDIA_STORAGE_REDIRECT", default=False)
try:
    _media_storage = media_storage(MEDIA_STORAGE_URL)
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None
STORAGES = {
    "default": _media_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Uploads: Django spools anything over 2.5 MB to a temporary file, so a portfolio
# is never held whole in memory.
UPLOAD_MAX_FILE_BYTES = env.int("UPLOAD_MAX_FILE_BYTES", default=50 * 1024 * 1024)
UPLOAD_MAX_FILES = env.int("UPLOAD_MAX_FILES", default=500)
UPLOAD_MAX_IMAGE_PIXELS = env.int("UPLOAD_MAX_IMAGE_PIXELS", default=100_000_000)
ZIP_MAX_MEMBERS = env.int("ZIP_MAX_MEMBERS", default=2000)
ZIP_MAX_TOTAL_BYTES = env.int("ZIP_MAX_TOTAL_BYTES", default=1024 * 1024 * 1024)
ZIP_MAX_RATIO = env.int("ZIP_MAX_RATIO", default=100)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Each endpoint's upload limits, counted while the body streams in (first).
FILE_UPLOAD_HANDLERS = [
    "core.upload_limits.UploadLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Uploads larger than 2.5 MB stream to temporary files here (a folder of our
# own, so the sweep below may delete in it); a web process killed mid-upload
# leaves its files, which the upload-temp sweep deletes once they are older
# than UPLOAD_TEMP_MAX_AGE_SECONDS.
FILE_UPLOAD_TEMP_DIR = env.str("FILE_UPLOAD_TEMP_DIR", default=str(VAR_DIR / "uploads"))
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
UPLOAD_TEMP_MAX_AGE_SECONDS = env.int("UPLOAD_TEMP_MAX_AGE_SECONDS", default=6 * 3600)
DATA_UPLOAD_MAX_NUMBER_FILES = UPLOAD_MAX_FILES
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000  # Django's default, named for the API docs.
THUMBNAIL_SIZE = env.int("THUMBNAIL_SIZE", default=256)
PDQ_LOW_QUALITY = env.int("PDQ_LOW_QUALITY", default=50)

# Matching (curators' manifests).
VERSION = "0.2.0"
MANIFEST_MAX_BYTES = env.int("MANIFEST_MAX_BYTES", default=2 * 1024**3)
MATCH_PHASH_THRESHOLD = env.int("MATCH_PHASH_THRESHOLD", default=8)
MATCH_PDQ_THRESHOLD = env.int("MATCH_PDQ_THRESHOLD", default=40)
# The loosest threshold a curator may ask for; the index is built for it, and a
# larger radius makes every lookup slower.
MATCH_PHASH_MAX_RADIUS = env.int("MATCH_PHASH_MAX_RADIUS", default=8)
MATCH_PDQ_MAX_RADIUS = env.int("MATCH_PDQ_MAX_RADIUS", default=40)
# Perceptual levels (docs/MATCHING.md chose these from bench/quality).
MATCH_VARIANT_SCHEME = env.str("MATCH_VARIANT_SCHEME", default="dihedral+rotx+crops")
# -1: off. Every strong threshold removed unrelated rows in bench/quality (flat
# pictures collide at distance 0), so hash-only matches are "possible" by default.
MATCH_PDQ_STRONG = env.int("MATCH_PDQ_STRONG", default=-1)
MATCH_PHASH_STRONG = env.int("MATCH_PHASH_STRONG", default=-1)
MATCH_MIN_INLIERS = env.int("MATCH_MIN_INLIERS", default=16)
MATCH_MIN_AGREEMENT = env.float("MATCH_MIN_AGREEMENT", default=0.5)
# The share of the overlap of both images the inliers must cover (0-1): below
# it, a pair sharing only a part (a card frame, a backdrop) is not verified.
MATCH_MIN_COVERAGE = env.float("MATCH_MIN_COVERAGE", default=0.6)
# A pair the keypoints do not verify (a small picture turned or recompressed
# keeps too few, or too few in its corners) but that has 8 inliers is
# verified when the two thumbnails, aligned densely, reach this figure (0-1;
# -1, the default: not tried). docs/MATCHING.md ("Dense alignment") measured
# 0.95: copies verified 0.885 -> 0.926, unrelated look-alikes passing +12 %.
MATCH_MIN_ALIGNMENT = env.float("MATCH_MIN_ALIGNMENT", default=-1.0)
MATCH_MAX_CANDIDATES = env.int("MATCH_MAX_CANDIDATES", default=8)
# The copy-detection descriptor (workers/engine/descriptor.py): registered
# images are described when fingerprinted, and image rows look up their
# MATCH_DESCRIPTOR_K nearest registered images by it. Below MATCH_DESCRIPTOR_MIN
# (cosine) a neighbour is no candidate; an unverified candidate at or above
# MATCH_DESCRIPTOR_POSSIBLE is listed as possible; MATCH_DESCRIPTOR_STRONG
# (-1: off) would remove on similarity alone. docs/MATCHING.md chose these.
MATCH_DESCRIPTOR = env.bool("MATCH_DESCRIPTOR", default=False)
MATCH_DESCRIPTOR_K = env.int("MATCH_DESCRIPTOR_K", default=8)
MATCH_DESCRIPTOR_MIN = env.float("MATCH_DESCRIPTOR_MIN", default=0.8)
MATCH_DESCRIPTOR_POSSIBLE = env.float("MATCH_DESCRIPTOR_POSSIBLE", default=0.95)
MATCH_DESCRIPTOR_STRONG = env.float("MATCH_DESCRIPTOR_STRONG", default=-1.0)
# From this many region vectors on (two per image), the snapshot's descriptor
# index is an HNSW graph instead of exact search (unless IVF-PQ starts first).
MATCH_DESCRIPTOR_HNSW_MIN = env.int("MATCH_DESCRIPTOR_HNSW_MIN", default=20_000)
# From this many region vectors on, an inverted file of 4-bit product-quantised
# codes (IVF-PQ fast scan, 32 bytes a vector) proposes candidates that are
# re-ranked by their exact similarity from the float16 vectors (mapped from
# disk). Faster, smaller and as exact as HNSW from 20,000 vectors on
# (docs/MATCHING.md section 7), so by default it replaces HNSW.
MATCH_DESCRIPTOR_IVFPQ_MIN = env.int("MATCH_DESCRIPTOR_IVFPQ_MIN", default=20_000)
# Its codes: "fastscan" (4-bit, lists in each worker process's memory, about
# 80 bytes an image: 6.7x the searches of the first IVF-PQ at 1M vectors) or
# "pq" (8-bit, lists memory-mapped and shared by a machine's processes,
# 2.3x): for registries so large that a copy of the lists per process does
# not fit (docs/MATCHING.md section 7).
MATCH_DESCRIPTOR_IVF_CODES = env.str("MATCH_DESCRIPTOR_IVF_CODES", default="fastscan")
if MATCH_DESCRIPTOR_IVF_CODES not in ("fastscan", "pq"):
    raise ImproperlyConfigured(
        f"MATCH_DESCRIPTOR_IVF_CODES={MATCH_DESCRIPTOR_IVF_CODES!r}: 'fastscan' or 'pq'"
    )
# Where segments are kept: a folder (file://...) for the embedded default,
# s3://bucket/prefix?endpoint=http://host:port for every machine to share
# (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY).
SEGMENT_STORE_URL = env.str(
    "SEGMENT_STORE_URL", default=f"file://{VAR_DIR / 'segments'}"
)
# Each worker machine's copy of the segments it reads, memory-mapped by its
# processes; least recently used ones go past SEGMENT_CACHE_MAX_BYTES.
SEGMENT_CACHE_DIR = Path(
    env.str("SEGMENT_CACHE_DIR", default=str(VAR_DIR / "segment-cache"))
)
SEGMENT_CACHE_MAX_BYTES = env.int("SEGMENT_CACHE_MAX_BYTES", default=20 * 1024**3)
# The index is a chain of segments (optout/segments.py): a base and the
# deltas written per change. From SEGMENT_MERGE_AT deltas on, the periodic
# task (every SEGMENT_MAINTAIN_SECONDS) merges them; merged-away segments
# are deleted after SEGMENT_RETAIN_SECONDS (jobs at older revisions read
# them until then).
SEGMENT_MERGE_AT = env.int("SEGMENT_MERGE_AT", default=10)
SEGMENT_MAINTAIN_SECONDS = env.int("SEGMENT_MAINTAIN_SECONDS", default=30)
SEGMENT_RETAIN_SECONDS = env.int("SEGMENT_RETAIN_SECONDS", default=24 * 3600)
# The dataset search's indexes (optout/services/datasets.py): one tantivy
# index folder per dataset. Workers write it and web processes read it, so
# on several machines it must be a shared volume (or the web and workers on
# one machine). Its size: docs/PERFORMANCE.md ("Dataset search").
SEARCH_INDEX_DIR = Path(env.str("SEARCH_INDEX_DIR", default=str(VAR_DIR / "search")))
MATCH_VERIFY = env.bool("MATCH_VERIFY", default=True)
MATCH_REMOVE_LEVELS = env.list("MATCH_REMOVE_LEVELS", default=["verified", "strong"])
MATCH_CHUNK_ROWS = env.int("MATCH_CHUNK_ROWS", default=100_000)
# The profile of machine-readable protocols recognised in the data: each
# image a job checks (tar shards, Parquet with images) has its metadata read
# for these (workers/engine/datasignals.py, docs/SIGNALS.md), and a refusal
# of AI training removes its row. A curator can choose fewer per job.
SIGNAL_PROTOCOLS = env.list(
    "SIGNAL_PROTOCOLS",
    default=["iptc", "c2pa", "cawg", "rsl", "robots", "content-signal", "tdmrep"],
)
# The optional step that reads publishers' sites (robots.txt, tdmrep.json,
# RSL licences) for each distinct host of a manifest's URLs
# (workers/engine/websignals.py): on for every job unless the curator says
# otherwise when true; off by default, since it makes requests to the web.
SIGNAL_WEB = env.bool("SIGNAL_WEB", default=False)
# A host's answers are reused for this long (RFC 9309: at most 24 h).
SIGNAL_WEB_CACHE_SECONDS = env.int("SIGNAL_WEB_CACHE_SECONDS", default=24 * 3600)
# Hosts fetched at once by one worker process, and requests a second it sends
# at most (every host gets one connection at a time).
SIGNAL_WEB_CONCURRENCY = env.int("SIGNAL_WEB_CONCURRENCY", default=16)
SIGNAL_WEB_RATE = env.float("SIGNAL_WEB_RATE", default=50.0)
# A worker's hold on a chunk, or on a job's ingest or finalize: renewed four
# times per lease while the task runs, so a killed worker's work is free again
# within one lease (core/leases.py). Shorter recovers faster and costs one
# small UPDATE per renewal; a worker stalled longer than this (a database away
# that long) loses its lease and its work is done again, never twice stored.
MATCH_LEASE_SECONDS = env.int("MATCH_LEASE_SECONDS", default=10)
MATCH_REQUEUE_SECONDS = env.int("MATCH_REQUEUE_SECONDS", default=120)
MATCH_MAX_ATTEMPTS = env.int("MATCH_MAX_ATTEMPTS", default=5)
# How often the match sweep looks for run-out leases and lost messages: a
# killed worker's chunk is queued again within lease + sweep (15 s).
MATCH_SWEEP_SECONDS = env.int("MATCH_SWEEP_SECONDS", default=5)


def _check_matching_settings() -> None:
    from workers.engine.perceptual import SCHEMES

    if MATCH_VARIANT_SCHEME not in SCHEMES:
        raise ImproperlyConfigured(
            f"MATCH_VARIANT_SCHEME must be one of {', '.join(SCHEMES)}"
        )
    if not 0 <= MATCH_MIN_COVERAGE <= 1:
        raise ImproperlyConfigured(
            f"MATCH_MIN_COVERAGE must be from 0 to 1, not {MATCH_MIN_COVERAGE}"
        )
    if MATCH_MIN_ALIGNMENT != -1 and not 0 <= MATCH_MIN_ALIGNMENT <= 1:
        raise ImproperlyConfigured(
            "MATCH_MIN_ALIGNMENT must be from 0 to 1, or -1 for off, not "
            f"{MATCH_MIN_ALIGNMENT}"
        )
    unknown = set(MATCH_REMOVE_LEVELS) - {"verified", "strong", "possible"}
    if unknown:
        raise ImproperlyConfigured(
            f"MATCH_REMOVE_LEVELS: unknown level(s) {', '.join(sorted(unknown))}"
        )
    from workers.engine.websignals import PROTOCOLS

    unknown = set(SIGNAL_PROTOCOLS) - set(PROTOCOLS)
    if unknown:
        raise ImproperlyConfigured(
            f"SIGNAL_PROTOCOLS: unknown protocol(s) {', '.join(sorted(unknown))}; "
            f"choose from {', '.join(PROTOCOLS)}"
        )


_check_matching_settings()
WORK_ROOT = Path(env.str("WORK_ROOT", default=str(VAR_DIR / "work")))
WORK_ROOT.mkdir(parents=True, exist_ok=True)
# With media in object storage, each machine's local copies of the manifest
# parts its jobs read (core/storage.py: local_copy), checked against their
# SHA-256; least recently used ones go past MEDIA_CACHE_MAX_BYTES.
MEDIA_CACHE_DIR = Path(
    env.str("MEDIA_CACHE_DIR", default=str(WORK_ROOT / "media-cache"))
)
MEDIA_CACHE_MAX_BYTES = env.int("MEDIA_CACHE_MAX_BYTES", default=20 * 1024**3)

# Disputes and false-match reports.
# Days a claimant has to answer a dispute, and how many days before that
# deadline they are reminded (once).
DISPUTE_RESPONSE_DAYS = env.int("DISPUTE_RESPONSE_DAYS", default=14)
DISPUTE_REMINDER_DAYS = env.int("DISPUTE_REMINDER_DAYS", default=3)
# An unanswered dispute stops enforcement of its target at the deadline; off,
# it goes to an admin instead.
DISPUTE_UNANSWERED_RELEASES = env.bool("DISPUTE_UNANSWERED_RELEASES", default=True)
# Off by default: a disputed claim stays enforced until an admin decides, so a
# dispute alone cannot switch off someone's opt-out.
DISPUTE_SUSPEND_WHILE_OPEN = env.bool("DISPUTE_SUSPEND_WHILE_OPEN", default=False)
# A decision touching more images than this needs a second admin's confirmation
# (as does one revoking a verified rights holder's claim).
DISPUTE_SECOND_ADMIN_IMAGES = env.int("DISPUTE_SECOND_ADMIN_IMAGES", default=1000)
DISPUTE_EVIDENCE_MAX_FILES = env.int("DISPUTE_EVIDENCE_MAX_FILES", default=10)
DISPUTE_CHECK_SECONDS = env.int("DISPUTE_CHECK_SECONDS", default=3600)
# How often admins are told (a notification and an email) what waits for them:
# disputes to decide or confirm, false-match reports, claims to review.
REVIEW_DIGEST_SECONDS = env.int("REVIEW_DIGEST_SECONDS", default=86400)
# One account's reach: a statement of at least this many characters; at most
# this many disputes open at once and opened in 24 hours.
DISPUTE_STATEMENT_MIN_CHARS = env.int("DISPUTE_STATEMENT_MIN_CHARS", default=40)
DISPUTE_MAX_OPEN_PER_ACCOUNT = env.int("DISPUTE_MAX_OPEN_PER_ACCOUNT", default=10)
DISPUTE_MAX_PER_DAY = env.int("DISPUTE_MAX_PER_DAY", default=5)
# An unanswered dispute goes to an admin instead of lapsing when its disputer's
# account is younger than this many days, or has more than this many disputes
# open; and lapses revoke at most DISPUTE_LAPSES_PER_DAY targets per disputer
# in 24 hours (the rest go to an admin).
DISPUTE_TRUSTED_ACCOUNT_DAYS = env.int("DISPUTE_TRUSTED_ACCOUNT_DAYS", default=30)
DISPUTE_TRUSTED_MAX_OPEN = env.int("DISPUTE_TRUSTED_MAX_OPEN", default=3)
DISPUTE_LAPSES_PER_DAY = env.int("DISPUTE_LAPSES_PER_DAY", default=1)

# Trust: proof of domain control, style-claim review.
# Domain claims are enforced once the token is served at
# <scheme>://DOMAIN/.well-known/dnt-registry-verification.txt or in a
# <meta name="dnt-registry-verification"> tag on the home page.
DOMAIN_PROOF_SCHEME = env.str("DOMAIN_PROOF_SCHEME", default="https")
# Exact URL claims one holder may have enforced at once on a host they have
# not proved; beyond it, new ones wait for an admin (prefixes always wait).
CLAIM_UNPROVED_URLS_PER_HOST = env.int("CLAIM_UNPROVED_URLS_PER_HOST", default=1000)
# Lines one bulk claim (pasted or a text/CSV file) may hold.
CLAIM_BULK_MAX_LINES = env.int("CLAIM_BULK_MAX_LINES", default=10_000)
# The largest text or CSV file of claims (UTF-8).
CLAIM_BULK_MAX_BYTES = env.int("CLAIM_BULK_MAX_BYTES", default=4 * 1024 * 1024)
if DOMAIN_PROOF_SCHEME not in ("http", "https"):
    raise ValueError("DOMAIN_PROOF_SCHEME must be http or https")
DOMAIN_PROOF_CONNECT_TIMEOUT = env.float("DOMAIN_PROOF_CONNECT_TIMEOUT", default=5.0)
DOMAIN_PROOF_READ_TIMEOUT = env.float("DOMAIN_PROOF_READ_TIMEOUT", default=10.0)
DOMAIN_PROOF_MAX_BYTES = env.int("DOMAIN_PROOF_MAX_BYTES", default=64 * 1024)
# Never on in production: it lets artists make the server fetch internal URLs.
DOMAIN_PROOF_ALLOW_PRIVATE = env.bool("DOMAIN_PROOF_ALLOW_PRIVATE", default=False)
DOMAIN_PROOF_RECHECK_SECONDS = env.int("DOMAIN_PROOF_RECHECK_SECONDS", default=86400)
DOMAIN_PROOF_SWEEP_SECONDS = env.int("DOMAIN_PROOF_SWEEP_SECONDS", default=3600)
DOMAIN_PROOF_FAILURES_TO_SUSPEND = env.int(
    "DOMAIN_PROOF_FAILURES_TO_SUSPEND", default=2
)
STYLE_REVIEW_RECENT_JOBS = env.int("STYLE_REVIEW_RECENT_JOBS", default=20)
STYLE_REVIEW_ROWS_PER_JOB = env.int("STYLE_REVIEW_ROWS_PER_JOB", default=100_000)

# Receipts: signed with the registry's Ed25519 key (workers/engine/receipts.py).
# RECEIPT_SIGNING_KEY (or RECEIPT_SIGNING_KEY_FILE): the private key, PKCS#8 PEM
# or base64 of its 32 bytes. Unset, a key is generated on first use under
# RECEIPT_KEY_DIR (mode 0600) and kept there; `manage.py receipt_key_rotate`
# replaces it and keeps its public key published as retired.
RECEIPT_SIGNING_KEY = env.str("RECEIPT_SIGNING_KEY", default="")
RECEIPT_KEY_DIR = Path(env.str("RECEIPT_KEY_DIR", default=str(VAR_DIR / "keys")))
# Public keys of earlier signing keys (base64 of 32 bytes, comma-separated):
# still published, so receipts they signed still verify.
RECEIPT_RETIRED_KEYS = env.list("RECEIPT_RETIRED_KEYS", default=[])


def _check_receipt_settings() -> None:
    from workers.engine.receipts import (
        KeysInvalid,
        private_key_from_text,
        public_key_from_text,
    )

    try:
        if RECEIPT_SIGNING_KEY:
            private_key_from_text(RECEIPT_SIGNING_KEY)
    except KeysInvalid as exc:
        raise ImproperlyConfigured(f"RECEIPT_SIGNING_KEY: {exc}") from None
    for i, text in enumerate(RECEIPT_RETIRED_KEYS):
        try:
            public_key_from_text(text)
        except KeysInvalid as exc:
            raise ImproperlyConfigured(
                f"RECEIPT_RETIRED_KEYS, key {i + 1}: {exc}"
            ) from None


_check_receipt_settings()

# Celery. The embedded default is a filesystem broker under var/ (no server).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = Path(env.str("CELERY_BROKER_DIR", default=str(VAR_DIR / "broker")))
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
else:
    # How long a message taken by a worker that then vanished (killed whole,
    # its machine gone) stays unacknowledged before Redis gives it back. It
    # must be longer than any task's time limit plus any retry countdown, or
    # Redis would hand a still-running task to a second worker (Celery's
    # visibility-timeout caveat). Recovery does not wait for it: the chunk's
    # lease runs out and the sweep queues it again; the leftover message then
    # comes back, finds its work done and is dropped.
    _visibility = env.int(
        "CELERY_VISIBILITY_TIMEOUT",
        default=env.int("CELERY_TASK_TIME_LIMIT", default=600) + 120,
    )
    CELERY_BROKER_TRANSPORT_OPTIONS = redis_transport_options(_visibility)
# Every message at core.tasks.NORMAL, so a sweep can put a dead worker's work
# ahead of it (core.tasks.URGENT).
CELERY_TASK_DEFAULT_PRIORITY = 3
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "registry.image_fingerprint": {"queue": "images"},
    "disputes.evidence_fingerprint": {"queue": "images"},
    "optout.match_job_ingest": {"queue": "ingest"},
    "optout.match_job_finalize": {"queue": "ingest"},
    "optout.match_chunk": {"queue": "match"},
    "optout.match_sweep": {"queue": "celery"},
    "optout.dataset_ingest": {"queue": "ingest"},
    "optout.dataset_chunk": {"queue": "match"},
    "optout.dataset_images": {"queue": "ingest"},
    "optout.dataset_sweep": {"queue": "celery"},
    "disputes.dispute_deadlines": {"queue": "celery"},
    "disputes.review_digest": {"queue": "celery"},
    "registry.claim_domain_check": {"queue": "celery"},
    "registry.domain_proof_sweep": {"queue": "celery"},
    "registry.withdrawn_files_sweep": {"queue": "celery"},
    "registry.images_sweep": {"queue": "celery"},
    "optout.upload_temp_sweep": {"queue": "celery"},
    "disputes.evidence_sweep": {"queue": "celery"},
}
CELERY_BEAT_SCHEDULE = {
    "match-sweep": {
        "task": "optout.match_sweep",
        "schedule": float(MATCH_SWEEP_SECONDS),
    },
    "dataset-sweep": {
        "task": "optout.dataset_sweep",
        "schedule": float(MATCH_SWEEP_SECONDS) * 6,
    },
    "dispute-deadlines": {
        "task": "disputes.dispute_deadlines",
        "schedule": float(DISPUTE_CHECK_SECONDS),
    },
    "domain-proof-sweep": {
        "task": "registry.domain_proof_sweep",
        "schedule": float(DOMAIN_PROOF_SWEEP_SECONDS),
    },
    "review-digest": {
        "task": "disputes.review_digest",
        "schedule": float(REVIEW_DIGEST_SECONDS),
    },
    "upload-temp-sweep": {
        "task": "optout.upload_temp_sweep",
        "schedule": float(QUEUE_SWEEP_SECONDS) * 12,
    },
    "images-sweep": {
        "task": "registry.images_sweep",
        "schedule": float(QUEUE_SWEEP_SECONDS),
    },
    "evidence-sweep": {
        "task": "disputes.evidence_sweep",
        "schedule": float(QUEUE_SWEEP_SECONDS),
    },
    "withdrawn-files-sweep": {
        "task": "registry.withdrawn_files_sweep",
        "schedule": float(WITHDRAWN_FILES_SWEEP_SECONDS),
    },
    "segments-maintain": {
        "task": "optout.segments_maintain",
        "schedule": float(SEGMENT_MAINTAIN_SECONDS),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# One beat sends, however many machines run one (core/beat.py: a PostgreSQL
# advisory lock, a file lock on SQLite); the others check every this many
# seconds and take over when the holder is gone.
CELERY_BEAT_SCHEDULER = "core.beat:SingleBeatScheduler"
BEAT_LOCK_RETRY_SECONDS = env.int("BEAT_LOCK_RETRY_SECONDS", default=5)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=540)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A pool process whose resident memory passed this many KiB is replaced once
# its task ends: one hostile input, or a slow leak, then costs one task's worth
# of memory, not the worker's for good. The largest accepted image and a
# Parquet of values that decode a thousandfold each peak well under 1 GiB
# (bench/image_memory.py, tests/workers/test_hostile_*.py). 0: no limit.
_max_memory_kib = env.int("CELERY_WORKER_MAX_MEMORY_PER_CHILD", default=2 * 1024**2)
if _max_memory_kib < 0:
    raise ImproperlyConfigured(
        "CELERY_WORKER_MAX_MEMORY_PER_CHILD must be a number of KiB, or 0 for no limit"
    )
CELERY_WORKER_MAX_MEMORY_PER_CHILD = _max_memory_kib or None

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.permissions.TokenScopes",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.exception_handlers.api_exception_handler",
    # The rate limits' address behind TRUSTED_PROXY_COUNT proxies.
    "NUM_PROXIES": env.int("TRUSTED_PROXY_COUNT", default=0),
    # DRF's three, the JSON one refusing too deep a nesting with a 400.
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Opt-out registry API",
    "DESCRIPTION": "Register works and claims that must not be used to train AI "
    "models; check datasets against them.\n\n"
    'Errors are JSON: `{"message": ..., "code": ..., "extra": {...}}`. A JSON or '
    f"form body over {DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024)} MB "
    "(DATA_UPLOAD_MAX_MEMORY_SIZE; in multipart uploads the form fields, not "
    "the files) is refused with 413 `request_too_large`, and so is an upload "
    "whose declared size or file bytes pass its endpoint's limits (manifests: "
    "MANIFEST_MAX_BYTES; portfolio and evidence: their file count times "
    "UPLOAD_MAX_FILE_BYTES), as soon as they do; more than "
    f"{DATA_UPLOAD_MAX_NUMBER_FIELDS:,} form fields or "
    f"{DATA_UPLOAD_MAX_NUMBER_FILES:,} files with 400 `too_many_fields` / "
    "`too_many_files`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No validator badge: it would send the schema's URL to validator.swagger.io,
    # and its image is refused by the Content-Security-Policy anyway.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api_schema.document_page_not_found",
    ],
    # Several models have a "status"; name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "WorkStatusEnum": "registry.models.Work.Status",
        "ImageStatusEnum": "registry.models.Image.Status",
        "ImageSourceEnum": "registry.models.Image.Source",
        "ClaimKindEnum": "registry.models.Claim.Kind",
        "ClaimStateEnum": "registry.models.Claim.State",
        "DisputeStateEnum": "disputes.models.Dispute.State",
        "DisputeGroundsEnum": "disputes.models.Dispute.Grounds",
        "DisputeOutcomeEnum": "disputes.models.Dispute.Outcome",
        "DisputeTargetTypeEnum": "disputes.models.Dispute.TargetType",
        "FalseMatchReportStateEnum": "disputes.models.FalseMatchReport.State",
        "FalseMatchReportReasonEnum": "disputes.models.FalseMatchReport.Reason",
    },
}

# Mail as a URL: consolemail:// (default, printed), smtp+tls://user:pass@host:587
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "")
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = 30
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="registry@localhost")
# Where people reach this registry; links in emails start with it. The default
# is where `make run` serves (RUN_HOST, RUN_PORT, as scripts/run.sh reads them).
SITE_URL = env.str(
    "SITE_URL",
    default=f"http://{env.str('RUN_HOST', default='127.0.0.1')}:"
    f"{env.int('RUN_PORT', default=8000)}",
)
# The cache: rate-limit counters (DRF throttles). The default is per process,
# right for `make run`; with several web processes (gunicorn) use Redis, e.g.
# CACHE_URL=redis://redis:6379/1, or each process counts alone.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
# Proxies in front that append to X-Forwarded-For (nginx: 1). 0 trusts no
# header: rate limits and log-in lock-outs then count REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Rate limits (DRF's "N/second|minute|hour|day"): sign-ups per address;
# new disputes, lookups (API and the Spawning endpoint) and "Check now" per
# account. Over them: 429 with Retry-After.
RATE_LIMITS = {
    "signup": env.str("RATE_SIGNUP", default="10/hour"),
    "disputes": env.str("RATE_DISPUTES", default="20/hour"),
    "lookups": env.str("RATE_LOOKUPS", default="600/minute"),
    "check_now": env.str("RATE_CHECK_NOW", default="12/hour"),
}
# Log-in: after LOGIN_FAILURE_LIMIT wrong passwords for one account, or from
# one address, further tries (the right password too) are refused for
# LOGIN_LOCKOUT_MINUTES (django-axes; admins unlock in the admin, "Access
# attempts", or with `manage.py axes_reset`).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
AXES_CLIENT_IP_CALLABLE = "core.throttles.client_ip"
AXES_VERBOSE = False
# Days the link emailed to confirm an address stays good.
EMAIL_VERIFY_DAYS = env.int("EMAIL_VERIFY_DAYS", default=7)

# Security headers (core.middleware.SecurityHeadersMiddleware), with DEBUG on
# too. No page runs inline script or style: page scripts and styles are files
# under static/. The API docs pages add what Swagger UI and ReDoc need
# (core/api_docs.py). Images: thumbnails from MEDIA_URL's host when it has one.
_media = urlsplit(MEDIA_URL)
_media_origin = (
    f" {_media.scheme}://{_media.netloc}"
    if _media.scheme in ("http", "https") and _media.netloc
    else ""
)
CONTENT_SECURITY_POLICY = env.str(
    "CONTENT_SECURITY_POLICY",
    default="default-src 'self'; script-src 'self'; style-src 'self'; "
    f"img-src 'self' data:{_media_origin}; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'; form-action 'self'",
)
if "\n" in CONTENT_SECURITY_POLICY or "\r" in CONTENT_SECURITY_POLICY:
    raise ImproperlyConfigured("CONTENT_SECURITY_POLICY must be one line")
# Browser features no page uses, off for this site and anything it embeds.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "interest-cohort",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
)

# Production hardening: on whenever DEBUG is off (manage.py check --deploy is clean).
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Off unless the operator opts in: preloading binds every subdomain to
    # HTTPS in browsers for months, and leaving the list is slow.
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        # check --deploy's "not set to True" warning: a choice, not a mistake.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
