"""Log-likelihood requests in lm-evaluation-harness's prompt shapes, built from the shared data files."""

from __future__ import annotations

import bz2
import csv
import json
from pathlib import Path

from ondo.llm.types import LoglikelihoodRequest as R


def arc_requests(shared_data: Path, n: int) -> list[R]:
    out = []
    with (shared_data / "arc" / "ARC-Easy-Test.jsonl").open() as f:
        for line in list(f)[:n]:
            d = json.loads(line)
            ctx = f"Question: {d['question']['stem']}\nAnswer:"
            out += [R(ctx, " " + c["text"]) for c in d["question"]["choices"]]
    return out


def mmlu_requests(shared_data: Path, subject: str, n: int, shots: int = 5) -> list[R]:
    dev = list(csv.reader((shared_data / "mmlu" / "dev" / f"{subject}_dev.csv").open()))[:shots]
    test = list(csv.reader((shared_data / "mmlu" / "test" / f"{subject}_test.csv").open()))[:n]

    def fmt(row: list[str], answer: bool) -> str:
        s = row[0].strip() + "".join(f"\n{k}. {c}" for k, c in zip("ABCD", row[1:5], strict=True)) + "\nAnswer:"
        return s + (f" {row[5]}\n\n" if answer else "")

    head = f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\n\n"
    shots = "".join(fmt(r, True) for r in dev)
    return [R(head + shots + fmt(row, False), " " + k) for row in test for k in "ABCD"]


def hellaswag_requests(shared_data: Path, n: int) -> list[R]:
    with bz2.open(shared_data / "hellaswag" / "hellaswag_val_full.txt.bz2", "rt") as f:
        lines = f.read().split("\n")
    out = []
    for i in range(n):
        ctx, _label, *endings = lines[6 * i: 6 * i + 6]
        out += [R(ctx, " " + e) for e in endings]
    return out
