"""SDK instrumentation: ``with ondo.span("retrieve", kind="retrieval"):`` and ``@ondo.trace``.

The current span lives in a ``ContextVar``, so nesting works across threads started with
``contextvars.copy_context`` and across ``await`` (each asyncio task has its own context):
a span opened inside another becomes its child and shares its trace id.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, TypeVar, overload

from ondo.traces.records import KINDS, SpanRecord, check_kind, new_span_id, new_trace_id
from ondo.traces.tracer import Tracer, get_tracer

F = TypeVar("F", bound=Callable[..., Any])

_current: ContextVar[Span | None] = ContextVar("ondo_current_span", default=None)
_KINDS = frozenset(KINDS)


def current_span() -> Span | None:
    """The innermost open span in this context, or None."""
    return _current.get()


def traceparent() -> str | None:
    """The W3C ``traceparent`` header for the current span (send it to the gateway to join its span)."""
    s = _current.get()
    return None if s is None else f"00-{s.trace_id}-{s.span_id}-01"


class Span:
    """An open span. Use it as a context manager (sync or async); set what you know on it."""

    __slots__ = ("_perf0", "_token", "_tracer", "ended", "record")

    def __init__(
        self,
        name: str,
        kind: str = "chain",
        *,
        input: Any = None,
        attributes: dict[str, Any] | None = None,
        trace_id: str | None = None,
        parent_id: str | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        if kind not in _KINDS:
            check_kind(kind)  # raises with the list of kinds
        self._tracer = tracer
        self._token: Token[Span | None] | None = None
        self._perf0 = 0.0
        self.ended = False
        self.record = SpanRecord(
            trace_id=trace_id or "",
            span_id=new_span_id(),
            name=name,
            kind=kind,
            start_time=0.0,
            parent_id=parent_id,
            attributes=dict(attributes) if attributes else {},
            input=input,
        )

    # identity
    @property
    def trace_id(self) -> str:
        return self.record.trace_id

    @property
    def span_id(self) -> str:
        return self.record.span_id

    @property
    def parent_id(self) -> str | None:
        return self.record.parent_id

    @property
    def name(self) -> str:
        return self.record.name

    # lifecycle
    def start(self, activate: bool = True) -> Span:
        """Begin timing; with ``activate`` the span becomes the current one (the parent of new spans)."""
        rec = self.record
        if not rec.trace_id:
            parent = _current.get()
            if parent is not None:
                rec.trace_id = parent.trace_id
                rec.parent_id = parent.span_id
                if self._tracer is None:
                    self._tracer = parent._tracer  # children go where their root goes
            else:
                rec.trace_id = new_trace_id()
                if self._tracer is None:
                    self._tracer = get_tracer()
        rec.start_time = time.time()
        self._perf0 = time.perf_counter()
        if activate:
            self._token = _current.set(self)
        return self

    def end(self, exc: BaseException | None = None) -> None:
        if self.ended:
            return
        self.ended = True
        elapsed = time.perf_counter() - self._perf0
        rec = self.record
        rec.latency_ms = elapsed * 1000.0
        rec.end_time = rec.start_time + elapsed
        if exc is not None:
            self.set_error(exc)
        if self._token is not None:
            # ValueError: ended in another context (e.g. a generator finished elsewhere)
            with contextlib.suppress(ValueError):
                _current.reset(self._token)
            self._token = None
        tracer = self._tracer
        if tracer is None:
            tracer = self._tracer = get_tracer()
        tracer.record(rec)

    def __enter__(self) -> Span:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.end(ev)

    async def __aenter__(self) -> Span:
        return self.start()

    async def __aexit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.end(ev)

    # what the span records
    def set_input(self, value: Any) -> Span:
        self.record.input = value
        return self

    def set_output(self, value: Any) -> Span:
        self.record.output = value
        return self

    def set_attribute(self, key: str, value: Any) -> Span:
        self.record.attributes[key] = value
        return self

    def set_attributes(self, values: dict[str, Any]) -> Span:
        self.record.attributes.update(values)
        return self

    def set_model(
        self, model: str, version: int | None = None, *, alias: str | None = None, provider: str | None = None
    ) -> Span:
        """Name the model that answered: ``set_model("assistant", 2, alias="production")``."""
        rec = self.record
        rec.model, rec.model_version, rec.model_alias = model, version, alias
        if provider is not None:
            rec.provider = provider
        return self

    def set_prompt(self, prompt: Any) -> Span:
        """Record the prompt version used: a ``"name/3"`` string or a prompt version object."""
        if isinstance(prompt, str):
            self.record.prompt_version = prompt
        else:
            name = getattr(prompt, "name", None)
            version = getattr(prompt, "version", None)
            self.record.prompt_version = f"{name}/{version}" if name and version is not None else str(prompt)
        return self

    def set_usage(
        self,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cost_usd: float | None = None,
    ) -> Span:
        rec = self.record
        if input_tokens is not None:
            rec.input_tokens = int(input_tokens)
        if output_tokens is not None:
            rec.output_tokens = int(output_tokens)
        if cost_usd is not None:
            rec.cost_usd = float(cost_usd)
        return self

    def mark_first_token(self) -> Span:
        """Call when the first token arrives: records time to first token once."""
        if self.record.ttft_ms is None:
            self.record.ttft_ms = (time.perf_counter() - self._perf0) * 1000.0
        return self

    def set_error(self, exc: BaseException | str) -> Span:
        rec = self.record
        rec.status = "error"
        rec.error = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        return self


def span(
    name: str,
    kind: str = "chain",
    *,
    input: Any = None,
    attributes: dict[str, Any] | None = None,
    tracer: Tracer | None = None,
) -> Span:
    """Open a span: ``with ondo.span("retrieve", kind="retrieval") as s: s.set_output(docs)``.

    ``kind`` is one of llm, retrieval, tool, chain. An exception leaving the block marks the span
    as an error (and propagates).
    """
    return Span(name, kind, input=input, attributes=attributes, tracer=tracer)


@overload
def trace(fn: F) -> F: ...


@overload
def trace(
    fn: None = None,
    *,
    name: str | None = None,
    kind: str = "chain",
    capture_input: bool = True,
    capture_output: bool = True,
) -> Callable[[F], F]: ...


def trace(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    kind: str = "chain",
    capture_input: bool = True,
    capture_output: bool = True,
) -> Any:
    """Decorate a function (sync, async or generator) so every call is a span.

    ``@ondo.trace`` or ``@ondo.trace(name="answer", kind="llm")``. The arguments (by parameter
    name) become the span input and the return value its output.
    """
    check_kind(kind)

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        span_name = str(name or getattr(func, "__qualname__", None) or getattr(func, "__name__", "call"))
        try:
            sig: inspect.Signature | None = inspect.signature(func)
        except (TypeError, ValueError):
            sig = None

        def inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if not capture_input:
                return None
            if sig is not None:
                try:
                    bound = sig.bind_partial(*args, **kwargs)
                    return {k: v for k, v in bound.arguments.items() if k not in ("self", "cls")}
                except TypeError:
                    pass
            return {"args": list(args), "kwargs": kwargs}

        if inspect.isasyncgenfunction(func):

            @functools.wraps(func)
            async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
                # the span is current only while the generator body runs, not between items
                s = Span(span_name, kind, input=inputs(args, kwargs)).start(activate=False)
                items: list[Any] = []
                agen = func(*args, **kwargs)
                try:
                    while True:
                        token = _current.set(s)
                        try:
                            item = await agen.__anext__()
                        except StopAsyncIteration:
                            break
                        finally:
                            _current.reset(token)
                        s.mark_first_token()
                        if capture_output:
                            items.append(item)
                        yield item
                except GeneratorExit:  # the consumer stopped early: not a failure
                    s.end()
                    raise
                except BaseException as exc:
                    s.end(exc)
                    raise
                if capture_output:
                    s.set_output(items)
                s.end()

            return agen_wrapper

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                s = Span(span_name, kind, input=inputs(args, kwargs)).start()
                try:
                    result = await func(*args, **kwargs)
                except BaseException as exc:
                    s.end(exc)
                    raise
                if capture_output:
                    s.set_output(result)
                s.end()
                return result

            return async_wrapper

        if inspect.isgeneratorfunction(func):

            @functools.wraps(func)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                s = Span(span_name, kind, input=inputs(args, kwargs)).start(activate=False)
                items: list[Any] = []
                gen = func(*args, **kwargs)
                try:
                    while True:
                        token = _current.set(s)
                        try:
                            item = next(gen)
                        except StopIteration:
                            break
                        finally:
                            _current.reset(token)
                        s.mark_first_token()
                        if capture_output:
                            items.append(item)
                        yield item
                except GeneratorExit:  # the consumer stopped early: not a failure
                    s.end()
                    raise
                except BaseException as exc:
                    s.end(exc)
                    raise
                if capture_output:
                    s.set_output(items)
                s.end()

            return gen_wrapper

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            s = Span(span_name, kind, input=inputs(args, kwargs)).start()
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                s.end(exc)
                raise
            if capture_output:
                s.set_output(result)
            s.end()
            return result

        return wrapper

    if fn is not None:
        return decorate(fn)
    return decorate
