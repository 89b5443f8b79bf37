"""Prices: dated entries, user overrides in $ONDO_HOME/prices.json, local models free."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ondo.errors import InvalidInput, NotFound
from ondo.llm import cost as costs
from ondo.llm.types import Usage


def test_cost_splits_cached_input_and_reasoning() -> None:
    u = Usage(input_tokens=1_000_000, cached_input_tokens=400_000, output_tokens=1_000_000, reasoning_tokens=250_000)
    price = costs.price_for("openai", "gpt-4o-mini-2024-07-18", dt.date(2025, 1, 1))
    assert price is not None
    expected = (600_000 * price.input + 400_000 * price.cached_input + 750_000 * price.output
                + 250_000 * price.reasoning) / 1e6
    assert costs.cost("openai", "gpt-4o-mini-2024-07-18", u, at=dt.date(2025, 1, 1)) == pytest.approx(expected)
    assert price.cached_input < price.input


def test_effective_dates_pick_the_price_of_the_day() -> None:
    u = Usage(input_tokens=1_000_000)
    before = costs.cost("openai", "o3", u, at=dt.date(2025, 5, 1))
    after = costs.cost("openai", "o3", u, at=dt.date(2025, 7, 1))
    assert before > after > 0
    assert costs.price_for("openai", "o3", dt.date(2020, 1, 1)) is None  # not yet released


def test_shipped_table_covers_the_major_providers() -> None:
    table = costs.price_table()
    assert table.prices_taken
    assert {p.provider for p in table.prices} >= {"openai", "anthropic", "google"}
    u = Usage(input_tokens=1000, output_tokens=1000)
    for provider, model in [("anthropic", "claude-3-5-sonnet-20241022"), ("google", "gemini-2.0-flash"),
                            ("openai", "gpt-4.1-mini"), ("openai", "gpt-5")]:
        assert costs.cost(provider, model, u) > 0, model


def test_local_models_are_free_and_unknown_models_are_flagged() -> None:
    u = Usage(input_tokens=10**6, output_tokens=10**6, compute_seconds=3.0)
    assert costs.cost("llamacpp", "SmolLM2", u) == 0.0
    assert costs.cost("transformers", "SmolLM2", u) == 0.0
    assert costs.cost("ollama", "llama3", u) == 0.0
    assert costs.is_local("LlamaCpp") and not costs.is_local("openai")
    assert costs.cost("openai", "no-such-model", u) is None  # unknown, not free
    assert costs.cost("openai-compatible", "house-model", u) is None
    with pytest.raises(NotFound):
        costs.cost("openai", "no-such-model", u, strict=True)


def test_generic_provider_matches_by_model_name() -> None:
    u = Usage(input_tokens=10**6)
    assert costs.cost("openai-compatible", "gpt-4o-mini", u) == costs.cost("openai", "gpt-4o-mini", u)


def test_user_prices_override_the_shipped_ones(ondo_home: Path) -> None:
    ondo_home.mkdir(parents=True, exist_ok=True)
    (ondo_home / "prices.json").write_text(json.dumps({"prices": [
        {"provider": "openai", "model": "gpt-4o-mini.*", "effective": "2024-01-01", "input": 1.0, "output": 2.0},
        {"provider": "acme", "model": "acme-1", "input": 3.0, "output": 4.0},
    ]}))
    u = Usage(input_tokens=10**6, cached_input_tokens=10**6, output_tokens=10**6)
    assert costs.cost("openai", "gpt-4o-mini", u) == pytest.approx(1.0 + 2.0)  # cached_input defaults to input
    assert costs.cost("acme", "acme-1", u) == pytest.approx(7.0)


def test_malformed_user_prices_name_the_file(ondo_home: Path) -> None:
    ondo_home.mkdir(parents=True, exist_ok=True)
    (ondo_home / "prices.json").write_text(json.dumps({"prices": [{"provider": "x", "model": "("}]}))
    with pytest.raises(InvalidInput, match=r"prices\.json"):
        costs.cost("x", "y", Usage())


def test_shipped_table_says_when_and_where_its_prices_were_taken() -> None:
    table = costs.price_table()
    assert table.prices_taken and table.provenance
    taken = dt.date.fromisoformat(table.prices_taken)
    assert all(p.effective <= taken for p in table.prices)  # no price newer than the day it was taken
    assert all(p.checked is not None for p in table.prices)  # every entry says whether it was checked
    # the current price of each major provider's flagship models was checked, not remembered
    for provider, model in [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("openai", "gpt-5"),
                            ("anthropic", "claude-sonnet-4-5"), ("google", "gemini-2.5-flash")]:
        price = costs.price_for(provider, model, taken)
        assert price is not None and price.checked, (provider, model)


def test_snapshot_prices_and_variant_models() -> None:
    u = Usage(input_tokens=10**6, output_tokens=10**6)
    day = dt.date(2025, 1, 1)
    assert costs.cost("openai", "gpt-4o-2024-05-13", u, at=day) == pytest.approx(20.0)  # the first snapshot keeps its price
    assert costs.cost("openai", "gpt-4o", u, at=day) == pytest.approx(12.5)
    assert costs.cost("openai", "gpt-3.5-turbo-1106", u, at=day) == pytest.approx(3.0)
    assert costs.cost("google", "gemini-2.5-flash-lite", u) == pytest.approx(0.5)  # not flash's price
    assert costs.cost("google", "gemini-2.5-flash-preview-tts", u) is None  # audio variants are priced differently
