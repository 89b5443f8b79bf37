"""Per-item parity with lm-evaluation-harness run in-process on the same SmolLM2 weights and items.

lm-eval's ``HFLM`` and ondo (through ``ondo.llm``'s transformers engine) load the same transformers
folder (the bundled GGUF, dequantised once); lm-eval reads ondo's task data through custom YAMLs.
Log-likelihoods must agree to float noise and every prediction must be identical.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.llm]

CASES = [("arc_easy", 0, 10), ("mmlu_anatomy", 2, 8), ("kornli", 0, 6), ("truthfulqa_mc2", 0, 3)]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    pytest.importorskip("lm_eval")
    from ondo.llm.transformers_local import converted_model_dir
    from ondo.llm.weights import bundled_model_path

    return converted_model_dir(bundled_model_path())


def _lmeval_samples(model_dir: Path, include: Path, name: str, shots: int, limit: int) -> list[dict]:
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=str(model_dir), batch_size=1, device="cpu", dtype="float32")
    tm = TaskManager(include_path=str(include), include_defaults=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = lm_eval.simple_evaluate(
            model=lm,
            tasks=[f"ondo_{name}"],
            limit=limit,
            num_fewshot=shots,
            log_samples=True,
            task_manager=tm,
            bootstrap_iters=0,
        )
    return list(res["samples"][f"ondo_{name}"])


@pytest.mark.parametrize(("name", "shots", "limit"), CASES)
def test_items_match_lm_eval(
    name: str, shots: int, limit: int, model_dir: Path, shared_data: Path, tmp_path: Path, workspace: object
) -> None:
    import torch

    from ondo.evals.bench import records
    from ondo.evals.bench.lmeval_bridge import write_lmeval_tasks
    from ondo.evals.bench.runner import evaluate

    torch.set_num_threads(1)
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    write_lmeval_tasks([name], shared_data, tmp_path)
    theirs = {
        s["doc_id"]: [float(r[0]) for r in s["filtered_resps"]]
        for s in _lmeval_samples(model_dir, tmp_path, name, shots, limit)
    }

    res = evaluate(
        f"hf:{model_dir}",
        name,
        limit=limit,
        num_fewshot=shots,
        data_dir=shared_data,
        progress=False,
        cache=False,
    )
    items = records.items(workspace, res.run_id, name)  # type: ignore[arg-type]
    assert len(items) == len(theirs) == limit
    for it in items:
        ref = theirs[it["doc_id"]]
        np.testing.assert_allclose(it["loglikelihoods"], ref, atol=2e-3, rtol=0)
        assert int(it["prediction"]) == int(np.argmax(ref))
