"""Fixtures for the dataset tests."""

from __future__ import annotations

import pytest

from ondo.workspace import Workspace


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    return workspace
