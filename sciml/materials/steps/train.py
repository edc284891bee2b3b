"""The ``train`` step: train and test one cross-validation fold (optionally a seed ensemble).

Outputs in ``out_dir``: ``metrics.json`` (test MAE/RMSE/R2 in model units, i.e. of the transformed
target, over every
test record, as Matbench scores, and over the featurised ones only; the
predict-the-train-mean and predict-the-train-median baselines (the constant that minimises the
squared and the absolute error on the training fold: against an L1-trained model the median
is the fair constant), sizes; ``unit`` is the unit of those errors (:func:`~sciml.materials.dataset.error_unit`: dex for
a log10 target), ``target_unit`` the raw target's; rounded, sorted keys: byte-identical for the
same seed on CPU), ``predictions.csv`` (id, fold, target, prediction, fallback for every
test record: a quarantined one is predicted by the training-fold mean, fallback 1), the saved model (``model.pt`` + ``model.json``, see
:mod:`sciml.materials.saved_model`), the learning curve ``logs/version_0/metrics.csv``
and ``provenance.json``. Lightning checkpoints go under ``ckpt_base`` (outside the
declared outputs) so a killed run resumes from ``last.ckpt``.

Seeds: the fold trains with ``cfg["seed"] + fold``; with ``train.ensemble: N`` member m
trains with ``(cfg["seed"] + m) + fold`` on the same split, logs into
``members/member_<m>/`` and is saved as ``model_member<m>.pt`` (the convention of
:func:`sciml.training.ensemble_members`). Test predictions are the members' mean.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import numpy as np

from sciml.io import write_csv_atomic, write_json_atomic
from sciml.rounding import round_fixed
from sciml.steps import resolve_threads, run_step

#: Batch size used to predict the test fold (does not change the numbers).
TEST_BATCH_SIZE = 256
LEARNING_CURVE = Path("logs") / "version_0" / "metrics.csv"
#: predictions.csv columns; ``fallback`` is 1 for a quarantined test record scored with the
#: training-fold mean (Matbench scores every test record), else 0.
PREDICTION_COLUMNS = ["id", "fold", "target", "prediction", "fallback"]


def without_nonpositive(split: dict[str, Any], y: Any, ids: list[str]) -> tuple[dict[str, Any], list[str]]:
    """``split`` with the fit and validation rows whose target ``y`` is <= 0 left out (``train.log_target``
    fits log(y)), and the ids left out; test rows stay (Matbench scores every test record)."""
    out = dict(split)
    dropped: list[str] = []
    for part in ("fit", "val"):
        rows = np.asarray(split[part])
        bad = y[rows] <= 0
        dropped += [ids[i] for i in rows[bad]]
        out[part] = rows[~bad]
    return out, dropped


def fallback_rows(table: Any, split: dict[str, Any], train_mean: float) -> dict[str, Any]:
    """The quarantined test records of a fold, scored as Matbench would: ids, targets (model
    units) and the fallback prediction ``train_mean`` for those with a usable target; ids of
    the ones without (``unscorable``: no target to score against, or a row repeating the id of a kept record,
    which is scored in its own fold)."""
    all_y = table.all_y.numpy()
    ids, targets, unscorable = [], [], []
    kept = set(table.ids)
    for i in split["dropped_test_pos"]:
        # a later row repeating a kept record's id (duplicate_id) is that record again, scored where it is kept
        if np.isfinite(all_y[i]) and table.all_ids[i] not in kept:
            ids.append(table.all_ids[i])
            targets.append(float(all_y[i]))
        else:
            unscorable.append(table.all_ids[i])
    return {"ids": ids, "targets": np.array(targets, dtype=np.float64),
            "predictions": np.full(len(ids), train_mean, dtype=np.float64), "unscorable": unscorable}


def constant_baselines(y_test: np.ndarray, y_fit: np.ndarray, classification: bool = False
                       ) -> dict[str, dict[str, float | None]]:
    """Scores of the constant predictors fitted on the training fold's targets ``y_fit`` (model units, the space
    of the fold's MAE) against ``y_test``: ``baseline_train_mean`` (minimises the squared error) and
    ``baseline_train_median`` (minimises the absolute error: the constant an L1/MAE-trained model should beat).
    For a classification task (labels 0/1) the mean is the training fold's positive rate (the constant that
    minimises the log loss; ROC-AUC 0.5) and the median its majority class."""
    from sciml.materials.metrics import score_predictions

    out = {f"baseline_train_{name}": score_predictions(y_test, np.full_like(y_test, float(stat(y_fit))),
                                                       classification)
           for name, stat in (("mean", np.mean), ("median", np.median))}
    if classification:  # a hard 0/1 constant has no meaningful log loss or Brier score: its scores are of classes
        out["baseline_train_median"] = {k: v for k, v in out["baseline_train_median"].items()
                                        if k not in ("log_loss", "brier")}
    return out


def fit_target_range(y_fit: np.ndarray) -> tuple[float, float]:
    """(min, max) of the fit rows' targets (model units): the range ``train.clip_predictions`` clips to."""
    return float(np.min(y_fit)), float(np.max(y_fit))


#: The ``materials`` keys that change what a fold trains (not ``predict``, ``screening`` or ``threads``).
TRAINING_KEYS = ("seed", "graph", "validation", "cv", "model", "train")


def checkpoint_key(cfg: dict[str, Any], data_path: Path) -> dict[str, Any]:
    """What a fold's checkpoints are keyed by: the settings that change training (:data:`TRAINING_KEYS`,
    ``cv`` without its ``folds`` list, and the dataset's reading settings) and the sha256 of the data
    itself, so new data at the same path never resumes the old weights, and a screening setting or
    another fold list does not retrain the folds."""
    from sciml.materials.dataset import _input_digest, dataset_key

    key = {"data_sha256": _input_digest(data_path), "dataset": dataset_key(cfg["dataset"], data_path),
           **{k: cfg[k] for k in TRAINING_KEYS}}
    # which folds run does not change how one fold trains: extending cv.folds resumes the finished ones
    key["cv"] = {k: v for k, v in cfg["cv"].items() if k != "folds"}
    return key


def record_pretrained(step: Any, model_cfg: dict[str, Any]) -> None:
    """Add a pretrained model's weight file to the step's inputs (its sha256 into provenance.json) and its
    package, version and checkpoint to the record (CHGNet or SevenNet, as ``model_cfg["name"]``)."""
    from importlib.metadata import version

    name = model_cfg["name"]
    if name == "sevennet":
        from sciml.materials.models.sevennet import pretrained_weights_path

        checkpoint = model_cfg["sevennet"]["checkpoint"]
    else:
        from sciml.materials.models.chgnet import pretrained_weights_path

        checkpoint = model_cfg["chgnet"].get("pretrained", "0.3.0")
    step.add_inputs([pretrained_weights_path(checkpoint)])
    package = "sevenn" if name == "sevennet" else "chgnet"
    step.record.extra["pretrained"] = {"package": package, "version": version(package), "checkpoint": checkpoint}


def load_table(cfg: dict[str, Any], root: str | Path | None, cache_dir: str | Path | None) -> tuple[Any, Path, Any]:
    """(table, dataset path, loader factory) of the configured model's representation: the
    PyG graph table for models trained from scratch, CHGNet's own graphs for ``chgnet``,
    SevenNet's own graphs (with their frozen features) for ``sevennet``."""
    from sciml.materials.models import PRETRAINED

    if cfg["model"]["name"] == "sevennet":
        from sciml.materials.models import build_model
        from sciml.materials.sevennet_data import attach_frozen_features, load_or_build as load_sevennet, sevennet_loader

        scfg = cfg["model"]["sevennet"]
        table, path, _ = load_sevennet(cfg["dataset"], root, cache_dir, cfg["validation"], scfg["checkpoint"])
        if scfg["freeze"] == "head":
            # frozen backbone: features computed once (cached beside the graphs), every epoch trains only the head
            attach_frozen_features(table, build_model("sevennet", **scfg), cache_dir=cache_dir)
        return table, path, sevennet_loader
    if cfg["model"]["name"] in PRETRAINED:
        from sciml.materials.chgnet_data import chgnet_loader, load_or_build as load_chgnet

        table, path, _ = load_chgnet(cfg["dataset"], root, cache_dir, cfg["validation"])
        if cfg["model"]["chgnet"]["freeze"] == "head":
            # frozen backbone: its features are computed once and every epoch trains only the head
            from sciml.materials.probe import frozen_feature_table

            table = frozen_feature_table(cfg, table, cache_dir)
        return table, path, chgnet_loader
    from sciml.materials.dataset import graph_loader, load_or_build
    from sciml.materials.graphs import GraphSettings

    table, path, _ = load_or_build(cfg["dataset"], GraphSettings(**cfg["graph"]), root, cache_dir, cfg["validation"])
    return table, path, graph_loader


def train(cfg: dict[str, Any], fold: int, root: str | Path | None, out_dir: str | Path,
          ckpt_base: str | Path, cache_dir: str | Path | None = None, threads: int | None = None) -> dict[str, Any]:
    """Train the configured model on fold ``fold`` and test it; returns the metrics dict
    (empty on the non-zero ranks of a multi-process run, which write nothing but provenance)."""
    from sciml.data import resolve
    from sciml.errors import ConfigError
    from sciml.materials import saved_model
    from sciml.materials.dataset import check_task, error_unit, is_classification, resolved_dataset, target_labels
    from sciml.materials.folds import split_fold
    from sciml.materials.lightning import CrystalRegressor, class_pos_weight, predict_loader
    from sciml.materials.metrics import score_predictions
    from sciml.materials.models import model_kwargs
    from sciml.materials.probe import frozen_feature_table, probe_epochs, probe_head
    from sciml.training import TrainerSettings, ensemble_members, fit_best

    out_dir = Path(out_dir)
    tcfg = cfg["train"]
    # fold k's members train with seeds seed + k + m (m: member): provenance records the seeds used
    from sciml.materials.workflow import without_screening

    with run_step(f"materials.train.fold{fold}", cfg, out_dir, threads=resolve_threads(threads, cfg),
                  seed=cfg["seed"] + fold, provenance_config=without_screening(cfg)) as step:
        cfg = {**cfg, "dataset": resolved_dataset(cfg["dataset"], resolve(cfg["dataset"]["path"], root))}
        step.record.config = without_screening(cfg)  # provenance: the target column read
        table, data_path, loader = load_table(cfg, root, cache_dir)
        step.add_inputs([data_path])
        if cfg["model"]["name"] in ("sevennet", "chgnet"):  # the pretrained weights (sha256 into provenance)
            record_pretrained(step, cfg["model"])
        check_task(cfg)
        classification = is_classification(cfg["dataset"])
        split = split_fold(table, cfg, fold)
        y = table.y.numpy().astype(np.float64)
        y_fit = y[split["fit"]]
        log_target = bool(tcfg["log_target"])
        nonpositive: list[str] = []
        if log_target:  # a target <= 0 has no log: left out of fit and validation (said by prepare), still tested
            split, nonpositive = without_nonpositive(split, y, table.ids)
            empty = [part for part in ("fit", "val") if not len(split[part])]
            if empty:
                raise ConfigError("materials.train.log_target", f"fold {fold}: no {empty[0]} record has a target > 0, "
                                  "which log_target needs")
            y_fit = np.log(y[split["fit"]])
        # a classifier's output is a logit: no normalisation
        mean, std = (0.0, 1.0) if classification else (float(y_fit.mean()), float(y_fit.std()))
        pos_weight = class_pos_weight(y_fit) if classification and tcfg["class_weight"] == "balanced" else None
        score = "roc_auc" if classification else "mae"  # each member's test score in metrics.json
        target_range = fit_target_range(y[split["fit"]]) if tcfg["clip_predictions"] else None
        bs = int(tcfg["batch_size"])  # per device: under DDP the global batch is bs x processes
        workers = int(tcfg.get("num_workers", 0))
        # only for a module used without a trainer; fits size the schedule from the trainer
        steps_per_epoch = int(math.ceil(len(split["fit"]) / bs))
        mk = model_kwargs(cfg, table.meta["max_z"])
        test_idx = split["test"]
        settings = TrainerSettings.from_config({**tcfg, "monitor": "val_loss"})

        def make_module(head: dict[str, Any] | None = None) -> CrystalRegressor:
            module = CrystalRegressor(
                model_name=cfg["model"]["name"], model_kwargs=mk, target_mean=mean, target_std=std,
                lr=tcfg["lr"], weight_decay=tcfg["weight_decay"], loss=tcfg["loss"], scheduler=tcfg["scheduler"],
                max_epochs=tcfg["max_epochs"], steps_per_epoch=steps_per_epoch, log_target=log_target,
                target_range=target_range, task=cfg["dataset"].get("task", "regression"), pos_weight=pos_weight,
            )
            if head is not None:  # LP-FT: fine-tuning starts from the linearly probed head
                module.model.head.load_state_dict(head)
            return module

        # LP-FT: the frozen features are computed once, each member probes its own head on them
        feature_table = frozen_feature_table(cfg, table, cache_dir) if probe_epochs(cfg) else None
        members = ensemble_members(int(tcfg.get("ensemble", 1)), cfg["seed"], ckpt_base, f"fold{fold}",
                                   checkpoint_key(cfg, data_path), out_dir)
        modules, member_preds, member_info = [], [], []
        step.record.extra["member_seeds"] = [member.seed + fold for member in members]
        for member in members:
            seed = member.seed + fold
            head = (probe_head(cfg, feature_table, split, loader, mean, std, seed, Path(member.checkpoint_dir) / "probe")
                    if feature_table is not None else None)
            fit = fit_best(functools.partial(make_module, head), settings, seed=seed, log_dir=member.log_dir,
                           ckpt_dir=member.checkpoint_dir,
                           train_dataloaders=loader(table, split["fit"], bs, seed, num_workers=workers),
                           val_dataloaders=loader(table, split["val"], bs, num_workers=workers))
            if not fit.is_global_zero:
                # under DDP every rank takes part in every member's fit; only rank 0 tests and writes
                continue
            if fit.resumed_from is not None:  # provenance only: metrics.json stays byte-identical to a fresh run
                step.record.extra.setdefault("resumed_from", []).append(str(fit.resumed_from))
            module = fit.module.float()
            p_m = predict_loader(module, loader(table, test_idx, TEST_BATCH_SIZE))
            modules.append(module)
            member_preds.append(p_m)
            member_info.append({
                "seed": seed, "epochs_trained": fit.epochs_trained,
                "best_val_loss": round_fixed(fit.best_score),
                f"test_{score}": score_predictions(y[test_idx], p_m, classification)[score] if len(test_idx) else None,
                "checkpoint_dir": str(member.checkpoint_dir),
            })
        if not member_preds:  # a non-zero rank
            return {}
        stacked = np.stack(member_preds, axis=0)
        # mean of the normalised outputs (all members share mean/std): arithmetic mean in
        # target units, geometric mean when trained on log(target); a classifier's: the mean probability
        preds = np.exp(np.log(stacked).mean(axis=0)) if log_target else stacked.mean(axis=0)
        # Matbench scores every test record: a quarantined one (no graph) is predicted by the
        # training-fold mean (a classifier's: its positive rate), counted and flagged; one without a
        # usable target cannot be scored
        train_fold = np.concatenate([split["fit"], split["val"]])  # Matbench's training fold: fit + validation rows
        fb = fallback_rows(table, split, float(y[train_fold].mean()))
        ids_test = [table.ids[i] for i in test_idx] + fb["ids"]
        y_test = np.concatenate([y[test_idx], fb["targets"]])
        preds_all = np.concatenate([preds, fb["predictions"]])
        is_fallback = [0] * len(test_idx) + [1] * len(fb["ids"])
        metrics = {
            "fold": fold,
            "model": cfg["model"]["name"],
            "n_fit": int(len(split["fit"])), "n_val": int(len(split["val"])), "n_test": int(len(y_test)),
            "n_test_fallback": len(fb["ids"]),
            **({"train_records_nonpositive": nonpositive} if nonpositive else {}),
            "test_records_quarantined": split["dropped_test"],
            "test_records_unscorable": fb["unscorable"],
            "epochs_trained": member_info[0]["epochs_trained"],
            "best_val_loss": member_info[0]["best_val_loss"],
            "test": score_predictions(y_test, preds_all, classification),
            "test_featurised_only": score_predictions(y[test_idx], preds, classification) if len(test_idx) else None,
            **constant_baselines(y_test, y[train_fold], classification),  # as labelled: the training fold's
            **dict(zip(("target", "target_unit"), target_labels(cfg["dataset"]))),
            "unit": error_unit(cfg["dataset"]),  # of the errors above: dex for a log10 target
            "transform": cfg["dataset"]["transform"],
        }
        if classification:
            metrics["task"] = "classification"
            if pos_weight is not None:
                metrics["pos_weight"] = round_fixed(pos_weight)
        if len(members) > 1:
            metrics["ensemble"] = {
                "size": len(members),
                "members": [{k: v for k, v in m.items() if k != "checkpoint_dir"} for m in member_info],
            }
        # targets to 10 significant digits (a user checks them against the file: 6 lost digits above 1e6),
        # predictions to 7 (the float32 network's precision)
        write_csv_atomic(step.output("predictions.csv"), PREDICTION_COLUMNS,
                         [[rid, fold, f"{t:.10g}", f"{p:.7g}", f]
                          for rid, t, p, f in zip(ids_test, y_test, preds_all, is_fallback)])
        for name in saved_model.save(modules, cfg, table.meta, out_dir,
                                     saved_model.table_atomic_numbers(table, split["fit"])):
            step.output(name)
        step.output(saved_model.SPEC_FILE)
        write_json_atomic(step.output("metrics.json"), metrics)
        for member in members:
            step.output(Path(member.log_dir).relative_to(out_dir) / LEARNING_CURVE)
        step.record.extra["checkpoint_dir"] = member_info[0]["checkpoint_dir"]
        if len(members) > 1:
            step.record.extra["member_checkpoint_dirs"] = [m["checkpoint_dir"] for m in member_info]
    return metrics
