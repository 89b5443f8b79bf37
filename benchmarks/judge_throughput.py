"""Judge throughput: MT-Bench pairwise judging against a local OpenAI-compatible server.

A tiny fake judge server (Starlette on uvicorn, 127.0.0.1) answers every chat completion after a fixed
delay with an explanation and a verdict, and counts how many requests it holds at once. ondo's judge
runs FastChat's pairwise matches against it at several concurrency limits; the script reports the
concurrency the server actually saw against the limit, and judge calls per second. A second pass
through the request cache (when the LLM layer provides ``CachedModel``) must make zero new calls.

    .venv/bin/python benchmarks/judge_throughput.py [--delay 0.05] [--limits 1,4,16,64] [--questions 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import threading
import time
from typing import Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeJudgeServer:
    """POST /v1/chat/completions -> after ``delay`` s, '... [[A]]' or '[[B]]' by answer length."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = 0
        self.port = _free_port()
        self._server: Any = None

    def app(self) -> Any:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def chat(request: Request) -> JSONResponse:
            body = await request.json()
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                await asyncio.sleep(self.delay)
            finally:
                self.in_flight -= 1
            user = body["messages"][-1]["content"]
            verdict = "[[A]]" if len(user) % 2 else "[[B]]"
            return JSONResponse({
                "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model", "fake-judge"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": f"Both are fine. {verdict}"},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": len(user) // 4, "completion_tokens": 8, "total_tokens": len(user) // 4 + 8},
            })

        async def models(request: Request) -> JSONResponse:
            return JSONResponse({"object": "list", "data": [{"id": "fake-judge", "object": "model"}]})

        return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]),
                                 Route("/v1/models", models, methods=["GET"])])

    def __enter__(self) -> FakeJudgeServer:
        import uvicorn

        self._server = uvicorn.Server(uvicorn.Config(self.app(), host="127.0.0.1", port=self.port,
                                                     log_level="warning", backlog=4096))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        while not self._server.started:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def reset(self) -> None:
        self.in_flight = self.max_in_flight = self.requests = 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--delay", type=float, default=0.05, help="seconds the fake judge takes per call")
    ap.add_argument("--limits", default="1,4,16,64")
    ap.add_argument("--questions", type=int, default=20, help="MT-Bench questions (x2 turns x3 pairs x2 games)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ["ONDO_HOME"] = tempfile.mkdtemp(prefix="ondo-judge-bench-")
    import ondo.llm as ondo_llm
    from ondo.evals.judge import evaluate_mt_bench
    from ondo.llm import load_model

    models = ["gpt-4", "claude-v1", "llama-13b"]
    rows = []
    with FakeJudgeServer(args.delay) as server:
        url = f"http://127.0.0.1:{server.port}/v1#fake-judge"
        for limit in [int(x) for x in args.limits.split(",")]:
            server.reset()
            judge = load_model(url, max_concurrency=limit)
            t0 = time.perf_counter()
            res = evaluate_mt_bench(models, judge, mode="pairwise", limit=args.questions, concurrency=limit,
                                    cache=False, experiment="judge-throughput")
            wall = time.perf_counter() - t0
            calls = res.stats.calls
            judging = res.stats.wall_s  # the judging phase: matches, calls, parsing (not run bookkeeping)
            ideal = min(limit, calls) / args.delay
            rows.append({"limit": limit, "calls": calls, "server_requests": server.requests,
                         "max_in_flight_server": server.max_in_flight, "max_in_flight_client": res.stats.max_in_flight,
                         "judging_s": round(judging, 3), "wall_s": round(wall, 3),
                         "calls_per_s": round(calls / judging, 1),
                         "ideal_calls_per_s": round(ideal, 1), "unparsed": res.unparsed})
        cached: dict[str, Any] = {}
        if hasattr(ondo_llm, "CachedModel"):
            judge = ondo_llm.CachedModel(load_model(url, max_concurrency=16))
            evaluate_mt_bench(models, judge, mode="pairwise", limit=args.questions, concurrency=16,
                              experiment="judge-throughput")
            server.reset()
            t0 = time.perf_counter()
            res = evaluate_mt_bench(models, judge, mode="pairwise", limit=args.questions, concurrency=16,
                                    experiment="judge-throughput")
            cached = {"rerun_calls": res.stats.calls, "rerun_cached": res.stats.cached,
                      "rerun_server_requests": server.requests, "rerun_wall_s": round(time.perf_counter() - t0, 3)}
    if args.json:
        print(json.dumps({"delay_s": args.delay, "rows": rows, "cache": cached}, indent=2))
        return 0
    print(f"fake judge delay {args.delay * 1000:.0f} ms; {rows[0]['calls']} judge calls per setting "
          f"({args.questions} questions x 2 turns x 3 pairs x 2 games)")
    print(f"{'limit':>6} {'server max in flight':>21} {'calls/s':>9} {'ideal':>8} {'judging s':>10} {'run s':>7} "
          f"{'unparsed':>9}")
    for r in rows:
        print(f"{r['limit']:>6} {r['max_in_flight_server']:>21} {r['calls_per_s']:>9} {r['ideal_calls_per_s']:>8} "
              f"{r['judging_s']:>10} {r['wall_s']:>7} {r['unparsed']:>9}")
    if cached:
        print(f"re-run through the request cache: {cached['rerun_server_requests']} server requests "
              f"({cached['rerun_cached']} of {cached['rerun_calls']} calls answered by the cache)")
    else:
        print("request cache not available in this build: cached re-run skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
