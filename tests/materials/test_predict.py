"""Screening: streaming batches, CSV and Parquet output, bad structures skipped and reported."""

from __future__ import annotations

import csv

import pytest
import torch

from sciml.errors import DataError
from sciml.materials.predict import load_model, predict_file


def screening_csv(path, jdft2d_records, n=7):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "structure"])
        for r in jdft2d_records[:n]:
            w.writerow([r.id, r.structure.to(fmt="cif")])
        w.writerow(["garbage", "this is not a crystal"])
        w.writerow(["heavy", "{'@module': 'x'}"])


def test_model_is_plain_state_dict(trained_fold):
    _, fold_dir, _ = trained_fold
    state = torch.load(fold_dir / "model.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    model, spec = load_model(fold_dir)
    assert spec["model_name"] == "cgcnn"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_predict_streams_and_skips_bad(tmp_path, trained_fold, jdft2d_records, suffix):
    import pandas as pd

    _, fold_dir, _ = trained_fold
    src = tmp_path / "in.csv"
    screening_csv(src, jdft2d_records)
    out = tmp_path / f"pred{suffix}"
    stats = predict_file(fold_dir, src, out, batch_size=3, id_column="name", progress=False)
    assert stats["n_predicted"] == 7 and stats["n_skipped"] == 2
    df = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert list(df["id"]) == [r.id for r in jdft2d_records[:7]]
    assert df["prediction"].notna().all()
    skipped = (tmp_path / f"pred{suffix}.skipped.csv").read_text().splitlines()
    assert skipped[0] == "id,line,reason" and skipped[1].startswith("garbage,") and "unparsable" in skipped[1]
    # batch size must not change the numbers
    out2 = tmp_path / f"pred_b1{suffix}"
    predict_file(fold_dir, src, out2, batch_size=1, id_column="name", progress=False)
    df2 = pd.read_csv(out2) if suffix == ".csv" else pd.read_parquet(out2)
    assert (abs(df2["prediction"] - df["prediction"]) <= 1e-3 * (1 + abs(df["prediction"]))).all()


def test_predict_matches_training_predictions(trained_fold, tmp_path, repo_root):
    """Screening the test fold gives the predictions written by training (same model, same graphs)."""
    import pandas as pd

    _, fold_dir, _ = trained_fold
    out = tmp_path / "p.csv"
    predict_file(fold_dir, repo_root / "data/materials/flla_2015_subset1000.csv.gz", out, batch_size=64,
                 id_column="id", progress=False)
    pred = pd.read_csv(out).set_index("id")["prediction"]
    train_pred = pd.read_csv(fold_dir / "predictions.csv").set_index("id")["prediction"]
    diff = (pred.loc[train_pred.index] - train_pred).abs()
    assert (diff <= 1e-4 + 1e-4 * train_pred.abs()).all()


def test_missing_model_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="model file missing"):
        load_model(tmp_path)
