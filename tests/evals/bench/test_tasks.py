"""Task definitions: registry, data loading from the shared files, bad rows, and prompts equal to lm-eval's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ondo.errors import InvalidInput, NotFound
from ondo.evals.bench import registry
from ondo.evals.bench.runner import prepare

SHIPPED = [
    "arc_easy", "arc_challenge", "hellaswag", "mmlu", "truthfulqa_mc1", "truthfulqa_mc2",
    "kmmlu", "haerae", "ko_hellaswag", "kornli",
]  # fmt: skip


def test_registry_lists_every_family_and_groups() -> None:
    names = {t.name for t in registry.list_tasks()}
    assert set(SHIPPED) <= names
    mmlu = registry.get_task("mmlu")
    assert len(mmlu.members) == 57  # type: ignore[union-attr]
    assert "mmlu_anatomy" not in names
    assert "mmlu_anatomy" in {t.name for t in registry.list_tasks(include_subtasks=True)}


def test_unknown_task_suggests_close_matches() -> None:
    with pytest.raises(NotFound) as err:
        registry.get_task("helaswag")
    assert "hellaswag" in str(err.value)
    with pytest.raises(NotFound, match="arc_easy"):
        registry.expand("arc_eazy,hellaswag")


def test_shared_data_loads_with_canonical_counts(shared_data: Path) -> None:
    hs = registry.get_task("hellaswag").source.load("validation", shared_data)  # type: ignore[union-attr]
    assert len(hs.docs) == 10042 and not hs.bad_rows
    first = hs.docs[0].doc
    assert first["query"].startswith("Roof shingle removal: ") and first["label"] == 3
    total = sum(len(t.source.load("test", shared_data).docs) for t in registry.expand("mmlu"))
    assert total == 14042
    assert len(registry.get_task("arc_easy").source.load("test", shared_data).docs) == 2376  # type: ignore[union-attr]
    tqa = registry.get_task("truthfulqa_mc2").source.load("validation", shared_data)  # type: ignore[union-attr]
    assert len(tqa.docs) == 817
    assert len(registry.get_task("kornli").source.load("test", shared_data).docs) == 5010  # type: ignore[union-attr]


def test_kmmlu_prompt_uses_fullwidth_colon_and_5_shot_dev(shared_data: Path) -> None:
    task = registry.get_task("kmmlu_criminal_law")
    p = prepare(task, shared_data, limit=2, num_fewshot=5)  # type: ignore[arg-type]
    ctx = p.contexts[0]
    assert ctx.endswith("\n정답：") and ctx.count("정답：") == 6 and ":" not in ctx[-3:]
    assert ctx.count("\n\n") == 5


def test_mmlu_default_is_5_shot_first_n_from_dev(shared_data: Path) -> None:
    task = registry.get_task("mmlu_anatomy")
    p = prepare(task, shared_data, limit=3)  # type: ignore[arg-type]
    assert p.num_fewshot == 5
    dev_first = task.source.load("dev", shared_data).docs[0].doc["question"]  # type: ignore[union-attr]
    assert all(
        c.startswith(
            "The following are multiple choice questions (with answers) about anatomy.\n\n"
            + dev_first.strip()
        )
        for c in p.contexts
    )


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _arc_row(q: str, key: str = "A", with_question: bool = True) -> str:
    row: dict[str, object] = {"id": q, "answerKey": key}
    if with_question:
        row["question"] = {
            "stem": q,
            "choices": [{"text": t, "label": lab} for t, lab in zip("wxyz", "ABCD", strict=True)],
        }
    return json.dumps(row)


def test_bad_rows_stop_with_file_and_line_or_skip_and_count(tmp_path: Path) -> None:
    _write(tmp_path / "arc/ARC-Easy-Test.jsonl", [
        _arc_row("q1"), _arc_row("q2", with_question=False), _arc_row("q3", key="E"), "{not json", _arc_row("q5"),
    ])  # fmt: skip
    task = registry.get_task("arc_easy")
    with pytest.raises(InvalidInput) as err:
        prepare(task, tmp_path, on_bad_row="stop")  # type: ignore[arg-type]
    assert err.value.line == 2 and err.value.field == "question"
    assert "ARC-Easy-Test.jsonl:2" in str(err.value)
    p = prepare(task, tmp_path, on_bad_row="skip")  # type: ignore[arg-type]
    assert [d.doc["question"] for d in p.docs] == ["q1", "q5"]
    assert p.n_skipped == 3
    assert any(":3" in b and "'E'" in b and "answerKey" in b for b in p.bad_rows)
    assert any(":4" in b and "JSON" in b for b in p.bad_rows)


def test_mmlu_answer_out_of_range_reported(tmp_path: Path) -> None:
    _write(tmp_path / "mmlu/test/anatomy_test.csv", ["What?,a,b,c,d,B", "Why?,a,b,c,d,E"])
    task = registry.get_task("mmlu_anatomy")
    with pytest.raises(InvalidInput, match=r"anatomy_test.csv:2.*answer"):
        prepare(task, tmp_path, num_fewshot=0)  # type: ignore[arg-type]


def _lmeval_requests(include: Path, name: str, shots: int, limit: int) -> dict[int, list[tuple[str, str]]]:
    import warnings

    from lm_eval.tasks import TaskManager, get_task_dict

    tm = TaskManager(include_path=str(include), include_defaults=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = get_task_dict([f"ondo_{name}"], tm)[f"ondo_{name}"]
    t.set_config(key="num_fewshot", value=shots)
    t.set_fewshot_seed(seed=1234)
    t.build_all_requests(limit=limit)
    out: dict[int, list[tuple[str, str]]] = {}
    for inst in t.instances:
        out.setdefault(inst.doc_id, []).append(tuple(inst.args))
    return out


@pytest.mark.parametrize(
    ("name", "shots"),
    [("arc_easy", 3), ("hellaswag", 2), ("mmlu_astronomy", 5), ("truthfulqa_mc2", 0),
     ("kmmlu_criminal_law", 5), ("haerae", 2), ("ko_hellaswag", 1)],
)  # fmt: skip
def test_requests_equal_lm_eval(name: str, shots: int, shared_data: Path, tmp_path: Path) -> None:
    """Same contexts and continuations as lm-eval builds (few-shot draws with its seeded sampler included)."""
    from ondo.evals.bench.lmeval_bridge import write_lmeval_tasks

    write_lmeval_tasks([name], shared_data, tmp_path)
    theirs = _lmeval_requests(tmp_path, name, shots, limit=6)
    task = registry.get_task(name)
    p = prepare(task, shared_data, limit=6, num_fewshot=shots)  # type: ignore[arg-type]
    mine = {
        rec.doc_id: [(ctx, task.target_delimiter + c) for c in task.choices(rec.doc)]  # type: ignore[union-attr]
        for rec, ctx in zip(p.docs, p.contexts, strict=True)
    }
    assert mine == theirs


_LMEVAL_YAML = {
    "arc_easy": "arc/arc_easy.yaml",
    "arc_challenge": "arc/arc_challenge.yaml",
    "hellaswag": "hellaswag/hellaswag.yaml",
    "mmlu_anatomy": "mmlu/default/mmlu_anatomy.yaml",
    "mmlu_high_school_us_history": "mmlu/default/mmlu_high_school_us_history.yaml",
    "kmmlu_criminal_law": "kmmlu/default/kmmlu_criminal_law.yaml",
    "truthfulqa_mc1": "truthfulqa/truthfulqa_mc1.yaml",
    "truthfulqa_mc2": "truthfulqa/truthfulqa_mc2.yaml",
}


def _lmeval_field(spec: object, doc: dict, *, choices: bool = False) -> object:
    """lm-eval ``ConfigurableTask.doc_to_choice/doc_to_target``: a list, an int, a column, or a Jinja template."""
    import ast

    from lm_eval.utils import apply_template

    if isinstance(spec, list | int):
        return spec
    assert isinstance(spec, str)
    if spec in doc:
        return doc[spec]
    rendered = apply_template(spec, doc)
    if choices:
        return ast.literal_eval(rendered)
    return int(rendered) if rendered.isdigit() else rendered


@pytest.mark.parametrize("name", sorted(_LMEVAL_YAML))
def test_prompt_choices_gold_equal_lm_eval_own_task_yaml(name: str, shared_data: Path) -> None:
    """Each task's zero-shot context, choices, gold and delimiters, from lm-eval's installed YAML (not a copy)."""
    lm_eval = pytest.importorskip("lm_eval")
    from lm_eval.tasks._yaml_loader import load_yaml
    from lm_eval.utils import apply_template

    cfg = load_yaml(Path(lm_eval.__file__).parent / "tasks" / _LMEVAL_YAML[name], resolve_func=False)
    task = registry.get_task(name)
    docs = [r.doc for r in task.source.load(task.eval_split, shared_data).docs[:25]]  # type: ignore[union-attr]
    assert docs
    assert task.target_delimiter == cfg.get("target_delimiter", " ")  # type: ignore[union-attr]
    assert task.fewshot_delimiter == cfg.get("fewshot_delimiter", "\n\n")  # type: ignore[union-attr]
    assert {m["metric"] for m in cfg["metric_list"]} <= set(task.metrics)  # type: ignore[union-attr]
    for doc in docs:
        expected_ctx = cfg.get("description", "") + apply_template(cfg["doc_to_text"], doc)
        assert task.context(doc, []) == expected_ctx  # type: ignore[union-attr]
        assert task.choices(doc) == list(_lmeval_field(cfg["doc_to_choice"], doc, choices=True))  # type: ignore
        assert task.gold_index(doc) == _lmeval_field(cfg["doc_to_target"], doc)  # type: ignore[union-attr]


def test_hellaswag_docs_equal_lm_eval_process_docs(shared_data: Path) -> None:
    """Ko-HellaSwag rows keep HellaSwag's original fields: ondo's converter equals lm-eval's ``process_docs``."""
    pytest.importorskip("lm_eval")
    datasets = pytest.importorskip("datasets")
    from lm_eval.tasks.hellaswag import utils as hs_utils

    from ondo.evals.bench.tasks.hellaswag import from_original

    path = shared_data / "korean" / "horangi_mini" / "ko_hellaswag_mini.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    theirs = hs_utils.process_docs(datasets.Dataset.from_list(rows))
    assert len(theirs) == len(rows) == 100
    for row, ref in zip(rows, theirs, strict=True):
        mine = from_original(row)
        assert (mine["query"], mine["choices"], mine["label"]) == (ref["query"], ref["choices"], int(ref["gold"]))
