"""Cross-validation folds exactly as Matbench defines them, plus a validation carve-out.

Matbench v0.1 (``scripts/mvb01_generate_validation.py``): rows in dataset order,
``KFold(n_splits=5, shuffle=True, random_state=18012019)`` for regression, ``StratifiedKFold`` with
the same arguments over the class labels for classification; fold k is the k-th ``(train, test)`` pair. Matbench has no validation set: we carve it from the
training fold only. :func:`split_fold` combines both over a dataset's kept records.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

MATBENCH_SEED = 18012019


def kfold_indices(n: int, n_splits: int = 5, seed: int = MATBENCH_SEED, labels: np.ndarray | None = None
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(train_idx, test_idx), ...]`` of ``KFold(n_splits, shuffle=True, random_state=seed)`` over n rows, or
    with ``labels`` ((n,) class labels, a classification task) of ``StratifiedKFold`` with the same arguments,
    as Matbench splits its classification tasks. A NaN label (a record without a usable label) is a stratum
    of its own, so such records spread over the folds too."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if labels is None:
        kf = KFold(n_splits=n_splits, shuffle=True, random_state=seed)
        return [(tr, te) for tr, te in kf.split(np.zeros((n, 1)))]
    strata = np.where(np.isnan(np.asarray(labels, dtype=np.float64)), -1.0, labels)
    skf = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    import warnings

    with warnings.catch_warnings():  # "least populated class has only k members": the folds are still valid
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        return [(tr, te) for tr, te in skf.split(np.zeros((n, 1)), strata)]


def fold_ids(all_ids: list[str], n_splits: int = 5, seed: int = MATBENCH_SEED, labels: np.ndarray | None = None
             ) -> list[dict[str, list[str]]]:
    """Matbench-style ``[{"train": [ids], "test": [ids]}, ...]`` over the records in file order (stratified
    by ``labels`` for a classification task)."""
    return [{"train": [all_ids[i] for i in tr], "test": [all_ids[i] for i in te]}
            for tr, te in kfold_indices(len(all_ids), n_splits, seed, labels)]


def official_folds(path: str | Path, task: str) -> list[dict[str, list[str]]]:
    """The official folds of ``task`` from ``matbench_v0.1_folds.json.gz`` (as lists of mbids)."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        doc = json.load(fh)
    splits = doc["splits"][task]
    return [{"train": list(splits[f"fold_{k}"]["train"]), "test": list(splits[f"fold_{k}"]["test"])}
            for k in range(len(splits))]


def carve_validation(train: list[int] | np.ndarray, fraction: float, seed: int, labels: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Split training-fold indices into (fit, validation); validation = ``ceil(fraction * n)`` random rows.

    With ``labels`` (the class label of each row of ``train``, a classification task) the validation rows
    are drawn per class, ``ceil(fraction * n_c)`` of each class holding at least 2 rows, so the checkpoint
    is chosen on both classes even when one is rare (a plain random 10 % of a 4 %-positive fold often holds
    no positive at all)."""
    train = np.asarray(train)
    if labels is None:
        n_val = max(1, int(math.ceil(fraction * len(train))))
        if n_val >= len(train):
            raise ValueError(f"validation fraction {fraction} leaves no training rows out of {len(train)}")
        perm = np.random.default_rng(seed).permutation(len(train))
        return np.sort(train[perm[n_val:]]), np.sort(train[perm[:n_val]])
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    val = []
    for c in np.unique(labels):
        rows = train[labels == c]
        if len(rows) >= 2:
            val.append(rows[rng.permutation(len(rows))[:max(1, int(math.ceil(fraction * len(rows))))]])
    val_rows = np.sort(np.concatenate(val)) if val else np.zeros(0, dtype=train.dtype)
    fit = np.sort(np.setdiff1d(train, val_rows))
    if len(val_rows) == 0 or len(fit) == 0:
        raise ValueError(f"validation fraction {fraction} cannot split {len(train)} training rows by class")
    return fit, val_rows


def _kept_positions(table: Any) -> dict[int, int]:
    """Position in ``table.all_ids`` -> index of the kept record, for the first row of each kept id only: a
    later row repeating an id was quarantined (duplicate_id) and must not bring the kept record into a
    second fold (trained on and tested at once) or twice into one."""
    pos = {rid: k for k, rid in enumerate(table.ids)}
    kept, seen = {}, set()
    for i, rid in enumerate(table.all_ids):
        if rid in pos and rid not in seen:
            kept[i] = pos[rid]
        seen.add(rid)
    return kept


def split_fold(table: Any, cfg: dict[str, Any], fold: int) -> dict[str, Any]:
    """Indices (into the kept records of ``table``) of fit / validation / test for ``fold``, Matbench-style.

    Folds are computed over *all* records in file order (so they equal the official Matbench folds;
    stratified by label for a classification task, :func:`kfold_indices`), then quarantined records
    (a repeated id's later rows too) are dropped from them; the validation rows come from the training
    fold only (seed ``cfg["seed"] + 1000 * fold``; per class for a classification task).
    Returns ``{"fit", "val", "test"}`` (int64 arrays), ``"dropped_test"`` (ids of
    quarantined test records) and ``"dropped_test_pos"`` (their positions in ``table.all_ids``).
    """
    from sciml.errors import ConfigError
    from sciml.materials.dataset import is_classification

    cv = cfg["cv"]
    if not 0 <= fold < cv["n_splits"]:
        raise ConfigError("--fold", f"fold {fold} (the train step's fold argument, an entry of materials.cv.folds "
                                    f"in the workflow) outside 0..{cv['n_splits'] - 1} "
                                    f"(materials.cv.n_splits = {cv['n_splits']})")
    kept = _kept_positions(table)
    classification = is_classification(cfg["dataset"])
    labels = table.all_y.numpy() if classification else None
    if classification:
        check_class_counts(labels, cv["n_splits"])
    tr_all, te_all = kfold_indices(len(table.all_ids), cv["n_splits"], cv["split_seed"], labels)[fold]
    train = np.array([kept[i] for i in tr_all if i in kept], dtype=np.int64)
    test = np.array([kept[i] for i in te_all if i in kept], dtype=np.int64)
    dropped_pos = [int(i) for i in te_all if i not in kept]
    y_train = table.y.numpy()[train] if classification else None
    fit, val = carve_validation(train, cv["val_fraction"], cfg["seed"] + 1000 * fold, y_train)
    return {"fit": fit, "val": val, "test": test, "dropped_test": [table.all_ids[i] for i in dropped_pos],
            "dropped_test_pos": dropped_pos}


def check_class_counts(labels: np.ndarray, n_splits: int) -> None:
    """ConfigError naming ``materials.cv.n_splits`` when no class has ``n_splits`` records (labels (n,), NaN
    for a record without one): StratifiedKFold cannot make that many folds."""
    from sciml.errors import ConfigError

    labels = np.asarray(labels, dtype=np.float64)
    counts = {int(c): int((labels == c).sum()) for c in (0, 1)}
    if all(n < n_splits for n in counts.values()):
        raise ConfigError("materials.cv.n_splits", f"{n_splits} stratified folds need a class with at least "
                                                   f"{n_splits} records; the labels hold {counts[0]} of class 0 and "
                                                   f"{counts[1]} of class 1 (lower n_splits, or bring more records)")


def check_cv(cv: dict[str, Any]) -> None:
    """ConfigError naming ``materials.cv.folds`` when a fold to run lies outside ``0..n_splits-1`` (say
    ``n_splits: 3`` with the default folds 0-4): refused before anything trains, not at that fold's job."""
    from sciml.errors import ConfigError

    n = int(cv["n_splits"])
    bad = [f for f in cv.get("folds", []) if not 0 <= int(f) < n]
    if bad:
        raise ConfigError("materials.cv.folds", f"folds {bad} outside 0..{n - 1} (materials.cv.n_splits = {n}); "
                                                f"set materials.cv.folds to a subset of {list(range(n))}")
