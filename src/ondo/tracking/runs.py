"""Run records: creating and ending runs, their params, tags, note and inputs, and reading them back.

The functions here take a Workspace and a run id, so a live ``Run`` handle, the ``Client``,
the CLI and the server all write and read runs the same way.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa

from ondo.errors import Conflict, InvalidInput, NotFound
from ondo.store.tables import core
from ondo.store.tables.core import (
    artifacts,
    experiments,
    latest_metrics,
    metrics,
    params,
    run_inputs,
    runs,
    tags,
)
from ondo.tracking import heartbeat
from ondo.tracking.environment import Environment
from ondo.tracking.writer import value_of
from ondo.workspace import Workspace

STATUSES = ("running", "finished", "failed", "killed")
INPUT_ROLES = ("input", "output")
MAX_KEY = 255


@dataclass(frozen=True)
class RunInput:
    """A lineage edge: the run used (role 'input') or produced (role 'output') a versioned thing."""

    kind: str
    ref: str
    digest: str | None = None
    role: str = "input"


@dataclass(frozen=True)
class ArtifactInfo:
    path: str
    digest: str
    size: int
    created_at: float


@dataclass(frozen=True)
class RunInfo:
    id: str
    experiment: str
    experiment_id: str
    name: str | None
    status: str
    start_time: float
    end_time: float | None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    metric_steps: dict[str, int] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    inputs: list[RunInput] = field(default_factory=list)
    artifacts: list[ArtifactInfo] = field(default_factory=list)
    note: str | None = None
    seed: int | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    command: str | None = None
    python_version: str | None = None
    packages: dict[str, str] = field(default_factory=dict)
    host: str | None = None
    user: str | None = None
    pid: int | None = None
    heartbeat_at: float | None = None
    deleted: bool = False

    @property
    def duration(self) -> float | None:
        return None if self.end_time is None else self.end_time - self.start_time

    @property
    def display_name(self) -> str:
        return self.name or self.id[:8]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- values ---------------------------------------------------------------------------------------
def check_key(key: Any, what: str) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY or "\x00" in key:
        raise InvalidInput(
            f"{what} key must be a non-empty string of at most {MAX_KEY} characters "
            f"(no NUL), got {key!r:.300}"
        )
    return key


def check_mapping(values: Any, what: str) -> Mapping[str, Any]:
    """``values`` must be a mapping (``{"lr": 3e-4}``); a list or a string is a mistake worth naming."""
    if not isinstance(values, Mapping):
        raise InvalidInput(f"{what} must be a mapping of names to values, got {type(values).__name__}")
    return values


def param_text(value: Any, key: str = "") -> str:
    """How a param value is stored: ``str()`` for scalars (as MLflow), sorted JSON for containers."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, Mapping | list | tuple):
        text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    else:
        text = str(value)
    if "\x00" in text:  # PostgreSQL text cannot hold NUL; refuse it on every store alike
        raise InvalidInput(f"value of {key!r} contains a NUL character: {text[:60]!r}")
    return text


# -- writes ---------------------------------------------------------------------------------------
def create_run(
    ws: Workspace,
    experiment_id: str,
    *,
    name: str | None = None,
    seed: int | None = None,
    env: Environment | None = None,
    note: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
) -> str:
    """Insert a 'running' run with its first params and tags, in one transaction."""
    run_id = uuid.uuid4().hex
    now = time.time()
    values: dict[str, Any] = {
        "id": run_id,
        "experiment_id": experiment_id,
        "name": name,
        "status": "running",
        "start_time": now,
        "heartbeat_at": now,
        "seed": seed,
        "note": note,
        "deleted": False,
    }
    if env is not None:
        values.update(
            pid=env.pid,
            host=env.host,
            user=env.user,
            git_commit=env.git_commit,
            git_dirty=env.git_dirty,
            command=env.command,
            python_version=env.python_version,
            packages=env.packages,
        )
    param_rows = [
        {"run_id": run_id, "key": check_key(k, "param"), "value": param_text(v, k)}
        for k, v in check_mapping(params or {}, "params").items()
    ]
    tag_rows = [
        {"run_id": run_id, "key": check_key(k, "tag"), "value": param_text(v, k)}
        for k, v in check_mapping(tags or {}, "tags").items()
    ]

    def _write(conn: sa.Connection) -> None:
        conn.execute(runs.insert().values(**values))
        if param_rows:
            conn.execute(core.params.insert(), param_rows)
        if tag_rows:
            conn.execute(core.tags.insert(), tag_rows)

    ws.write(_write)
    return run_id


def end_run(ws: Workspace, run_id: str, status: str = "finished") -> None:
    if status not in STATUSES or status == "running":
        raise InvalidInput(f"a run ends as one of finished, failed, killed; got {status!r}")
    now = time.time()
    ws.write(
        lambda conn: conn.execute(
            runs.update().where(runs.c.id == run_id).values(status=status, end_time=now, heartbeat_at=now)
        )
    )


def log_params(ws: Workspace, run_id: str, values: Mapping[str, Any]) -> None:
    """Record params; re-logging the same value is fine, a different one raises Conflict (nothing written)."""
    new = {check_key(k, "param"): param_text(v, k) for k, v in check_mapping(values, "params").items()}
    if not new:
        return

    def _write(conn: sa.Connection) -> None:
        found = conn.execute(
            sa.select(params.c.key, params.c.value).where(
                params.c.run_id == run_id, params.c.key.in_(list(new))
            )
        )
        existing = {r.key: r.value for r in found}
        for k, v in new.items():
            if k in existing and existing[k] != v:
                raise Conflict(
                    f"param '{k}' of run {run_id} is already {existing[k]!r}; params are immutable, "
                    f"cannot set it to {v!r} (log a new run, or use a tag for values that change)"
                )
        rows = [{"run_id": run_id, "key": k, "value": v} for k, v in new.items() if k not in existing]
        if rows:
            conn.execute(params.insert(), rows)

    ws.write(_write)


def set_tags(ws: Workspace, run_id: str, values: Mapping[str, Any]) -> None:
    """Tags are mutable labels: setting one again replaces its value."""
    new = {check_key(k, "tag"): param_text(v, k) for k, v in check_mapping(values, "tags").items()}
    if not new:
        return

    def _write(conn: sa.Connection) -> None:
        conn.execute(tags.delete().where(tags.c.run_id == run_id, tags.c.key.in_(list(new))))
        conn.execute(tags.insert(), [{"run_id": run_id, "key": k, "value": v} for k, v in new.items()])

    ws.write(_write)


def check_note(text: Any) -> None:
    if text is not None and (not isinstance(text, str) or "\x00" in text):
        raise InvalidInput(f"a run note is text without NUL characters, got {type(text).__name__}")


def set_note(ws: Workspace, run_id: str, text: str | None) -> None:
    check_note(text)
    ws.write(lambda conn: conn.execute(runs.update().where(runs.c.id == run_id).values(note=text)))


def record_input(
    ws: Workspace, run_id: str, kind: str, ref: Any, digest: str | None = None, role: str = "input"
) -> RunInput:
    """Record that the run used (or produced) a versioned dataset, prompt or model."""
    if not isinstance(kind, str) or not kind or len(kind) > 16 or "\x00" in kind:
        raise InvalidInput(
            f"input kind must be a short name such as 'dataset', 'prompt' or 'model', got {kind!r}"
        )
    if role not in INPUT_ROLES:
        raise InvalidInput(f"input role must be 'input' or 'output', got {role!r}")
    if digest is not None and (not isinstance(digest, str) or len(digest) > 71 or "\x00" in digest):
        raise InvalidInput(
            f"input digest must be text such as 'sha256:<64 hex>' (at most 71 characters), got {digest!r:.90}"
        )
    ref_text = str(ref)
    if not ref_text or len(ref_text) > 512 or "\x00" in ref_text:
        raise InvalidInput(
            f"input ref must be a non-empty identifier of at most 512 characters, got {ref_text!r:.600}"
        )
    key = sa.and_(
        run_inputs.c.run_id == run_id,
        run_inputs.c.kind == kind,
        run_inputs.c.ref == ref_text,
        run_inputs.c.role == role,
    )

    def _write(conn: sa.Connection) -> None:
        conn.execute(run_inputs.delete().where(key))
        conn.execute(
            run_inputs.insert().values(
                run_id=run_id, kind=kind, ref=ref_text, role=role, digest=digest, created_at=time.time()
            )
        )

    ws.write(_write)
    return RunInput(kind=kind, ref=ref_text, digest=digest, role=role)


def delete_run(ws: Workspace, run_id: str, *, purge: bool = False) -> str:
    """Delete a run: hidden from listings and lookups (``purge`` also removes its rows and points)."""
    with ws.read() as conn:
        rid = resolve_run_id(conn, run_id, include_deleted=purge)

    def _delete(conn: sa.Connection) -> None:
        if not purge:
            conn.execute(runs.update().where(runs.c.id == rid).values(deleted=True))
            return
        for table in (metrics, latest_metrics, params, tags, artifacts, run_inputs):
            conn.execute(table.delete().where(table.c.run_id == rid))
        conn.execute(runs.delete().where(runs.c.id == rid))

    ws.write(_delete)
    return rid


# -- reads ----------------------------------------------------------------------------------------
def resolve_run_id(conn: sa.Connection, ident: str, *, include_deleted: bool = False) -> str:
    """A run by full id, unique id prefix (4+ characters) or unique name; NotFound suggests close ones."""
    live = sa.true() if include_deleted else runs.c.deleted == sa.false()
    ident = str(ident).strip()
    if conn.execute(sa.select(runs.c.id).where(runs.c.id == ident, live)).first() is not None:
        return ident
    matches: list[str] = []
    if 4 <= len(ident) < 32:
        matches = list(
            conn.execute(
                sa.select(runs.c.id).where(runs.c.id.startswith(ident, autoescape=True), live).limit(2)
            ).scalars()
        )
    if not matches:
        matches = list(
            conn.execute(sa.select(runs.c.id).where(runs.c.name == ident, live).limit(2)).scalars()
        )
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise InvalidInput(
            f"run '{ident}' is ambiguous: it matches {', '.join(matches)} and more; give more of the id"
        )
    recent = conn.execute(
        sa.select(runs.c.id, runs.c.name).where(live).order_by(runs.c.start_time.desc()).limit(2000)
    ).all()
    candidates = [r.id for r in recent] + [r.name for r in recent if r.name]
    raise NotFound("run", ident, candidates)


def get_run(ws: Workspace, run_id: str, *, include_deleted: bool = False) -> RunInfo:
    """One run with its params, latest metrics, tags, inputs and artifacts."""
    with ws.read() as conn:
        rid = resolve_run_id(conn, run_id, include_deleted=include_deleted)
    heartbeat.reap(ws, [rid])
    with ws.read() as conn:
        return load_runs(conn, [rid])[0]


def run_columns() -> list[sa.ColumnElement[Any]]:
    return [*runs.c, experiments.c.name.label("experiment_name")]


def load_runs(conn: sa.Connection, run_ids: Sequence[str]) -> list[RunInfo]:
    """RunInfos for ``run_ids`` in that order, hydrated with a fixed number of queries."""
    if not run_ids:
        return []
    ids = list(run_ids)
    rows = {
        r.id: r
        for r in conn.execute(
            sa.select(*run_columns())
            .join(experiments, experiments.c.id == runs.c.experiment_id)
            .where(runs.c.id.in_(ids))
        )
    }
    p: dict[str, dict[str, str]] = {i: {} for i in ids}
    for r in conn.execute(sa.select(params).where(params.c.run_id.in_(ids)).order_by(params.c.key)):
        p[r.run_id][r.key] = r.value
    m: dict[str, dict[str, float]] = {i: {} for i in ids}
    ms: dict[str, dict[str, int]] = {i: {} for i in ids}
    for r in conn.execute(
        sa.select(latest_metrics).where(latest_metrics.c.run_id.in_(ids)).order_by(latest_metrics.c.key)
    ):
        m[r.run_id][r.key] = value_of(r.value, r.flag)
        ms[r.run_id][r.key] = int(r.step)
    t: dict[str, dict[str, str]] = {i: {} for i in ids}
    for r in conn.execute(sa.select(tags).where(tags.c.run_id.in_(ids)).order_by(tags.c.key)):
        t[r.run_id][r.key] = r.value
    inp: dict[str, list[RunInput]] = {i: [] for i in ids}
    for r in conn.execute(
        sa.select(run_inputs)
        .where(run_inputs.c.run_id.in_(ids))
        .order_by(run_inputs.c.created_at, run_inputs.c.ref)
    ):
        inp[r.run_id].append(RunInput(kind=r.kind, ref=r.ref, digest=r.digest, role=r.role))
    art: dict[str, list[ArtifactInfo]] = {i: [] for i in ids}
    for r in conn.execute(sa.select(artifacts).where(artifacts.c.run_id.in_(ids)).order_by(artifacts.c.path)):
        art[r.run_id].append(
            ArtifactInfo(path=r.path, digest=r.digest, size=int(r.size), created_at=r.created_at)
        )
    out = []
    for i in ids:
        if i not in rows:
            continue
        r = rows[i]
        out.append(
            RunInfo(
                id=r.id,
                experiment=r.experiment_name,
                experiment_id=r.experiment_id,
                name=r.name,
                status=r.status,
                start_time=r.start_time,
                end_time=r.end_time,
                params=p[i],
                metrics=m[i],
                metric_steps=ms[i],
                tags=t[i],
                inputs=inp[i],
                artifacts=art[i],
                note=r.note,
                seed=r.seed,
                git_commit=r.git_commit,
                git_dirty=r.git_dirty,
                command=r.command,
                python_version=r.python_version,
                packages=dict(r.packages or {}),
                host=r.host,
                user=r.user,
                pid=r.pid,
                heartbeat_at=r.heartbeat_at,
                deleted=bool(r.deleted),
            )
        )
    return out


def metric_keys(conn: sa.Connection, run_id: str) -> list[str]:
    return list(
        conn.execute(
            sa.select(latest_metrics.c.key)
            .where(latest_metrics.c.run_id == run_id)
            .order_by(latest_metrics.c.key)
        ).scalars()
    )
