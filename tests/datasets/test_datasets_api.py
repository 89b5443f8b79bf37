"""The Python API: pandas and HF datasets views, rows, and lineage into the active run."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pandas as pd
import pytest

import ondo
from ondo.workspace import Workspace


def test_to_pandas_matches_pandas_reading_the_source(ws: Workspace, shared_data: Path, tmp_path: Path) -> None:
    jsonl = tmp_path / "arc.jsonl"
    shutil.copyfile(shared_data / "arc" / "ARC-Challenge-Dev.jsonl", jsonl)
    df = ondo.data.get(ondo.data.add(jsonl, name="arc").ref).to_pandas()
    expected = pd.DataFrame.from_records(pd.read_json(jsonl, lines=True, dtype=False).to_dict("records"))
    pd.testing.assert_frame_equal(df, expected)

    csv_path = tmp_path / "truthfulqa.csv"
    shutil.copyfile(shared_data / "truthfulqa" / "TruthfulQA.csv", csv_path)
    df = ondo.data.add(csv_path, name="tqa").to_pandas()
    pd.testing.assert_frame_equal(df, pd.read_csv(io.BytesIO(csv_path.read_bytes()), encoding="utf-8-sig"))

    tsv = tmp_path / "sts.tsv"
    shutil.copyfile(shared_data / "korean" / "korsts" / "sts-test.tsv", tsv)
    df = ondo.data.add(tsv, name="sts").to_pandas()
    pd.testing.assert_frame_equal(df, pd.read_csv(tsv, sep="\t", quoting=3))


def test_to_hf_dataset_and_rows(ws: Workspace, shared_data: Path, tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    src = tmp_path / "q.jsonl"
    shutil.copyfile(shared_data / "korean" / "ko_mt_bench" / "question_ko.jsonl", src)
    v = ondo.data.add(src, name="ko-mt")
    ds = v.to_hf_dataset()
    rows = list(v.rows())
    assert len(ds) == len(rows) == 80
    assert ds.column_names == list(dict.fromkeys(k for r in rows for k in r))
    assert ds[5]["question_id"] == rows[5]["question_id"]


def test_reading_inside_a_run_records_lineage(ws: Workspace, tmp_path: Path) -> None:
    tracking = pytest.importorskip("ondo.tracking")
    src = tmp_path / "d.jsonl"
    src.write_text('{"q": "a"}\n')
    v1 = ondo.data.add(src, name="qa-train")
    src.write_text('{"q": "b"}\n')
    v2 = ondo.data.add(src, name="qa-train")
    with ondo.start_run(experiment="lineage") as run:
        ondo.data.get("qa-train@v1")
        handle = ondo.data.get("qa-train@v2")
    with ondo.start_run(experiment="lineage") as other:
        handle.to_pandas()  # a handle obtained in one run, read in another, counts for the one reading it
    info = tracking.get_run(ws, run.id)
    got = {(i.kind, i.ref, i.digest) for i in info.inputs}
    assert got == {("dataset", "qa-train/1", v1.digest), ("dataset", "qa-train/2", v2.digest)}
    assert {(i.ref, i.digest) for i in tracking.get_run(ws, other.id).inputs} == {("qa-train/2", v2.digest)}
    # outside a run nothing is recorded and nothing fails
    assert ondo.data.get("qa-train@v1").to_pandas()["q"].tolist() == ["a"]


def test_rows_without_row_files_is_a_user_error(ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"1234")
    v = ondo.data.add(tmp_path / "weights.bin", name="w")
    with pytest.raises(ondo.InvalidInput, match="no row files"):
        v.to_pandas()
    assert (v.path() / "weights.bin").read_bytes() == b"1234"
