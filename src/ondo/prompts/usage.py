"""Prompts as hyperparameters: a run records every prompt version it used.

``use(run, prompt)`` records it explicitly; rendering a prompt while a run is active records
it automatically, once per run and version, as a lineage edge in ``run_inputs``
(kind 'prompt', ref 'name/N', the version's digest). ``ondo runs compare`` and lineage read it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ondo.prompts.versions import PromptVersion

_lock = threading.Lock()
_recorded: OrderedDict[str, set[str]] = OrderedDict()  # run id -> refs already recorded (most recent runs)
_MAX_RUNS = 1024


def use(run: Any, prompt: PromptVersion | str) -> PromptVersion:
    """Record ``prompt`` (a version or an identifier such as ``summarize@production``) as an input of ``run``.

    ``run.use_prompt(prompt)`` is the same call.
    """
    from ondo.prompts.versions import PromptVersion

    if not isinstance(prompt, PromptVersion):
        from ondo.prompts import get

        prompt = get(prompt, workspace=getattr(run, "ws", None))  # resolve in the run's own store
    run.record_input("prompt", prompt.ref, digest=prompt.digest)
    _remember(str(run.id), prompt.ref)
    return prompt


def record_if_active(prompt: PromptVersion) -> None:
    """Called by ``PromptVersion.render``: record the prompt on the innermost active run, once."""
    try:
        from ondo.tracking import active_run
    except ImportError:  # tracking not installed in this build
        return
    run = active_run()
    if run is None:
        return
    run_id = str(run.id)
    with _lock:
        if prompt.ref in _recorded.get(run_id, ()):
            return
    run.record_input("prompt", prompt.ref, digest=prompt.digest)
    _remember(run_id, prompt.ref)


def _remember(run_id: str, ref: str) -> None:
    with _lock:
        seen = _recorded.pop(run_id, set())
        seen.add(ref)
        _recorded[run_id] = seen
        while len(_recorded) > _MAX_RUNS:
            _recorded.popitem(last=False)
