"""LLM fixtures: the bundled SmolLM2 loaded once per session by each engine, and a real
``llama_cpp.server`` on 127.0.0.1 serving it (started on demand, stopped at the end)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ondo.llm.weights import bundled_model_path

sys.path.insert(0, str(Path(__file__).parent))  # benchmark_items


@pytest.fixture(scope="session")
def gguf_path() -> Path:
    return bundled_model_path()


@pytest.fixture(scope="session")
def hf_model(gguf_path: Path):  # type: ignore[no-untyped-def]
    pytest.importorskip("transformers")
    from ondo.llm.transformers_local import TransformersModel

    model = TransformersModel(gguf_path.parent, gguf_file=gguf_path.name)
    model.load()
    return model


@pytest.fixture(scope="session")
def llama_model(gguf_path: Path):  # type: ignore[no-untyped-def]
    pytest.importorskip("llama_cpp")
    from ondo.llm.llamacpp import LlamaCppModel

    return LlamaCppModel(gguf_path, n_ctx=2048)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def llama_server(gguf_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:PORT/v1``) of llama-cpp-python's OpenAI-compatible server."""
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] not installed")
    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "2048", "--n_threads", "1", "--model_alias", "smollm2"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
