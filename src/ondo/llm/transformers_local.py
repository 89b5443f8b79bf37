"""Local Hugging Face transformers: a model folder, or a GGUF file dequantised through ``gguf``.

Loading a GGUF through transformers dequantises every tensor and converts the tokenizer
(about 20 s for SmolLM2 on this class of machine), so the first load saves a plain
safetensors copy under ``<cache>/models/<file digest>`` and later loads read that (< 1 s).
:func:`converted_model_dir` exposes the copy, e.g. for running lm-evaluation-harness's ``hf``
model on exactly the weights ondo scores.

Scoring is in :mod:`ondo.llm.scoring`. Torch runs on one thread unless ``torch_threads`` (or
``$ONDO_TORCH_THREADS``) says otherwise: on a shared CPU box more threads mostly contend.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from ondo.errors import InvalidInput, NotFound
from ondo.llm.provider import ModelBase
from ondo.llm.types import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    GenerateRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    SamplingParams,
    Usage,
)
from ondo.llm.weights import cache_dir, directory_digest, file_digest

log = logging.getLogger("ondo.llm")

_CONVERT_LOCK = threading.Lock()


def converted_model_dir(gguf_path: str | os.PathLike[str]) -> Path:
    """A transformers folder (safetensors + tokenizer) holding the dequantised GGUF; made once."""
    gguf = Path(gguf_path).resolve()
    if not gguf.is_file():
        raise NotFound("GGUF file", str(gguf), [])
    digest = file_digest(gguf).split(":", 1)[1]
    target = cache_dir() / "models" / digest[:32]
    if (target / "config.json").is_file() and any(target.glob("*.safetensors")):
        return target
    with _CONVERT_LOCK:
        if (target / "config.json").is_file() and any(target.glob("*.safetensors")):
            return target
        from transformers import AutoModelForCausalLM, AutoTokenizer

        log.info("converting %s to a transformers folder (once): %s", gguf.name, target)
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        # the dequantised weights are plain float tensors; drop the "quantized" marker so they save
        model.hf_quantizer = None  # type: ignore[assignment]
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        try:
            model.save_pretrained(str(tmp))
            tok.save_pretrained(str(tmp))
            (tmp / "ondo-source.txt").write_text(f"{gguf}\nsha256:{digest}\n")
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return target


class TransformersModel(ModelBase):
    provider_name = "transformers"

    def __init__(
        self,
        path: str | os.PathLike[str],
        gguf_file: str | None = None,
        *,
        dtype: str = "float32",
        torch_threads: int | None = None,
        row_tokens: int = 512,
        max_batch_tokens: int = 2048,
        batch_size: int = 64,
        max_length: int | None = None,
        scoring: str = "auto",
        min_prefix: int = 16,
        convert_cache: bool = True,
        device: str = "cpu",
        max_batch_size: int | None = None,
    ) -> None:
        self.path = Path(path).expanduser()
        self.gguf_file = gguf_file
        if gguf_file is not None and not (self.path / gguf_file).is_file():
            raise NotFound("GGUF file", str(self.path / gguf_file),
                           [p.name for p in self.path.glob("*.gguf")] if self.path.is_dir() else [])
        if gguf_file is None and not (self.path / "config.json").is_file():
            raise NotFound("Hugging Face model folder (with config.json)", str(self.path), [])
        if scoring not in ("auto", "packed", "plain"):
            raise InvalidInput(f"scoring must be auto, packed or plain, not '{scoring}'", field="scoring")
        self.dtype = dtype
        self.torch_threads = torch_threads or int(os.environ.get("ONDO_TORCH_THREADS", "1"))
        self.row_tokens = row_tokens
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_size = max_batch_size or batch_size
        self._max_length = max_length
        self.scoring = scoring
        self.min_prefix = min_prefix
        self.convert_cache = convert_cache
        self.device = device
        self._digest: str | None = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.RLock()  # properties (tokenizer, hf_model) load under it too
        self._mode: str | None = None
        #: tokens pushed through the model by loglikelihood (throughput reports)
        self.forward_tokens = 0

    # ---- identity -------------------------------------------------------------------------------

    @property
    def weights_digest(self) -> str:
        if self._digest is None:
            if self.gguf_file:
                self._digest = file_digest(self.path / self.gguf_file)
            else:
                self._digest = directory_digest(self.path)
        return self._digest

    @property
    def model_name(self) -> str:
        return self.gguf_file or self.path.name

    @property
    def fingerprint(self) -> str:
        suffix = "" if self.dtype == "float32" else f",dtype={self.dtype}"
        return f"transformers:{self.model_name}@{self.weights_digest}{suffix}"

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({"chat", "generate", "loglikelihood"})

    # ---- loading --------------------------------------------------------------------------------

    def load(self) -> None:
        """Load weights and tokenizer now (otherwise the first call does)."""
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> None:
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(self.torch_threads)
        started = time.perf_counter()
        torch_dtype = getattr(torch, self.dtype) if self.dtype != "auto" else "auto"
        if self.gguf_file and self.convert_cache:
            folder = converted_model_dir(self.path / self.gguf_file)
            self._tokenizer = AutoTokenizer.from_pretrained(str(folder))
            self._model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch_dtype)
        else:
            kwargs: dict[str, Any] = {"gguf_file": self.gguf_file} if self.gguf_file else {}
            self._tokenizer = AutoTokenizer.from_pretrained(str(self.path), **kwargs)
            self._model = AutoModelForCausalLM.from_pretrained(str(self.path), dtype=torch_dtype, **kwargs)
        self._model.to(self.device)
        self._model.eval()
        log.info("loaded %s in %.1fs", self.fingerprint, time.perf_counter() - started)

    @property
    def tokenizer(self) -> Any:
        self.load()
        return self._tokenizer

    @property
    def hf_model(self) -> Any:
        self.load()
        return self._model

    @property
    def max_length(self) -> int:
        """lm-eval's rule: config n_positions / max_position_embeddings / n_ctx, else 2048."""
        if self._max_length:
            return self._max_length
        config = self.hf_model.config
        for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
            if getattr(config, attr, None):
                return int(getattr(config, attr))
        tml = getattr(self._tokenizer, "model_max_length", None)
        if tml and tml < 10**9:
            return int(tml)
        return 2048

    @property
    def prefix_token_id(self) -> int:
        tok = self.tokenizer
        return int(tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id)

    def encode(self, texts: list[str]) -> list[list[int]]:
        if not texts:
            return []
        return [list(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]

    # ---- loglikelihood --------------------------------------------------------------------------

    async def _loglikelihood_batch(self, requests: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        return await asyncio.to_thread(self.loglikelihood_sync, requests)

    def loglikelihood_sync(self, requests: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        """Blocking scoring (what the async method runs in a worker thread)."""
        import torch

        from ondo.llm import scoring

        with self._lock:
            self._load_locked()
            with torch.inference_mode():
                items = scoring.encode_requests(requests, self.encode, self.prefix_token_id, self.max_length)
                scorer: scoring.PackedScorer | scoring.PlainScorer
                if self._scoring_mode() == "packed":
                    scorer = scoring.PackedScorer(self._model, row_tokens=self.row_tokens,
                                                  min_prefix=self.min_prefix)
                else:
                    scorer = scoring.PlainScorer(self._model, max_batch_tokens=self.max_batch_tokens,
                                                 max_batch_size=self.max_batch_size)
                results = scorer.score(items)
                self.forward_tokens += scorer.forward_tokens
                return results

    def _scoring_mode(self) -> str:
        if self._mode is None:
            if self.scoring != "auto":
                self._mode = self.scoring
            else:
                from ondo.llm import scoring

                worst = scoring.self_check(self._model, self.encode, self.prefix_token_id)
                self._mode = "packed" if worst < 1e-3 else "plain"
                if self._mode == "plain":
                    log.warning("%s: packed scoring differs from a plain forward by %.2g; using plain batching",
                                self.fingerprint, worst)
        return self._mode

    # ---- generation -----------------------------------------------------------------------------

    async def _chat_one(self, request: ChatRequest) -> ChatResponse:
        return await asyncio.to_thread(self._generate_sync, None, request.messages, request)

    async def _generate_one(self, request: GenerateRequest) -> ChatResponse:
        return await asyncio.to_thread(self._generate_sync, request.prompt, None, request)

    def _generate_sync(self, prompt: str | None, messages: list[ChatMessage] | None,
                       params: SamplingParams) -> ChatResponse:
        import torch

        if params.wants_json():
            from ondo.errors import UnsupportedOperation

            raise UnsupportedOperation(f"model {self.fingerprint} cannot constrain output to JSON; "
                                       "use the llama.cpp engine (llamacpp:PATH.gguf) for json_schema")
        with self._lock:
            self._load_locked()
            tok = self._tokenizer
            started = time.perf_counter()
            if messages is not None:
                chat = [{"role": m.role, "content": m.text} for m in messages]
                text = tok.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
                ids = tok(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
            else:
                ids = tok(prompt or "", return_tensors="pt")["input_ids"]
            max_new = params.max_tokens or 256
            gen: dict[str, Any] = {"max_new_tokens": max_new, "pad_token_id": tok.eos_token_id}
            if params.temperature > 0:
                gen.update(do_sample=True, temperature=params.temperature, top_p=params.top_p or 1.0)
                if params.seed is not None:
                    torch.manual_seed(params.seed)
            else:
                gen.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            if params.stop:
                gen.update(stop_strings=params.stop, tokenizer=tok)
            with torch.inference_mode():
                out = self._model.generate(ids, attention_mask=torch.ones_like(ids), **gen)
            new = out[0, ids.shape[1]:].tolist()
            text_out = tok.decode(new, skip_special_tokens=True)
            finish = "stop"
            for s in params.stop or []:
                cut = text_out.find(s)
                if cut >= 0:
                    text_out = text_out[:cut]
            if len(new) >= max_new and (not new or new[-1] != tok.eos_token_id) and not any(
                s in tok.decode(new) for s in params.stop or []
            ):
                finish = "length"
            elapsed = time.perf_counter() - started
            return ChatResponse(
                text=text_out, finish_reason=finish, model=self.model_name,
                usage=Usage.from_transformers(int(ids.shape[1]), len(new), elapsed), latency_s=elapsed,
            )
