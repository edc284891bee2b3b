"""Published Matbench leaderboard numbers (``matbench_leaderboard.csv`` here, see its header)."""


from __future__ import annotations

import csv
import io
from importlib import resources


def leaderboard(task: str) -> dict[str, object] | None:
    """``{"unit", "n", "best_model", "best_mae", "best_std", "models": {name: mae}}`` of ``task``, or None."""
    text = resources.files("sciml.materials.anchors").joinpath("matbench_leaderboard.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO("".join(line for line in text.splitlines(True) if not line.startswith("#"))))
    fixed = ("task", "unit", "n", "best_model", "best_mae", "best_std")
    for row in rows:
        if row["task"] == task:
            return {
                "unit": row["unit"], "n": int(row["n"]), "best_model": row["best_model"],
                "best_mae": float(row["best_mae"]), "best_std": float(row["best_std"]),
                "models": {k: float(v) for k, v in row.items() if k not in fixed},
            }
    return None


def task_mismatch(task: str, board: dict[str, object], n_records: int, dataset_cfg: dict[str, object]) -> list[str]:
    """Why a dataset may not be the Matbench task ``task`` whose leaderboard ``board`` is shown beside it:
    its record count, transform (a ``log10 ...`` task is scored on log10 targets) or unit differ from the
    task's. Empty when they agree (an unset unit is not compared)."""
    unit = str(board["unit"])
    log_task = unit.startswith("log10")
    raw_unit = unit.removeprefix("log10").strip()
    transform, given = dataset_cfg.get("transform") or "none", dataset_cfg.get("unit")
    problems = []
    if n_records != board["n"]:
        problems.append(f"{n_records} records, the task has {board['n']}")
    if log_task != (transform == "log10"):
        problems.append(f"transform {transform}, the task is scored on "
                        + ("log10 values (transform: log10)" if log_task else "raw values (transform: none)"))
    if given is not None and _unit_key(str(given)) != _unit_key(raw_unit):
        problems.append(f"unit {given}, the task's is {raw_unit}")
    if not problems:
        return []
    return [f"matbench_task {task}: this dataset does not look like that task ({'; '.join(problems)}): "
            "its published MAEs are not comparable with this run's"]


#: Spellings of "no unit" (the leaderboard says unitless).
_NO_UNIT = {"", "1", "-", "dimensionless", "unitless", "none"}


def _unit_key(unit: str) -> str:
    """``unit`` for comparison: lower case, no spaces, every spelling of "no unit" alike."""
    key = unit.strip().lower().replace(" ", "")
    return "" if key in _NO_UNIT else key


#: Matbench v0.1's classification tasks (``task_type`` in its dataset metadata, matbench 0.6): scored by
#: ROC-AUC over StratifiedKFold folds. Only ``matbench_mp_is_metal`` has structures as input.
MATBENCH_CLASSIFICATION = frozenset({"matbench_mp_is_metal", "matbench_expt_is_metal", "matbench_glass"})


#: Records of Matbench v0.1's classification tasks (``n_samples`` in its dataset metadata, matbench 0.6).
MATBENCH_CLASSIFICATION_N = {"matbench_mp_is_metal": 106113, "matbench_expt_is_metal": 4921, "matbench_glass": 5680}


def protocol_mismatch(task: str | None, cv: dict[str, object], n_records: int | None = None) -> list[str]:
    """Warnings when a run named after the Matbench task ``task`` does not use its protocol: folds other than
    5 with random_state 18012019, or (for a classification task, whose leaderboard is not shipped here) a record
    count other than the task's. Empty without a task."""
    if not task:
        return []
    problems = []
    if (cv.get("n_splits"), cv.get("split_seed")) != (5, 18012019):
        problems.append(f"cv.n_splits {cv.get('n_splits')} / split_seed {cv.get('split_seed')}, Matbench uses 5 / "
                        "18012019")
    n_task = MATBENCH_CLASSIFICATION_N.get(task)
    if n_task is not None and n_records is not None and n_records != n_task:
        problems.append(f"{n_records} records, the task has {n_task}")
    if not problems:
        return []
    return [f"matbench_task {task}: this run is not that task's protocol ({'; '.join(problems)}): its scores are "
            "not comparable with the task's published ones"]


def task_type_mismatch(task: str | None, classification: bool) -> list[str]:
    """A warning when ``materials.dataset.task`` disagrees with the Matbench task ``task``'s type (a
    classification task run as a regression is split by KFold, not Matbench's StratifiedKFold, and scored by
    MAE, not ROC-AUC); empty when they agree or no task is named."""
    if not task:
        return []
    if (task in MATBENCH_CLASSIFICATION) == classification:
        return []
    kind = "a classification" if task in MATBENCH_CLASSIFICATION else "a regression"
    return [f"matbench_task {task} is {kind} task, but materials.dataset.task is "
            f"{'classification' if classification else 'regression'}: the folds and scores are not Matbench's "
            f"(set materials.dataset.task: {'classification' if task in MATBENCH_CLASSIFICATION else 'regression'})"]
