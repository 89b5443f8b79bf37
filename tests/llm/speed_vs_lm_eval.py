"""Wall time of ondo's transformers scorer vs lm-evaluation-harness's HFLM on identical requests.

Not a test (no timed assertions in the suite): run it by hand, e.g.
    .venv/bin/python tests/llm/speed_vs_lm_eval.py --items 40 --lm-eval-batch-sizes 1,16
Both run float32 SmolLM2 weights (HFLM loads ondo's converted copy of the bundled GGUF) on one
torch thread, interleaved in one process so machine load hits both alike.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from benchmark_items import arc_requests, hellaswag_requests, mmlu_requests


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=40)
    ap.add_argument("--lm-eval-batch-sizes", default="1,16")
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2].parent / "shared" / "data"))
    args = ap.parse_args()
    import torch
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from ondo.llm.transformers_local import TransformersModel, converted_model_dir
    from ondo.llm.weights import bundled_model_path

    torch.set_num_threads(1)
    data, n = Path(args.data), args.items
    sets = {"arc_easy": arc_requests(data, n), "hellaswag": hellaswag_requests(data, n),
            "mmlu 5-shot (anatomy+astronomy)": mmlu_requests(data, "anatomy", n // 2)
            + mmlu_requests(data, "astronomy", n // 2)}
    gguf = bundled_model_path()
    ours = TransformersModel(gguf.parent, gguf_file=gguf.name)
    ours.loglikelihood_sync(arc_requests(data, 2))  # load, self-check, warm up
    refs = {int(bs): HFLM(pretrained=str(converted_model_dir(gguf)), batch_size=int(bs), device="cpu",
                          dtype="float32") for bs in args.lm_eval_batch_sizes.split(",")}
    for name, reqs in sets.items():
        before = ours.forward_tokens
        t = time.perf_counter()
        a = ours.loglikelihood_sync(reqs)
        ta = time.perf_counter() - t
        line = f"{name}: {len(reqs)} requests; ondo {ta:.1f}s ({ours.forward_tokens - before} tokens through the model)"
        for bs, lm in refs.items():
            inst = [Instance(request_type="loglikelihood", doc={}, arguments=(r.context, r.continuation), idx=i)
                    for i, r in enumerate(reqs)]
            t = time.perf_counter()
            b = lm.loglikelihood(inst, disable_tqdm=True)
            tb = time.perf_counter() - t
            diff = max(abs(x.logprob - y[0]) for x, y in zip(a, b, strict=True))
            same = sum(max(range(4), key=lambda j, i=i: a[4 * i + j].logprob)
                       == max(range(4), key=lambda j, i=i: b[4 * i + j][0]) for i in range(len(reqs) // 4))
            line += (f"; lm-eval batch {bs}: {tb:.1f}s ({tb / ta:.2f}x ondo's time), max |dlogprob| {diff:.1e}, "
                     f"same prediction {same}/{len(reqs) // 4}")
        print(line, flush=True)


if __name__ == "__main__":
    main()
