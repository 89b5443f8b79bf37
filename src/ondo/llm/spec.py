"""Turn a model spec string (what users type after ``--model``) into a :class:`Model`.

Accepted specs::

    local:smollm2                      the bundled SmolLM2-135M-Instruct (Q4_1 GGUF); transformers
                                       scores (loglikelihood), llama.cpp generates when installed
    local:PATH                         same routing for any GGUF file
    hf:PATH[,gguf_file=NAME][,k=v]     transformers on a Hugging Face folder (or a GGUF inside it)
    llamacpp:PATH.gguf[,k=v]           llama-cpp-python on a GGUF file
    openai:MODEL                       api.openai.com (or $OPENAI_BASE_URL), key from $OPENAI_API_KEY
    ollama:MODEL                       a local Ollama (http://127.0.0.1:11434/v1)
    http(s)://HOST/v1[#MODEL]          any OpenAI-compatible server (vLLM, llama.cpp, an ondo gateway)

Registry identifiers (``assistant@staging``) are resolved by the layers that know the
registry; they call :func:`load_model_from_source` with what a model version stores.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from ondo.errors import InvalidInput, NotFound
from ondo.llm.provider import Model
from ondo.llm.weights import bundled_model_path

SCHEMES = ("local", "hf", "llamacpp", "openai", "ollama", "http", "https")
BUNDLED_NAMES = ("smollm2", "smollm2-135m", "smollm2-135m-instruct")


def load_model(spec: str, **opts: Any) -> Model:
    """Build the model ``spec`` names. ``opts`` go to the provider's constructor
    (e.g. ``max_concurrency=16``, ``batch_size=64``, ``n_ctx=4096``, ``engine="llamacpp"``)."""
    spec = spec.strip()
    if spec.startswith(("http://", "https://")):
        base, _, model = spec.partition("#")
        return _openai_compat(base_url=base, model=model or None, provider="openai-compatible", **opts)
    scheme, sep, rest = spec.partition(":")
    if not sep or scheme not in SCHEMES:
        raise NotFound("model spec scheme", scheme if sep else spec, [f"{s}:" for s in SCHEMES] + ["local:smollm2"])
    if not rest:
        raise InvalidInput(f"model spec '{spec}' names no model; e.g. 'local:smollm2', 'hf:PATH', 'openai:gpt-4o-mini'")
    target, kv = _split_options(rest, spec)
    opts = {**kv, **opts}
    if scheme == "local":
        return load_local(target, **opts)
    if scheme == "hf":
        from ondo.llm.transformers_local import TransformersModel

        path, gguf = _split_gguf(target, opts.pop("gguf_file", None))
        return _shared(TransformersModel, path, gguf_file=gguf, **opts)
    if scheme == "llamacpp":
        from ondo.llm.llamacpp import LlamaCppModel

        return _shared(LlamaCppModel, _existing(target, spec), **opts)
    if scheme == "openai":
        base = opts.pop("base_url", None) or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        return _openai_compat(base_url=base, model=target, provider="openai", **opts)
    if scheme == "ollama":
        base = opts.pop("base_url", None) or os.environ.get("OLLAMA_BASE_URL") or "http://127.0.0.1:11434/v1"
        return _openai_compat(base_url=base, model=target, provider="ollama", **opts)
    raise NotFound("model spec scheme", scheme, [f"{s}:" for s in SCHEMES])  # pragma: no cover


def load_local(target: str, engine: str | None = None, **opts: Any) -> Model:
    """A local GGUF with the engine chosen per job (see module doc); ``engine=`` forces one."""
    from ondo.llm.routing import RoutedModel

    name = target
    if target.lower() in BUNDLED_NAMES:
        path = bundled_model_path()
        name = "smollm2"
    else:
        path = _existing(target, f"local:{target}")
        name = path.name
    if engine not in (None, "transformers", "llamacpp", "auto"):
        raise InvalidInput(f"unknown engine '{engine}'; use 'transformers' or 'llamacpp'", field="engine")
    llama_opts = {k: opts.pop(k) for k in list(opts) if k in _LLAMA_ONLY}
    hf_opts = {k: opts.pop(k) for k in list(opts) if k in _HF_ONLY}
    if opts:
        llama_opts.update(opts)
        hf_opts.update(opts)
    scorer: Model | None = None
    generator: Model | None = None
    if engine in (None, "auto", "transformers"):
        scorer = _lazy_transformers(path, hf_opts)
    if engine in (None, "auto", "llamacpp") and _has("llama_cpp"):
        from ondo.llm.llamacpp import LlamaCppModel

        generator = _shared(LlamaCppModel, path, **llama_opts)
    if engine == "llamacpp":
        if generator is None:
            raise NotFound("python package", "llama_cpp (pip install 'ondo[local]')", [])
        scorer = generator
    if generator is None:
        generator = scorer
    if scorer is None:  # transformers not installed: llama.cpp scores too
        scorer = generator
    if scorer is None:
        raise NotFound("python package", "transformers or llama_cpp (pip install 'ondo[local]')", [])
    return RoutedModel(name, scorer, generator)


def load_model_from_source(source: str | dict[str, Any], **opts: Any) -> Model:
    """Build the model a registry model version describes.

    ``source`` is a spec string, a local path (a ``.gguf`` file or a Hugging Face folder),
    or a dict: ``{"path": ...}`` / ``{"spec": ...}`` for local weights, or an API spec
    ``{"provider": "openai", "model": "gpt-4o-mini", "base_url": ..., "snapshot": ...,
    "params": {"temperature": 0.2, ...}, "system_prompt": ...}``. ``params`` that are decoding
    settings become per-request defaults; the others (``max_concurrency``, ``timeout``,
    ``api_key_env``...) configure the provider.
    """
    from ondo.llm.routing import _SAMPLING_FIELDS, DefaultParamsModel

    if isinstance(source, str):
        return _from_string(source, **opts)
    if not isinstance(source, dict):
        raise InvalidInput(f"model source must be a string or a dict, not {type(source).__name__}")
    params = dict(source.get("params") or {})
    sampling = {k: v for k, v in params.items() if k in _SAMPLING_FIELDS}
    ctor = {k: v for k, v in params.items() if k not in _SAMPLING_FIELDS}
    ctor.update(opts)
    model: Model
    if source.get("spec"):
        model = load_model(str(source["spec"]), **ctor)
    elif source.get("path") or source.get("local") or source.get("uri"):
        model = _from_string(str(source.get("path") or source.get("local") or source.get("uri")), **ctor)
    elif source.get("provider"):
        provider = str(source["provider"]).lower()
        model_id = source.get("snapshot") or source.get("model")
        if not model_id and provider not in ("openai-compatible", "http"):
            raise InvalidInput("API model source names no model", field="model")
        if source.get("base_url"):
            ctor.setdefault("base_url", source["base_url"])
        if provider in ("openai", "ollama"):
            model = load_model(f"{provider}:{model_id}", **ctor)
        elif provider in ("openai-compatible", "http", "vllm", "llamacpp-server", "ondo"):
            base = ctor.pop("base_url", None)
            if not base:
                raise InvalidInput(f"provider '{provider}' needs a base_url", field="base_url")
            model = _openai_compat(base_url=base, model=model_id, provider=provider, **ctor)
        elif provider in ("hf", "transformers", "llamacpp", "local"):
            model = load_model(f"{'hf' if provider == 'transformers' else provider}:{model_id}", **ctor)
        else:
            if not ctor.get("base_url"):
                raise NotFound("provider", provider, ["openai", "ollama", "openai-compatible", "vllm", "hf",
                                                      "llamacpp", "local"])
            base = ctor.pop("base_url")
            model = _openai_compat(base_url=base, model=model_id, provider=provider, **ctor)
    else:
        raise InvalidInput("model source needs 'path', 'spec' or 'provider'")
    system_prompt = source.get("system_prompt") if isinstance(source.get("system_prompt"), str) else None
    if sampling or system_prompt:
        return DefaultParamsModel(model, sampling, system_prompt=system_prompt)
    return model


# ---- internals ---------------------------------------------------------------------------------

_LLAMA_ONLY = {"n_ctx", "n_threads", "n_gpu_layers", "chat_format", "verbose", "n_batch"}
_HF_ONLY = {"batch_size", "row_tokens", "min_prefix", "max_length", "dtype", "torch_threads", "scoring", "convert_cache", "device",
            "max_batch_tokens"}


def _from_string(source: str, **opts: Any) -> Model:
    if source.startswith(("http://", "https://")) or source.split(":", 1)[0] in SCHEMES:
        return load_model(source, **opts)
    path = Path(source).expanduser()
    gguf = gguf_of(path)
    if gguf is not None:
        return load_local(str(gguf), **opts)
    if path.is_dir():
        return load_model(f"hf:{path}", **opts)
    raise NotFound("model source", source, [])


def gguf_of(path: Path) -> Path | None:
    """The GGUF file a local weights path stands for (loaded by llama.cpp), or None: a ``.gguf`` file, or
    a folder holding exactly one and no Hugging Face ``config.json``."""
    if path.is_file() and path.suffix == ".gguf":
        return path
    if path.is_dir() and not (path / "config.json").exists():
        found = sorted(path.glob("*.gguf"))
        return found[0] if len(found) == 1 else None
    return None


_instances: dict[tuple[Any, ...], Any] = {}
_instances_lock = threading.Lock()


def _shared(cls: Any, path: Any, **opts: Any) -> Any:
    """One engine per (class, weights, options) in a process: local weights are loaded once, however
    many callers (gateway, evaluations, judges) ask for the same model. ``shared=False`` opts out."""
    if not opts.pop("shared", True):
        return cls(path, **opts)
    key = (cls, str(Path(path).expanduser().resolve()), tuple(sorted((k, repr(v)) for k, v in opts.items())))
    with _instances_lock:
        if key not in _instances:
            _instances[key] = cls(path, **opts)
        return _instances[key]


def _openai_compat(**kwargs: Any) -> Model:
    from ondo.llm.openai_compat import OpenAICompatModel

    return OpenAICompatModel(**kwargs)


def _lazy_transformers(path: Path, opts: dict[str, Any]) -> Model | None:
    if not _has("transformers") or not _has("torch"):
        return None
    from ondo.llm.transformers_local import TransformersModel

    return _shared(TransformersModel, str(path.parent), gguf_file=path.name, **opts)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _split_options(rest: str, spec: str) -> tuple[str, dict[str, Any]]:
    """``PATH,k=v,k2=v2`` -> (PATH, {k: v}); values that look like numbers/bools are converted."""
    head, *pairs = rest.split(",")
    kv: dict[str, Any] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise InvalidInput(f"model spec option '{pair}' is not key=value", field=spec)
        kv[key.strip()] = _coerce(value.strip())
    return head.strip(), kv


def _coerce(value: str) -> Any:
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def _split_gguf(target: str, gguf_file: str | None) -> tuple[str, str | None]:
    path = Path(target).expanduser()
    if gguf_file is None and path.suffix == ".gguf":
        if not path.is_file():
            raise NotFound("GGUF file", str(path), [])
        return str(path.parent), path.name
    return str(path), gguf_file


def _existing(target: str, spec: str) -> Path:
    path = Path(target).expanduser()
    if not path.exists():
        siblings = [p.name for p in path.parent.glob("*.gguf")] if path.parent.is_dir() else []
        raise NotFound("model file", str(path), siblings)
    return path
