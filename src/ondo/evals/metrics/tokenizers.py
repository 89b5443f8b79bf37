"""Tokenizers, by name: the sacrebleu family for BLEU and the word tokenizers for ROUGE.

Scores are only comparable when the tokenizer is, so every tokenizer has a name that is
recorded in the result (and in BLEU's signature). The BLEU tokenizers reproduce sacrebleu's
character for character (``13a``, ``intl``, ``char``, ``zh``, ``none``); Korean gets a
morpheme tokenizer built on kiwipiepy (``ko-kiwi``, sacrebleu's ``ko-mecab`` counterpart).
The ROUGE tokenizers are rouge-score's ASCII tokenizer (``default``), a Unicode word
tokenizer (``unicode``) and Korean morphemes (``ko``).

rouge-score's tokenizer keeps only ``[a-z0-9]``: it silently turns Korean into nothing and
scores 0. :func:`refuse_dropped_hangul` makes that a loud error instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

from ondo.errors import OndoError

# --------------------------------------------------------------------------- BLEU family

# mteval-v13a post-tokenizer: sacrebleu's TokenizerRegexp. Its first rule pads every character
# of one ASCII class with spaces; a single-character class has no overlapping matches, so
# str.translate does exactly that in C (re would call back into Python once per match, and
# spaces are in the class). The other three rules are sacrebleu's regexes verbatim.
_RE_13A_FIRST = re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])")
_PAD_13A = str.maketrans({chr(c): f" {chr(c)} " for c in range(128) if _RE_13A_FIRST.match(chr(c))})
_RE_13A: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
]


def _regexp_rules(text: str) -> str:
    text = text.translate(_PAD_13A)
    for pattern, repl in _RE_13A:
        text = pattern.sub(repl, text)
    return text


def _regexp_post(line: str) -> str:
    return " ".join(_regexp_rules(line).split())


def _unescape_13a(line: str) -> str:
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    return line


@lru_cache(maxsize=2**16)
def tokenize_13a(line: str) -> str:
    """mteval-v13a, the WMT standard and sacrebleu's default."""
    return _regexp_post(f" {_unescape_13a(line)} ")


def tokenize_13a_many(lines: Sequence[str]) -> list[list[str]]:
    """13a for a whole corpus at once: token lists, identical to ``tokenize_13a(line).split()``.

    The four regexes run once over all lines joined by NUL. Every padded line starts and
    ends with a space and no 13a pattern can match NUL next to a space, so no match
    crosses a line boundary; lines that hold NUL themselves fall back to one at a time.
    """
    if not lines:
        return []
    prepared = [f" {_unescape_13a(line)} " for line in lines]
    joined = "\x00".join(prepared)
    if joined.count("\x00") != len(lines) - 1:
        return [tokenize_13a(line).split() for line in lines]
    return [part.split() for part in _regexp_rules(joined).split("\x00")]


_INTL: list[tuple[Any, str]] | None = None


def tokenize_intl(line: str) -> str:
    """mteval-v14 international tokenization (Unicode punctuation and symbols), as sacrebleu's ``intl``."""
    global _INTL
    if _INTL is None:
        import regex  # Unicode property classes (\p{P}) that the stdlib re lacks

        _INTL = [
            (regex.compile(r"(\P{N})(\p{P})"), r"\1 \2 "),
            (regex.compile(r"(\p{P})(\P{N})"), r" \1 \2"),
            (regex.compile(r"(\p{S})"), r" \1 "),
        ]
    return _tokenize_intl_cached(line)


@lru_cache(maxsize=2**16)
def _tokenize_intl_cached(line: str) -> str:
    assert _INTL is not None
    for pattern, repl in _INTL:
        line = pattern.sub(repl, line)
    return " ".join(line.split())


@lru_cache(maxsize=2**16)
def tokenize_char(line: str) -> str:
    """Every character is a token (sacrebleu ``char``)."""
    return " ".join(line)


def tokenize_none(line: str) -> str:
    """Whitespace only (sacrebleu ``none``)."""
    return line


# sacrebleu's TokenizerZh ranges, verbatim (including its two out-of-BMP pairs, which as
# written compare against 2-character strings, exactly like sacrebleu does)
_ZH_RANGES = [
    ("\u3400", "\u4db5"),
    ("\u4e00", "\u9fa5"),
    ("\u9fa6", "\u9fbb"),
    ("\uf900", "\ufa2d"),
    ("\ufa30", "\ufa6a"),
    ("\ufa70", "\ufad9"),
    ("\u20000", "\u2a6d6"),
    ("\u2f800", "\u2fa1d"),
    ("\uff00", "\uffef"),
    ("\u2e80", "\u2eff"),
    ("\u3000", "\u303f"),
    ("\u31c0", "\u31ef"),
    ("\u2f00", "\u2fdf"),
    ("\u2ff0", "\u2fff"),
    ("\u3100", "\u312f"),
    ("\u31a0", "\u31bf"),
    ("\ufe10", "\ufe1f"),
    ("\ufe30", "\ufe4f"),
    ("\u2600", "\u26ff"),
    ("\u2700", "\u27bf"),
    ("\u3200", "\u32ff"),
    ("\u3300", "\u33ff"),
]


@lru_cache(maxsize=2**16)
def _is_chinese_char(ch: str) -> bool:
    return any(start <= ch <= end for start, end in _ZH_RANGES)


@lru_cache(maxsize=2**16)
def tokenize_zh(line: str) -> str:
    """Chinese characters one by one, the rest as 13a (sacrebleu ``zh``)."""
    line = line.strip()
    out = "".join(f" {ch} " if _is_chinese_char(ch) else ch for ch in line)
    return _regexp_post(out)


_KIWI: Any = None


def kiwi() -> Any:
    """The shared kiwipiepy analyser (the ``ko`` extra), created on first use."""
    global _KIWI
    if _KIWI is None:
        try:
            from kiwipiepy import Kiwi
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise OndoError(
                "Korean tokenization needs kiwipiepy; install it with: pip install 'ondo[ko]'"
            ) from exc
        _KIWI = Kiwi()
    return _KIWI


def kiwi_version() -> str:
    import kiwipiepy

    return str(getattr(kiwipiepy, "__version__", "unknown"))


def korean_morphemes_many(texts: Sequence[str]) -> list[list[str]]:
    """Morpheme forms of each text (kiwipiepy), analysed as one batch."""
    analyser = kiwi()
    out: list[list[str]] = []
    for tokens in analyser.tokenize(list(texts)):
        out.append([t.form for t in tokens])
    return out


@lru_cache(maxsize=2**16)
def tokenize_ko_kiwi(line: str) -> str:
    """Korean morphemes (kiwipiepy), sacrebleu ``ko-mecab``'s role; the line is stripped first, as there."""
    line = line.strip()
    if not line:
        return ""
    return " ".join("".join(form.split()) for form in korean_morphemes_many([line])[0])


class BleuTokenizer:
    """A named line tokenizer for BLEU; ``signature`` is what the result records."""

    def __init__(self, name: str, fn: Callable[[str], str], signature: Callable[[], str]) -> None:
        self.name = name
        self._fn = fn
        self._signature = signature

    def __call__(self, line: str) -> str:
        return self._fn(line)

    def signature(self) -> str:
        return self._signature()

    def tokens_many(self, lines: Sequence[str]) -> list[list[str]]:
        """Token lists for many lines (the fast path for 13a)."""
        if self.name == "13a":
            return tokenize_13a_many(lines)
        if self.name == "ko-kiwi":  # one kiwipiepy batch instead of a call per line
            stripped = [line.strip() for line in lines]
            todo = [i for i, line in enumerate(stripped) if line]
            out: list[list[str]] = [[] for _ in lines]
            if todo:
                analysed = korean_morphemes_many([stripped[i] for i in todo])
                for i, forms in zip(todo, analysed, strict=True):
                    out[i] = " ".join("".join(form.split()) for form in forms).split()
            return out
        fn = self._fn
        return [fn(line).split() for line in lines]


_BLEU_TOKENIZERS: dict[str, tuple[Callable[[str], str], Callable[[], str]]] = {
    "13a": (tokenize_13a, lambda: "13a"),
    "intl": (tokenize_intl, lambda: "intl"),
    "char": (tokenize_char, lambda: "char"),
    "zh": (tokenize_zh, lambda: "zh"),
    "none": (tokenize_none, lambda: "none"),
    "ko-kiwi": (tokenize_ko_kiwi, lambda: f"ko-kiwi-{kiwi_version()}"),
}
_BLEU_ALIASES = {"ko": "ko-kiwi", "kiwi": "ko-kiwi", "v13a": "13a"}
BLEU_TOKENIZERS: tuple[str, ...] = tuple(_BLEU_TOKENIZERS)
# sacrebleu's language defaults (zh -> zh, ko -> ko-mecab; ours is ko-kiwi)
BLEU_LANG_DEFAULTS = {"zh": "zh", "ko": "ko-kiwi"}


def bleu_tokenizer(name: str) -> BleuTokenizer:
    """Look up a BLEU tokenizer by name (``13a``, ``intl``, ``char``, ``zh``, ``none``, ``ko-kiwi``)."""
    key = _BLEU_ALIASES.get(name, name)
    if key not in _BLEU_TOKENIZERS:
        hint = ""
        if name in ("ja-mecab", "ko-mecab", "spm", "flores101", "flores200", "spBLEU-1K"):
            hint = " (MeCab and SentencePiece tokenizers are not bundled; use 'ko-kiwi' for Korean)"
        raise OndoError(
            f"unknown BLEU tokenizer '{name}'{hint}; choose one of: {', '.join(BLEU_TOKENIZERS)}"
        )
    fn, sig = _BLEU_TOKENIZERS[key]
    return BleuTokenizer(key, fn, sig)


# --------------------------------------------------------------------------- ROUGE family

_ROUGE_TOKEN_RE = re.compile(r"[a-z0-9]+")
_UNICODE_TOKEN_RE = re.compile(r"[^\W_]+")
_ROUGE_VALID_RE = re.compile(r"^[a-z0-9]+$")
_HANGUL_RE = re.compile(r"[\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7a3\ud7b0-\ud7ff]")

ROUGE_TOKENIZERS: tuple[str, ...] = ("default", "unicode", "ko")
_ROUGE_ALIASES = {"rouge": "default", "ascii": "default", "rouge-score": "default", "ko-kiwi": "ko", "kiwi": "ko"}
ROUGE_LANG_DEFAULTS = {"ko": "ko"}


def rouge_tokenizer_name(name: str) -> str:
    key = _ROUGE_ALIASES.get(name, name)
    if key not in ROUGE_TOKENIZERS:
        raise OndoError(f"unknown ROUGE tokenizer '{name}'; choose one of: {', '.join(ROUGE_TOKENIZERS)}")
    return key


def has_hangul(text: str) -> bool:
    return _HANGUL_RE.search(text) is not None


def refuse_dropped_hangul(texts: Iterable[str], tokenizer: str, metric: str, what: str = "text") -> None:
    """Raise when Korean text meets a tokenizer that would drop it (and silently score 0)."""
    for i, text in enumerate(texts):
        if text and has_hangul(text):
            raise OndoError(
                f"{metric}: {what} #{i + 1} contains Korean (Hangul), but tokenizer '{tokenizer}' keeps only "
                f"ASCII letters and digits, so the Korean words would be dropped and scored as 0. "
                f"Use tokenizer='ko' (kiwipiepy morphemes) or tokenizer='unicode' (--lang ko or "
                f"--tokenize ko on the CLI)."
            )


def rouge_words(text: str, tokenizer: str = "default") -> list[str]:
    """Unstemmed word tokens of one text for a ROUGE tokenizer (rouge-score's rules for ``default``)."""
    if tokenizer == "default":
        return _ROUGE_TOKEN_RE.findall(text.lower())
    if tokenizer == "unicode":
        return _UNICODE_TOKEN_RE.findall(text.lower())
    if tokenizer == "ko":
        return rouge_words_many([text], "ko")[0]
    raise OndoError(f"unknown ROUGE tokenizer '{tokenizer}'")


def rouge_words_many(texts: Sequence[str], tokenizer: str = "default") -> list[list[str]]:
    """Unstemmed word tokens for many texts; newlines are kept as ``"\\n"`` markers for ROUGE-Lsum.

    For ``default`` this is rouge-score's tokenizer: lowercase, every run of characters
    outside ``[a-z0-9]`` is a separator.
    """
    if tokenizer in ("default", "unicode"):
        pattern = r"[a-z0-9]+|\n" if tokenizer == "default" else r"[^\W_]+|\n"
        finder = re.compile(pattern).findall
        return [finder(text.lower()) for text in texts]
    if tokenizer == "ko":
        # kiwi drops newlines, so analyse line by line, keeping the markers
        flat_lines: list[str] = []
        shape: list[int] = []
        for text in texts:
            lines = text.split("\n")
            shape.append(len(lines))
            flat_lines.extend(lines)
        nonempty = [i for i, line in enumerate(flat_lines) if line.strip()]
        analysed = korean_morphemes_many([flat_lines[i] for i in nonempty]) if nonempty else []
        morphs: list[list[str]] = [[] for _ in flat_lines]
        for i, forms in zip(nonempty, analysed, strict=True):
            morphs[i] = [f for form in forms for f in _UNICODE_TOKEN_RE.findall(form.lower())]
        out: list[list[str]] = []
        pos = 0
        for count in shape:
            tokens: list[str] = []
            for k in range(count):
                if k:
                    tokens.append("\n")
                tokens.extend(morphs[pos + k])
            out.append(tokens)
            pos += count
        return out
    raise OndoError(f"unknown ROUGE tokenizer '{tokenizer}'")


def is_valid_rouge_token(token: str) -> bool:
    return _ROUGE_VALID_RE.match(token) is not None
