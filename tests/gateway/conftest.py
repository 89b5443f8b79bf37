"""Gateway fixtures: a fake OpenAI-compatible backend on 127.0.0.1 and two registered versions of
``assistant`` that it serves (version 1 answers as backend model ``m1``, version 2 as ``m2``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_openai_backend import FakeBackend
from gateway_harness import api

from ondo.registry import models as registry
from ondo.workspace import Workspace


@pytest.fixture
def backend() -> Iterator[FakeBackend]:
    with FakeBackend() as b:
        yield b


@pytest.fixture
def assistant(workspace: Workspace, backend: FakeBackend) -> FakeBackend:
    """assistant/1 -> backend model m1, assistant/2 -> m2; assistant@production -> 1."""
    registry.register(workspace, "assistant", api=api(backend, "m1"))
    registry.register(workspace, "assistant", api=api(backend, "m2"))
    registry.set_alias(workspace, "assistant", "production", 1, reason="first release")
    return backend
