"""Fixtures for the disputes tests: false-match reports need a curator's job."""

from __future__ import annotations

import pytest

from registry.models import RightsHolder
from tests.optout.helpers import Registry, enforce


@pytest.fixture
def registry(holder: RightsHolder) -> Registry:
    return enforce(holder)
