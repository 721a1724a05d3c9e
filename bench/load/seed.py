"""A registry of the size the load runs need: URL claims, images with their
fingerprints, artists and curators with API tokens and signed-in sessions.

Rows go in as the registry's own code leaves them (claims active with their
normal form; images hashed, with every fingerprint the snapshot reads: SHA-256,
MD5, pHash, PDQ and the PDQ variants of MATCH_VARIANT_SCHEME), but in bulk: on
PostgreSQL with COPY (a million claims in seconds, not the hours one service
call per row would take), elsewhere with bulk_create (the tests' SQLite).

Limits: the images have no files (no original, thumbnail or local features)
and their hashes are random bytes, unrelated to one another. Nothing the load
touches reads an image file (URL checks, list pages and CSV manifests of URLs;
verification needs a row's own image, which a URL manifest does not carry), so
the load is the same; but a request that needs a file (an original, a
thumbnail, a verified match) would fail. No audit events are written.

Call `seed_registry` with Django set up (bench/load/run.py does, on its own
database); it returns what the load users need.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.utils import timezone

from accounts.models import Scope, User
from accounts.services import api_token_create
from registry.models import Claim, Fingerprint, Image, RightsHolder, Work
from registry.services import registry_revision_bump
from workers.engine import fingerprint as fp
from workers.engine import perceptual
from workers.engine.urls import normalize_url

PASSWORD = "load-bench-password"
BATCH = 5_000
SECTIONS = ("art", "portfolio", "gallery", "wp-content/uploads/2024/07", "img")
EXTS = ("jpg", "jpg", "jpg", "png", "webp")


def claim_url(artist: int, n: int) -> str:
    """The n-th URL an artist claims: on their own site or an image CDN."""
    host = f"art{artist}.example.com" if n % 3 else f"cdn{artist % 997}.pics.example"
    return (
        f"https://{host}/{SECTIONS[n % len(SECTIONS)]}/"
        f"{n:07d}-{artist:x}-piece.{EXTS[n % len(EXTS)]}"
    )


@dataclass
class Account:
    username: str
    token: str
    session: str = ""


@dataclass
class SeedResult:
    claims: int
    prefix_claims: int
    domain_claims: int
    images: int
    fingerprints: int
    artists: list[Account] = field(default_factory=list)
    curators: list[Account] = field(default_factory=list)
    claimed_sample: list[str] = field(default_factory=list)
    revision: int = 0


class _Rows:
    """Tuples in a model's concrete-field order, defaults filled in once."""

    def __init__(self, model: type[models.Model], now: Any) -> None:
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.index = {f.attname: i for i, f in enumerate(self.fields)}
        template: list[Any] = []
        for f in self.fields:
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                template.append(now)
            elif f.has_default():
                template.append(f.get_default())
            elif f.null or f.primary_key:
                template.append(None)
            elif f.blank and isinstance(
                f, models.CharField | models.TextField | models.FileField
            ):
                template.append("")
            else:
                template.append(_Missing(f.attname))
        self.template = template

    def row(self, **values: Any) -> tuple[Any, ...]:
        out = list(self.template)
        for name, value in values.items():
            out[self.index[name]] = value
        for value in out:
            if isinstance(value, _Missing):
                raise ValueError(f"{self.model.__name__}.{value.name} has no value")
        return tuple(out)


@dataclass(frozen=True)
class _Missing:
    name: str


def _write(rows: _Rows, data: Iterable[tuple[Any, ...]]) -> int:
    """Insert the rows: COPY on PostgreSQL, bulk_create elsewhere."""
    count = 0
    if connection.vendor == "postgresql":
        json_at = [
            i for i, f in enumerate(rows.fields) if isinstance(f, models.JSONField)
        ]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in rows.fields)
        table = connection.ops.quote_name(rows.model._meta.db_table)
        import json

        with connection.cursor() as cursor:
            raw = cursor.cursor  # psycopg's own cursor: COPY is not in the DB API
            with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in data:
                    if json_at:
                        row = tuple(
                            json.dumps(v) if i in json_at else v
                            for i, v in enumerate(row)
                        )
                    copy.write_row(row)
                    count += 1
        return count
    names = [f.attname for f in rows.fields]
    batch: list[models.Model] = []
    for row in data:
        batch.append(rows.model(**dict(zip(names, row, strict=True))))
        if len(batch) >= BATCH:
            rows.model.objects.bulk_create(batch)
            count += len(batch)
            batch = []
    rows.model.objects.bulk_create(batch)
    return count + len(batch)


def _next_id(model: type[models.Model]) -> int:
    last = model.objects.order_by("-pk").values_list("pk", flat=True).first()
    return (last or 0) + 1


def _reset_sequences(models_: Sequence[type[models.Model]]) -> None:
    # Ids were given explicitly: move the sequences past them, or the next
    # row the application writes collides.
    statements = connection.ops.sequence_reset_sql(no_style(), list(models_))
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def _users(
    *, prefix: str, count: int, artist: bool, now: Any, password: str
) -> list[User]:
    users = [
        User(
            username=f"{prefix}{i}",
            email=f"{prefix}{i}@load.example",
            password=password,
            is_artist=artist,
            is_curator=not artist,
            email_verified_at=now,
        )
        for i in range(count)
    ]
    User.objects.bulk_create(users, batch_size=BATCH)
    return list(User.objects.filter(username__startswith=prefix).order_by("pk"))


def _session(user: User) -> str:
    # What logging in stores, without the log-in request (its throttles and
    # lock-out are not what the load measures).
    from importlib import import_module

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def _claim_rows(
    rows: _Rows, *, first_id: int, claims: int, holders: Sequence[int], now: Any
) -> Iterator[tuple[Any, ...]]:
    artists = len(holders)
    pk = first_id
    for i in range(claims):
        artist = i * artists // claims  # each artist's claims together
        url = claim_url(artist, i)
        yield rows.row(
            id=pk,
            owner_id=holders[artist],
            kind=Claim.Kind.URL,
            value=url,
            normalized=normalize_url(url).href,
            state=Claim.State.ACTIVE,
            activated_at=now,
        )
        pk += 1
    # A prefix claim for every tenth artist, a domain for every hundredth:
    # what the Spawning check also looks up.
    for artist in range(0, artists, 10):
        url = f"https://art{artist}.example.com/private/"
        yield rows.row(
            id=pk,
            owner_id=holders[artist],
            kind=Claim.Kind.PREFIX,
            value=url,
            normalized=normalize_url(url).href,
            state=Claim.State.ACTIVE,
            activated_at=now,
        )
        pk += 1
    for artist in range(0, artists, 100):
        domain = f"studio{artist}.example.org"
        yield rows.row(
            id=pk,
            owner_id=holders[artist],
            kind=Claim.Kind.DOMAIN,
            value=domain,
            normalized=domain,
            state=Claim.State.ACTIVE,
            activated_at=now,
            proof_checked_at=now,
            proof_method="file",
            verification_token=f"load{artist}",
        )
        pk += 1


def seed_registry(
    *,
    claims: int,
    images: int,
    artists: int,
    curators: int,
    accounts: int,
    seed: int = 17,
) -> SeedResult:
    """Write the registry; `accounts` artists and curators get tokens and
    sessions. Raises ValueError if a model gained a required field this seed
    does not fill (update `_claim_rows` and friends)."""
    rng = random.Random(seed)
    now = timezone.now()
    password = make_password(PASSWORD)  # once: hashing per user would take minutes
    result = SeedResult(
        claims=claims,
        prefix_claims=len(range(0, artists, 10)),
        domain_claims=len(range(0, artists, 100)),
        images=images,
        fingerprints=0,
    )
    with transaction.atomic():
        artist_users = _users(
            prefix="load-artist-",
            count=artists,
            artist=True,
            now=now,
            password=password,
        )
        curator_users = _users(
            prefix="load-curator-",
            count=curators,
            artist=False,
            now=now,
            password=password,
        )
        RightsHolder.objects.bulk_create(
            [
                RightsHolder(user=u, display_name=f"Artist {i}", contact_email=u.email)
                for i, u in enumerate(artist_users)
            ],
            batch_size=BATCH,
        )
        holders = list(
            RightsHolder.objects.filter(user__in=artist_users)
            .order_by("user_id")
            .values_list("pk", flat=True)
        )

        claim_rows = _Rows(Claim, now)
        _write(
            claim_rows,
            _claim_rows(
                claim_rows,
                first_id=_next_id(Claim),
                claims=claims,
                holders=holders,
                now=now,
            ),
        )

        result.fingerprints = _write_images(
            images=images, holders=holders, rng=rng, now=now
        )
        _reset_sequences([Claim, Work, Image, Fingerprint])

        for user in artist_users[:accounts]:
            _, key = api_token_create(user=user, name="load")
            result.artists.append(Account(user.username, key, _session(user)))
        for user in curator_users[:accounts]:
            _, key = api_token_create(
                user=user, name="load", scopes=[Scope.CHECK, Scope.CURATE]
            )
            result.curators.append(Account(user.username, key, _session(user)))
        result.revision = registry_revision_bump(
            reason="load benchmark seed", rebuild=True
        )
    sample = sorted(rng.sample(range(claims), min(claims, 10_000)))
    result.claimed_sample = [claim_url(i * artists // claims, i) for i in sample]
    return result


def _write_images(
    *, images: int, holders: Sequence[int], rng: random.Random, now: Any
) -> int:
    scheme = settings.MATCH_VARIANT_SCHEME
    variants = perceptual.SCHEMES[scheme]
    variants_version = fp.variants_version(scheme)
    works_rows, image_rows = _Rows(Work, now), _Rows(Image, now)
    print_rows = _Rows(Fingerprint, now)
    first_work, first_image, first_print = (
        _next_id(Work),
        _next_id(Image),
        _next_id(Fingerprint),
    )
    artists = len(holders)

    _write(
        works_rows,
        (
            works_rows.row(
                id=first_work + j,
                owner_id=holders[j * artists // images],
                title=f"Piece {j}",
                status=Work.Status.ACTIVE,
            )
            for j in range(images)
        ),
    )
    _write(
        image_rows,
        (
            image_rows.row(
                id=first_image + j,
                work_id=first_work + j,
                source=Image.Source.UPLOAD,
                original_name=f"IMG_{j:06d}.jpg",
                byte_size=200_000 + j % 1_000_000,
                format="JPEG",
                width=1024,
                height=768,
                status=Image.Status.HASHED,
                fingerprinted_at=now,
                pdq_variants=fp.pack_variants(
                    {v: (rng.randbytes(32), rng.randint(60, 100)) for v in variants}
                )
                or None,
                variants_version=variants_version,
            )
            for j in range(images)
        ),
    )

    def prints() -> Iterator[tuple[Any, ...]]:
        pk = first_print
        for j in range(images):
            image_id = first_image + j
            for algorithm, size in (("sha256", 32), ("md5", 16), ("pdq", 32)):
                yield print_rows.row(
                    id=pk,
                    image_id=image_id,
                    algorithm=algorithm,
                    version=fp.ALGORITHM_VERSIONS[algorithm],
                    value=rng.randbytes(size),
                    quality=rng.randint(60, 100) if algorithm == "pdq" else None,
                )
                pk += 1
            yield print_rows.row(
                id=pk,
                image_id=image_id,
                algorithm="phash",
                version=fp.ALGORITHM_VERSIONS["phash"],
                value_int=rng.getrandbits(64) - 2**63,
            )
            pk += 1

    return _write(print_rows, prints())
