"""What a call cost, from normalised :class:`Usage` and a dated price table.

The table ships as package data (``prices.json``: provider, model regex, effective date,
USD per 1M tokens for input, cached input, output and optionally reasoning, with the date
the prices were taken, where from, and per entry whether it was ``checked`` against an
independent published table on that date). Users override or extend it with ``$ONDO_HOME/prices.json`` (same
format; its entries win). A price applies from its effective date until a later entry for
the same model pattern, so old traces are priced with the prices of their day. Local
engines cost 0 (their usage records compute seconds instead).

A model the table does not know has an *unknown* cost: ``cost()`` returns ``None`` (or raises
``NotFound`` with ``strict=True``), never 0.0. This is what Langfuse and MLflow's trace cost
tracking do with a model that has no price definition: the cost stays empty, so a total over
traces is never silently understated by "free" calls, and the gap is visible (the gateway
counts such requests in ``ondo_gateway_unpriced_requests_total``). Add the model to
``$ONDO_HOME/prices.json`` to price it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ondo.errors import InvalidInput, NotFound
from ondo.llm.types import Usage

log = logging.getLogger("ondo.llm")

#: providers that run on the user's own hardware: they cost 0 and record compute seconds
LOCAL_PROVIDERS = frozenset({"local", "transformers", "llamacpp", "llama.cpp", "hf", "ollama"})
_GENERIC_PROVIDERS = frozenset({"", "openai-compatible", "http", "https", "vllm", "gateway", "ondo"})


@dataclass(frozen=True)
class Price:
    provider: str
    model: str  # regex, matched in full against the model name
    effective: dt.date
    input: float
    cached_input: float
    output: float
    reasoning: float
    source: str = "ondo"
    #: compared with an independent published table on the table's ``prices_taken`` date (None: not said)
    checked: bool | None = None

    def cost(self, usage: Usage) -> float:
        """USD for ``usage`` (cached input is part of input; reasoning is part of output)."""
        fresh_in = max(usage.input_tokens - usage.cached_input_tokens, 0)
        plain_out = max(usage.output_tokens - usage.reasoning_tokens, 0)
        return (fresh_in * self.input + usage.cached_input_tokens * self.cached_input
                + plain_out * self.output + usage.reasoning_tokens * self.reasoning) / 1_000_000


class PriceTable:
    def __init__(self, prices: list[Price], prices_taken: str | None = None, provenance: str | None = None) -> None:
        self.prices = prices
        #: the date the prices were taken, and from where (the file's ``prices_taken`` and ``source``)
        self.prices_taken = prices_taken
        self.provenance = provenance
        self._compiled = [(p, re.compile(p.model)) for p in prices]

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "ondo", file: str | None = None) -> PriceTable:
        rows = data.get("prices")
        if not isinstance(rows, list):
            raise InvalidInput("price table needs a 'prices' list", file=file, field="prices")
        prices = []
        for i, row in enumerate(rows):
            try:
                out = float(row["output"])
                prices.append(Price(
                    provider=str(row["provider"]).lower(),
                    model=str(row["model"]),
                    effective=dt.date.fromisoformat(str(row.get("effective", "1970-01-01"))),
                    input=float(row["input"]),
                    cached_input=float(row.get("cached_input", row["input"])),
                    output=out,
                    reasoning=float(row.get("reasoning", out)),
                    source=source,
                    checked=None if row.get("checked") is None else bool(row["checked"]),
                ))
                re.compile(str(row["model"]))
            except (KeyError, TypeError, ValueError, re.error) as exc:
                raise InvalidInput(f"price entry {i} is invalid ({exc})", file=file, field=f"prices[{i}]") from None
        return cls(prices, data.get("prices_taken"), data.get("source"))

    def find(self, provider: str, model: str, at: dt.date | None = None) -> Price | None:
        """The price in force on ``at`` (default today) for the first pattern matching ``model``."""
        day = at or dt.date.today()
        prov = provider.lower()
        generic = prov in _GENERIC_PROVIDERS
        pattern: str | None = None
        best: Price | None = None
        for price, rx in self._compiled:
            if not generic and price.provider != prov:
                continue
            if pattern is not None and price.model != pattern:
                continue
            if not rx.fullmatch(model):
                continue
            if pattern is None:
                pattern = price.model
            if price.effective <= day and (best is None or price.effective >= best.effective):
                best = price
        return best

    def merged(self, override: PriceTable) -> PriceTable:
        return PriceTable(override.prices + self.prices, self.prices_taken, self.provenance)


_lock = threading.Lock()
_cache: dict[str, tuple[float, PriceTable]] = {}


def _bundled() -> PriceTable:
    key = "<bundled>"
    with _lock:
        if key not in _cache:
            text = resources.files("ondo.llm").joinpath("prices.json").read_text(encoding="utf-8")
            _cache[key] = (0.0, PriceTable.from_json(json.loads(text)))
        return _cache[key][1]


def price_table(home: str | os.PathLike[str] | None = None) -> PriceTable:
    """The shipped table, overridden by ``$ONDO_HOME/prices.json`` when present (re-read on change)."""
    table = _bundled()
    base = Path(home) if home is not None else Path(os.environ.get("ONDO_HOME") or ".ondo").expanduser()
    user = base / "prices.json"
    try:
        mtime = user.stat().st_mtime
    except OSError:
        return table
    key = str(user.resolve())
    with _lock:
        hit = _cache.get(key)
        if hit is None or hit[0] != mtime:
            try:
                data = json.loads(user.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise InvalidInput(f"not valid JSON: {exc}", file=str(user)) from None
            hit = (mtime, table.merged(PriceTable.from_json(data, source="user", file=str(user))))
            _cache[key] = hit
        return hit[1]


def price_for(provider: str, model: str, at: dt.date | dt.datetime | None = None) -> Price | None:
    day = at.date() if isinstance(at, dt.datetime) else at
    return price_table().find(provider, model, day)


def is_local(provider: str) -> bool:
    """Whether ``provider`` runs on the user's own hardware (its calls cost 0)."""
    return provider.lower() in LOCAL_PROVIDERS


_warned: set[tuple[str, str]] = set()


def cost(provider: str, model: str, usage: Usage, at: dt.date | dt.datetime | None = None,
         *, strict: bool = False) -> float | None:
    """USD cost of ``usage`` on ``provider``/``model`` at date ``at`` (default today).

    Local engines cost 0.0. A model with no price in force has an unknown cost: ``None``
    (logged once per model), or ``NotFound`` (with the known model patterns) when ``strict``.
    Never 0.0 for an unpriced model, so "unknown" is not read as "free".
    """
    if is_local(provider):
        return 0.0
    price = price_for(provider, model, at)
    if price is None:
        if strict:
            known = sorted({p.model for p in price_table().prices})
            raise NotFound("price for model", f"{provider}:{model}", known)
        if (provider, model) not in _warned and len(_warned) < 1024:
            _warned.add((provider, model))
            log.warning("no price for %s:%s; its cost is unknown (add it to $ONDO_HOME/prices.json)",
                        provider, model)
        return None
    return price.cost(usage)
