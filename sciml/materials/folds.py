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


def carve_validation(train: list[int] | np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split training-fold indices into (fit, validation); validation = ``ceil(fraction * n)`` random rows."""
    train = np.asarray(train)
    n_val = max(1, int(math.ceil(fraction * len(train))))
    if n_val >= len(train):
        raise ValueError(f"validation fraction {fraction} leaves no training rows out of {len(train)}")
    perm = np.random.default_rng(seed).permutation(len(train))
    val = np.sort(train[perm[:n_val]])
    fit = np.sort(train[perm[n_val:]])
    return fit, val


def split_fold(table: Any, cfg: dict[str, Any], fold: int) -> dict[str, Any]:
    """Indices (into the kept records of ``table``) of fit / validation / test for ``fold``, Matbench-style.

    Folds are computed over *all* records in file order (so they equal the official
    Matbench folds; stratified by label for a classification task), then quarantined records are dropped from them; the validation
    rows come from the training fold only (seed ``cfg["seed"] + 1000 * fold``).
    Returns ``{"fit", "val", "test"}`` (int64 arrays), ``"dropped_test"`` (ids of
    quarantined test records) and ``"dropped_test_pos"`` (their positions in ``table.all_ids``).
    """
    from sciml.errors import ConfigError

    cv = cfg["cv"]
    if not 0 <= fold < cv["n_splits"]:
        raise ConfigError("--fold", f"fold {fold} (the train step's fold argument, an entry of materials.cv.folds "
                                    f"in the workflow) outside 0..{cv['n_splits'] - 1} "
                                    f"(materials.cv.n_splits = {cv['n_splits']})")
    pos = {rid: k for k, rid in enumerate(table.ids)}
    from sciml.materials.dataset import is_classification

    labels = table.all_y.numpy() if is_classification(cfg["dataset"]) else None
    tr_all, te_all = kfold_indices(len(table.all_ids), cv["n_splits"], cv["split_seed"], labels)[fold]
    train = np.array([pos[table.all_ids[i]] for i in tr_all if table.all_ids[i] in pos], dtype=np.int64)
    test = np.array([pos[table.all_ids[i]] for i in te_all if table.all_ids[i] in pos], dtype=np.int64)
    dropped_pos = [int(i) for i in te_all if table.all_ids[i] not in pos]
    fit, val = carve_validation(train, cv["val_fraction"], cfg["seed"] + 1000 * fold)
    return {"fit": fit, "val": val, "test": test, "dropped_test": [table.all_ids[i] for i in dropped_pos],
            "dropped_test_pos": dropped_pos}
