"""The issue's "done when": `ondo serve` in front of SmolLM2, called with the official openai
client as model="assistant@production"; the alias moves and the next call is answered by the
new version; both calls are in `ondo traces list` and in /metrics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest
from fake_openai_backend import free_port

import ondo
from ondo.llm import bundled_model_path
from ondo.workspace import Workspace

ONDO = str(Path(sys.executable).parent / "ondo")


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"ondo serve exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("ondo serve did not become healthy")


@pytest.mark.llm
@pytest.mark.timeout(600)
def test_serve_smollm2_alias_move_traces_and_metrics(workspace: Workspace) -> None:
    gguf = bundled_model_path()
    v1 = ondo.models.register("assistant", source=str(gguf), workspace=workspace)
    v2 = ondo.models.register("assistant", source=str(gguf), workspace=workspace)
    ondo.models.set_alias("assistant", "production", version=v1.version, reason="first", workspace=workspace)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "ONDO_LLAMA_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([ONDO, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(url, proc)
        client = openai.OpenAI(base_url=url + "/v1", api_key="not-needed-on-loopback", max_retries=0, timeout=300)

        def ask() -> tuple[str, str, str]:
            raw = client.chat.completions.with_raw_response.create(
                model="assistant@production", messages=[{"role": "user", "content": "Say hello."}],
                max_tokens=8, temperature=0,
            )
            completion = raw.parse()
            return completion.model, raw.headers["x-ondo-model-version"], completion.choices[0].message.content or ""

        first = ask()
        assert first[:2] == (f"assistant/{v1.version}", f"assistant/{v1.version}")
        assert first[2].strip()  # SmolLM2 said something
        ondo.models.set_alias("assistant", "production", version=v2.version, reason="promote", workspace=workspace)
        second = ask()
        assert second[:2] == (f"assistant/{v2.version}", f"assistant/{v2.version}")

        # both calls are traced (the server's writer flushes every 0.1 s)
        deadline = time.monotonic() + 30
        while True:
            out = subprocess.run([ONDO, "traces", "list", "--model", "assistant@production", "--json"], env=env,
                                 capture_output=True, text=True, check=True)
            spans = json.loads(out.stdout)
            if len(spans) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        served = sorted(s["served_by"] for s in spans)
        assert served == [f"assistant/{v1.version}", f"assistant/{v2.version}"]
        assert all(s["status"] == "ok" and s["kind"] == "llm" and s["output_tokens"] for s in spans)
        assert all(s["cost_usd"] == 0.0 for s in spans)  # a local model costs nothing

        metrics = httpx.get(url + "/metrics", timeout=10).text
        for version in (v1.version, v2.version):
            line = ('ondo_gateway_requests_total{alias="production",endpoint="/v1/chat/completions",'
                    f'model="assistant",status="200",version="{version}"}} 1.0')
            assert line in metrics
        assert 'ondo_gateway_tokens_total{alias="production",model="assistant",type="output"' in metrics
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
