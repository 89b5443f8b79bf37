"""Annotation queues: built from a run and from a file, blind voting through the API, judge votes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ondo.errors import Conflict, InvalidInput
from ondo.evals import human
from ondo.evals.human.queues import swapped
from ondo.llm.provider import ModelBase
from ondo.llm.types import ChatRequest, ChatResponse

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


class Fixed(ModelBase):
    provider_name = "scripted"

    def __init__(self, text: str, name: str) -> None:
        self.text, self.name = text, name

    @property
    def fingerprint(self) -> str:
        return f"scripted:{self.name}"

    @property
    def model_name(self) -> str:
        return self.name

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({"chat"})

    async def _chat_one(self, request: ChatRequest) -> ChatResponse:
        if self.text == "longer":
            user = request.messages[-1].text
            a = user.split("[The Start of Assistant A's Answer]\n")[1].split("\n[The End of Assistant A's Answer]")[0]
            b = user.split("[The Start of Assistant B's Answer]\n")[1].split("\n[The End of Assistant B's Answer]")[0]
            return ChatResponse(text="[[A]]" if len(a) >= len(b) else "[[B]]")
        return ChatResponse(text=self.text)


def _pairs(n: int = 4) -> list[human.NewItem]:
    return [human.NewItem(prompt=f"question {i}", response_a=f"answer from x {i}" + "!" * i,
                          response_b=f"y says {i}", model_a="model-x", model_b="model-y") for i in range(n)]


def test_blind_vote_through_the_api(workspace: Any) -> None:
    from ondo.server.app import create_app

    human.create_queue(workspace, "blind", _pairs(), kind="pairwise")
    client = TestClient(create_app(workspace))
    qs = client.get("/api/human/queues").json()
    assert [q["name"] for q in qs] == ["blind"]
    seen_swaps = set()
    # item ids are random, so which side each annotator sees differs run to run: four named annotators,
    # then more until both orders have occurred (P(32 alike) = 2**-31)
    annotators = ["alice", "bob", "carol", "dave", *(f"rater{i}" for i in range(28))]
    voters = []
    for annotator in annotators:
        if len(voters) >= 4 and len(seen_swaps) == 2:
            break
        voters.append(annotator)
        item = client.get("/api/human/queues/blind/next", params={"annotator": annotator}).json()
        assert "model-x" not in str(item) and "model-y" not in str(item)  # names hidden before the vote
        flip = swapped(item["item_id"], annotator)
        seen_swaps.add(flip)
        assert item["left"].startswith("y says" if flip else "answer from x")
        res = client.post(f"/api/human/items/{item['item_id']}/vote", json={"annotator": annotator, "side": "left"})
        assert res.status_code == 200, res.text
        vote = res.json()
        assert vote["choice"] == ("model_b" if flip else "model_a")  # the side maps back to the real model
        assert vote["revealed"] == ({"left": "model-y", "right": "model-x"} if flip
                                    else {"left": "model-x", "right": "model-y"})
        again = client.post(f"/api/human/items/{item['item_id']}/vote", json={"annotator": annotator, "side": "tie"})
        assert again.status_code == 409
    assert len(seen_swaps) == 2  # both orders occur
    exported = client.get("/api/human/queues/blind/export").json()
    votes = [v for it in exported for v in it["votes"]]
    assert sorted(v["annotator"] for v in votes) == sorted(voters)
    # each human vote also became an arena battle judged by that person
    from ondo.evals.arena import list_battles

    battles = list_battles(workspace, source="human")
    assert sorted(b.judge for b in battles) == sorted(voters)
    bad = client.post(f"/api/human/items/{exported[1]['item_id']}/vote", json={"annotator": "erin", "side": "up"})
    assert bad.status_code == 400 and "side" in bad.json()["error"]["message"]
    assert client.get("/api/human/queues/nope/next", params={"annotator": "a"}).status_code == 404


def test_rating_queue_and_validation(workspace: Any) -> None:
    items = [human.NewItem(prompt="p", response_a="r", model_a="assistant/2")]
    human.create_queue(workspace, "rate", items, kind="rating")
    item = human.next_item(workspace, "rate", "ann")
    assert item is not None and item.right is None and item.rubric
    with pytest.raises(InvalidInput):
        human.cast_vote(workspace, item.item_id, "ann", rating=11)
    res = human.cast_vote(workspace, item.item_id, "ann", rating=7, comment="fine")
    assert res.rating == 7 and res.left_model == "assistant/2"
    assert human.next_item(workspace, "rate", "ann") is None
    with pytest.raises(Conflict):
        human.create_queue(workspace, "rate", items, kind="rating")


def test_queue_from_mt_bench_run_and_judge_agreement(workspace: Any, shared_data: Path) -> None:
    from ondo.evals.judge import evaluate_mt_bench

    run = evaluate_mt_bench("gpt-4", Fixed("[[C]]", "tie-judge"), mode="pairwise", baseline="llama-13b",
                            suite="en", limit=2, data_dir=str(shared_data), workspace=workspace)
    q = human.queue_from_run(workspace, run.run_id, "from-run")
    assert q.kind == "pairwise" and q.items == 2 * 2  # 2 questions x 2 turns x 1 pair
    item = human.next_item(workspace, "from-run", "ann")
    assert item is not None and item.prompt.startswith("Compose an engaging travel blog post")
    # people vote, then a model judge votes on the same queue; agreement is computed between them
    for it in human.export(workspace, "from-run"):
        for ann, side in (("h1", "left"), ("h2", "right")):
            human.cast_vote(workspace, it["item_id"], ann, side=side)
    n = human.judge_queue(workspace, "from-run", Fixed("longer", "len-judge"))
    assert n == 4
    report = human.agreement(workspace, "from-run")
    assert report["judge"] == "judge:len-judge" and report["annotators"] == ["h1", "h2"]
    assert report["judge_human"]["with_ties"]["total"] == 8
    assert report["human_human"]["with_ties"]["total"] == 4
    exported = human.export(workspace, "from-run")
    judge_votes = [v for it in exported for v in it["votes"] if v["annotator"] == "judge:len-judge"]
    assert all(v["comment"] for v in judge_votes)  # the judge's explanations are kept with its votes


def test_html_page_hides_names_until_vote(workspace: Any) -> None:
    from ondo.server.app import create_app

    human.create_queue(workspace, "page", _pairs(1), kind="pairwise")
    client = TestClient(create_app(workspace))
    page = client.get("/human/page", params={"annotator": "zoe"})
    assert page.status_code == 200 and "model-x" not in page.text and "Response 1 is better" in page.text
    item = human.next_item(workspace, "page", "zoe")
    assert item is not None
    res = client.post("/human/page/vote", data={"item_id": item.item_id, "annotator": "zoe", "side": "right"})
    assert res.status_code == 200 and "model-x" in res.text and "model-y" in res.text
    assert "All done" in client.get("/human/page", params={"annotator": "zoe"}).text
    assert "page" in client.get("/human").text


def test_queue_from_traces(workspace: Any) -> None:
    from ondo.traces import span
    from ondo.traces.tracer import flush

    for i in range(3):
        with span("chat", kind="llm", input={"messages": [{"role": "user", "content": f"question {i}?"}]}) as s:
            s.set_model("assistant", 2, alias="production")
            s.set_output({"role": "assistant", "content": f"answer {i}."})
    with span("retrieve", kind="retrieval", input="q") as s:
        s.set_output(["doc"])
    flush()
    q = human.queue_from_traces(workspace, "from-traces")
    assert q.kind == "rating" and q.items == 3 and q.rubric
    item = human.next_item(workspace, "from-traces", "ann")
    assert item is not None and item.prompt.startswith("question") and item.left.startswith("answer")
    res = human.cast_vote(workspace, item.item_id, "ann", rating=8)
    assert res.left_model == "assistant/2"


def test_cli_queue_from_run_default_name_and_export_json(workspace: Any, shared_data: Path) -> None:
    import json

    from typer.testing import CliRunner

    from ondo.cli.main import app
    from ondo.evals.judge import evaluate_mt_bench

    run = evaluate_mt_bench("gpt-4", Fixed("[[C]]", "tie-judge"), mode="pairwise", baseline="llama-13b",
                            suite="en", limit=1, data_dir=str(shared_data), workspace=workspace)
    runner = CliRunner()
    res = runner.invoke(app, ["human", "queue", "create", "--from-run", run.run_id, "--json"])
    assert res.exit_code == 0, res.output
    q = json.loads(res.output)
    assert q["name"] == f"run-{run.run_id[:8]}" and q["items"] == 2 and q["kind"] == "pairwise"
    res = runner.invoke(app, ["human", "queue", "export", q["name"], "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["position"] for r in rows] == [0, 1] and {r["model_a"] for r in rows} == {"gpt-4"}
    jsonl = runner.invoke(app, ["human", "queue", "export", q["name"]])
    assert [json.loads(line) for line in jsonl.output.splitlines()] == rows
    bad = runner.invoke(app, ["human", "queue", "create", "x", "--from-run", run.run_id, "--limit", "0"])
    assert bad.exit_code != 0 and "--limit" in bad.output and "Traceback" not in bad.output
