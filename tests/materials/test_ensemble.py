"""Seed ensembles (``train.ensemble: N``): N members per fold, test predictions are their mean."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.materials.conftest import REPO, tiny_config  # noqa: F401  (importlib mode: package path)


@pytest.fixture(scope="module")
def ensemble_fold(tmp_path_factory):
    from sciml.materials.steps import train

    base = tmp_path_factory.mktemp("ensemble")
    cfg = tiny_config(train={"ensemble": 2})
    metrics = train(cfg, 0, REPO / "data", base / "fold_0", base / "ckpt", base / "cache", threads=1)
    return cfg, base / "fold_0", metrics


def test_schema_default_is_single_model():
    assert tiny_config()["train"]["ensemble"] == 1


def test_ensemble_writes_members_and_scores_their_mean(ensemble_fold, trained_fold, repo_root, tmp_path):
    import pandas as pd

    from sciml.materials.readers import read_records
    from sciml.materials.saved_model import load as load_model
    from sciml.materials.screening import predict_records
    from sciml.materials.steps import predict

    cfg, fold_dir, metrics = ensemble_fold
    single = trained_fold[2]
    assert (fold_dir / "model.pt").is_file() and (fold_dir / "model_member1.pt").is_file()
    assert (fold_dir / "members" / "member_1" / "logs" / "version_0" / "metrics.csv").is_file()
    spec = json.loads((fold_dir / "model.json").read_text())
    assert spec["ensemble_weights"] == ["model.pt", "model_member1.pt"]
    members = metrics["ensemble"]["members"]
    # member m trains with (seed + m) + fold (sciml.training.ensemble_members): fold 0, seed 0 -> 0, 1
    assert metrics["ensemble"]["size"] == 2 and [m["seed"] for m in members] == [0, 1]
    # member 0 is the single-model run with the same config
    assert members[0]["test_mae"] == single["test"]["mae"]
    assert members[0]["epochs_trained"] == single["epochs_trained"]
    assert metrics["best_val_loss"] == single["best_val_loss"] == members[0]["best_val_loss"]

    # the fold's predictions are the mean of the two members' predictions
    train_pred = pd.read_csv(fold_dir / "predictions.csv").set_index("id")["prediction"]
    model, spec = load_model(fold_dir)
    member_models = list(model.members)
    assert len(member_models) == 2
    recs = [r for r in read_records(repo_root / "data/materials/flla_2015_subset1000.csv.gz", id_column="id",
                                    with_targets=False) if r.id in set(train_pred.index)]
    per_member = []
    for m in member_models:
        m.eval()
        rows = [row for rows, _ in predict_records(m, spec, recs, batch_size=64) for row in rows]
        per_member.append(pd.Series({r[0]: r[3] for r in rows}))
    mean = (per_member[0] + per_member[1]) / 2
    assert (mean.loc[train_pred.index] - train_pred).abs().max() <= 1e-4 * (1 + train_pred.abs().max())
    assert (per_member[0] - per_member[1]).abs().max() > 1e-6, "members should differ (different seeds)"
    y = pd.read_csv(fold_dir / "predictions.csv").set_index("id")["target"]
    maes = [float(np.mean(np.abs(p.loc[y.index] - y))) for p in per_member]
    assert maes == pytest.approx([m["test_mae"] for m in members], rel=1e-3, abs=1e-5)

    # screening with the fold folder uses the whole ensemble
    out = tmp_path / "screen"
    predict(cfg, fold_dir, repo_root / "data/materials/flla_2015_subset1000.csv.gz", out, batch_size=64,
            id_column="id", progress=False)
    screened = pd.read_csv(out / "predictions.csv").set_index("id")
    pred = screened["prediction"]
    assert ((pred.loc[train_pred.index] - train_pred).abs() <= 1e-4 + 1e-4 * train_pred.abs()).all()
    # ... and says how far its members disagree: the population std of the two members' predictions
    spread = ((per_member[0] - per_member[1]).abs() / 2).loc[train_pred.index]
    assert (screened["prediction_std"].loc[train_pred.index] - spread).abs().max() <= 1e-4 * (1 + spread.max())
    assert screened["prediction_std"].min() >= 0 and screened["prediction_std"].max() > 1e-6


def test_missing_member_weights_is_a_data_error(ensemble_fold, tmp_path):
    import shutil

    from sciml.errors import DataError
    from sciml.materials.saved_model import load as load_model

    _, fold_dir, _ = ensemble_fold
    broken = tmp_path / "broken"
    shutil.copytree(fold_dir, broken)
    (broken / "model_member1.pt").unlink()
    with pytest.raises(DataError, match="model file missing"):
        load_model(broken)


def test_member_zero_shares_the_single_run_checkpoints(ensemble_fold, trained_fold):
    """Checkpoint folders are keyed by the config without ``ensemble`` plus the member seed,
    so member 0 of an ensemble resumes from (and is) the single-model run."""
    _, ens_dir, _ = ensemble_fold
    _, single_dir, _ = trained_fold
    ens = json.loads((ens_dir / "provenance.json").read_text())["extra"]
    single = json.loads((single_dir / "provenance.json").read_text())["extra"]
    rel = lambda p, d: Path(p).relative_to(d.parent / "ckpt")  # noqa: E731
    assert rel(ens["checkpoint_dir"], ens_dir) == rel(single["checkpoint_dir"], single_dir)
    assert ens["member_checkpoint_dirs"][0] == ens["checkpoint_dir"]
    assert rel(ens["member_checkpoint_dirs"][1], ens_dir) != rel(single["checkpoint_dir"], single_dir)
