"""Model specs and registry sources turn into the right provider."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ondo.errors import InvalidInput, NotFound, UnsupportedOperation
from ondo.llm import ChatMessage, ChatRequest, LoglikelihoodRequest, load_model, load_model_from_source
from ondo.llm.openai_compat import OpenAICompatModel
from ondo.llm.routing import DefaultParamsModel, RoutedModel


def test_bundled_model_routes_scoring_to_transformers_and_generation_to_llamacpp(gguf_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    model = load_model("local:smollm2")
    assert isinstance(model, RoutedModel)
    assert model.scorer is not None and model.scorer.provider == "transformers"
    assert model.generator is not None and model.generator.provider == "llamacpp"
    assert {"chat", "generate", "loglikelihood", "json_schema"} <= model.capabilities
    assert "transformers:SmolLM2-135M-Instruct.Q4_1.gguf@sha256:" in model.fingerprint
    assert "llamacpp:" in model.fingerprint
    again = load_model("local:smollm2")
    assert again.fingerprint == model.fingerprint  # stable
    assert isinstance(again, RoutedModel) and again.scorer is model.scorer  # weights load once per process
    assert load_model("local:smollm2", shared=False, engine="transformers").scorer is not model.scorer


def test_engine_option_and_other_schemes(gguf_path: Path) -> None:
    only = load_model("local:smollm2", engine="transformers")
    assert isinstance(only, RoutedModel) and only.generator is only.scorer
    hf = load_model(f"hf:{gguf_path.parent},gguf_file={gguf_path.name},row_tokens=256")
    assert hf.provider == "transformers" and hf.row_tokens == 256
    assert load_model(f"hf:{gguf_path}").fingerprint == hf.fingerprint
    assert load_model(f"llamacpp:{gguf_path}").provider == "llamacpp"
    url = load_model("http://127.0.0.1:9/v1#served")
    assert isinstance(url, OpenAICompatModel) and url.model == "served" and url.base_url == "http://127.0.0.1:9/v1"
    assert load_model("ollama:llama3").fingerprint == "ollama:llama3@http://127.0.0.1:11434/v1"


def test_bad_specs_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="did you mean 'openai:'"):
        load_model("opneai:gpt-4o")
    with pytest.raises(NotFound, match=r"no-such\.gguf"):
        load_model(f"llamacpp:{tmp_path}/no-such.gguf")
    with pytest.raises(InvalidInput, match="names no model"):
        load_model("hf:")
    with pytest.raises(InvalidInput, match="key=value"):
        load_model(f"hf:{tmp_path},gguf_file")
    with pytest.raises(InvalidInput, match="engine"):
        load_model("local:smollm2", engine="onnx")


def test_registry_sources(gguf_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    api = load_model_from_source({"provider": "openai", "model": "gpt-4o-mini",
                                  "params": {"temperature": 0.2, "max_tokens": 64, "max_concurrency": 2}})
    assert isinstance(api, DefaultParamsModel) and isinstance(api.inner, OpenAICompatModel)
    assert api.inner.max_concurrency == 2 and api.params == {"temperature": 0.2, "max_tokens": 64}
    plain = load_model_from_source({"provider": "openai", "model": "gpt-4o-mini"})
    assert api.fingerprint != plain.fingerprint  # defaults change answers, so they change the identity
    custom = load_model_from_source({"provider": "vllm", "model": "llama", "base_url": "http://h:8000/v1"})
    assert custom.fingerprint == "vllm:llama@http://h:8000/v1"
    assert isinstance(load_model_from_source(str(gguf_path)), RoutedModel)
    assert isinstance(load_model_from_source({"path": str(gguf_path)}), RoutedModel)
    with pytest.raises(InvalidInput, match="base_url"):
        load_model_from_source({"provider": "openai-compatible", "model": "x"})
    with pytest.raises(NotFound):
        load_model_from_source({"path": "/nowhere/model.gguf"})


def test_defaults_apply_only_where_the_request_is_silent() -> None:
    seen: list[ChatRequest] = []

    class Echo:
        fingerprint = "echo"
        capabilities = frozenset({"chat"})
        provider = "test"
        model_name = "echo"

        async def chat(self, request: Any) -> Any:
            from ondo.llm import ChatResponse

            seen.append(request)
            return ChatResponse(text="ok")

    model = DefaultParamsModel(Echo(), {"temperature": 0.7, "max_tokens": 9}, system_prompt="Be brief.")  # type: ignore[arg-type]
    asyncio.run(model.chat(ChatRequest(messages=[ChatMessage(role="user", content="hi")], temperature=0.0)))
    assert seen[0].temperature == 0.0 and seen[0].max_tokens == 9
    assert [m.role for m in seen[0].messages] == ["system", "user"]
    with pytest.raises(UnsupportedOperation, match="does not support loglikelihood; it supports: chat"):
        asyncio.run(model.loglikelihood([LoglikelihoodRequest("a", "b")]))


def test_folder_fingerprint_hashes_the_weight_files(tmp_path: Path) -> None:
    from ondo.llm.weights import directory_digest

    folder = tmp_path / ".cache" / "model"  # a dot folder above the model must not hide its files
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights v1")
    (folder / ".cache").mkdir()
    (folder / ".cache" / "lock.json").write_text("ignored")
    first = directory_digest(folder)
    (folder / ".cache" / "lock.json").write_text("still ignored")
    assert directory_digest(folder) == first
    (folder / "model.safetensors").write_bytes(b"weights v2, retrained")
    assert directory_digest(folder) != first
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotFound):
        directory_digest(tmp_path / "empty")
