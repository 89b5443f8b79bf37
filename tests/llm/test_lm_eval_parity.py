"""The transformers engine scores exactly like lm-evaluation-harness's HFLM on the same weights.

HFLM loads the safetensors copy ondo converted from the bundled GGUF (``converted_model_dir``),
so both run the same float32 weights; requests come from the shared ARC, HellaSwag and MMLU
files in lm-eval's prompt shapes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from benchmark_items import arc_requests, hellaswag_requests, mmlu_requests

from ondo.llm.types import LoglikelihoodRequest as R

pytestmark = [pytest.mark.llm, pytest.mark.slow]


def test_loglikelihoods_equal_lm_eval_hflm(hf_model: Any, gguf_path: Path, shared_data: Path) -> None:
    pytest.importorskip("lm_eval")
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from ondo.llm.transformers_local import converted_model_dir

    reqs = (arc_requests(shared_data, 12) + hellaswag_requests(shared_data, 8)
            + mmlu_requests(shared_data, "anatomy", 4) + [R("", " The quick brown fox")])
    ours = hf_model.loglikelihood_sync(reqs)
    lm = HFLM(pretrained=str(converted_model_dir(gguf_path)), batch_size=8, device="cpu", dtype="float32")
    theirs = lm.loglikelihood([Instance(request_type="loglikelihood", doc={}, arguments=(r.context, r.continuation),
                                        idx=i) for i, r in enumerate(reqs)], disable_tqdm=True)
    for req, a, (logprob, greedy) in zip(reqs, ours, theirs, strict=True):
        assert a.logprob == pytest.approx(logprob, abs=1e-3), req
        assert a.is_greedy == greedy, req
    n_items = (len(reqs) - 1) // 4
    for i in range(n_items):
        mine = max(range(4), key=lambda j: ours[4 * i + j].logprob)
        ref = max(range(4), key=lambda j: theirs[4 * i + j][0])
        assert mine == ref
