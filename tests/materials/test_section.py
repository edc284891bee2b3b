"""The ``section`` step: fold aggregation, figures and the report section, all in its folder."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.materials.conftest import REPO, tiny_config  # noqa: F401  (importlib mode: package path)


@pytest.fixture(scope="module")
def section_run(trained_fold, tmp_path_factory):
    from sciml.materials.steps import prepare, section

    cfg, fold_dir, fold_metrics = trained_fold
    base = tmp_path_factory.mktemp("section")
    summary = prepare(cfg, REPO / "data", base / "prepared", fold_dir.parent / "cache")
    metrics = section(cfg, base / "prepared", [fold_dir], base / "section")
    return cfg, fold_dir, fold_metrics, summary, metrics, base / "section"


def test_section_scores_the_fold_predictions(section_run):
    _, fold_dir, fold_metrics, summary, metrics, out = section_run
    pred = pd.read_csv(fold_dir / "predictions.csv")
    mae = float(np.abs(pred["prediction"] - pred["target"]).mean())
    assert metrics["folds_run"] == [0] and not metrics["all_folds"]
    assert metrics["per_fold"][0]["mae"] == pytest.approx(mae, abs=2e-6)
    assert metrics["per_fold"][0]["mae"] == fold_metrics["test"]["mae"]  # the fold's own, not from 6-digit CSV
    assert metrics["mae_mean"] == metrics["per_fold"][0]["mae"] and metrics["mae_std"] == 0.0
    assert metrics["baseline_mae_mean"] == fold_metrics["baseline_train_mean"]["mae"]
    assert metrics["n_records"] == summary["n_records"] == 120
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert (out / "predictions.csv").read_text().splitlines()[0] == "id,fold,target,prediction,fallback"
    assert len((out / "predictions.csv").read_text().splitlines()) == len(pred) + 1


def test_section_paths_are_relative_to_its_folder(section_run):
    cfg, _, _, _, _, out = section_run
    sec = json.loads((out / "section.json").read_text())
    assert sec["domain"] == "materials"
    assert [f["path"] for f in sec["figures"]] == ["parity.png", "learning_curves.png"]
    assert sec["provenance"][-1] == "provenance.json" and len(sec["provenance"]) == 3
    for rel in [f["path"] for f in sec["figures"]] + sec["provenance"]:
        assert (out / rel).is_file(), rel
    partial = next(w for w in sec["warnings"] if "only folds [0]" in w)
    # the Matbench leaderboard is named only for a Matbench task
    assert cfg["dataset"].get("matbench_task") is None and "Matbench" not in partial
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["step"] == "materials.section" and str(out / "section.json") in prov["outputs"]


def test_section_refuses_a_missing_fold(section_run, tmp_path):
    from sciml.errors import DataError
    from sciml.materials.steps import section

    cfg, fold_dir, _, _, _, out = section_run
    with pytest.raises(DataError, match="fold metrics missing"):
        section(cfg, out.parent / "prepared", [fold_dir, tmp_path / "fold_9"], tmp_path / "section")


def test_section_states_the_configured_fold_recipe(section_run):
    """The fold note was hard-coded to KFold(5, ..., 18012019) whatever cv.n_splits / split_seed said."""
    from sciml.materials.steps.section import build_section

    cfg, _, _, _, metrics, _ = section_run
    note = build_section(cfg, metrics, [], [], False).tables[1].note
    assert "KFold(5, shuffle=True, random_state=18012019) over the records in file order (the Matbench recipe)" in note
    own = {**cfg, "cv": {**cfg["cv"], "n_splits": 3, "split_seed": 7}}
    note = build_section(own, metrics, [], [], False).tables[1].note
    assert note.startswith("Folds: sklearn KFold(3, shuffle=True, random_state=7) over the records")
    assert "the Matbench recipe" not in note


def test_a_users_dataset_is_not_labelled_formation_energy(section_run, tmp_path):
    """Without target_name/unit, a user's own dataset was labelled with the built-in dataset's
    'formation energy per atom, eV/atom'; now with its target column and 'unit not given'."""
    from sciml.materials.dataset import target_labels
    from sciml.materials.steps import section
    from sciml.report import read_section
    from tests.materials.conftest import tiny_config

    cfg, fold_dir, _, _, metrics, out = section_run
    assert (metrics["target"], metrics["unit"]) == ("formation energy per atom", "eV/atom")  # the built-in set
    own = tiny_config(dataset={"path": "mine.csv", "target_column": "bulk_modulus_GPa"})
    assert target_labels(own["dataset"]) == ("bulk_modulus_GPa", "unit not given")
    named = tiny_config(dataset={"path": "mine.csv", "target_column": "K", "target_name": "bulk modulus",
                                 "unit": "GPa"})
    assert target_labels(named["dataset"]) == ("bulk modulus", "GPa")
    m = section(own, out.parent / "prepared", [fold_dir], tmp_path / "own")
    assert (m["target"], m["unit"]) == ("bulk_modulus_GPa", "unit not given")
    summary = read_section(tmp_path / "own" / "section.json").summary
    assert "(bulk_modulus_GPa, unit not given)" in summary and "formation energy" not in summary


@pytest.mark.parametrize("dataset, label", [
    ({"target_name": "exfoliation energy", "unit": "meV/atom"}, "exfoliation energy (meV/atom)"),
    ({"target_name": "exfoliation energy", "unit": "meV/atom", "transform": "log10"},
     "log10(exfoliation energy / meV/atom)"),
    # the user's name already says log: log10 is not added a second time
    ({"target_name": "log10 exfoliation energy", "unit": "meV/atom", "transform": "log10"},
     "log10 exfoliation energy (meV/atom)"),
    ({"target_name": "Log(K_VRH)", "unit": "GPa", "transform": "log10"}, "Log(K_VRH) (GPa)"),
    ({"target_column": "K", "transform": "log10"}, "log10(K) (unit not given)"),
    ({"target_name": "refractive index", "unit": "dimensionless", "transform": "log10"}, "log10(refractive index)"),
])
def test_value_label_says_log10_once_and_keeps_the_unit_inside(dataset, label):
    from sciml.materials.dataset import value_label

    assert value_label({"path": "mine.csv", "transform": "none", **dataset}) == label


def test_parity_caption_reads_log10_of_the_target(section_run, tmp_path):
    """The caption read 'Predicted vs true exfoliation energy (log10) (meV/atom)' (whose log, which unit?)
    and 'log10 exfoliation energy (log10) (meV/atom)' for a name that already said log10."""
    from sciml.materials.steps import section
    from sciml.report import read_section

    _, fold_dir, _, _, _, out = section_run
    captions = {}
    for name in ("exfoliation energy", "log10 exfoliation energy"):
        cfg = tiny_config(dataset={"path": "mine.csv", "target_column": "y", "target_name": name,
                                   "unit": "meV/atom", "transform": "log10"})
        section(cfg, out.parent / "prepared", [fold_dir], tmp_path / name.replace(" ", "_"))
        captions[name] = read_section(tmp_path / name.replace(" ", "_") / "section.json").figures[0].caption
    assert captions["exfoliation energy"] == ("Predicted vs true log10(exfoliation energy / meV/atom) on each test "
                                              "fold; line = perfect prediction.")
    assert captions["log10 exfoliation energy"].startswith("Predicted vs true log10 exfoliation energy (meV/atom) on")
    assert all(c.count("log10") == 1 and "(log10)" not in c for c in captions.values())


def test_errors_of_a_log10_target_are_not_in_the_targets_unit(section_run, tmp_path):
    """The MAE of a log10 model is in log10 units; the tables said 'Test MAE per fold (meV/atom)'."""
    from sciml.materials.dataset import error_unit
    from sciml.materials.steps import section
    from sciml.report import read_section

    _, fold_dir, _, _, _, out = section_run
    cfg = tiny_config(dataset={"path": "mine.csv", "target_column": "y", "target_name": "exfoliation energy",
                               "unit": "meV/atom", "transform": "log10"})
    m = section(cfg, out.parent / "prepared", [fold_dir], tmp_path / "log")
    assert m["error_unit"] == error_unit(cfg["dataset"]) == "log10 units (dex)" == m["unit"]
    assert m["target_unit"] == "meV/atom"
    sec = read_section(tmp_path / "log" / "section.json")
    titles = [t.title for t in sec.tables]
    assert "Test MAE per fold (log10 units (dex))" in titles and not any("meV/atom" in t for t in titles)
    assert "fitted as log10): test MAE (log10 units (dex))" in sec.summary
    plain = tiny_config(dataset={"path": "mine.csv", "target_column": "y", "unit": "meV/atom"})
    assert error_unit(plain["dataset"]) == "meV/atom"


def _fold_copy(fold_dir, dest, **metric_changes):
    """A copy of a fold folder whose metrics.json has ``metric_changes`` (None: key removed)."""
    import shutil

    shutil.copytree(fold_dir, dest)
    m = json.loads((dest / "metrics.json").read_text())
    for k, v in metric_changes.items():
        m.pop(k) if v is None else m.__setitem__(k, v)
    (dest / "metrics.json").write_text(json.dumps(m))
    return dest


def test_section_shows_the_median_baseline_beside_the_mean_one(section_run, tmp_path):
    """A skewed fold: the training-median baseline scores a lower MAE than the mean one; both reach the section's
    metrics.json, fold table and score table. A fold trained before the median baseline shows "not recorded"."""
    from sciml.materials.steps import section
    from sciml.materials.steps.train import constant_baselines
    from sciml.report import read_section

    cfg, fold_dir, _, _, metrics, out = section_run
    assert metrics["baseline_median_mae_mean"] == metrics["per_fold"][0]["baseline_median_mae"] is not None
    rng = np.random.default_rng(1)
    skewed = constant_baselines(rng.lognormal(0, 1.5, 50), rng.lognormal(0, 1.5, 200))
    fold = _fold_copy(fold_dir, tmp_path / "fold_0", **skewed)
    m = section(cfg, out.parent / "prepared", [fold], tmp_path / "skewed")
    assert m["baseline_median_mae_mean"] == skewed["baseline_train_median"]["mae"] < m["baseline_mae_mean"]
    assert m["baseline_median_mae_std"] == 0.0
    sec = read_section(tmp_path / "skewed" / "section.json")
    scores, folds = sec.tables[0], sec.tables[1]
    rows = {r[0]: r for r in scores.rows}
    assert rows["predict training-fold median"][1] == m["baseline_median_mae_mean"]
    assert rows["predict training-fold mean"][1] == m["baseline_mae_mean"]
    i = folds.columns.index("MAE predict-train-median")
    assert folds.columns[i - 1] == "MAE predict-train-mean" and folds.rows[0][i] == m["baseline_median_mae_mean"]
    assert f"and {m['baseline_median_mae_mean']} for predicting the training median" in sec.summary

    old = _fold_copy(fold_dir, tmp_path / "old" / "fold_0", baseline_train_median=None)
    m_old = section(cfg, out.parent / "prepared", [old], tmp_path / "old_section")
    assert m_old["baseline_median_mae_mean"] is None and m_old["baseline_median_mae_std"] is None
    sec = read_section(tmp_path / "old_section" / "section.json")
    assert {r[0]: r for r in sec.tables[0].rows}["predict training-fold median"][1:3] == ["not recorded"] * 2
    assert sec.tables[1].rows[0][sec.tables[1].columns.index("MAE predict-train-median")] == "not recorded"
    assert "training median" not in sec.summary


def test_parity_y_axis_names_the_value_and_unit(tmp_path, monkeypatch):
    """The y-axis said only "predicted": it carries the same value label (unit included) as the x-axis."""
    from sciml.materials import plots

    seen = {}
    monkeypatch.setattr(plots, "save_figure", lambda fig, path, dpi: seen.setdefault("fig", fig) and path)
    t = np.array([0.1, 0.5, 0.9])
    plots.parity_per_fold({0: (t, t + 0.1, 0.1)}, "log10(exfoliation energy / meV/atom)", tmp_path / "p.png")
    ax = seen["fig"].axes[0]
    assert ax.get_xlabel() == "true log10(exfoliation energy / meV/atom)"
    assert ax.get_ylabel() == "predicted log10(exfoliation energy / meV/atom)"
