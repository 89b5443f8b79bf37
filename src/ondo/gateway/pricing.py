"""The price of one answer, from ``ondo.llm.cost``'s dated price table.

Local engines cost 0 (they record compute seconds instead); a model the table does not know
has an unknown cost (None), which spans leave empty and ``/metrics`` counts in
``ondo_gateway_unpriced_requests_total`` rather than adding 0 to the cost counter. The price of a
(provider, model) pair is looked up once every few seconds, not per request (the lookup stats
the user's price file).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ondo.llm.cost import is_local, price_for

log = logging.getLogger("ondo.gateway")

_TTL_S = 5.0
_prices: dict[tuple[str, str], tuple[float, Any]] = {}


def _price_for(provider: str, model: str) -> Any:
    now = time.monotonic()
    hit = _prices.get((provider, model))
    if hit is not None and now - hit[0] < _TTL_S:
        return hit[1]
    try:
        found = price_for(provider, model)
    except Exception as exc:  # a broken user price file must not fail requests
        log.warning("price lookup for %s:%s failed: %s", provider, model, exc)
        found = None
    if len(_prices) > 4096:
        _prices.clear()
    _prices[(provider, model)] = (now, found)
    return found


def price(provider: str, model: str, usage: Any) -> float | None:
    """USD for ``usage`` on ``provider``/``model``; 0.0 for local engines; None when unpriced."""
    if is_local(provider):
        return 0.0
    found = _price_for(provider, model)
    if found is None:
        return None
    return float(found.cost(usage))


def has_price(provider: str, model: str) -> bool:
    """Whether answers of ``provider``/``model`` can be priced (local engines always can)."""
    return is_local(provider) or _price_for(provider, model) is not None
