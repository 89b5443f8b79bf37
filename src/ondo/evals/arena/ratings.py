"""Arena ratings from battles: online Elo and Bradley-Terry, with bootstrap intervals and ranks.

The formulas follow FastChat's ``fastchat/serve/monitor/elo_analysis.py``: online Elo with K=4,
base 10, scale 400, initial 1000 (``compute_elo``); Bradley-Terry fitted by maximum likelihood with a
tie counted as half a win for each side (``compute_elo_mle_with_tie``: L-BFGS over the unique
(model_a, model_b, outcome) rows weighted by their counts), put on the Elo scale and shifted so an
anchor model has a chosen rating; bootstrap intervals with a fixed seed (``get_bootstrap_result``;
for BT the multinomial resampling of outcome counts); and ranks by interval overlap (1 + the number
of models whose lower bound is above this model's upper bound).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

WINNER_VALUES = ("model_a", "model_b", "tie", "tie (bothbad)")
SYSTEMS = ("bt", "elo")


@dataclass(frozen=True)
class Match:
    """The minimum a rating needs from a battle: who played and how it ended (FastChat's winner values)."""

    model_a: str
    model_b: str
    winner: str  # 'model_a' | 'model_b' | 'tie' | 'tie (bothbad)'


def _score_a(winner: str) -> float:
    if winner == "model_a":
        return 1.0
    if winner == "model_b":
        return 0.0
    if winner in ("tie", "tie (bothbad)"):
        return 0.5
    raise ValueError(f"unexpected vote {winner}")


def compute_elo(battles: Sequence[Match], k: float = 4, scale: float = 400, base: float = 10,
                init: float = 1000) -> dict[str, float]:
    """Online Elo, battles taken in the order given."""
    rating: dict[str, float] = {}
    for b in battles:
        ra = rating.setdefault(b.model_a, init)
        rb = rating.setdefault(b.model_b, init)
        ea = 1 / (1 + base ** ((rb - ra) / scale))
        eb = 1 / (1 + base ** ((ra - rb) / scale))
        sa = _score_a(b.winner)
        rating[b.model_a] = ra + k * (sa - ea)
        rating[b.model_b] = rating[b.model_b] + k * (1 - sa - eb)
    return rating


def models_in_order(battles: Sequence[Match]) -> list[str]:
    seen: dict[str, None] = {}
    for b in battles:
        seen.setdefault(b.model_a, None)
        seen.setdefault(b.model_b, None)
    return list(seen)


def _matchups(battles: Sequence[Match], models: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique (a, b, outcome) rows with their counts: outcome 1 = a won, 0.5 = tie, 0 = b won."""
    idx = {m: i for i, m in enumerate(models)}
    sched = np.empty((len(battles), 3), dtype=np.int64)
    for i, b in enumerate(battles):
        sched[i] = (idx[b.model_a], idx[b.model_b], round(_score_a(b.winner) * 2))
    uniq, counts = np.unique(sched, return_counts=True, axis=0)
    return uniq[:, :2], uniq[:, 2].astype(np.float64) / 2.0, counts.astype(np.float64)


def _bt_loss_and_grad(ratings: np.ndarray, matchups: np.ndarray, outcomes: np.ndarray, weights: np.ndarray,
                      alpha: float) -> tuple[float, np.ndarray]:
    from scipy.special import expit, log_expit

    logits = alpha * (ratings[matchups[:, 0]] - ratings[matchups[:, 1]])
    # log p and log(1-p) computed stably: a half-win on each side is what a tie contributes
    loss = -float(((log_expit(logits) * outcomes + log_expit(-logits) * (1.0 - outcomes)) * weights).sum())
    g = -alpha * (outcomes - expit(logits)) * weights
    grad = np.zeros_like(ratings)
    np.add.at(grad, matchups[:, 0], g)
    np.add.at(grad, matchups[:, 1], -g)
    return loss, grad


def fit_bt(matchups: np.ndarray, outcomes: np.ndarray, weights: np.ndarray, n_models: int, alpha: float,
           tol: float = 1e-9, maxiter: int = 1000) -> np.ndarray:
    """Bradley-Terry strengths (natural scale, summing to zero) by L-BFGS from zero."""
    from scipy.optimize import minimize

    result = minimize(
        _bt_loss_and_grad, np.zeros(n_models, dtype=np.float64), args=(matchups, outcomes, weights, alpha),
        jac=True, method="L-BFGS-B", options={"maxiter": maxiter, "gtol": tol, "ftol": 1e-15},
    )
    return np.asarray(result.x)


def _scale(ratings: np.ndarray, models: list[str], scale: float, init: float,
           anchor: tuple[str, float] | None) -> np.ndarray:
    scaled = ratings * scale + init
    if anchor is not None and anchor[0] in models:
        scaled = scaled + (anchor[1] - scaled[..., [models.index(anchor[0])]])
    return scaled


def compute_bt(battles: Sequence[Match], scale: float = 400, base: float = 10, init: float = 1000,
               anchor: tuple[str, float] | None = None) -> dict[str, float]:
    """Bradley-Terry ratings on the Elo scale (ties = half a win), shifted so ``anchor`` has its rating."""
    models = models_in_order(battles)
    if not models:
        return {}
    matchups, outcomes, weights = _matchups(battles, models)
    strengths = fit_bt(matchups, outcomes, weights, len(models), math.log(base))
    return dict(zip(models, _scale(strengths, models, scale, init, anchor).tolist(), strict=True))


def bootstrap(battles: Sequence[Match], system: str = "bt", rounds: int = 100, seed: int = 42,
              anchor: tuple[str, float] | None = None, **kw: Any) -> tuple[list[str], np.ndarray]:
    """Ratings of ``rounds`` resamples (rows) for each model (columns), reproducible from ``seed``."""
    models = models_in_order(battles)
    rng = np.random.RandomState(seed)
    if system == "bt":
        matchups, outcomes, weights = _matchups(battles, models)
        n = len(battles)
        boot = rng.multinomial(n, weights / weights.sum(), size=rounds).astype(np.float64) / n
        alpha = math.log(kw.get("base", 10))
        rows = np.array([fit_bt(matchups, outcomes, w, len(models), alpha) for w in boot])
        return models, _scale(rows, models, kw.get("scale", 400), kw.get("init", 1000), anchor)
    if system == "elo":
        n = len(battles)
        out = np.empty((rounds, len(models)))
        for r in range(rounds):
            sample = [battles[i] for i in rng.randint(0, n, size=n)]
            ratings = compute_elo(sample, **kw)
            row = np.array([ratings.get(m, np.nan) for m in models])
            if anchor is not None and anchor[0] in ratings:
                row = row + (anchor[1] - ratings[anchor[0]])
            out[r] = row
        return models, out
    raise ValueError(f"unknown rating system {system!r}; use one of {', '.join(SYSTEMS)}")


@dataclass(frozen=True)
class LeaderboardRow:
    model: str
    rating: float
    ci_low: float
    ci_high: float
    battles: int
    rank: int

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "rating": self.rating, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "battles": self.battles, "rank": self.rank}


def ranks_by_overlap(lows: dict[str, float], highs: dict[str, float]) -> dict[str, int]:
    """1 + how many models are better beyond doubt (their lower bound above this one's upper bound)."""
    return {m: 1 + sum(1 for o in lows if o != m and lows[o] > highs[m]) for m in lows}


def leaderboard(battles: Sequence[Match], system: str = "bt", anchor: tuple[str, float] | None = None,
                rounds: int = 100, seed: int = 42) -> list[LeaderboardRow]:
    """FastChat's leaderboard table: rating (BT: full-data MLE; Elo: bootstrap median), 95% interval,
    battles played, rank by interval overlap; sorted by rating."""
    if system not in SYSTEMS:
        raise ValueError(f"unknown rating system {system!r}; use one of {', '.join(SYSTEMS)}")
    if not battles:
        return []
    models, boot = bootstrap(battles, system, rounds=rounds, seed=seed, anchor=anchor)
    if system == "bt":
        final = compute_bt(battles, anchor=anchor)
    else:
        final = dict(zip(models, np.nanmedian(boot, axis=0).tolist(), strict=True))
    lows = dict(zip(models, np.nanquantile(boot, 0.025, axis=0).tolist(), strict=True))
    highs = dict(zip(models, np.nanquantile(boot, 0.975, axis=0).tolist(), strict=True))
    counts = dict.fromkeys(models, 0)
    for b in battles:
        counts[b.model_a] += 1
        counts[b.model_b] += 1
    ranks = ranks_by_overlap(lows, highs)
    rows = [LeaderboardRow(m, final[m], lows[m], highs[m], counts[m], ranks[m]) for m in models]
    return sorted(rows, key=lambda r: -r.rating)
