"""A Tracer ties spans to a workspace's writer, with the redaction and export settings.

The process has one default tracer per workspace (it follows ``Workspace.default()``, so a
test that re-points ``ONDO_HOME`` gets a fresh one); ``configure()`` replaces it, e.g. to turn
on redaction or to trace into another workspace. The gateway builds its own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from re import Pattern

from ondo.traces.otlp import exporter_from_env
from ondo.traces.records import SpanRecord
from ondo.traces.redaction import Redactor
from ondo.traces.writer import Exporter, SpanWriter
from ondo.workspace import Workspace


class Tracer:
    def __init__(
        self,
        workspace: Workspace | None = None,
        *,
        redactor: Redactor | None = None,
        capture_bodies: bool = True,
        enabled: bool = True,
        exporters: Sequence[Exporter] | None = None,
        batch_size: int = 2000,
        interval_s: float = 0.2,
    ) -> None:
        self.workspace = workspace or Workspace.default()
        self.redactor = redactor if redactor is not None else Redactor.from_env()
        self.capture_bodies = capture_bodies
        self.enabled = enabled
        if exporters is None:
            otlp = exporter_from_env()
            exporters = [otlp] if otlp is not None else []
        self.exporters = list(exporters)
        self._batch_size = batch_size
        self._interval_s = interval_s
        self._writer: SpanWriter | None = None
        self._lock = threading.Lock()

    @property
    def writer(self) -> SpanWriter:
        w = self._writer
        if w is None:
            with self._lock:
                if self._writer is None:
                    self._writer = SpanWriter(
                        self.workspace,
                        batch_size=self._batch_size,
                        interval_s=self._interval_s,
                        redactor=self.redactor,
                        exporters=self.exporters,
                    )
                w = self._writer
        return w

    def record(self, rec: SpanRecord) -> None:
        if not self.enabled:
            return
        if not self.capture_bodies:
            rec.input = rec.output = None
        self.writer.submit(rec)

    def flush(self, timeout: float | None = 30.0) -> bool:
        if self._writer is None:
            return True
        return self._writer.flush(timeout)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


_lock = threading.Lock()
_configured: Tracer | None = None
# (environment that picks the default workspace) -> (that workspace, its tracer)
_default: tuple[tuple[str | bytes | None, ...], Workspace, Tracer] | None = None
_ENV = ("ONDO_HOME", "ONDO_STORE_URL", "ONDO_ARTIFACTS_URL")


_RAW_ENV: dict[bytes, bytes] | None = getattr(os.environ, "_data", None)  # CPython: skips str encoding


def _env_key() -> tuple[str | bytes | None, ...]:
    """What decides the default workspace, read as cheaply as possible (once per span)."""
    raw = _RAW_ENV
    if raw is not None and isinstance(next(iter(raw), b""), bytes):
        home_b = raw.get(b"ONDO_HOME")
        return (home_b, raw.get(b"ONDO_STORE_URL"), raw.get(b"ONDO_ARTIFACTS_URL"),
                None if home_b else os.getcwd())
    env = os.environ
    home = env.get("ONDO_HOME")
    return (home, env.get("ONDO_STORE_URL"), env.get("ONDO_ARTIFACTS_URL"), None if home else os.getcwd())


def get_tracer() -> Tracer:
    """The tracer SDK spans go to: the configured one, else the default workspace's.

    Looked up on every span end, so it keys on the environment (cheap) instead of building
    ``Settings`` each time; a changed environment (a test's fresh ``ONDO_HOME``) gets a new tracer.
    """
    global _default
    if _configured is not None:
        return _configured
    key = _env_key()
    hit = _default
    if hit is not None and hit[0] == key:
        return hit[2]
    with _lock:
        hit = _default
        if hit is None or hit[0] != key:
            if hit is not None:
                hit[2].close()
            ws = Workspace.default()
            hit = (key, ws, Tracer(ws))
            _default = hit
        return hit[2]


def configure(
    workspace: Workspace | None = None,
    *,
    redact: Iterable[str] = (),
    redact_regex: Iterable[str | Pattern[str]] = (),
    capture_bodies: bool = True,
    enabled: bool = True,
    exporters: Sequence[Exporter] | None = None,
) -> Tracer:
    """Set how SDK spans are stored: ``redact=["email", "phone"]``, ``redact_regex=[r"ACME-\\d+"]``,
    ``capture_bodies=False`` to keep no inputs/outputs, ``enabled=False`` to record nothing."""
    global _configured
    tracer = Tracer(
        workspace,
        redactor=Redactor(redact, redact_regex),
        capture_bodies=capture_bodies,
        enabled=enabled,
        exporters=exporters,
    )
    with _lock:
        old, _configured = _configured, tracer
    if old is not None:
        old.close()
    return tracer


def reset() -> None:
    """Forget the configured tracer (back to the default workspace's), flushing it first."""
    global _configured
    with _lock:
        old, _configured = _configured, None
    if old is not None:
        old.close()


def flush(timeout: float | None = 30.0) -> bool:
    """Store every span recorded so far by this process's SDK tracer."""
    return get_tracer().flush(timeout)
