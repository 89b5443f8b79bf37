"""Longest common subsequence over integer token ids, bit-parallel.

rouge-score fills an (m+1) x (n+1) table in pure Python: O(m*n) interpreter steps per pair.
Here a row of that table is one Python int used as a bit vector (Allison-Dix / Hyyro):
bit j of ``V_i`` is 0 exactly where ``T[i][j+1] = T[i][j] + 1``, and a whole row is computed
with four big-int operations. ROUGE-L needs only the length. ROUGE-Lsum needs *which*
LCS rouge-score's backtrack picks (the union over sentences depends on it), so
:func:`lcs_indices` keeps the rows and reads ``T[i][j] = j - popcount(V_i & (2**j - 1))``
while retracing rouge-score's exact tie-breaking.
"""

from __future__ import annotations

from collections.abc import Sequence


def _match_masks(seq: Sequence[int]) -> dict[int, int]:
    masks: dict[int, int] = {}
    for j, tok in enumerate(seq):
        masks[tok] = masks.get(tok, 0) | (1 << j)
    return masks


def lcs_length(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common subsequence of ``a`` and ``b``."""
    if not a or not b:
        return 0
    if len(a) > len(b):  # loop over the shorter sequence, bits over the longer
        a, b = b, a
    masks = _match_masks(b)
    get = masks.get
    v = (1 << len(b)) - 1
    for tok in a:
        m = get(tok)
        if m:
            u = v & m
            v = (v + u) | (v - u)
    return len(b) - (v & ((1 << len(b)) - 1)).bit_count()


def lcs_indices(ref: Sequence[int], can: Sequence[int]) -> list[int]:
    """Indices into ``ref`` of the LCS that rouge-score's ``lcs_ind(ref, can)`` returns."""
    m, n = len(ref), len(can)
    if not m or not n:
        return []
    masks = _match_masks(can)
    get = masks.get
    full = (1 << n) - 1
    v = full
    rows = [v]
    for tok in ref:
        mk = get(tok)
        if mk:
            u = v & mk
            v = ((v + u) | (v - u)) & full
        rows.append(v)
    out: list[int] = []
    i, j = m, n
    while i > 0 and j > 0:
        if ref[i - 1] == can[j - 1]:
            out.append(i - 1)
            i -= 1
            j -= 1
        else:
            # T[i][j-1] > T[i-1][j] ?
            left = (j - 1) - (rows[i] & ((1 << (j - 1)) - 1)).bit_count()
            up = j - (rows[i - 1] & ((1 << j) - 1)).bit_count()
            if left > up:
                j -= 1
            else:
                i -= 1
    out.reverse()
    return out
