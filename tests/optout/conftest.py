"""Fixtures for the curators' tests."""

from __future__ import annotations

import pytest

from registry.models import RightsHolder

from .helpers import Registry, enforce


@pytest.fixture
def registry(holder: RightsHolder) -> Registry:
    return enforce(holder)
