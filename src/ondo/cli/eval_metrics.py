"""``ondo eval metrics``: BLEU, chrF, ROUGE, EM/F1 of a predictions file against references."""

from __future__ import annotations

from pathlib import Path

import typer

from ondo.cli.output import JsonOption, print_json, print_table


def metrics_command(
    pred: Path = typer.Option(..., "--pred", "-p", help="Predictions: JSONL (string or object per line) or text."),
    ref: list[Path] | None = typer.Option(
        None, "--ref", "-r", help="References: JSONL or text; repeat for several references per item. "
        "Omitted: read them from the predictions file's reference field."),
    metric: list[str] | None = typer.Option(
        None, "--metric", "-m", help="bleu, chrf, chrf++, rouge, squad, exact_match, f1 (repeatable; default "
        "bleu and rouge)."),
    lang: str | None = typer.Option(None, "--lang", help="Language of the texts: 'ko' picks Korean morpheme "
                                    "tokenizers (BLEU ko-kiwi, ROUGE ko) and KorQuAD F1."),
    tokenize: str | None = typer.Option(None, "--tokenize", "-t", help="Tokenizer: BLEU 13a|intl|char|zh|none|"
                                        "ko-kiwi, ROUGE default|unicode|ko."),
    stem: bool = typer.Option(False, "--stem/--no-stem", help="ROUGE: Porter-stem English words (rouge-score's "
                              "use_stemmer)."),
    lowercase: bool = typer.Option(False, "--lowercase", help="BLEU/chrF: case-insensitive."),
    pred_field: str | None = typer.Option(None, "--pred-field", help="JSON field holding the prediction."),
    ref_field: str | None = typer.Option(None, "--ref-field", help="JSON field holding the reference(s)."),
    experiment: str = typer.Option("text-metrics", "--experiment", help="Experiment the scores are recorded in "
                                   "(every evaluation is a run)."),
    track: bool = typer.Option(True, "--track/--no-track", help="Record the scores as a run (default) or only "
                               "print them."),
    task: str = typer.Option("text", "--task", help="Prefix of the run's metric names (<task>.bleu ...)."),
    run_name: str | None = typer.Option(None, "--run-name", help="Name of the recorded run."),
    as_json: bool = JsonOption,
) -> None:
    """Score predictions against references with text metrics that equal sacrebleu and rouge-score."""
    from ondo.errors import InvalidInput
    from ondo.evals.metrics.suite import compute, record
    from ondo.evals.metrics.textfiles import read_texts

    preds_items = read_texts(pred, role="prediction", field=pred_field)
    preds = [item[0] for item in preds_items]
    if ref:
        streams = [read_texts(path, role="reference", field=ref_field) for path in ref]
        for path, stream in zip(ref, streams, strict=True):
            if len(stream) != len(preds):
                raise InvalidInput(
                    f"{len(stream)} references but {len(preds)} predictions in {pred}; the files must have one "
                    f"item per line, in the same order", file=str(path))
        refs = [[t for stream in streams for t in stream[i]] for i in range(len(preds))]
    else:
        refs = read_texts(pred, role="reference", field=ref_field)
    if not preds:
        raise InvalidInput("no predictions", file=str(pred))
    report = compute(preds, refs, metric or ["bleu", "rouge"], lang=lang, tokenize=tokenize, use_stemmer=stem,
                     lowercase=lowercase)
    report.task = task
    if track:
        record(report, experiment=experiment, task=task, run_name=run_name,
               params={"predictions": str(pred), "references": ",".join(str(p) for p in ref or [pred])})
    if as_json:
        print_json(report.to_dict())
        return
    rows = []
    for name, value in report.scores.items():
        family = "rouge" if name.startswith("rouge") else ("squad" if name in ("exact_match", "f1") else name)
        detail = ""
        if family == "bleu":
            detail = report.results["bleu"].signature
        elif family in ("chrf", "chrf++"):
            detail = report.results[family].signature
        elif family == "rouge":
            agg = report.results["rouge"].aggregate[name]
            detail = f"95% CI {agg.low.fmeasure:.4f}-{agg.high.fmeasure:.4f}; tok:{report.tokenizers['rouge']}"
        elif family == "squad":
            detail = f"variant:{report.tokenizers['squad']}"
        rows.append([name, f"{value:.4f}", detail])
    print_table(["metric", "score", "details"], rows, title=f"{report.n} items")
    if report.run_id:
        typer.echo(f"run {report.run_id} (experiment {experiment})")


def register(eval_app: typer.Typer) -> None:
    eval_app.command("metrics")(metrics_command)
