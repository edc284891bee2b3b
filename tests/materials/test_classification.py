"""A user's binary classification task (e.g. metal / non-metal, stable / unstable): labels read as 0/1,
StratifiedKFold folds as Matbench splits its classification tasks, binary cross-entropy, ROC-AUC scores,
probabilities out of ``predict``, and the ROC section."""

from __future__ import annotations

import csv
import gzip
import json

import numpy as np
import pytest

from sciml.errors import ConfigError, DataError
from tests.materials.conftest import REPO, tiny_config  # noqa: F401  (importlib mode: package path)


def _labelled_csv(path, threshold=-1.0, n=None, labels=("True", "false"), overrides=None):
    """The embedded flla subset with its formation energy replaced by a class label: ``stable`` = E_f below
    ``threshold`` eV/atom (a dataset the package has never seen; a GNN can learn it from the structure);
    ``overrides``: {record number (0-based): label text}."""
    with gzip.open(REPO / "data" / "materials" / "flla_2015_subset1000.csv.gz", "rt", encoding="utf-8") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    rows = rows[:n] if n else rows
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "structure", "stable"])
        for k, r in enumerate(rows):
            label = labels[0] if float(r["formation_energy_per_atom"]) < threshold else labels[1]
            w.writerow([r["id"], r["structure"], (overrides or {}).get(k, label)])
    return path


def _cls_config(path="labels.csv", **over):
    dataset = {"path": path, "target_column": "stable", "task": "classification", "limit": 300,
               **over.pop("dataset", {})}
    return tiny_config(dataset=dataset, **over)


def test_folds_are_matbench_stratified_kfold():
    from sklearn.model_selection import StratifiedKFold

    from sciml.materials.folds import kfold_indices

    rng = np.random.default_rng(3)
    labels = (rng.random(203) < 0.2).astype(float)
    labels[[5, 77]] = np.nan  # records without a usable label are spread too
    ours = kfold_indices(len(labels), 5, 18012019, labels)
    strata = np.where(np.isnan(labels), -1, labels)
    theirs = list(StratifiedKFold(5, shuffle=True, random_state=18012019).split(np.zeros((203, 1)), strata))
    for (tr, te), (tr2, te2) in zip(ours, theirs):
        assert np.array_equal(tr, tr2) and np.array_equal(te, te2)
    positives = [int(np.nansum(labels[te])) for _, te in ours]
    assert max(positives) - min(positives) <= 1  # plain KFold does not balance them
    assert not np.array_equal(ours[0][1], kfold_indices(len(labels), 5, 18012019)[0][1])


def test_labels_read_as_0_1_and_other_values_quarantined(tmp_path):
    from sciml.materials.steps import prepare

    # records 2 and 3 are bad (a label 2, a word that is no boolean); record 4 says 1
    _labelled_csv(tmp_path / "labels.csv", n=40, overrides={2: "2", 3: "yes", 4: "1"})
    summary = prepare(_cls_config(), tmp_path, tmp_path / "prepared", tmp_path / "cache")
    assert summary["n_records"] == 40 and summary["n_quarantined"] == 2
    assert sum(summary["class_counts"].values()) == 38 and min(summary["class_counts"].values()) > 0
    with open(tmp_path / "prepared" / "quarantine.csv", newline="") as fh:
        reasons = {r["id"]: r["reason"] for r in csv.DictReader(fh)}
    assert len(reasons) == 2
    bad_label, bad_word = (reasons[k] for k in sorted(reasons, key=list(reasons).index))
    assert "is no class label" in bad_label and "0 or 1" in bad_label
    assert "'yes' is no class label" in bad_word and "0 or 1" in bad_word
    assert summary["unit"] == "class label (0/1)"


def test_one_class_only_is_a_clear_error(tmp_path):
    from sciml.materials.steps import prepare

    _labelled_csv(tmp_path / "labels.csv", threshold=-100.0, n=30)  # nothing is that stable: all false
    with pytest.raises(DataError, match="both classes.*all 0"):
        prepare(_cls_config(), tmp_path, tmp_path / "prepared", tmp_path / "cache")


@pytest.mark.parametrize("over, key", [({"dataset": {"transform": "log10"}}, "materials.dataset.transform"),
                                       ({"train": {"log_target": True}}, "materials.train.log_target"),
                                       ({"train": {"clip_predictions": True}}, "materials.train.clip_predictions")])
def test_regression_only_options_are_refused(tmp_path, over, key):
    from sciml.materials.steps import prepare

    _labelled_csv(tmp_path / "labels.csv", n=20)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        prepare(_cls_config(**over), tmp_path, tmp_path / "prepared", tmp_path / "cache")


def test_task_type_mismatch_and_0_1_regression_targets_are_warned(tmp_path, capsys):
    from sciml.materials.anchors import task_type_mismatch
    from sciml.materials.steps import prepare

    assert task_type_mismatch("matbench_mp_is_metal", True) == []
    assert task_type_mismatch("matbench_jdft2d", False) == []
    assert "StratifiedKFold" not in " ".join(task_type_mismatch("matbench_mp_is_metal", False))
    assert "set materials.dataset.task: classification" in task_type_mismatch("matbench_mp_is_metal", False)[0]
    assert "set materials.dataset.task: regression" in task_type_mismatch("matbench_jdft2d", True)[0]
    _labelled_csv(tmp_path / "labels.csv", n=30, labels=("1", "0"))
    cfg = tiny_config(dataset={"path": "labels.csv", "target_column": "stable", "limit": 30})
    summary = prepare(cfg, tmp_path, tmp_path / "prepared", tmp_path / "cache")
    assert any("set materials.dataset.task: classification" in w for w in summary["warnings"])
    assert "task: classification" in capsys.readouterr().err


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A 2-member CGCNN ensemble classifying ``stable`` on folds 0 and 1 of 300 records, and its section."""
    from sciml.materials.steps import prepare, section, train

    root = tmp_path_factory.mktemp("cls")
    _labelled_csv(root / "labels.csv", n=300)
    cfg = _cls_config(train={"max_epochs": 15, "ensemble": 2}, cv={"folds": [0, 1]})
    prepare(cfg, root, root / "prepared", root / "cache", threads=1)
    folds = [train(cfg, k, root, root / f"fold_{k}", root / "ckpt", root / "cache", threads=1) for k in (0, 1)]
    sec = section(cfg, root / "prepared", [root / "fold_0", root / "fold_1"], root / "section")
    return cfg, root, folds, sec


@pytest.mark.slow
def test_classifier_ranks_far_better_than_the_constant_and_scores_every_fold(classifier):
    _, root, folds, sec = classifier
    for m in folds:
        assert m["task"] == "classification" and m["ensemble"]["size"] == 2
        # a model that learnt nothing ranks at 0.5 (the constant's ROC-AUC) and cannot beat the prior's log loss
        assert m["baseline_train_mean"]["roc_auc"] == 0.5
        assert m["test"]["roc_auc_probability"] > 0.75
        assert m["test"]["roc_auc"] == pytest.approx(m["test"]["balanced_accuracy"], abs=1e-6)  # Matbench's
        assert m["test"]["log_loss"] < 0.85 * m["baseline_train_mean"]["log_loss"]
        assert m["test"]["accuracy"] > m["baseline_train_median"]["accuracy"]
        with open(root / f"fold_{m['fold']}" / "predictions.csv", newline="") as fh:
            p = np.array([float(r["prediction"]) for r in csv.DictReader(fh)])
        assert ((p >= 0) & (p <= 1)).all() and p.std() > 0.1
    assert sec["roc_auc_mean"] == pytest.approx(np.mean([m["test"]["roc_auc"] for m in folds]), abs=1e-6)
    assert sec["roc_auc_std"] == pytest.approx(np.std([m["test"]["roc_auc"] for m in folds]), abs=1e-6)
    doc = json.loads((root / "section" / "section.json").read_text())
    assert [f["path"] for f in doc["figures"]] == ["roc.png", "learning_curves.png"]
    assert (root / "section" / "roc.png").stat().st_size > 10_000
    assert "ROC-AUC" in doc["summary"] and "MAE" not in doc["summary"]
    # the test folds hold each class in the same share (stratified), as Matbench's classification folds
    assert abs(folds[0]["test"]["n_positive"] - folds[1]["test"]["n_positive"]) <= 1


@pytest.mark.slow
def test_predict_gives_the_folds_probabilities_and_their_spread(classifier, tmp_path):
    from sciml.materials.steps import predict

    cfg, root, _, _ = classifier
    out = predict(cfg, root / "fold_0", root / "labels.csv", tmp_path / "screen", progress=False, device="cpu",
                  id_column="id")
    assert out["prediction_label"] == "P(stable = 1)"
    with open(tmp_path / "screen" / "predictions.csv", newline="") as fh:
        screened = {r["id"]: r for r in csv.DictReader(fh)}
    with open(root / "fold_0" / "predictions.csv", newline="") as fh:
        tested = {r["id"]: float(r["prediction"]) for r in csv.DictReader(fh)}
    # the mean of the members' probabilities, as the fold's own test predictions (not the mean logit)
    for rid, p in tested.items():
        assert float(screened[rid]["prediction"]) == pytest.approx(p, abs=2e-5)
    spread = np.array([float(r["prediction_std"]) for r in screened.values()])
    assert (spread >= 0).all() and (spread <= 0.5).all() and spread.max() > 0
    spec = json.loads((root / "fold_0" / "model.json").read_text())
    assert spec["task"] == "classification" and spec["target_mean"] == 0.0 and spec["target_std"] == 1.0


@pytest.mark.slow
@pytest.mark.e2e
def test_classification_workflow_writes_the_roc_section(workflow_runner, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    _labelled_csv(data / "labels.csv", n=100)
    workflow_runner({
        "domains": ["materials"], "data_root": str(data),
        "materials": {"dataset": {"path": "labels.csv", "target_column": "stable", "task": "classification",
                                  "matbench_task": "matbench_mp_is_metal"},
                      "cv": {"folds": [0, 1]},
                      "model": {"cgcnn": {"atom_fea_len": 16, "n_conv": 1, "h_fea_len": 16}},
                      "train": {"max_epochs": 3, "batch_size": 32}},
    })
    sec_dir = tmp_path / "results" / "materials" / "section"
    section = json.loads((sec_dir / "section.json").read_text())
    assert [f["path"] for f in section["figures"]] == ["roc.png", "learning_curves.png"]
    metrics = json.loads((sec_dir / "metrics.json").read_text())
    assert metrics["task"] == "classification" and metrics["folds_run"] == [0, 1]
    assert 0.0 <= metrics["roc_auc_mean"] <= 1.0
    # the task type agrees; 100 records are not that task's 106113
    (w,) = metrics["matbench_task_mismatch"]
    assert "100 records, the task has 106113" in w and w in section["warnings"]
    assert (tmp_path / "results" / "report.html").is_file()


def test_a_repeated_id_never_sits_in_two_folds(tmp_path):
    """The later row of a repeated id is quarantined (duplicate_id); the kept record must not come back
    through it: trained on in one fold and tested in another, or twice in one training set."""
    from sciml.materials.dataset import load_or_build
    from sciml.materials.folds import split_fold
    from sciml.materials.graphs import GraphSettings

    rows = list(csv.reader(_labelled_csv(tmp_path / "all.csv", n=60).open(encoding="utf-8")))
    with open(tmp_path / "dup.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows[:41] + [rows[5]] + rows[41:])  # record 4 again, as record 40
    numbers = {"true": "1", "false": "0"}  # a regression's targets are numbers (true/false text is quarantined)
    with open(tmp_path / "dup_numbers.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([row[:-1] + [numbers.get(row[-1].lower(), row[-1])]
                                  for row in rows[:41] + [rows[5]] + rows[41:]])
    for task in ("classification", "regression"):
        labels = {} if task == "classification" else {"transform": "none"}
        cfg = _cls_config("dup.csv" if task == "classification" else "dup_numbers.csv",
                          dataset={"task": task, "limit": None, **labels})
        if task == "regression":
            cfg["dataset"]["target_column"] = "stable"  # 0/1 read as numbers
        table, _, _ = load_or_build(cfg["dataset"], GraphSettings(**cfg["graph"]), tmp_path, None, cfg["validation"])
        assert len(table.all_ids) == 61 and len(table) == 60
        dup = table.ids.index(rows[5][0])
        seen_in = []
        for fold in range(5):
            split = split_fold(table, cfg, fold)
            everything = np.concatenate([split["fit"], split["val"], split["test"]])
            assert len(everything) == len(set(everything.tolist()))
            if dup in split["test"]:
                seen_in.append(fold)
            assert (dup in split["test"]) != (dup in np.concatenate([split["fit"], split["val"]]))
        assert len(seen_in) == 1


def test_validation_rows_hold_both_classes_of_a_rare_one():
    from sciml.materials.folds import carve_validation

    train = np.arange(400)
    labels = np.zeros(400)
    labels[::25] = 1  # 4 % positives
    fit, val = carve_validation(train, 0.1, seed=3, labels=labels)
    assert labels[val].sum() == 2 and len(val) == 2 + 39 and len(set(fit) | set(val)) == 400  # ceil per class
    assert not set(fit) & set(val)


def test_too_few_records_per_class_for_the_folds_is_a_config_error(tmp_path):
    from sciml.materials.steps import prepare

    _labelled_csv(tmp_path / "labels.csv", n=8)  # 1 stable, 7 not: neither class fills 8 folds
    with pytest.raises(ConfigError, match=r"materials\.cv\.n_splits.*8 stratified folds.*7 of class 0 and 1 of"):
        prepare(_cls_config(cv={"n_splits": 8, "folds": [0]}), tmp_path, tmp_path / "prepared", tmp_path / "cache")
    summary = prepare(_cls_config(cv={"n_splits": 4, "folds": [0]}), tmp_path, tmp_path / "p4", tmp_path / "cache")
    assert any("fewer than the 4 folds" in w for w in summary["warnings"])


def test_undefined_roc_auc_and_a_classifier_that_never_says_1_are_warned():
    from sciml.materials.steps.section import classification_warnings, fold_means

    def row(fold, auc, f1, n_pos):
        return {"fold": fold, "roc_auc": auc, "f1": f1, "n_positive": n_pos, "n_test": 20}

    per_fold = [row(0, 0.8, 0.0, 3), row(1, None, 0.0, 0), row(2, 0.6, 0.0, 2)]
    means = fold_means(per_fold, ("roc_auc",))
    assert means["roc_auc_mean"] == pytest.approx(0.7) and means["roc_auc_undefined_folds"] == [1]
    warnings = classification_warnings({"per_fold": per_fold, **means})
    assert "undefined on folds [1]" in warnings[0] and "over folds [0, 2] only" in warnings[0]
    assert any("only 2 record(s) of one class" in w for w in warnings)
    assert any("F1 is 0 on every fold" in w for w in warnings)


@pytest.mark.slow
def test_gather_labels_a_classifiers_shards_by_the_model_not_the_config(classifier, tmp_path):
    from sciml.materials.steps import gather, predict

    cfg, root, _, _ = classifier
    screen_cfg = tiny_config()  # another run's config: the built-in regression dataset
    predict(screen_cfg, root / "fold_0", root / "labels.csv", tmp_path / "shard_000", progress=False, device="cpu",
            id_column="id")
    summary = gather(screen_cfg, [tmp_path / "shard_000"], tmp_path / "gathered")
    assert (summary["target"], summary["values"]) == ("stable", "P(stable = 1)")
    section = json.loads((tmp_path / "gathered" / "section.json").read_text())
    assert "P(stable = 1)" in section["summary"] and "formation energy" not in json.dumps(section)


def test_prepare_warnings_reach_the_report():
    """prepare's warning on 0/1 targets in a regression is shown in the section, not only in its log."""
    from sciml.materials.steps.section import _data_warnings, _prepared_counts

    hint = "every target is 0 or 1: if these are class labels, set materials.dataset.task: classification"
    counts = _prepared_counts({"n_records": 30, "n_quarantined": 0, "quarantine_by_reason": {},
                               "n_records_with_parser_warnings": 0, "parser_warnings": {}, "warnings": [hint]})
    warnings = _data_warnings(tiny_config(), {**counts, "per_fold": [], "folds_run": [0]}, True, "mean")
    assert warnings == [hint]
    assert "prepare_warnings" not in _prepared_counts({**counts, "warnings": []})


def test_folds_outside_n_splits_are_refused_before_training(tmp_path):
    from sciml.materials.steps import prepare

    _labelled_csv(tmp_path / "labels.csv", n=40)
    with pytest.raises(ConfigError, match=r"materials\.cv\.folds.*\[3, 4\] outside 0\.\.2"):
        prepare(_cls_config(cv={"n_splits": 3, "folds": [0, 1, 2, 3, 4]}), tmp_path, tmp_path / "p", tmp_path / "c")


def test_a_matbench_task_run_off_its_protocol_is_warned():
    from sciml.materials.anchors import protocol_mismatch

    matbench = {"n_splits": 5, "split_seed": 18012019}
    assert protocol_mismatch("matbench_mp_is_metal", matbench, 106113) == []
    assert protocol_mismatch(None, {"n_splits": 3, "split_seed": 1}, 10) == []
    (w,) = protocol_mismatch("matbench_mp_is_metal", {"n_splits": 3, "split_seed": 18012019}, 200)
    assert "cv.n_splits 3" in w and "200 records, the task has 106113" in w
    (w,) = protocol_mismatch("matbench_jdft2d", {"n_splits": 5, "split_seed": 7})
    assert "split_seed 7" in w


@pytest.mark.slow
def test_gather_refuses_shards_of_two_models_and_warns_on_repeated_ids(classifier, trained_fold, tmp_path):
    from sciml.materials.steps import gather, predict

    cfg, root, _, _ = classifier
    src = tmp_path / "few.csv"
    _labelled_csv(src, n=20)
    for shard, model in (("shard_000", root / "fold_0"), ("shard_001", root / "fold_1"),
                         ("shard_002", trained_fold[1])):
        predict(cfg, model, src, tmp_path / shard, progress=False, device="cpu")  # no --id-column: row ids
    with pytest.raises(DataError, match="shard_001.*scored by another model than shard_000"):
        gather(cfg, [tmp_path / "shard_000", tmp_path / "shard_001"], tmp_path / "mixed")
    summary = gather(cfg, [tmp_path / "shard_000"], tmp_path / "one")
    assert summary["warnings"] == []
    predict(cfg, root / "fold_0", src, tmp_path / "shard_003", progress=False, device="cpu")
    summary = gather(cfg, [tmp_path / "shard_000", tmp_path / "shard_003"], tmp_path / "same_model")
    assert any("20 scored rows repeat an id" in w for w in summary["warnings"])


@pytest.mark.slow
def test_balanced_class_weight_makes_a_rare_class_predicted(tmp_path):
    """4 % positives: the plain loss predicts class 0 almost everywhere at 0.5; class_weight: balanced
    weighs the positives by n_neg / n_pos and predicts many more of them (their recall rises)."""
    from sciml.materials.steps import prepare, train

    _labelled_csv(tmp_path / "labels.csv", threshold=-2.9, n=400)  # the most stable ~4 %
    recalls = {}
    for weight in ("none", "balanced"):
        cfg = _cls_config(dataset={"limit": 400}, train={"max_epochs": 10, "class_weight": weight})
        prepare(cfg, tmp_path, tmp_path / f"p_{weight}", tmp_path / "cache", threads=1)
        m = train(cfg, 0, tmp_path, tmp_path / f"f_{weight}", tmp_path / "ckpt", tmp_path / "cache", threads=1)
        with open(tmp_path / f"f_{weight}" / "predictions.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        pos = [float(r["prediction"]) for r in rows if float(r["target"]) == 1]
        recalls[weight] = (np.array(pos) >= 0.5).mean()
        assert ("pos_weight" in m) == (weight == "balanced")
    n_pos = sum(1 for r in csv.DictReader(open(tmp_path / "labels.csv")) if r["stable"] == "True")
    assert 8 <= n_pos <= 40
    assert recalls["balanced"] > recalls["none"]
    with pytest.raises(ConfigError, match=r"materials\.train\.class_weight"):
        prepare(tiny_config(train={"class_weight": "balanced"}), REPO / "data", tmp_path / "reg", tmp_path / "cache")


def _matbench_score_array(y: list[bool], p: list[float]) -> dict[str, float]:
    """Matbench's own scoring of a classification fold (matbench.data_ops.score_array, CLF_METRICS order
    accuracy, balanced_accuracy, f1, rocauc): float predictions become labels p > 0.5 at the first metric,
    so rocauc is scored on the labels."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

    hard = [q > 0.5 for q in p]
    return {"accuracy": accuracy_score(y, hard), "balanced_accuracy": balanced_accuracy_score(y, hard),
            "f1": f1_score(y, hard), "rocauc": roc_auc_score(y, hard)}


@pytest.mark.parametrize("y, p", [
    ([1, 1, 1, 0, 0, 0], [0.9, 0.6, 0.4, 0.45, 0.2, 0.1]),
    ([1, 0, 0, 1], [0.5, 0.5, 0.2, 0.8]),  # exactly 0.5 is class 0 for Matbench
])
def test_classification_scores_match_matbench_score_array(y, p):
    from sklearn.metrics import roc_auc_score

    from sciml.materials.metrics import classification_metrics

    ours = classification_metrics(np.array(y), np.array(p))
    ref = _matbench_score_array([bool(v) for v in y], p)
    assert ours["roc_auc"] == pytest.approx(ref["rocauc"], abs=1e-6)
    assert ours["accuracy"] == pytest.approx(ref["accuracy"], abs=1e-6)
    assert ours["balanced_accuracy"] == pytest.approx(ref["balanced_accuracy"], abs=1e-6)
    assert ours["f1"] == pytest.approx(ref["f1"], abs=1e-6)
    assert ours["roc_auc_probability"] == pytest.approx(roc_auc_score(y, p), abs=1e-6)
    assert ours["roc_auc"] != ours["roc_auc_probability"]  # the two differ on these folds
