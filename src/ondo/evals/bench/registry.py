"""The task registry: every shipped task and group by name, with close-match suggestions for typos."""

from __future__ import annotations

import importlib
from functools import lru_cache

from ondo.errors import NotFound
from ondo.evals.bench.task import Task, TaskGroup
from ondo.evals.bench.tasks import FAMILIES


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, Task], dict[str, list[str]]]:
    tasks: dict[str, Task] = {}
    groups: dict[str, list[str]] = {}
    for family in FAMILIES:
        mod = importlib.import_module(f"ondo.evals.bench.tasks.{family}")
        for t in mod.TASKS:
            if t.name in tasks:
                raise RuntimeError(f"task {t.name} defined twice")
            tasks[t.name] = t
        groups.update(getattr(mod, "GROUPS", {}))
    return tasks, groups


def list_tasks(include_subtasks: bool = False) -> list[Task | TaskGroup]:
    """Tasks and groups, sorted by name; group members (the 57 MMLU subjects) only with ``include_subtasks``."""
    tasks, groups = _load()
    items: list[Task | TaskGroup] = [t for t in tasks.values() if include_subtasks or t.group is None]
    items += [_group(name) for name in groups if include_subtasks or name in _TOP_GROUPS]
    return sorted(items, key=lambda t: t.name)


_TOP_GROUPS = {"mmlu", "kmmlu", "kmmlu_direct"}
_GROUP_SUMMARY = {
    "mmlu": "MMLU, 57 subjects, 5-shot from dev; size-weighted (micro) and unweighted (macro) means",
    "kmmlu": "KMMLU, 45 subjects (Korean); size-weighted mean over the subjects present",
    "kmmlu_direct": "KMMLU generative variant (exact match of the generated letter)",
}


def _group(name: str) -> TaskGroup:
    tasks, groups = _load()
    return TaskGroup(name, tuple(tasks[m] for m in groups[name]), _GROUP_SUMMARY.get(name, ""))


def list_groups() -> dict[str, list[str]]:
    return dict(_load()[1])


def get_task(name: str) -> Task | TaskGroup:
    """A task or group by name; an unknown name raises ``NotFound`` with close matches."""
    tasks, groups = _load()
    if name in tasks:
        return tasks[name]
    if name in groups:
        return _group(name)
    raise NotFound("task", name, [*tasks, *groups])


def expand(names: list[str] | str) -> list[Task]:
    """Task and group names (comma-separated or a list) to the leaf tasks, in order, without repeats."""
    if isinstance(names, str):
        names = [n for n in (s.strip() for s in names.split(",")) if n]
    tasks, groups = _load()
    out: list[Task] = []
    seen: set[str] = set()
    for name in names:
        if name in groups:
            members = [tasks[m] for m in groups[name]]
        elif name in tasks:
            members = [tasks[name]]
        else:
            raise NotFound("task", name, [*tasks, *groups])
        for t in members:
            if t.name not in seen:
                seen.add(t.name)
                out.append(t)
    return out
