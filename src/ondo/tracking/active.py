"""The live ``Run`` a process writes to, and ``start_run`` / ``active_run``.

``start_run`` records the run (status 'running', code version, command, interpreter and key
package versions, seed), starts its heartbeat and returns a handle that is also a context
manager: leaving the block normally ends the run 'finished', an exception 'failed', a
KeyboardInterrupt 'killed'. Runs left open at interpreter exit are ended there. Metric points
go through the batching writer; params, tags, notes, inputs and artifacts are written at once.
"""

from __future__ import annotations

import atexit
import operator
import os
import random
import sys
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from ondo.errors import InvalidInput
from ondo.tracking import artifacts as _artifacts
from ondo.tracking import environment, experiments, heartbeat
from ondo.tracking import runs as _runs
from ondo.tracking.runs import ArtifactInfo, RunInfo, RunInput
from ondo.tracking.writer import FLAG_FINITE, Point, flag_of, stored_value, writer_for
from ondo.workspace import Workspace

PARENT_TAG = "ondo.parent_run_id"
ERROR_TAG = "ondo.error"

_local = threading.local()
_open_runs: dict[str, Run] = {}
_open_lock = threading.Lock()


def _stack() -> list[Run]:
    stack: list[Run] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def active_run() -> Run | None:
    """The innermost run started (and not yet ended) in this thread."""
    stack = _stack()
    return stack[-1] if stack else None


def _not_a_number(key: str, value: Any) -> InvalidInput:
    err = InvalidInput(f"metric '{key}': value {value!r} is not a number")
    err.field = key
    return err


def _metric_value(key: str, value: Any) -> float:
    if isinstance(value, str | bytes | bytearray) or value is None or not hasattr(value, "__float__"):
        raise _not_a_number(key, value)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _not_a_number(key, value) from None
    except OverflowError:
        raise _too_large(key, value) from None


def _too_large(key: str, value: Any) -> InvalidInput:
    """An int past float range is refused when logged, not when its batch is written."""
    return InvalidInput(f"metric '{key}': value {_int_text(value)} is too large for a float")


def _int_text(value: Any) -> str:
    """A number for a message: an int too long to print (Python refuses past 4,300 digits) by its size."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"(an integer of {value.bit_length()} bits)"
    text = repr(value)
    return text[:40] + ("..." if len(text) > 40 else "")


# steps are stored as 64-bit integers; a larger one would fail the whole batch at write time
MAX_STEP = 2**63 - 1


def _check_metric_key(key: Any) -> str:
    """Checked once per key and run (a key seen before was checked when first logged)."""
    if type(key) is not str or not key or len(key) > _runs.MAX_KEY or "\x00" in key:
        raise InvalidInput(
            f"metric key must be a non-empty string of at most {_runs.MAX_KEY} characters "
            f"(no NUL), got {key!r:.300}"
        )
    return key


def _as_step(key: str, step: Any) -> int:
    try:
        s = operator.index(step)
    except TypeError:
        raise InvalidInput(f"metric '{key}': step {step!r} is not an integer") from None
    if not -MAX_STEP <= s <= MAX_STEP:
        raise InvalidInput(f"metric '{key}': step {_int_text(s)} does not fit in 64 bits")
    return s


def _apply_seed(seed: int) -> None:
    """Seed the generators this process already uses, so a recorded seed reproduces the run."""
    random.seed(seed)
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed(seed % 2**32)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


class Run:
    """A run being recorded by this process."""

    def __init__(
        self, ws: Workspace, run_id: str, experiment: str, experiment_id: str, name: str | None
    ) -> None:
        self.ws = ws
        self.id = run_id
        self.experiment = experiment
        self.experiment_id = experiment_id
        self.name = name
        self.status = "running"
        self._writer = writer_for(ws)
        self._next_step: dict[str, int] = {}
        self._thread_stack: list[Run] | None = None

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, experiment={self.experiment!r}, status={self.status!r})"

    # -- params, tags, note ------------------------------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        _runs.log_params(self.ws, self.id, {key: value})

    def log_params(self, values: Mapping[str, Any]) -> None:
        _runs.log_params(self.ws, self.id, values)

    def set_tag(self, key: str, value: Any) -> None:
        _runs.set_tags(self.ws, self.id, {key: value})

    def set_tags(self, values: Mapping[str, Any]) -> None:
        _runs.set_tags(self.ws, self.id, values)

    def set_note(self, text: str) -> None:
        _runs.set_note(self.ws, self.id, text)

    # -- metrics -----------------------------------------------------------------------------------
    def _point(self, key: Any, value: Any, step: Any, ts: float) -> Point:
        # the hot path of every training loop: plain type checks first, the general case out of line
        if type(key) is not str or key not in self._next_step:
            _check_metric_key(key)
        t = type(value)
        try:
            v = value if t is float else float(value) if t is int else _metric_value(key, value)
        except OverflowError:
            raise _too_large(key, value) from None
        if step is None:
            step = self._next_step.get(key, 0)
            if step > MAX_STEP:
                step = _as_step(key, step)  # the step after MAX_STEP: refused like an explicit one
        elif type(step) is not int or not -MAX_STEP <= step <= MAX_STEP:
            step = _as_step(key, step)
        self._next_step[key] = step + 1
        if v - v == 0.0:  # finite
            return (self.id, key, step, v, ts, FLAG_FINITE)
        flag = flag_of(v)
        return (self.id, key, step, stored_value(v, flag), ts, flag)

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: float | None = None
    ) -> None:
        """Buffer one point; NaN and inf are kept and flagged. A non-number raises InvalidInput."""
        self._writer.add_one(self._point(key, value, step, timestamp or time.time()))

    def log_metrics(
        self, values: Mapping[str, float], step: int | None = None, timestamp: float | None = None
    ) -> None:
        """Buffer one point per key (all at ``step``); a bad key or value refuses the whole call."""
        ts = timestamp or time.time()
        if not isinstance(values, Mapping):
            _runs.check_mapping(values, "metrics")
        if step is not None and (type(step) is not int or not -MAX_STEP <= step <= MAX_STEP):
            step = _as_step(next(iter(values), ""), step)
        rid, next_step = self.id, self._next_step
        points: list[Point] = []
        add = points.append
        # _point, inlined: this loop runs once per logged value
        for key, value in values.items():
            if type(key) is not str or key not in next_step:
                _check_metric_key(key)
            t = type(value)
            try:
                v = value if t is float else float(value) if t is int else _metric_value(key, value)
            except OverflowError:
                raise _too_large(key, value) from None
            s = next_step.get(key, 0) if step is None else step
            if v - v == 0.0:
                add((rid, key, s, v, ts, FLAG_FINITE))
            else:
                flag = flag_of(v)
                add((rid, key, s, stored_value(v, flag), ts, flag))
        for p in points:
            next_step[p[1]] = p[2] + 1
        self._writer.add(points)

    def flush(self) -> None:
        """Write buffered metric points now, so any reader sees them."""
        self._writer.flush()

    # -- artifacts and lineage ---------------------------------------------------------------------
    def log_artifact(self, path: str | os.PathLike[str], name: str | None = None) -> list[ArtifactInfo]:
        return _artifacts.log_artifact(self.ws, self.id, path, name)

    def log_dict(self, data: Any, name: str) -> ArtifactInfo:
        return _artifacts.log_dict(self.ws, self.id, data, name)

    def log_text(self, text: str, name: str) -> ArtifactInfo:
        return _artifacts.log_text(self.ws, self.id, text, name)

    def record_input(self, kind: str, ref: Any, digest: str | None = None, role: str = "input") -> RunInput:
        return _runs.record_input(self.ws, self.id, kind, ref, digest, role)

    def use_prompt(self, prompt: Any) -> Any:
        """Record a prompt version (or an identifier such as ``summarize@production``) as an input; returns the version."""
        from ondo.prompts.usage import use

        return use(self, prompt)

    # -- lifecycle ---------------------------------------------------------------------------------
    def info(self) -> RunInfo:
        """The run as a reader sees it (after flushing this process's buffered points)."""
        self.flush()
        return _runs.get_run(self.ws, self.id, include_deleted=True)

    def end(self, status: str = "finished") -> None:
        """End the run (idempotent): flush its points, stop its heartbeat, record status and end time."""
        if self.status != "running":
            return
        self.status = status
        heartbeat.HEARTBEAT.remove(self.id)
        with _open_lock:
            _open_runs.pop(self.id, None)
        stack = self._thread_stack
        if stack is not None and self in stack:
            stack.remove(self)
        try:
            self.flush()
        finally:
            _runs.end_run(self.ws, self.id, status)

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.end("finished")
            return
        if issubclass(exc_type, KeyboardInterrupt):
            status = "killed"
        elif issubclass(exc_type, SystemExit) and getattr(exc, "code", 1) in (0, None):
            status = "finished"
        else:
            status = "failed"
        try:
            if status == "failed":
                _runs.set_tags(self.ws, self.id, {ERROR_TAG: f"{exc_type.__name__}: {exc}"[:2000]})
        finally:
            self.end(status)


def start_run(
    experiment: str | None = None,
    params: Mapping[str, Any] | None = None,
    name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    seed: int | None = None,
    *,
    note: str | None = None,
    workspace: Workspace | None = None,
) -> Run:
    """Start recording a run in ``experiment`` (created on first use; default ``$ONDO_EXPERIMENT`` or 'default')."""
    ws = workspace or Workspace.default()
    exp_name = experiment or os.environ.get("ONDO_EXPERIMENT") or experiments.DEFAULT_EXPERIMENT
    # every argument is checked before anything is written: a refused run leaves no new experiment behind
    experiments.check_experiment_name(exp_name)
    if seed is not None:
        try:
            seed = operator.index(seed)
        except TypeError:
            raise InvalidInput(f"seed must be an integer, got {seed!r}") from None
        if not -MAX_STEP <= seed <= MAX_STEP:
            raise InvalidInput(f"seed {_int_text(seed)} does not fit in 64 bits")
    if name is not None and (
        not isinstance(name, str) or not name.strip() or len(name) > _runs.MAX_KEY or "\x00" in name
    ):
        raise InvalidInput(f"run name must be text of 1 to {_runs.MAX_KEY} characters, got {name!r:.80}")
    for key, value in _runs.check_mapping(params or {}, "params").items():
        _runs.param_text(value, _runs.check_key(key, "param"))
    for key, value in _runs.check_mapping(tags or {}, "tags").items():
        _runs.param_text(value, _runs.check_key(key, "tag"))
    _runs.check_note(note)
    exp_id = experiments.get_or_create(ws, exp_name)
    parent = active_run()
    all_tags = dict(tags or {})
    if parent is not None:
        all_tags.setdefault(PARENT_TAG, parent.id)
    run_id = _runs.create_run(
        ws, exp_id, name=name, seed=seed, env=environment.capture(), note=note, params=params, tags=all_tags
    )
    run = Run(ws, run_id, exp_name, exp_id, name)
    if seed is not None:
        _apply_seed(seed)
    heartbeat.HEARTBEAT.add(ws, run_id)
    with _open_lock:
        _open_runs[run_id] = run
    stack = _stack()
    stack.append(run)
    run._thread_stack = stack
    return run


def _end_open_runs() -> None:
    """At interpreter exit: end runs nobody ended; 'failed'/'killed' when an exception ended the program."""
    last = getattr(sys, "last_type", None)
    status = "finished" if last is None else "killed" if issubclass(last, KeyboardInterrupt) else "failed"
    with _open_lock:
        pending = list(_open_runs.values())
    for run in pending:
        try:
            run.end(status)
        except Exception as exc:
            print(f"ondo: could not end run {run.id}: {exc}", file=sys.stderr)


def _after_fork_in_child() -> None:
    """A forked child may log into its parent's runs, but ending them is the parent's business."""
    global _open_lock
    _open_lock = threading.Lock()
    _open_runs.clear()


atexit.register(_end_open_runs)
os.register_at_fork(after_in_child=_after_fork_in_child)
