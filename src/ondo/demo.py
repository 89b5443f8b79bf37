"""``make run``: ondo's main job on the embedded defaults, end to end, on real data and a real model.

The loop the seed describes, small enough for a 2-core laptop:
1. an evaluation set becomes a dataset version, is edited, and the versions are diffed;
2. two prompt versions are evaluated on it with the bundled SmolLM2 (one tracked run each),
   compared, and the better one promoted through a quality gate;
3. the bundled model is registered, scored on an ARC-Easy slice and a Korean ROUGE evaluation
   (runs linked to the model version), and promoted to ``production`` through a gate;
4. the gateway serves ``assistant@production``; an alias move takes effect on the next request,
   a rollback undoes it, and the traces with tokens, latency and cost are printed;
5. a few MT-Bench questions are judged by the local model and an arena leaderboard is built;
6. the lineage of the served version is printed.

Every number printed comes from a run in the store (``ondo runs list`` shows them afterwards).
LLM calls go through the request cache, so a second ``make run`` answers from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from ondo.errors import GateFailed, OndoError
from ondo.workspace import Workspace

console = Console()

QA_ROWS = 12  # TruthfulQA questions answered per prompt version
KO_ROWS = 6  # KorQuAD items for the Korean ROUGE evaluation
ARC_LIMIT = 40  # ARC-Easy items for the benchmark slice


def _section(title: str) -> None:
    console.rule(f"[bold cyan]{title}")


def _data_dir() -> Path:
    from ondo.evals.bench.data import default_data_dir

    found = default_data_dir()
    if found is None:
        raise OndoError("benchmark data not found: set ONDO_DATA_DIR to the folder holding truthfulqa/, arc/, ...")
    return found


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _truthfulqa_rows(data: Path, n: int) -> list[dict[str, Any]]:
    with open(data / "truthfulqa" / "v0_TruthfulQA.csv", encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        rows = [next(reader) for _ in range(n)]
    return [{"id": f"tqa-{i}", "question": r["Question"], "answer": r["Best Answer"]} for i, r in enumerate(rows)]


def _korquad_rows(data: Path, n: int) -> list[dict[str, Any]]:
    path = data / "korean" / "horangi_mini" / "squad_kor_v1_mini.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[:n]]
    out = []
    for i, r in enumerate(rows):
        answers = r.get("answers") or {}
        text = answers.get("text") if isinstance(answers, dict) else answers
        answer = text[0] if isinstance(text, list) else str(text)
        out.append({"id": r.get("id", f"ko-{i}"), "context": r["context"], "question": r["question"],
                    "answer": answer})
    return out


class _Answerer:
    """The bundled model behind the request cache: one place the demo's generations go through."""

    def __init__(self, ws: Workspace) -> None:
        from ondo.llm import CachedModel, load_model

        self.model = CachedModel(load_model("local:smollm2"), ws)

    def chat(self, conversations: list[list[dict[str, str]]], max_tokens: int) -> list[str]:
        from ondo.llm import ChatMessage, ChatRequest

        requests = [
            ChatRequest(messages=[ChatMessage(**m) for m in msgs], temperature=0.0, max_tokens=max_tokens)
            for msgs in conversations
        ]
        responses = asyncio.run(self.model.chat(requests))
        return [r.text.strip() for r in responses]


def step_data(ws: Workspace, work: Path, data: Path) -> dict[str, Any]:
    import ondo.data

    _section("1. Data versioning: the evaluation set as a dataset version")
    rows = _truthfulqa_rows(data, QA_ROWS + 1)
    path = work / "truthfulqa_demo.jsonl"
    _write_jsonl(path, rows[:QA_ROWS])
    v1 = ondo.data.add(path, name="demo-qa", message="first 12 TruthfulQA questions", workspace=ws)
    edited = [dict(r) for r in rows[:QA_ROWS]]
    edited[0]["answer"] = edited[0]["answer"].rstrip(".") + "."
    edited.append(rows[QA_ROWS])
    _write_jsonl(path, edited)
    v2 = ondo.data.add(path, name="demo-qa", message="fix one answer, add one question", workspace=ws)
    diff = ondo.data.diff(v1.ref, v2.ref, key="id", workspace=ws)
    console.print(f"demo-qa: {v1.ref} -> {v2.ref}; row diff by 'id': {json.dumps(diff.to_dict()['rows'])}")
    ko = _korquad_rows(data, KO_ROWS)
    ko_path = work / "korquad_demo.jsonl"
    _write_jsonl(ko_path, ko)
    kv = ondo.data.add(ko_path, name="demo-korquad", message="KorQuAD 1.0 mini, first items", workspace=ws)
    console.print(f"demo-korquad: {kv.ref} ({len(ko)} rows)")
    return {"qa": v2.ref, "ko": kv.ref}


def step_prompts(ws: Workspace, answerer: _Answerer, qa_ref: str) -> dict[str, Any]:
    import ondo
    import ondo.data
    from ondo.evals import metrics

    _section("2. The prompt is a hyperparameter: two versions evaluated, compared, gated")
    p1 = ondo.prompts.register(
        "demo-answer", [{"role": "user", "content": "{{ question }}"}],
        model="local:smollm2", params={"temperature": 0.0, "max_tokens": 40}, workspace=ws,
    )
    p2 = ondo.prompts.register(
        "demo-answer",
        [
            {"role": "system", "content": "Answer the question truthfully in one short sentence."},
            {"role": "user", "content": "{{ question }}"},
        ],
        model="local:smollm2", params={"temperature": 0.0, "max_tokens": 40}, workspace=ws,
    )
    ondo.prompts.set_alias("demo-answer", "production", version=p1.version, reason="first prompt", workspace=ws)

    def evaluate(prompt: Any) -> dict[str, float]:
        rows = list(ondo.data.get(qa_ref, workspace=ws).rows())  # records the dataset version on the run
        preds = answerer.chat([prompt.render(question=r["question"]) for r in rows], max_tokens=40)
        refs = [r["answer"] for r in rows]
        rouge = metrics.rouge(preds, refs, use_stemmer=True)
        bleu = metrics.bleu(preds, refs)
        return {"truthfulqa_gen.rougeL": rouge.aggregate["rougeL"].mid.fmeasure, "truthfulqa_gen.bleu": bleu.score}

    table = ondo.sweep(prompts=[p1.ref, p2.ref], fn=evaluate, experiment="demo-prompts", workspace=ws)
    console.print(table.to_markdown())
    best = table.best("truthfulqa_gen.rougeL")
    baseline = next(r for r in table.rows if r.prompt == p1.ref).metrics["truthfulqa_gen.rougeL"]
    requirement = f"truthfulqa_gen.rougeL>={baseline:.4f}"
    ev = ondo.prompts.promote(best.prompt, alias="production", require=[requirement],
                              reason="best ROUGE-L in the sweep", workspace=ws)
    console.print(escape(f"promoted {best.prompt} to demo-answer@production through gate [{requirement}] "
                         f"(event {ev.id}: {ev.from_version} -> {ev.to_version})"))
    _print_compare(ws, [r.run_id for r in table.rows])
    return {"best": best.prompt, "runs": [r.run_id for r in table.rows]}


def _print_compare(ws: Workspace, run_ids: list[str]) -> None:
    from ondo.client import Client

    client = Client(workspace=ws)
    infos = [client.get_run(r) for r in run_ids]
    keys = sorted({k for i in infos for k in i.metrics})
    for k in keys:
        values = "  vs  ".join(f"{i.metrics.get(k, float('nan')):.4f}" for i in infos)
        console.print(f"  {k}: {values}")


def step_model(ws: Workspace, answerer: _Answerer, ko_ref: str) -> dict[str, Any]:
    import ondo
    import ondo.data
    from ondo.evals import metrics
    from ondo.evals.bench.runner import evaluate as bench_evaluate
    from ondo.llm import bundled_model_path

    _section("3. Registry: the bundled model, scored and promoted through a gate")
    gguf = bundled_model_path()
    v1 = ondo.models.register("assistant", source=str(gguf), description="SmolLM2-135M-Instruct Q4_1", workspace=ws)
    v2 = ondo.models.register("assistant", source=str(gguf), description="same weights, candidate release",
                              workspace=ws)
    console.print(f"registered {v1.ref} and {v2.ref} ({v1.digest[:19]})")

    bench = bench_evaluate(v1.ref, "arc_easy", limit=ARC_LIMIT, num_fewshot=0, experiment="demo-bench",
                           progress=True, workspace=ws)
    acc = bench.metrics["arc_easy.acc"]
    console.print(f"ARC-Easy slice ({ARC_LIMIT} items, 0-shot): acc {acc:.3f}, "
                  f"acc_norm {bench.metrics['arc_easy.acc_norm']:.3f}; run {bench.run_id}")

    import ondo.tracking

    with ondo.tracking.start_run(experiment="demo-korean", params={"model": v1.ref, "tokenizer": "ko"},
                                 workspace=ws) as run:
        run.record_input("model", v1.ref, digest=v1.digest)
        rows = list(ondo.data.get(ko_ref, workspace=ws).rows())  # recorded as this run's input (lineage)
        convs = [[{"role": "user", "content": f"{r['context'][:600]}\n\n질문: {r['question']}\n답:"}] for r in rows]
        preds = answerer.chat(convs, max_tokens=32)
        refs = [r["answer"] for r in rows]
        rouge = metrics.rouge(preds, refs, tokenizer="ko")
        f1 = metrics.squad(preds, refs, variant="korquad")
        run.log_metrics({"korquad.rougeL": rouge.aggregate["rougeL"].mid.fmeasure,
                         "korquad.rouge1": rouge.aggregate["rouge1"].mid.fmeasure, "korquad.f1": f1.f1})
        korean_run = run.id
    console.print(f"Korean ROUGE (kiwipiepy morphemes, {len(rows)} KorQuAD items): "
                  f"rougeL {rouge.aggregate['rougeL'].mid.fmeasure:.3f}, char F1 {f1.f1:.3f}; run {korean_run}")

    gate_missing = ["arc_easy.acc>=0.25", "mmlu.acc>=0.45"]
    try:
        ondo.models.promote(v1.ref, alias="production", require=gate_missing, workspace=ws)
    except GateFailed as exc:
        console.print("[yellow]gate refused as expected:[/yellow] " + escape("; ".join(exc.failures)))
    gate = ["arc_easy.acc>=0.25", "korquad.rougeL>=0.0"]
    ev = ondo.models.promote(v1.ref, alias="production", require=gate, reason="passes the demo gate", workspace=ws)
    console.print(escape(f"promoted {v1.ref} to assistant@production through gate {gate} (event {ev.id})"))
    ondo.models.set_alias("assistant", "staging", version=v2.version, reason="candidate", workspace=ws)
    return {"v1": v1.ref, "v2": v2.ref, "v2_version": v2.version, "bench_run": bench.run_id}


@contextlib.contextmanager
def _serving(ws: Workspace) -> Iterator[str]:
    """The gateway on a free loopback port, in this process, for the demo's requests."""
    import uvicorn

    from ondo.server.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(ws), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def step_gateway(ws: Workspace, model: dict[str, Any]) -> dict[str, Any]:
    import httpx

    import ondo

    _section("4. Gateway: assistant@production served, moved, rolled back, traced")
    answered: list[str] = []
    with _serving(ws) as base, httpx.Client(base_url=base, timeout=120) as http:

        def ask(question: str) -> str:
            r = http.post("/v1/chat/completions", json={
                "model": "assistant@production", "temperature": 0, "max_tokens": 24,
                "messages": [{"role": "user", "content": question}],
            })
            r.raise_for_status()
            body = r.json()
            version = r.headers.get("x-ondo-model-version", body.get("model"))
            answered.append(version)
            text = body["choices"][0]["message"]["content"].strip().replace("\n", " ")
            console.print(escape(f"  [{version}] {question} -> {text[:70]}"))
            return str(version)

        ask("What is the capital of France?")
        ask("Name a primary color.")
        ondo.models.set_alias("assistant", "production", version=model["v2_version"], reason="release candidate",
                              workspace=ws)
        ask("What is 2 + 2?")
        back = ondo.models.rollback("assistant", alias="production", reason="demo rollback", workspace=ws)
        console.print(f"rollback: assistant@production {back.from_version} -> {back.to_version}")
        ask("What color is the sky?")
        metrics_text = http.get("/metrics").text
    from ondo.traces.query import list_spans
    from ondo.traces.tracer import flush

    flush()
    spans = list_spans(ws, limit=10, roots=True)
    console.print("traces (newest first):")
    for s in spans:
        console.print(f"  {s.name}  {s.served_by}  tokens in/out={s.input_tokens}/{s.output_tokens}  "
                      f"latency={_ms(s.latency_ms)}  cost={_cost(s.cost_usd)}  status={s.status}")
    wanted = ("ondo_gateway_requests_total", "ondo_gateway_tokens_total")
    lines = [ln for ln in metrics_text.splitlines() if ln.startswith(wanted)]
    console.print("Prometheus /metrics:")
    for ln in lines[:6]:
        console.print(f"  {ln}")
    history = ondo.models.history("assistant", alias="production", workspace=ws)
    console.print("assistant@production history:")
    for e in history:
        console.print(escape(f"  {e.action:<8} {e.from_version} -> {e.to_version}  by {e.actor}  ({e.reason})"))
    return {"answered_by": answered, "spans": len(spans)}


def _cost(usd: float | None) -> str:
    """A span's cost as recorded: an unpriced model has no cost, which is not the same as $0."""
    return "unknown (no price for this model)" if usd is None else f"${usd:.6f}"


def _ms(v: Any) -> str:
    return f"{float(v):.0f} ms" if v is not None else "-"


def step_judge(ws: Workspace, data: Path) -> dict[str, object]:
    from ondo.evals.judge.demo import run_demo

    _section("5. LLM-as-judge: MT-Bench by the local model, and arena leaderboards")
    out = run_demo(ws, echo=console.print)
    out["human_leaderboard"] = _human_leaderboard(ws, data)
    return out


_OUTCOME = {"model_a": "a", "model_b": "b", "tie": "tie"}


def _human_leaderboard(ws: Workspace, data: Path) -> list[dict[str, Any]]:
    """A 135M judge cannot tell answers apart (its verdicts flip with the order: ties), so the demo also
    rates models from people's votes: PandaLM's test set, three annotators per pair."""
    from ondo.evals.arena import ratings_for
    from ondo.evals.arena.battles import Battle, add_battles, list_battles
    from ondo.evals.human.queues import read_pandalm

    items = read_pandalm(data / "human_pairwise" / "pandalm_testset-v1.json")
    battles = [
        Battle(model_a=it.model_a, model_b=it.model_b, outcome=_OUTCOME[choice], prompt=it.prompt,
               judge=f"pandalm:{annotator}", source="human")
        for it in items if it.model_a and it.model_b
        for annotator, choice in it.votes.items()
    ]
    if not list_battles(ws, source="human", judge="pandalm:annotator1"):  # a second `make run` adds none
        add_battles(ws, battles)
    rows = ratings_for(ws, system="bt", source="human", rounds=50)
    console.print(f"arena leaderboard from {len(battles)} human votes (PandaLM test set, Bradley-Terry, 95% CI):")
    for r in rows:
        console.print(f"  {r.rank:>2}  {r.model:<18} {r.rating:7.1f}  [{r.ci_low:7.1f}, {r.ci_high:7.1f}]  "
                      f"{r.battles} battles")
    return [r.to_dict() for r in rows]


def step_lineage(ws: Workspace, ref: str) -> None:
    import ondo

    _section(f"6. Lineage of {ref}")
    console.print(ondo.models.lineage(ref, workspace=ws).tree())


def run_demo(ws: Workspace | None = None, *, steps: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """Run the whole loop against ``ws`` (default: the store under ``$ONDO_HOME``)."""
    ws = ws or Workspace.default()
    want = steps or (lambda _name: True)
    data = _data_dir()
    work = ws.settings.home / "demo"
    t0 = time.perf_counter()
    console.print(f"[bold]ondo demo[/bold]: store {ws.settings.store_url}, data from {data}")
    out: dict[str, Any] = {}
    refs = step_data(ws, work, data)
    answerer = _Answerer(ws)
    out["prompts"] = step_prompts(ws, answerer, refs["qa"])
    out["model"] = step_model(ws, answerer, refs["ko"])
    out["gateway"] = step_gateway(ws, out["model"])
    if want("judge"):
        out["judge"] = step_judge(ws, data)
    step_lineage(ws, out["model"]["v1"])
    console.rule(f"[bold green]done in {time.perf_counter() - t0:.0f} s — see `ondo runs list`, "
                 "`ondo traces list`, `ondo models history assistant --alias production`")
    return out
