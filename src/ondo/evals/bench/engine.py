"""The scoring engine: turns many small requests into few, well-ordered model calls.

Log-likelihood requests from every selected document are deduplicated and grouped by context (the
choices of one question share it), contexts with a common prefix are kept together, and the provider
(``ondo.llm``'s transformers engine) computes each shared context or prefix once and batches by length
(prefix reuse). Requests go to the model in chunks, longest first as lm-eval orders them, so the
request cache (``ondo.llm.CachedModel``) stores each chunk as it finishes and a killed run resumes
where it stopped. Generation requests run with the provider's concurrency. A progress bar
with an ETA goes to stderr.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ondo.llm.types import ChatResponse, GenerateRequest, LoglikelihoodRequest, LoglikelihoodResult


@dataclass
class EngineStats:
    requests: int = 0  # requests asked for, before deduplication
    unique_requests: int = 0
    contexts: int = 0  # distinct contexts among the unique requests
    calls: int = 0
    seconds: float = 0.0


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit="req",
        file=sys.stderr,
        disable=not enabled or total == 0,
        dynamic_ncols=True,
        mininterval=0.5,
    )


def plan_loglikelihood(
    requests: Sequence[LoglikelihoodRequest], chunk_size: int
) -> list[list[LoglikelihoodRequest]]:
    """Deduplicate, group by context, and cut into chunks of whole groups, longest chunk first.

    Groups are ordered by context text, so contexts sharing a prefix (MMLU's 5-shot exemplars of one
    subject, TruthfulQA's fixed preamble) land in the same chunk, where the provider can compute the
    shared prefix once; the chunks then run longest first (lm-eval's order: a too-long batch fails at
    once and the ETA errs long).
    """
    groups: dict[str, list[LoglikelihoodRequest]] = {}
    seen: set[tuple[str, str]] = set()
    for r in requests:
        key = (r.context, r.continuation)
        if key in seen:
            continue
        seen.add(key)
        groups.setdefault(r.context, []).append(r)
    chunks: list[list[LoglikelihoodRequest]] = []
    current: list[LoglikelihoodRequest] = []
    for ctx in sorted(groups):
        g = sorted(groups[ctx], key=lambda r: -len(r.continuation))
        if current and len(current) + len(g) > chunk_size:
            chunks.append(current)
            current = []
        current.extend(g)
    if current:
        chunks.append(current)
    return sorted(chunks, key=lambda c: -max(len(r.context) + len(r.continuation) for r in c))


async def run_loglikelihood(
    model: Any,
    requests: Sequence[LoglikelihoodRequest],
    *,
    chunk_size: int = 512,
    progress: bool = True,
    stats: EngineStats | None = None,
    desc: str = "loglikelihood",
) -> dict[tuple[str, str], LoglikelihoodResult]:
    """Score every request once; returns results keyed by (context, continuation)."""
    import time

    stats = stats if stats is not None else EngineStats()
    chunks = plan_loglikelihood(requests, chunk_size)
    stats.requests += len(requests)
    stats.unique_requests += sum(len(c) for c in chunks)
    stats.contexts += len({r.context for c in chunks for r in c})
    out: dict[tuple[str, str], LoglikelihoodResult] = {}
    concurrency = max(1, int(getattr(model, "max_concurrency", 1) or 1))
    sem = asyncio.Semaphore(concurrency)
    bar = _progress(sum(len(c) for c in chunks), desc, progress)
    t0 = time.perf_counter()

    async def one(chunk: list[LoglikelihoodRequest]) -> None:
        async with sem:
            results = await model.loglikelihood(chunk)
        if len(results) != len(chunk):
            raise RuntimeError(f"model returned {len(results)} results for {len(chunk)} requests")
        for r, res in zip(chunk, results, strict=True):
            out[(r.context, r.continuation)] = res
        stats.calls += 1
        bar.update(len(chunk))

    try:
        if concurrency == 1:
            for chunk in chunks:
                await one(chunk)
        else:
            await asyncio.gather(*(one(c) for c in chunks))
    finally:
        bar.close()
        stats.seconds += time.perf_counter() - t0
    return out


async def run_generate(
    model: Any,
    requests: Sequence[GenerateRequest],
    *,
    progress: bool = True,
    stats: EngineStats | None = None,
    desc: str = "generate",
) -> list[ChatResponse]:
    """Generate for every request with the provider's concurrency; identical prompts run once."""
    import time

    stats = stats if stats is not None else EngineStats()
    unique: dict[str, GenerateRequest] = {}
    for r in requests:
        unique.setdefault(r.model_dump_json(), r)
    keys = list(unique)
    stats.requests += len(requests)
    stats.unique_requests += len(keys)
    concurrency = max(1, int(getattr(model, "max_concurrency", 1) or 1))
    step = max(1, concurrency * 2)
    results: dict[str, ChatResponse] = {}
    bar = _progress(len(keys), desc, progress)
    t0 = time.perf_counter()
    try:
        for i in range(0, len(keys), step):
            batch = keys[i : i + step]
            answers = await model.generate([unique[k] for k in batch])
            stats.calls += 1
            results.update(zip(batch, answers, strict=True))
            bar.update(len(batch))
    finally:
        bar.close()
        stats.seconds += time.perf_counter() - t0
    return [results[r.model_dump_json()] for r in requests]
