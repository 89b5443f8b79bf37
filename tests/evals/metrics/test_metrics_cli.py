"""``ondo eval metrics``: files in, the library's numbers out, errors with file and line, runs logged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sacrebleu
from rouge_score import rouge_scorer
from typer.testing import CliRunner

from ondo.cli.main import app


def _invoke(*args: str):
    result = CliRunner().invoke(app, ["eval", "metrics", *args])
    return result


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_json_output_equals_sacrebleu_and_rouge_score(tmp_path, english_pairs):
    rows = english_pairs[:60]
    pred = _write_jsonl(tmp_path / "preds.jsonl", [{"id": i, "prediction": p} for i, (p, _) in enumerate(rows)])
    ref = _write_jsonl(tmp_path / "refs.jsonl", [{"reference": r} for _, r in rows])
    res = _invoke("--pred", str(pred), "--ref", str(ref), "--metric", "bleu", "--metric", "rouge", "--metric",
                  "chrf++", "--stem", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    preds, refs = [p for p, _ in rows], [r for _, r in rows]
    assert out["scores"]["bleu"] == pytest.approx(sacrebleu.corpus_bleu(preds, [refs]).score, abs=1e-9)
    assert out["scores"]["chrf++"] == pytest.approx(sacrebleu.corpus_chrf(preds, [refs], word_order=2).score,
                                                    abs=1e-9)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    mean_l = sum(scorer.score(r, p)["rougeL"].fmeasure for p, r in rows) / len(rows)
    assert out["scores"]["rougeL"] == pytest.approx(mean_l, abs=0.02)  # bootstrap median of means
    assert out["metrics"]["bleu"]["signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|")
    assert out["tokenizers"] == {"bleu": "13a", "rouge": "default"}


def test_plain_text_files_and_repeated_refs(tmp_path):
    pred = tmp_path / "hyp.txt"
    pred.write_text("the cat sat on the mat\na dog ran home\n", encoding="utf-8")
    r1 = tmp_path / "ref1.txt"
    r1.write_text("the cat sat on a mat\nthe dog ran home\n", encoding="utf-8")
    r2 = tmp_path / "ref2.txt"
    r2.write_text("a cat is on the mat\na dog went home\n", encoding="utf-8")
    res = _invoke("--pred", str(pred), "--ref", str(r1), "--ref", str(r2), "--metric", "bleu", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    hyps = ["the cat sat on the mat", "a dog ran home"]
    theirs = sacrebleu.corpus_bleu(hyps, [["the cat sat on a mat", "the dog ran home"],
                                          ["a cat is on the mat", "a dog went home"]])
    assert out["scores"]["bleu"] == pytest.approx(theirs.score, abs=1e-9)
    assert out["metrics"]["bleu"]["signature"].startswith("nrefs:2|")


def test_korean_needs_a_korean_tokenizer(tmp_path, korquad_rows):
    rows = korquad_rows[:10]
    pred = _write_jsonl(tmp_path / "p.jsonl", [r["question"] for r in rows])
    ref = _write_jsonl(tmp_path / "r.jsonl", [r["context"].split(". ")[0] for r in rows])
    refused = _invoke("--pred", str(pred), "--ref", str(ref), "--metric", "rouge")
    assert refused.exit_code == 1
    assert "contains Korean" in refused.output and "Traceback" not in refused.output
    ok = _invoke("--pred", str(pred), "--ref", str(ref), "--metric", "rouge", "--metric", "bleu", "--lang", "ko",
                 "--json")
    assert ok.exit_code == 0, ok.output
    out = json.loads(ok.output)
    assert out["tokenizers"]["rouge"] == "ko" and out["tokenizers"]["bleu"].startswith("ko-kiwi-")
    assert out["scores"]["rouge1"] > 0


def test_korquad_answers_file_with_squad_metrics(tmp_path, korquad_rows):
    rows = korquad_rows[:20]
    pred = _write_jsonl(tmp_path / "p.jsonl", [{"prediction": r["answers"]["text"][0] + "은"} for r in rows])
    ref = _write_jsonl(tmp_path / "r.jsonl", [{"answers": r["answers"]} for r in rows])
    res = _invoke("--pred", str(pred), "--ref", str(ref), "--metric", "squad", "--lang", "ko", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["scores"]["exact_match"] == 0.0 and out["scores"]["f1"] > 50
    assert out["tokenizers"]["squad"] == "korquad"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"prediction": "ok"}', '{"prediction": 3}'], "p.jsonl:2 field 'prediction': expected a string"),
        (['{"prediction": "ok"}', "{not json"], "p.jsonl:2: not valid JSON"),
        (['{"prediction": "ok"}', '{"other": "x"}'], "p.jsonl:2: no prediction field"),
        (['{"prediction": "ok"}', ""], "p.jsonl:2: empty line"),
    ],
)
def test_bad_rows_are_reported_with_file_and_line(tmp_path, lines, message):
    pred = tmp_path / "p.jsonl"
    pred.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ref = _write_jsonl(tmp_path / "r.jsonl", ["ok", "x"])
    res = _invoke("--pred", str(pred), "--ref", str(ref))
    assert res.exit_code == 1
    assert message in res.output
    assert "Traceback" not in res.output


def test_count_mismatch_and_unknown_metric(tmp_path):
    pred = _write_jsonl(tmp_path / "p.jsonl", ["a", "b"])
    ref = _write_jsonl(tmp_path / "r.jsonl", ["a"])
    res = _invoke("--pred", str(pred), "--ref", str(ref))
    assert res.exit_code == 1 and "r.jsonl" in res.output and "1 references but 2 predictions" in res.output
    ref2 = _write_jsonl(tmp_path / "r2.jsonl", ["a", "b"])
    res = _invoke("--pred", str(pred), "--ref", str(ref2), "--metric", "bleuu")
    assert res.exit_code != 0 and "did you mean 'bleu'" in res.output


def test_scores_are_logged_as_a_run(tmp_path, workspace, english_pairs):
    import ondo

    rows = english_pairs[:30]
    pred = _write_jsonl(tmp_path / "p.jsonl", [{"prediction": p, "reference": r} for p, r in rows])
    res = _invoke("--pred", str(pred), "--metric", "bleu", "--metric", "rouge", "--experiment", "summaries",
                  "--task", "mtb", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    info = ondo.Client().get_run(out["run_id"])
    assert info.experiment == "summaries"
    assert info.metrics["mtb.bleu"] == pytest.approx(out["scores"]["bleu"])
    assert info.metrics["mtb.rougeL"] == pytest.approx(out["scores"]["rougeL"])
    assert info.params["tokenizer.rouge"] == "default"


def test_every_evaluation_is_a_run_unless_asked_not_to(tmp_path, workspace):
    import ondo

    pred = _write_jsonl(tmp_path / "p.jsonl", ["the cat sat on the mat", "a dog ran home"])
    ref = _write_jsonl(tmp_path / "r.jsonl", ["the cat sat on a mat", "the dog ran home"])
    res = _invoke("--pred", str(pred), "--ref", str(ref), "--metric", "bleu", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    info = ondo.Client().get_run(out["run_id"])
    assert info.experiment == "text-metrics" and info.metrics["text.bleu"] == pytest.approx(out["scores"]["bleu"])
    quiet = _invoke("--pred", str(pred), "--ref", str(ref), "--metric", "bleu", "--no-track", "--json")
    assert quiet.exit_code == 0 and json.loads(quiet.output)["run_id"] is None


@pytest.mark.parametrize("tok", ["ko", "kiwi", "ko-kiwi"])
def test_one_korean_tokenize_name_serves_bleu_and_rouge(tmp_path, korquad_rows, tok):
    rows = korquad_rows[:8]
    pred = _write_jsonl(tmp_path / "p.jsonl", [r["question"] for r in rows])
    ref = _write_jsonl(tmp_path / "r.jsonl", [r["context"].split(". ")[0] for r in rows])
    res = _invoke("--pred", str(pred), "--ref", str(ref), "--metric", "bleu", "--metric", "rouge", "--tokenize", tok,
                  "--no-track", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["tokenizers"]["rouge"] == "ko" and out["tokenizers"]["bleu"].startswith("ko-kiwi-")
