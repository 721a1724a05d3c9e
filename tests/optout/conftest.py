"""Fixtures for the curators' tests."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from registry import services
from registry.models import RightsHolder, User
from tests.conftest import PASSWORD, client_for

from .helpers import Registry, enforce


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
