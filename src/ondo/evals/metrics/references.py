"""One reading of the ``references`` argument for every metric.

ondo's layout is one entry per prediction: a string, or a list of strings when an item
has several references (their number may vary; ``None`` entries are skipped). sacrebleu's
layout -- a list of reference *streams*, each as long as the predictions -- is accepted
too when it cannot be mistaken for ours (the outer length differs from the number of
predictions), so code written for sacrebleu works unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ondo.errors import InvalidInput


def as_reference_lists(references: Any, n_predictions: int, *, metric: str) -> list[list[str]]:
    if isinstance(references, str) or not isinstance(references, Sequence):
        raise InvalidInput(f"{metric}: references must be a list (one entry per prediction)", field="references")
    refs = list(references)
    if (
        len(refs) != n_predictions
        and refs
        and all(isinstance(s, Sequence) and not isinstance(s, str) and len(s) == n_predictions for s in refs)
    ):
        refs = [list(item) for item in zip(*refs, strict=True)]  # sacrebleu streams -> per item
    if len(refs) != n_predictions:
        raise InvalidInput(
            f"{metric}: {n_predictions} predictions but {len(refs)} references; give one reference "
            f"(or one list of references) per prediction",
            field="references",
        )
    if all(type(item) is str for item in refs):  # the common case: one reference string per item
        return [[item] for item in refs]
    out: list[list[str]] = []
    for i, item in enumerate(refs):
        if isinstance(item, str):
            out.append([item])
            continue
        if not isinstance(item, Sequence):
            raise InvalidInput(
                f"{metric}: reference #{i + 1} is {type(item).__name__}, expected a string or a list of strings",
                field="references",
            )
        texts = [r for r in item if r is not None]
        for r in texts:
            if not isinstance(r, str):
                raise InvalidInput(
                    f"{metric}: reference #{i + 1} holds a {type(r).__name__}, expected strings", field="references"
                )
        if not texts:
            raise InvalidInput(f"{metric}: item #{i + 1} has no reference", field="references")
        out.append(texts)
    return out
