"""Lineage: dataset versions -> runs -> model version -> aliases, as a tree and as JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

import ondo
from ondo.workspace import Workspace

DS_DIGEST = "sha256:" + "d" * 64


def _render(tree: object) -> str:
    buf = io.StringIO()
    Console(file=buf, width=200, color_system=None).print(tree)
    return buf.getvalue()


def test_model_lineage_links_datasets_runs_version_and_aliases(workspace: Workspace, tmp_path: Path) -> None:
    weights = tmp_path / "m.gguf"
    weights.write_bytes(b"GGUF\x03\x00\x00\x00weights")
    prompt = ondo.prompts.register("summarize", template="{{ text }}")
    with ondo.start_run(experiment="train", name="sft") as train:
        train.record_input("dataset", "qa-train/3", digest=DS_DIGEST)
        v1 = ondo.models.register("summarizer", source=weights, datasets=["glossary/1"])
    with ondo.start_run(experiment="eval") as ev:
        ev.record_input("model", v1.ref, digest=v1.digest)
        ev.record_input("dataset", "mmlu/1")
        prompt.render(text="x")
        ev.log_metric("mmlu.acc", 0.47)
    with ondo.start_run(experiment="eval") as other:
        other.record_input("model", "summarizer/2")  # another version: not in v1's lineage
    ondo.models.set_alias("summarizer", "staging", version=1)
    ondo.models.promote("summarizer/1", alias="production", require=["mmlu.acc>=0.45"])
    lin = ondo.models.lineage("summarizer@production")
    doc = lin.to_dict()
    assert doc["kind"] == "model" and doc["model"]["ref"] == "summarizer/1" and doc["model"]["digest"] == v1.digest
    assert [(d["ref"], d["via"]) for d in doc["datasets"]] == [
        ("glossary/1", ["declared"]), ("qa-train/3", [f"run:{train.id}"]), ("mmlu/1", [f"run:{ev.id}"])
    ]
    assert doc["datasets"][1]["digest"] == DS_DIGEST
    assert [(r["id"], r["role"], r["experiment"]) for r in doc["runs"]] == [
        (train.id, "output", "train"), (ev.id, "input", "eval")
    ]
    assert doc["runs"][1]["metrics"] == {"mmlu.acc": 0.47}
    assert {(i["kind"], i["ref"]) for i in doc["runs"][1]["inputs"]} == {
        ("model", "summarizer/1"), ("dataset", "mmlu/1"), ("prompt", "summarize/1")
    }
    assert [(a["alias"], a["current"]) for a in doc["aliases"]] == [("production", True), ("staging", True)]
    assert json.loads(json.dumps(doc)) == doc  # plain JSON
    text = _render(lin.tree())
    for needle in ("summarizer/1", "qa-train/3", "glossary/1", train.id[:12], ev.id[:12], "mmlu.acc=0.47",
                   "summarizer@production", "current"):
        assert needle in text
    assert other.id[:12] not in text


def test_alias_periods_show_past_holders(workspace: Workspace, tmp_path: Path) -> None:
    weights = tmp_path / "m.gguf"
    weights.write_bytes(b"GGUF\x03\x00\x00\x00weights")
    ondo.models.register("m", source=weights)
    ondo.models.register("m", source=weights)
    ondo.models.set_alias("m", "production", version=1)
    ondo.models.set_alias("m", "production", version=2)
    ondo.models.rollback("m", "production")
    ondo.models.set_alias("m", "production", version=2)
    (prod,) = ondo.models.lineage("m/1").to_dict()["aliases"]
    assert prod["current"] is False and len(prod["periods"]) == 2 and all(p["to"] for p in prod["periods"])
    (prod2,) = ondo.models.lineage("m/2").to_dict()["aliases"]
    assert prod2["current"] is True and prod2["periods"][-1]["to"] is None


def test_prompt_lineage(workspace: Workspace) -> None:
    p = ondo.prompts.register("summarize", template="{{ text }}")
    ondo.prompts.set_alias("summarize", "production", version=1)
    with ondo.start_run(experiment="e") as run:
        run.record_input("dataset", "news/2")
        p.render(text="x")
    doc = ondo.models.lineage("summarize/1").to_dict()
    assert doc["kind"] == "prompt" and doc["prompt"]["ref"] == "summarize/1"
    assert [r["id"] for r in doc["runs"]] == [run.id] and doc["datasets"][0]["ref"] == "news/2"
    assert doc["aliases"][0]["alias"] == "production"
