"""Clipped n-gram overlap for many text pairs at once, in numpy.

ROUGE-N of a pair is ``sum over n-grams g of min(count_pred(g), count_ref(g))`` divided by
the pair's n-gram totals. Doing that with a Counter per text costs interpreter steps per
n-gram; here all texts are one integer array, each n-gram gets a dense id (successive
``np.unique`` over (previous id, next token)), ``(text, gram)`` counts come from one sort,
and every pair's overlap is a vectorised lookup of the prediction's grams among the
reference's. Counts are integers, so the result is exactly the Counter result.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np


class NgramIndex:
    """All texts' token ids, concatenated, ready for overlap queries of any order."""

    def __init__(self, token_ids: Sequence[Sequence[int]]) -> None:
        lens = np.fromiter((len(t) for t in token_ids), dtype=np.int64, count=len(token_ids))
        total = int(lens.sum())
        self.lens = lens
        self.tokens = np.fromiter(chain.from_iterable(token_ids), dtype=np.int64, count=total)
        self.text_of = np.repeat(np.arange(len(token_ids), dtype=np.int64), lens)
        self._gram_ids: dict[int, np.ndarray] = {}
        self._tables: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}

    def _grams(self, n: int) -> np.ndarray:
        """Dense id of the n-gram starting at each position (garbage where it would cross a text end)."""
        got = self._gram_ids.get(n)
        if got is not None:
            return got
        if n == 1:
            got = self.tokens
        else:
            prev = self._grams(n - 1)
            m = len(self.tokens) - n + 1
            if m <= 0:
                got = np.zeros(0, dtype=np.int64)
            else:
                width = int(self.tokens.max()) + 1
                pairs = prev[:m] * width + self.tokens[n - 1 : n - 1 + m]
                got = np.unique(pairs, return_inverse=True)[1].astype(np.int64).reshape(-1)
        self._gram_ids[n] = got
        return got

    def _table(self, n: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Sorted unique keys ``text * G + gram`` with their counts, and G."""
        got = self._tables.get(n)
        if got is not None:
            return got
        grams = self._grams(n)
        m = len(grams)
        if m == 0:
            got = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 1)
        else:
            text_start = self.text_of[:m]
            valid = text_start == self.text_of[n - 1 : n - 1 + m]
            g = int(grams.max()) + 1
            keys = text_start[valid] * g + grams[valid]
            uniq, counts = np.unique(keys, return_counts=True)
            got = (uniq, counts.astype(np.int64), g)
        self._tables[n] = got
        return got

    def totals(self, n: int) -> np.ndarray:
        """Number of n-grams of each text."""
        return np.maximum(self.lens - n + 1, 0)

    def overlap(self, pred: np.ndarray, ref: np.ndarray, n: int) -> np.ndarray:
        """Clipped n-gram matches of each pair (pred[i], ref[i]) of text indices."""
        keys, counts, g = self._table(n)
        out = np.zeros(len(pred), dtype=np.int64)
        if len(keys) == 0 or len(pred) == 0:
            return out
        n_texts = len(self.lens)
        bounds = np.searchsorted(keys, np.arange(n_texts + 1, dtype=np.int64) * g)
        first, per_text = bounds[:-1], np.diff(bounds)
        entries = per_text[pred]
        total = int(entries.sum())
        if total == 0:
            return out
        pair_of = np.repeat(np.arange(len(pred), dtype=np.int64), entries)
        offsets = np.cumsum(entries) - entries
        idx = np.arange(total, dtype=np.int64) - np.repeat(offsets, entries) + np.repeat(first[pred], entries)
        gram = keys[idx] % g
        wanted = ref[pair_of] * g + gram
        pos = np.searchsorted(keys, wanted)
        pos_clipped = np.minimum(pos, len(keys) - 1)
        found = keys[pos_clipped] == wanted
        matched = np.where(found, np.minimum(counts[idx], counts[pos_clipped]), 0)
        out += np.bincount(pair_of, weights=matched, minlength=len(pred)).astype(np.int64)
        return out
