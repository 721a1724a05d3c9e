"""Schemathesis against /api/schema/: every operation, as every role, keeps its word.

For each role (anonymous, artist, curator, admin) and each operation in the
schema, Schemathesis generates requests, valid and invalid, and sends them to
the project's WSGI application in this process, inside the test's transaction.
A response fails when it is a 5xx, has a status the operation does not
document, or does not match the documented body.

The registry is seeded first (a work with an image registered by hashes, a
claim of each kind, a dispute, a curator's finished job with its matches), and
path ids are drawn from those objects as well as generated, so operations on
existing objects are reached, not only their 404s. Each operation runs in a
savepoint that is rolled back, so one operation's writes (a revoked token, a
withdrawn claim, a curator who became an artist) never change what the next
one sees.

Generation is derandomized, with few examples per operation: the run is the
same every time and takes well under two minutes.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import User
from accounts.services import api_token_create
from disputes.services import dispute_create
from registry.services import image_register_hashes, work_create
from tests.optout.helpers import enforce, run_job, start_job

EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 10}
CONFIG = schemathesis.Config.from_dict({"analysis": {"constants": {"enabled": False}}})
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
]


@pytest.fixture
def deterministic(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Generation that depends on nothing but this test.

    Hypothesis mixes literals from every project module imported so far into
    what it generates, so which cases it tries would depend on which tests ran
    before this one (a view imports modules lazily). Keep to its built-in
    constants; Schemathesis's own scan of the application is off in CONFIG.
    """
    from hypothesis.internal.conjecture import providers
    from hypothesis.internal.constants_ast import Constants

    monkeypatch.setattr(providers, "_get_local_constants", Constants)
    providers.CONSTANTS_CACHE.cache.clear()
    yield
    providers.CONSTANTS_CACHE.cache.clear()


@pytest.fixture
def wsgi_app() -> Iterator[WSGIHandler]:
    """The project's WSGI application, on the test's database connection.

    Django closes the connection when a request ends, which would lose the
    test's transaction; like Django's test client, the test disconnects that.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def crashes() -> Iterator[list[str]]:
    """Tracebacks of the exceptions views raised: the causes of the 500s."""
    seen: list[str] = []

    def record(sender: Any, **kwargs: Any) -> None:
        seen.append(traceback.format_exc())

    signals.got_request_exception.connect(record)
    try:
        yield seen
    finally:
        signals.got_request_exception.disconnect(record)


@dataclass(frozen=True)
class World:
    """Ids of the seeded objects, by path parameter name."""

    ids: dict[str, list[int]]


def seed(artist: User, other_artist: User, curator: User) -> World:
    holder = artist.rights_holder
    registry = enforce(holder)
    work = work_create(owner=holder, title="Harbour", description="oil")
    image = image_register_hashes(
        owner=holder,
        hashes={"phash": "8f373714acfcf4d0"},
        title="Harbour, hashes only",
        work_id=work.pk,
    )
    dispute = dispute_create(
        disputer=other_artist,
        target=f"claim:{registry.url.pk}",
        grounds="not_owner",
        statement="I took this photograph in Lyon in 2017; the RAW file is mine.",
    )
    job = run_job(start_job(curator))
    claims = [registry.url, registry.prefix, registry.domain, registry.style]
    return World(
        ids={
            "work_id": [work.pk],
            "image_id": [image.pk, registry.image.pk],
            "claim_id": [claim.pk for claim in claims],
            "dispute_id": [dispute.pk],
            "job_id": [job.pk],
            "match_id": list(job.matches.values_list("pk", flat=True)[:3]),
            "output_id": list(job.outputs.values_list("pk", flat=True)[:3]),
        }
    )


def cases(operation: Any, mode: GenerationMode, world: World) -> st.SearchStrategy:
    """Generated cases, and as many on the seeded objects' ids."""
    generated = operation.as_strategy(mode)
    names = [parameter.name for parameter in operation.path_parameters]
    if not names or not all(world.ids.get(name) for name in names):
        return generated
    seeded = st.fixed_dictionaries(
        {name: st.sampled_from(world.ids[name]) for name in names}
    ).flatmap(lambda ids: operation.as_strategy(mode, path_parameters=ids))
    return st.one_of(seeded, generated)


def exercise(
    operation: Any,
    mode: GenerationMode,
    world: World,
    headers: dict[str, str],
    crashes: list[str],
) -> dict[int, str]:
    """Runs one operation's examples; the first failing example of each status."""
    failures: dict[int, str] = {}

    @settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: first example
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases(operation, mode, world))
    def run(case: Any) -> None:
        crashes.clear()
        response = case.call(headers=headers)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            found = "\n".join(f"{f.title}: {f.message}" for f in group.exceptions)
            failures.setdefault(
                response.status_code,
                f"{case.as_curl_command(headers=headers)}\n"
                f"-> {response.status_code} {response.text[:300]}\n{found}\n"
                + "".join(crashes[-1:]),
            )

    try:
        run()
    except Unsatisfiable:
        # Every input of the operation accepts anything (an optional free-text
        # filter): there is no invalid request to make.
        assert mode is GenerationMode.NEGATIVE
    return failures


def modes(operation: Any) -> list[GenerationMode]:
    """Invalid requests only for operations that take some input to spoil."""
    inputs = [operation.path_parameters, operation.query, operation.body]
    if any(len(found) for found in inputs):
        return list(EXAMPLES)
    return [GenerationMode.POSITIVE]


@pytest.mark.parametrize("role", ["anonymous", "artist", "curator", "admin"])
def test_every_operation_answers_as_its_schema_says(
    role, deterministic, wsgi_app, crashes, artist, other_artist, curator, admin_user
):
    world = seed(artist, other_artist, curator)
    users = {"artist": artist, "curator": curator, "admin": admin_user}
    schema = schemathesis.openapi.from_wsgi(
        "/api/schema/?format=json", wsgi_app, config=CONFIG
    )

    unexpected: dict[tuple[str, int], str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        label = operation.label
        for mode in modes(operation):
            with transaction.atomic():
                headers = {}
                if role in users:
                    _, key = api_token_create(user=users[role], name="st")
                    headers = {"Authorization": f"Token {key}"}
                for status, example in exercise(
                    operation, mode, world, headers, crashes
                ).items():
                    unexpected.setdefault((label, status), example)
                transaction.set_rollback(True)

    report = "\n\n".join(f"{key}:\n{text}" for key, text in sorted(unexpected.items()))
    assert not unexpected, f"{len(unexpected)} failure(s) as {role}:\n\n{report}"
