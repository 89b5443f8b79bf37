"""The request cache: an identical call is answered from the store, so re-runs cost nothing.

Key = sha256 of (model fingerprint, call kind, normalised request JSON incl. sampling
params). Chat and generate answers are cached only when they are reproducible (temperature
0, or a seed given). Log-likelihoods are cached per request item and written as each chunk
finishes, so a killed evaluation resumes where it stopped. Writes go through ``ws.write`` in
batches; ``stats`` counts hits and misses ("re-running makes zero new calls" is
``stats.misses == 0``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ondo.llm.provider import DelegatingModel, Model, closing_stream
from ondo.llm.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingResponse,
    GenerateRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    SamplingParams,
    Usage,
)
from ondo.store.tables.llm import llm_cache
from ondo.workspace import Workspace

_READ_CHUNK = 500

_USAGE_KNOWN = "usage_known"  # stored with a streamed answer: False when the stream reported no usage


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    writes: int = 0
    uncacheable: int = 0


def request_key(fingerprint: str, kind: str, request: dict[str, Any]) -> tuple[str, str]:
    """(sha256 hex key, canonical request JSON) for a normalised request."""
    body = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    blob = json.dumps([fingerprint, kind], separators=(",", ":")) + "\n" + body
    return hashlib.sha256(blob.encode()).hexdigest(), body


def normalize(request: SamplingParams) -> dict[str, Any]:
    """The request as JSON, without fields that do not change the answer (``stream``)."""
    data = request.model_dump(mode="json", exclude={"stream"}, exclude_none=True)
    if not data.get("extra"):
        data.pop("extra", None)
    return data


class CachedModel(DelegatingModel):
    """Wrap any :class:`Model` with the store-backed request cache."""

    def __init__(self, model: Model, ws: Workspace | None = None, *, flush_every: int = 256) -> None:
        super().__init__(model)
        self.ws = ws or Workspace.default()
        self.flush_every = max(1, flush_every)
        self.stats = CacheStats()

    # ---- store access ---------------------------------------------------------------------------

    def _lookup(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(keys))
        with self.ws.read() as conn:
            for i in range(0, len(unique), _READ_CHUNK):
                chunk = unique[i:i + _READ_CHUNK]
                rows = conn.execute(sa.select(llm_cache.c.key, llm_cache.c.response)
                                    .where(llm_cache.c.key.in_(chunk)))
                found.update({r.key: r.response for r in rows})
        return found

    def _store(self, kind: str, rows: list[tuple[str, str, str]]) -> None:
        """Insert (key, request_json, response_json) rows; an existing key is left as it is."""
        if not rows:
            return
        now = time.time()
        fp = self.fingerprint[:512]
        values = [{"key": k, "kind": kind, "fingerprint": fp, "request": req, "response": resp, "created_at": now}
                  for k, req, resp in dict((r[0], r) for r in rows).values()]

        for i in range(0, len(values), self.flush_every):
            batch = values[i:i + self.flush_every]
            self.ws.write(lambda conn, b=batch: _insert_new(conn, b))  # type: ignore[misc]
            self.stats.writes += len(batch)

    def clear(self) -> int:
        """Forget every cached answer of this model; returns how many rows went."""
        fp = self.fingerprint[:512]
        return int(self.ws.write(lambda conn: conn.execute(
            llm_cache.delete().where(llm_cache.c.fingerprint == fp)).rowcount))

    # ---- chat / generate --------------------------------------------------------------------------

    async def _answers(self, kind: str, requests: list[Any], call: Any) -> list[ChatResponse]:
        keyed: list[tuple[str, str] | None] = []
        for r in requests:
            if r.deterministic:
                keyed.append(request_key(self.fingerprint, kind, normalize(r)))
            else:
                keyed.append(None)
                self.stats.uncacheable += 1
        keys = [k[0] for k in keyed if k is not None]
        found = await asyncio.to_thread(self._lookup, keys) if keys else {}
        out: list[ChatResponse | None] = [None] * len(requests)
        todo: list[int] = []
        for i, k in enumerate(keyed):
            if k is not None and k[0] in found:
                out[i] = ChatResponse.model_validate_json(found[k[0]]).model_copy(update={"cached": True})
                self.stats.hits += 1
            else:
                todo.append(i)
        if todo:
            fresh = await call([requests[i] for i in todo])
            rows = []
            for i, resp in zip(todo, fresh, strict=True):
                out[i] = resp
                k = keyed[i]
                if k is not None:
                    self.stats.misses += 1
                    rows.append((k[0], k[1], resp.model_dump_json(exclude={"raw", "cached", "latency_s"})))
            await asyncio.to_thread(self._store, kind, rows)
        return [o for o in out if o is not None]

    async def chat(self, request: Any) -> Any:
        self.require("chat")
        single = isinstance(request, ChatRequest)
        reqs = [request] if single else list(request)
        answers = await self._answers("chat", reqs, self.inner.chat)
        return answers[0] if single else answers

    async def generate(self, request: Any) -> Any:
        self.require("generate")
        single = isinstance(request, GenerateRequest)
        reqs = [request] if single else list(request)
        answers = await self._answers("generate", reqs, self.inner.generate)
        return answers[0] if single else answers

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self.require("chat")
        if not request.deterministic:
            self.stats.uncacheable += 1
            async with closing_stream(self.inner.chat_stream(request)) as stream:
                async for chunk in stream:
                    yield chunk
            return
        key, body = request_key(self.fingerprint, "chat", normalize(request))
        found = await asyncio.to_thread(self._lookup, [key])
        if key in found:
            self.stats.hits += 1
            resp = ChatResponse.model_validate_json(found[key])
            known = json.loads(found[key]).get(_USAGE_KNOWN, True)  # a stream may come without usage
            yield ChatChunk(delta=resp.text, model=resp.model, cached=True)
            yield ChatChunk(finish_reason=resp.finish_reason or "stop", usage=resp.usage if known else None,
                            model=resp.model, cached=True)
            return
        parts: list[str] = []
        last: ChatChunk | None = None
        async with closing_stream(self.inner.chat_stream(request)) as stream:
            async for chunk in stream:
                parts.append(chunk.delta)
                if chunk.finish_reason is not None:
                    last = chunk
                yield chunk
        if last is not None:  # only complete answers are remembered
            self.stats.misses += 1
            resp = ChatResponse(text="".join(parts), finish_reason=last.finish_reason, usage=last.usage or Usage(),
                                model=last.model)
            row = resp.model_dump(mode="json", exclude={"raw", "cached", "latency_s"})
            row[_USAGE_KNOWN] = last.usage is not None  # replayed as it came: no usage stays no usage
            await asyncio.to_thread(self._store, "chat", [(key, body, json.dumps(row))])

    # ---- loglikelihood / embeddings ---------------------------------------------------------------

    async def _loglikelihood_batch(self, requests: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        fp = self.fingerprint
        keyed = [request_key(fp, "loglikelihood", {"context": r.context, "continuation": r.continuation})
                 for r in requests]
        found = await asyncio.to_thread(self._lookup, [k for k, _ in keyed])
        out: list[LoglikelihoodResult | None] = [None] * len(requests)
        todo: list[int] = []
        for i, (k, _) in enumerate(keyed):
            if k in found:
                out[i] = LoglikelihoodResult.from_dict(json.loads(found[k]))
                self.stats.hits += 1
            else:
                todo.append(i)
        for part in _chunks_at_context_boundaries(todo, requests, self.flush_every):
            results = await self.inner.loglikelihood([requests[i] for i in part])
            rows = []
            for i, res in zip(part, results, strict=True):
                out[i] = res
                rows.append((keyed[i][0], keyed[i][1], json.dumps(res.to_dict())))
            self.stats.misses += len(part)
            await asyncio.to_thread(self._store, "loglikelihood", rows)
        return [o for o in out if o is not None]

    async def _embed(self, texts: list[str]) -> EmbeddingResponse:
        key, body = request_key(self.fingerprint, "embed", {"input": texts})
        found = await asyncio.to_thread(self._lookup, [key])
        if key in found:
            self.stats.hits += 1
            data = json.loads(found[key])
            return EmbeddingResponse(vectors=data["vectors"], usage=Usage.from_dict(data["usage"]), model=data["model"],
                                     cached=True)
        resp = await self.inner.embed(texts)
        self.stats.misses += 1
        payload = json.dumps({"vectors": resp.vectors, "usage": resp.usage.to_dict(), "model": resp.model})
        await asyncio.to_thread(self._store, "embed", [(key, body, payload)])
        return resp


def _chunks_at_context_boundaries(todo: list[int], requests: list[LoglikelihoodRequest],
                                  size: int) -> list[list[int]]:
    """Chunks of about ``size`` requests, never splitting requests that share a context (a
    split group would compute its context twice)."""
    chunks: list[list[int]] = []
    cur: list[int] = []
    for i in todo:
        if len(cur) >= size and requests[cur[-1]].context != requests[i].context:
            chunks.append(cur)
            cur = []
        cur.append(i)
    if cur:
        chunks.append(cur)
    return chunks


def _insert_new(conn: sa.Connection, values: list[dict[str, Any]]) -> None:
    """Insert rows, skipping keys already stored (a concurrent writer got there first)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(pg_insert(llm_cache).on_conflict_do_nothing(index_elements=["key"]), values)
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        conn.execute(sqlite_insert(llm_cache).on_conflict_do_nothing(index_elements=["key"]), values)
    else:  # pragma: no cover - other dialects
        present = set(conn.execute(sa.select(llm_cache.c.key).where(
            llm_cache.c.key.in_([v["key"] for v in values]))).scalars())
        fresh = [v for v in values if v["key"] not in present]
        if fresh:
            conn.execute(llm_cache.insert(), fresh)


def cached(model: Model, ws: Workspace | None = None, **kwargs: Any) -> CachedModel:
    """``CachedModel(model, ws)``; returns ``model`` itself when it is already cached."""
    if isinstance(model, CachedModel):
        return model
    return CachedModel(model, ws, **kwargs)


__all__ = ["CacheStats", "CachedModel", "cached", "normalize", "request_key"]

