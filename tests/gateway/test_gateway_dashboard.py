"""The Grafana dashboard only queries metrics the gateway exports, with labels they carry."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ondo.gateway.metrics import GatewayMetrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "ondo-dashboard.json"


def test_dashboard_queries_exported_metrics() -> None:
    metrics = GatewayMetrics()
    metrics.observe(model="assistant", version=2, alias="production", endpoint="/v1/chat/completions", status=200,
                    duration_s=0.1, ttft_s=0.01, input_tokens=3, output_tokens=4, cost_usd=0.001,
                    error_type="api_error", fallback=True)
    metrics.observe(model="house", version=1, alias="production", endpoint="/v1/chat/completions", status=200,
                    duration_s=0.1, unpriced=True)
    text, _ = metrics.render()
    exported = set(re.findall(r"^(ondo_gateway_\w+?)(?:\{| )", text.decode(), re.M))
    labels = dict(re.findall(r"^(ondo_gateway_\w+?)\{([^}]*)\}", text.decode(), re.M))
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert len(exprs) >= 10
    used = {m for e in exprs for m in re.findall(r"ondo_gateway_\w+", e)}
    assert used <= exported, used - exported
    assert {"ondo_gateway_requests_total", "ondo_gateway_errors_total", "ondo_gateway_cost_usd_total",
            "ondo_gateway_tokens_total", "ondo_gateway_request_duration_seconds_bucket",
            "ondo_gateway_time_to_first_token_seconds_bucket", "ondo_gateway_unpriced_requests_total"} <= used
    for e in exprs:  # every label a panel groups by is one the metrics carry
        for group in re.findall(r"by \(([^)]*)\)", e):
            for label in (g.strip() for g in group.split(",")):
                assert label == "le" or any(f'{label}="' in v for v in labels.values()), (label, e)
    variables = {v["name"] for v in dash["templating"]["list"]}
    assert {"datasource", "model", "version", "alias"} <= variables
