"""Fixtures for the curators' tests: a registry snapshot folder per test."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from optout.references import reference_cache_clear
from registry import services
from registry.models import RightsHolder, User
from tests.conftest import PASSWORD, client_for

from .helpers import Registry, enforce


@pytest.fixture(autouse=True)
def _snapshot_root(tmp_path_factory: pytest.TempPathFactory, settings) -> None:
    # Snapshots are named by registry revision; every test database starts
    # again from revision 0, so each test needs a folder of its own.
    settings.SNAPSHOT_ROOT = tmp_path_factory.mktemp("snapshots")
    # Image ids repeat across test databases: forget features cached by id.
    reference_cache_clear()


@pytest.fixture
def registry(holder: RightsHolder) -> Registry:
    return enforce(holder)


@pytest.fixture
def other_curator(db) -> User:
    return services.user_signup(
        username="dave",
        email="dave@example.com",
        password=PASSWORD,
        is_artist=False,
        is_curator=True,
    )


@pytest.fixture
def other_curator_client(other_curator: User) -> APIClient:
    return client_for(other_curator)
