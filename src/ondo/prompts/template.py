"""Prompt templates: Jinja2 in its immutable sandbox, with every missing variable reported at once.

Why a sandbox: prompt templates are data that anyone with write access to the registry can
change, and they are rendered inside serving processes. The sandbox refuses ``__class__`` /
``__globals__`` walks and calls that mutate objects; we add three rules on top of it:
templates cannot include, import or extend other templates (there is no loader and no file
access), private attributes are refused when the template is registered (not only when it is
rendered), and huge ``*`` / ``**`` results are refused so a template cannot exhaust memory.

Why collect missing variables instead of Jinja's StrictUndefined: StrictUndefined stops at the
first missing name; a user who forgot three variables should hear about all three in one error.
"""

from __future__ import annotations

import contextvars
import functools
import operator
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from jinja2 import ChainableUndefined, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import missing

from ondo.errors import InvalidInput

ROLES = ("system", "developer", "user", "assistant", "tool")
MAX_REPEAT = 1_000_000  # longest string/list a template may build with '*'
MAX_EXPONENT = 1_000


class MissingVariables(InvalidInput, KeyError):
    """Rendering needed variables that were not given; ``missing`` lists all of them, in order of use.

    Also a ``KeyError``, since that is what a missing key in a mapping raises in Python.
    """

    def __init__(self, what: str, missing_names: Sequence[str], declared: Sequence[str] = ()) -> None:
        self.missing = list(missing_names)
        msg = f"{what}: missing variable{'s' if len(self.missing) > 1 else ''}: {', '.join(self.missing)}"
        if declared:
            msg += f" (declared: {', '.join(declared)})"
        InvalidInput.__init__(self, msg)

    def __str__(self) -> str:
        return self.message


# The names that were missing during the render running in this context (thread / task).
_sink: contextvars.ContextVar[dict[str, None] | None] = contextvars.ContextVar("ondo_prompt_missing", default=None)


class _CollectingUndefined(ChainableUndefined):
    """Behaves like an empty value but remembers which variable was missing."""

    __slots__ = ()

    def _note(self) -> None:
        sink = _sink.get()
        if sink is None:
            return
        if self._undefined_obj is missing:
            sink.setdefault(str(self._undefined_name), None)
        else:
            sink.setdefault(str(self._undefined_message), None)

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> Any:
        self._note()
        return self

    def __str__(self) -> str:
        self._note()
        return ""

    def __iter__(self) -> Iterator[Any]:
        self._note()
        return iter(())

    def __len__(self) -> int:
        self._note()
        return 0

    def __bool__(self) -> bool:
        self._note()
        return False

    def __eq__(self, other: object) -> bool:
        self._note()
        return False

    def __ne__(self, other: object) -> bool:
        self._note()
        return True

    def __contains__(self, item: object) -> bool:
        self._note()
        return False

    def __hash__(self) -> int:
        return id(type(self))

    # arithmetic and calls on a missing value: note it and stay undefined
    __add__ = __radd__ = __sub__ = __rsub__ = _fail_with_undefined_error
    __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _fail_with_undefined_error
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _fail_with_undefined_error
    __pos__ = __neg__ = __call__ = __lt__ = __le__ = __gt__ = __ge__ = _fail_with_undefined_error
    __int__ = __float__ = __complex__ = __pow__ = __rpow__ = _fail_with_undefined_error  # type: ignore[assignment]


class PromptEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox every prompt renders in: no loader, no mutation, bounded repetition."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self) -> None:
        super().__init__(
            loader=None,
            autoescape=False,
            undefined=_CollectingUndefined,
            keep_trailing_newline=True,
            auto_reload=False,
        )
        self.globals.pop("lipsum", None)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # The stock sandbox returns an Undefined here; we refuse loudly instead, so an escape
        # attempt is never mistaken for a missing variable.
        raise SecurityError(f"access to attribute {attribute!r} of a {type(obj).__name__!r} object is unsafe")

    def call_binop(self, context: Context, op: str, left: Any, right: Any) -> Any:
        if op == "**":
            if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                raise SecurityError(f"exponent {right} is too large for a template")
            return operator.pow(left, right)
        if op == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(n, int) and len(seq) * n > MAX_REPEAT:
                    raise SecurityError(f"'*' would build a sequence longer than {MAX_REPEAT} items")
            return operator.mul(left, right)
        return super().call_binop(context, op, left, right)


ENV = PromptEnvironment()


def check_template(source: str, *, where: str) -> set[str]:
    """Parse ``source`` and refuse what the sandbox would only refuse later; return the variables it reads."""
    try:
        ast = ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise InvalidInput(f"template syntax error: {exc.message}", file=where, line=exc.lineno) from None
    for node in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        kind = type(node).__name__.lower().replace("fromimport", "import")
        raise InvalidInput(
            f"templates cannot {kind} other templates (no file access in prompt templates)",
            file=where, line=node.lineno,
        )
    for getattr_node in ast.find_all(nodes.Getattr):
        _refuse_private(getattr_node.attr, where, getattr_node.lineno)
    for getitem in ast.find_all(nodes.Getitem):
        if isinstance(getitem.arg, nodes.Const) and isinstance(getitem.arg.value, str):
            _refuse_private(getitem.arg.value, where, getitem.lineno)
    for flt in ast.find_all(nodes.Filter):
        if flt.name == "attr":
            for arg in flt.args:
                if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
                    _refuse_private(arg.value, where, flt.lineno)
    return set(meta.find_undeclared_variables(ast)) - set(ENV.globals)


def _refuse_private(attr: str, where: str, line: int | None) -> None:
    if attr.startswith("_"):
        raise InvalidInput(f"templates cannot access private attribute '{attr}'", file=where, line=line)


@functools.lru_cache(maxsize=512)
def _compiled(source: str) -> Any:
    return ENV.from_string(source)


def render(sources: Sequence[str], variables: Mapping[str, Any], *, what: str, declared: Sequence[str] = ()) -> list[str]:
    """Render each source with ``variables``; raise MissingVariables naming every missing one."""
    sink: dict[str, None] = {}
    token = _sink.set(sink)
    try:
        out = []
        for source in sources:
            try:
                out.append(_compiled(source).render(**variables))
            except SecurityError as exc:
                raise InvalidInput(f"{what}: the template tried something the sandbox refuses: {exc}") from None
            except TemplateError as exc:
                raise InvalidInput(f"{what}: template error: {exc}") from None
            except (ArithmeticError, TypeError, ValueError) as exc:
                raise InvalidInput(f"{what}: template error: {type(exc).__name__}: {exc}") from None
    finally:
        _sink.reset(token)
    if sink:
        raise MissingVariables(what, list(sink), declared)
    return out
