"""Tiny training runs: metrics, determinism (byte-identical JSON), resume after a kill."""

from __future__ import annotations

import json

import pytest

from tests.materials.conftest import REPO, tiny_config  # noqa: F401  (importlib mode: package path)


def test_tiny_run_writes_metrics_and_beats_nothing_silly(trained_fold):
    cfg, fold_dir, metrics = trained_fold
    for name in ("metrics.json", "predictions.csv", "model.pt", "model.json", "provenance.json"):
        assert (fold_dir / name).is_file(), name
    assert metrics["n_test"] == 24 and metrics["n_fit"] + metrics["n_val"] == 96
    assert metrics["test"]["mae"] > 0 and metrics["epochs_trained"] == 3
    rows = (fold_dir / "predictions.csv").read_text().splitlines()
    assert rows[0] == "id,fold,target,prediction,fallback" and len(rows) == 25
    assert metrics["n_test_fallback"] == 0 and all(r.endswith(",0") for r in rows[1:])
    assert (fold_dir / "logs" / "version_0" / "metrics.csv").is_file()


def test_quarantined_test_records_are_scored_with_the_training_fold_mean(tmp_path):
    """Matbench scores every test record: records the validation rejects (here every structure with an
    element heavier than Zn, max_z 30) that fall in the test fold are predicted by the training-fold mean,
    flagged, and counted in the fold's MAE, so n_test stays the whole test fold (24 of 120)."""
    import csv

    import numpy as np

    from sciml.materials.dataset import load_or_build
    from sciml.materials.folds import split_fold
    from sciml.materials.graphs import GraphSettings
    from sciml.materials.steps import train

    cfg = tiny_config(validation={"max_z": 30})
    metrics = train(cfg, 0, REPO / "data", tmp_path / "fold", tmp_path / "ckpt", tmp_path / "cache", threads=1)
    table, _, _ = load_or_build(cfg["dataset"], GraphSettings(**cfg["graph"]), REPO / "data", tmp_path / "cache",
                                cfg["validation"])
    split = split_fold(table, cfg, 0)
    assert split["dropped_test"], "the test needs quarantined records in the test fold"
    y = table.y.numpy().astype(np.float64)
    train_mean = float(y[np.concatenate([split["fit"], split["val"]])].mean())
    with open(tmp_path / "fold" / "predictions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    fallback = [r for r in rows if r["fallback"] == "1"]
    assert sorted(r["id"] for r in fallback) == sorted(split["dropped_test"])
    assert metrics["n_test"] == len(rows) == 24 and metrics["n_test_fallback"] == len(fallback)
    for r in fallback:
        assert float(r["prediction"]) == pytest.approx(train_mean, rel=1e-5)
    mae_all = np.mean([abs(float(r["target"]) - float(r["prediction"])) for r in rows])
    assert metrics["test"]["mae"] == pytest.approx(mae_all, abs=1e-5)
    kept = [r for r in rows if r["fallback"] == "0"]
    assert metrics["test_featurised_only"]["mae"] == pytest.approx(
        np.mean([abs(float(r["target"]) - float(r["prediction"])) for r in kept]), abs=1e-5)
    assert metrics["test_records_unscorable"] == []


@pytest.mark.slow
def test_same_seed_same_bytes(tmp_path, trained_fold):
    from sciml.materials.steps import train

    cfg, fold_dir, _ = trained_fold
    train(cfg, 0, REPO / "data", tmp_path / "again", tmp_path / "ckpt", tmp_path / "cache", threads=1)
    assert (tmp_path / "again" / "metrics.json").read_bytes() == (fold_dir / "metrics.json").read_bytes()


class _Killed(RuntimeError):
    pass


@pytest.mark.slow
def test_resume_after_kill_gives_same_metrics(tmp_path, trained_fold, monkeypatch):
    """Kill after epoch 2 of 3, rerun the same command: it resumes from last.ckpt, same final metrics."""
    import lightning.pytorch as pl

    import sciml.training as training
    from sciml.materials.steps import train

    cfg, fold_dir, _ = trained_fold
    real_make_trainer = training.make_trainer

    class KillAfterEpoch(pl.Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            if trainer.current_epoch == 1:
                raise _Killed("simulated kill")

    def killing_make_trainer(*args, extra_callbacks=None, **kwargs):
        return real_make_trainer(*args, extra_callbacks=[*(extra_callbacks or []), KillAfterEpoch()], **kwargs)

    monkeypatch.setattr(training, "make_trainer", killing_make_trainer)
    with pytest.raises(_Killed):
        train(cfg, 0, REPO / "data", tmp_path / "run", tmp_path / "ckpt", tmp_path / "cache", threads=1)
    assert list((tmp_path / "ckpt").rglob("last.ckpt")), "no checkpoint left by the killed run"
    assert not (tmp_path / "run" / "metrics.json").exists()
    monkeypatch.setattr(training, "make_trainer", real_make_trainer)
    resumed = train(cfg, 0, REPO / "data", tmp_path / "run", tmp_path / "ckpt", tmp_path / "cache", threads=1)
    ref = json.loads((fold_dir / "metrics.json").read_text())
    assert resumed["test"] == ref["test"]
    assert (tmp_path / "run" / "metrics.json").read_bytes() == (fold_dir / "metrics.json").read_bytes()
    # the resume is said in provenance (not in metrics.json, which a fresh run writes byte for byte)
    prov = json.loads((tmp_path / "run" / "provenance.json").read_text())
    (resumed_from,) = prov["extra"]["resumed_from"]
    assert resumed_from.endswith("last.ckpt") and str(tmp_path / "ckpt") in resumed_from
    assert "resumed_from" not in json.loads((fold_dir / "provenance.json").read_text()).get("extra", {})


def test_target_encoding_round_trip():
    import torch

    from sciml.materials.lightning import CrystalRegressor

    y = torch.tensor([0.5, 80.0, 1600.0])
    for log_target, mean, std in ((False, 100.0, 50.0), (True, 4.0, 1.2)):
        m = CrystalRegressor("cgcnn", {"atom_fea_len": 8, "n_conv": 1, "h_fea_len": 8}, mean, std, log_target=log_target)
        torch.testing.assert_close(m.decode(m.encode(y)), y, rtol=1e-5, atol=1e-4)


def test_target_range_clips_decoded_predictions_in_both_target_spaces():
    import torch

    from sciml.materials.lightning import CrystalRegressor

    kw = {"atom_fea_len": 8, "n_conv": 1, "h_fea_len": 8}
    out = torch.tensor([-9.0, 0.0, 9.0])  # far below, at, far above the mean (normalised units)
    for log_target, mean, std in ((False, 100.0, 50.0), (True, 4.0, 1.2)):
        free = CrystalRegressor("cgcnn", kw, mean, std, log_target=log_target).decode(out)
        low, high = float(free[1]) * 0.5, float(free[1]) * 2.0
        clipped = CrystalRegressor("cgcnn", kw, mean, std, log_target=log_target, target_range=(low, high)).decode(out)
        torch.testing.assert_close(clipped, torch.tensor([low, float(free[1]), high]), rtol=1e-5, atol=1e-4)
        assert float(free[0]) < low and float(free[2]) > high  # the unclipped model does leave the range


def test_clip_predictions_clips_the_same_fit_to_the_fit_rows_range(tmp_path, trained_fold, monkeypatch):
    """train.clip_predictions changes nothing but the clip: the same fit (the loss and the checkpoint choice do
    not see it), its test predictions clipped to the range taken from the fit rows, which model.json records for
    predict. The range is narrowed here (the tiny model's predictions stay inside the real min/max) so the clip acts."""
    import csv
    import importlib

    import numpy as np

    from sciml.materials.dataset import load_or_build
    from sciml.materials.folds import split_fold
    from sciml.materials.graphs import GraphSettings

    def predictions(folder):
        with open(folder / "predictions.csv", newline="") as fh:
            return {r["id"]: float(r["prediction"]) for r in csv.DictReader(fh)}

    train_step = importlib.import_module("sciml.materials.steps.train")  # the module (the package exports the function)
    _, fold_dir, _ = trained_fold
    free = predictions(fold_dir)
    low, high = (float(v) for v in np.quantile(list(free.values()), [0.25, 0.75]))
    seen = []
    monkeypatch.setattr(train_step, "fit_target_range", lambda y: seen.append(np.array(y)) or (low, high))
    cfg = tiny_config(train={"clip_predictions": True})
    train_step.train(cfg, 0, REPO / "data", tmp_path / "fold", tmp_path / "ckpt", tmp_path / "cache", threads=1)
    table, _, _ = load_or_build(cfg["dataset"], GraphSettings(**cfg["graph"]), REPO / "data", tmp_path / "cache",
                                cfg["validation"])
    y_fit = table.y.numpy().astype(np.float64)[split_fold(table, cfg, 0)["fit"]]
    assert len(seen) == 1 and np.array_equal(seen[0], y_fit)  # the range comes from the fit rows only
    monkeypatch.undo()
    assert train_step.fit_target_range(y_fit) == (y_fit.min(), y_fit.max())
    assert json.loads((tmp_path / "fold" / "model.json").read_text())["target_range"] == pytest.approx([low, high])
    clipped = predictions(tmp_path / "fold")
    assert free.keys() == clipped.keys()
    for rid, p in free.items():
        assert clipped[rid] == pytest.approx(min(max(p, low), high), rel=1e-5, abs=1e-5)
    assert sum(p < low or p > high for p in free.values()) >= 2


def test_split_keeps_official_test_fold(trained_fold):
    from sciml.materials.dataset import load_or_build
    from sciml.materials.folds import kfold_indices
    from sciml.materials.graphs import GraphSettings
    from sciml.materials.folds import split_fold

    cfg, _, _ = trained_fold
    table, _, _ = load_or_build(cfg["dataset"], GraphSettings(**cfg["graph"]), REPO / "data", None, cfg["validation"])
    split = split_fold(table, cfg, 0)
    _, test = kfold_indices(len(table.all_ids))[0]
    assert [table.ids[i] for i in split["test"]] == [table.all_ids[i] for i in test]
    assert not set(split["val"]) & set(split["test"]) and not set(split["fit"]) & set(split["val"])
    # the report's "predict training-fold mean" is the mean of the whole training fold (fit + validation rows,
    # as the fallback prediction uses), not of the fit rows only
    import numpy as np

    y = table.y.numpy().astype(np.float64)
    y_test = y[split["test"]]
    train_mean = y[np.concatenate([split["fit"], split["val"]])].mean()
    on_disk = json.loads((trained_fold[1] / "metrics.json").read_text())
    assert on_disk["n_test_fallback"] == 0
    assert on_disk["baseline_train_mean"]["mae"] == pytest.approx(np.abs(y_test - train_mean).mean(), abs=1e-5)
    assert on_disk["baseline_train_mean"]["mae"] != pytest.approx(np.abs(y_test - y[split["fit"]].mean()).mean(),
                                                                   abs=1e-5)


def test_a_skewed_fold_has_a_median_baseline_below_the_mean_one(trained_fold):
    """The only baseline was the training mean; for skewed targets the training median is the constant with the
    lower MAE (what an L1-trained model must beat). Every fold's metrics.json records both."""
    import numpy as np

    from sciml.materials.steps.train import constant_baselines

    rng = np.random.default_rng(0)
    y_fit, y_test = rng.lognormal(0.0, 1.5, 400), rng.lognormal(0.0, 1.5, 100)
    b = constant_baselines(y_test, y_fit)
    assert b["baseline_train_median"]["mae"] < b["baseline_train_mean"]["mae"]
    assert b["baseline_train_median"]["mae"] == pytest.approx(np.abs(y_test - np.median(y_fit)).mean(), abs=1e-6)
    assert b["baseline_train_mean"]["mae"] == pytest.approx(np.abs(y_test - y_fit.mean()).mean(), abs=1e-6)
    _, fold_dir, metrics = trained_fold
    on_disk = json.loads((fold_dir / "metrics.json").read_text())
    assert set(on_disk["baseline_train_median"]) == {"mae", "rmse", "r2", "max_abs_error"}
    assert on_disk["baseline_train_median"] == metrics["baseline_train_median"]


def test_checkpoints_are_keyed_by_the_data_and_the_training_settings_only(tmp_path, repo_root):
    """New data at the same path must not resume the old weights (an audit saw a fold restore its finished
    checkpoint and train 0 epochs on a changed file); a screening setting must not retrain the folds."""
    import gzip
    import shutil

    from sciml.materials.steps.train import checkpoint_key
    from tests.materials.conftest import tiny_config

    cfg = tiny_config()
    src = repo_root / "data" / cfg["dataset"]["path"]
    mine = tmp_path / "mine.csv.gz"
    shutil.copy(src, mine)
    key = checkpoint_key(cfg, mine)
    assert checkpoint_key({**cfg, "predict": {**cfg["predict"], "batch_size": 7}, "threads": 2}, mine) == key
    assert checkpoint_key({**cfg, "train": {**cfg["train"], "lr": 0.5}}, mine) != key
    # report labels and the list of folds to run do not change how a fold trains: resumed, not retrained
    labels = {"target_name": "my label", "unit": "eV", "matbench_task": "matbench_jdft2d"}
    assert checkpoint_key({**cfg, "dataset": {**cfg["dataset"], **labels}}, mine) == key
    assert checkpoint_key({**cfg, "cv": {**cfg["cv"], "folds": [0, 1, 2]}}, mine) == key
    assert checkpoint_key({**cfg, "cv": {**cfg["cv"], "split_seed": 7}}, mine) != key
    with gzip.open(mine, "rt") as fh:
        text = fh.read()
    with gzip.open(mine, "wt") as fh:
        fh.write(text.replace(",", ",", 1) + "\n")  # same path, other bytes
    assert checkpoint_key(cfg, mine)["data_sha256"] != key["data_sha256"]
