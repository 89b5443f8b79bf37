"""The Porter stemmer exactly as rouge-score uses it, with a cache.

rouge-score 0.1.2 stems with ``nltk.stem.porter.PorterStemmer()`` in its default
``NLTK_EXTENSIONS`` mode (not ``ORIGINAL_ALGORITHM``), and only tokens longer than three
characters. We call the same stemmer so stems agree by construction; stemming is a pure
function of the word, so a cache turns the dominant cost of ROUGE-with-stemming into a
dictionary lookup.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

_STEMMER: Any = None


def _stemmer() -> Any:
    global _STEMMER
    if _STEMMER is None:
        try:
            from nltk.stem.porter import PorterStemmer
        except ImportError as exc:  # pragma: no cover - nltk is a dependency
            from ondo.errors import OndoError

            raise OndoError("ROUGE stemming needs nltk: pip install nltk") from exc
        _STEMMER = PorterStemmer()  # mode NLTK_EXTENSIONS, as rouge-score
    return _STEMMER


@lru_cache(maxsize=2**20)
def porter_stem(word: str) -> str:
    """rouge-score's stem of ``word`` (callers apply the longer-than-3 rule)."""
    return str(_stemmer().stem(word))


def rouge_stem(word: str) -> str:
    """Stem as rouge-score's tokenizer does: only words longer than 3 characters."""
    return porter_stem(word) if len(word) > 3 else word
