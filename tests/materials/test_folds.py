"""Our folds equal the official Matbench v0.1 folds (matbench_v0.1_folds.json.gz)."""

from __future__ import annotations

import gzip
import json
import math

import numpy as np
import pytest

from sciml.materials.folds import carve_validation, fold_ids, official_folds
from sciml.materials.readers import read_matbench_json

FOLDS = "materials/matbench_v0.1_folds.json.gz"


def test_jdft2d_folds_equal_official(shared_data):
    ids = [r.id for r in read_matbench_json(shared_data / "materials/matbench_jdft2d.json.gz")]
    ours = fold_ids(ids)
    official = official_folds(shared_data / FOLDS, "matbench_jdft2d")
    assert len(ours) == 5
    for k in range(5):
        assert ours[k]["test"] == official[k]["test"], f"fold {k} test differs"
        assert ours[k]["train"] == official[k]["train"], f"fold {k} train differs"
    assert [len(f["test"]) for f in ours] == [128, 127, 127, 127, 127]


@pytest.mark.parametrize("task", ["matbench_dielectric", "matbench_log_kvrh", "matbench_phonons", "matbench_perovskites"])
def test_other_regression_task_folds_equal_official(shared_data, task):
    official = official_folds(shared_data / FOLDS, task)
    n = len(official[0]["train"]) + len(official[0]["test"])
    prefix = task.replace("matbench", "mb").replace("_", "-")
    width = int(math.floor(math.log10(n))) + 1
    ids = [f"{prefix}-{i + 1:0{width}d}" for i in range(n)]
    assert fold_ids(ids) == official


def test_validation_is_carved_from_train_only():
    train = np.arange(0, 500, 2)
    fit, val = carve_validation(train, 0.1, seed=3)
    assert len(val) == 25 and set(fit) | set(val) == set(train) and not set(fit) & set(val)
    fit2, val2 = carve_validation(train, 0.1, seed=3)
    assert (val == val2).all()
