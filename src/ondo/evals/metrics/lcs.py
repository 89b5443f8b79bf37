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


def match_masks(seq: Sequence[int]) -> dict[int, int]:
    """Bit masks of the positions of each token of ``seq`` (reusable across :func:`lcs_indices` calls)."""
    return _match_masks(seq)


def lcs_indices(ref: Sequence[int], can: Sequence[int], masks: dict[int, int] | None = None) -> list[int]:
    """Indices into ``ref`` of the LCS that rouge-score's ``lcs_ind(ref, can)`` returns.

    rouge-score backtracks from the bottom-right corner: diagonal on a match, else left when
    ``T[i][j-1] > T[i-1][j]``, else up. With ``dh = T[i][j] - T[i][j-1]`` (0 exactly where bit
    j-1 of ``V_i`` is 1) and ``dv = T[i][j] - T[i-1][j]``, "left" means ``dv == 1 and dh == 0``,
    so the popcounts are only needed where that bit is set.
    """
    m, n = len(ref), len(can)
    if not m or not n:
        return []
    get = (masks if masks is not None else _match_masks(can)).get
    full = (1 << n) - 1
    v = full
    rows = [v]
    append = rows.append
    for tok in ref:
        mk = get(tok)
        if mk:
            u = v & mk
            v = ((v + u) | (v - u)) & full
        append(v)
    out: list[int] = []
    i, j = m, n
    while i > 0 and j > 0:
        if ref[i - 1] == can[j - 1]:
            out.append(i - 1)
            i -= 1
            j -= 1
        else:
            row = rows[i]
            if (row >> (j - 1)) & 1:
                low = (1 << j) - 1
                if (rows[i - 1] & low).bit_count() - (row & low).bit_count() == 1:
                    j -= 1
                    continue
            i -= 1
    out.reverse()
    return out
