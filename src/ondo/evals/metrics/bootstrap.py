"""rouge-score's BootstrapAggregator, seeded.

rouge-score resamples items with replacement ``n_samples`` times per score type (drawing
from numpy's global RNG with ``np.random.choice(np.arange(n), size=n)``), takes the mean of
each resample and reports the 2.5th / 50th / 97.5th percentiles of those means (for a 95%
interval; the middle one is what it calls ``mid``). We draw the very same index stream from
a private ``RandomState(seed)``, so with ``np.random.seed(seed)`` before rouge-score's
aggregator both give the same low/mid/high, and ours never touches global state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ondo.evals.metrics.results import AggregateScore, RougeScore

if TYPE_CHECKING:
    from ondo.evals.metrics.results import RougeResult

_CHUNK_ELEMENTS = 4_000_000  # indices drawn per batch: bounds memory on large corpora


def bootstrap_matrix(
    matrix: np.ndarray, rng: np.random.RandomState, n_samples: int = 1000, confidence_interval: float = 0.95
) -> np.ndarray:
    """(3, measures) percentiles (low, mid, high) of bootstrap means of ``matrix`` (items, measures)."""
    if not 0 <= confidence_interval <= 1:
        raise ValueError("confidence_interval must be in range [0, 1]")
    if n_samples <= 0:
        raise ValueError("n_samples must be positive")
    n = matrix.shape[0]
    columns = np.ascontiguousarray(matrix.T)
    sample_mean = np.zeros((n_samples, matrix.shape[1]))
    per_chunk = max(1, _CHUNK_ELEMENTS // max(n, 1))
    done = 0
    while done < n_samples:
        k = min(per_chunk, n_samples - done)
        # one randint call of k*n draws consumes the stream exactly like k calls of n draws
        idx = rng.randint(0, n, size=(k, n))
        for j, column in enumerate(columns):  # a gather per measure: contiguous, far faster than 3-D
            sample_mean[done : done + k, j] = np.take(column, idx).mean(axis=1)
        done += k
    delta = (1 - confidence_interval) / 2
    q = 100 * np.array([delta, 0.5, 1 - delta])
    result: np.ndarray = np.percentile(sample_mean, q, axis=0)
    return result


def aggregate_items(result: RougeResult) -> dict[str, AggregateScore]:
    """low/mid/high per ROUGE type over ``result.items``, in ``result.rouge_types`` order."""
    rng = np.random.RandomState(result.seed)
    out: dict[str, AggregateScore] = {}
    if not result.items:
        return out
    for rouge_type in result.rouge_types:
        matrix = np.array(
            [(it[rouge_type].precision, it[rouge_type].recall, it[rouge_type].fmeasure) for it in result.items],
            dtype=np.float64,
        )
        pct = bootstrap_matrix(matrix, rng, result.n_samples, result.confidence_interval)
        low, mid, high = (RougeScore(float(r[0]), float(r[1]), float(r[2])) for r in pct)
        out[rouge_type] = AggregateScore(low=low, mid=mid, high=high)
    return out
