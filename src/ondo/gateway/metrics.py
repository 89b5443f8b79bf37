"""Prometheus metrics of the gateway, labelled by model name, version and alias.

Each app gets its own ``CollectorRegistry`` (two apps in one process, as in tests, never
share counters). With several uvicorn workers, set ``PROMETHEUS_MULTIPROC_DIR`` (``ondo
serve --workers N`` does) and ``/metrics`` aggregates every worker.

Label values: ``model`` is the registry name (``assistant``) or the raw provider model
(``openai:gpt-4o-mini``); ``version`` the registry version that answered (``2``, empty for
raw models); ``alias`` the alias the client asked for (``production``, empty otherwise).
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

LABELS = ("model", "version", "alias")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "ondo_gateway_requests", "Requests answered by the gateway.",
            (*LABELS, "endpoint", "status"), registry=r,
        )
        self.errors = Counter(
            "ondo_gateway_errors", "Requests that failed, by error type.",
            (*LABELS, "endpoint", "type"), registry=r,
        )
        self.latency = Histogram(
            "ondo_gateway_request_duration_seconds", "Time from request to the end of the answer.",
            (*LABELS, "endpoint"), buckets=LATENCY_BUCKETS, registry=r,
        )
        self.ttft = Histogram(
            "ondo_gateway_time_to_first_token_seconds", "Time from request to the first streamed token.",
            LABELS, buckets=TTFT_BUCKETS, registry=r,
        )
        self.tokens = Counter(
            "ondo_gateway_tokens", "Tokens processed, by type (input, output).",
            (*LABELS, "type"), registry=r,
        )
        self.cost = Counter("ondo_gateway_cost_usd", "Cost of the answers in US dollars.", LABELS, registry=r)
        self.unpriced = Counter(
            "ondo_gateway_unpriced_requests",
            "Answered requests whose cost is unknown (no price for the model): not counted in ondo_gateway_cost_usd.",
            LABELS, registry=r,
        )
        self.fallbacks = Counter(
            "ondo_gateway_fallbacks", "Requests answered by a fallback after the first choice failed.",
            LABELS, registry=r,
        )
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, labels: tuple[str, ...]) -> Any:
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = metric.labels(*labels)
            self._children[key] = child
        return child

    def observe(
        self,
        *,
        model: str,
        version: int | None,
        alias: str | None,
        endpoint: str,
        status: int,
        duration_s: float,
        ttft_s: float | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cost_usd: float | None = None,
        error_type: str | None = None,
        fallback: bool = False,
        unpriced: bool = False,
    ) -> None:
        base = (model, "" if version is None else str(version), alias or "")
        self._child(self.requests, (*base, endpoint, str(status))).inc()
        self._child(self.latency, (*base, endpoint)).observe(duration_s)
        if error_type is not None:
            self._child(self.errors, (*base, endpoint, error_type)).inc()
        if ttft_s is not None:
            self._child(self.ttft, base).observe(ttft_s)
        if input_tokens:
            self._child(self.tokens, (*base, "input")).inc(input_tokens)
        if output_tokens:
            self._child(self.tokens, (*base, "output")).inc(output_tokens)
        if cost_usd:
            self._child(self.cost, base).inc(cost_usd)
        elif unpriced:
            self._child(self.unpriced, base).inc()
        if fallback:
            self._child(self.fallbacks, base).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type (all workers' when running multi-process)."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
