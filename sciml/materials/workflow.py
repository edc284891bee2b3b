"""Helpers of the Snakemake rules of the materials domain (``workflows/rules/materials.smk`` and
``screening.smk``). Kept in the package (standard library only) so that the rule files hold rules alone.
"""

from __future__ import annotations

import os
from typing import Any


def dataset_files(path: str) -> list[str]:
    """The files a dataset path stands for, as rule inputs: the path itself and, for a folder, every
    file in it. Snakemake compares a folder's own mtime only, which editing a file inside does not
    change: a folder's ``id_prop.csv`` or CIFs edited in place must rerun prepare and the folds."""
    if not os.path.isdir(path):
        return [path]
    return [path] + sorted(e.path for e in os.scandir(path) if e.is_file())


def dataset_path(config: dict[str, Any], data_root: str) -> str:
    """The dataset file or folder the workflow reads: ``materials.dataset.path`` under ``data_root``. An absolute
    path is refused naming the key (the steps read datasets under the data root; joined, it read as
    ``data//home/...`` in Snakemake's missing-input error)."""
    path = config["materials"]["dataset"]["path"]
    if os.path.isabs(os.path.expanduser(path)):
        raise ValueError(f"materials.dataset.path: {path!r} is absolute; give it relative to the data root and set "
                         f"data_root to the folder that holds it (data_root: {os.path.dirname(path)!r}, path: "
                         f"{os.path.basename(path)!r})")
    return os.path.join(data_root, path)


#: Keys of the ``materials`` section that only the screening rules read: editing them reruns no fold.
SCREENING_KEYS = ("predict", "screening")


def without_screening(section: dict[str, Any]) -> dict[str, Any]:
    """The ``materials`` section less :data:`SCREENING_KEYS`: the config that prepare, the folds and the section
    record in provenance (their rules do not pass those keys, so the section they read holds the schema's
    defaults there, not the user's values)."""
    return {k: v for k, v in section.items() if k not in SCREENING_KEYS}


def training_section(section: dict[str, Any], fold: int | None = None) -> dict[str, Any]:
    """The ``materials`` section as the prepare rule (``fold`` None) or fold ``fold``'s training rule gets
    it: without :data:`SCREENING_KEYS`, and ``cv.folds`` cut to the folds the job serves (prepare: every
    fold of the split; a fold's job: its own). Running more folds later (say fold 0 as a trial, then all
    five) then reruns neither prepare nor the folds already trained; the workflow refuses a fold outside
    the split when it reads the config (:func:`sciml.materials.folds.check_cv`)."""
    out = without_screening(section)
    folds = list(range(int(section["cv"]["n_splits"]))) if fold is None else [int(fold)]
    out["cv"] = {**section["cv"], "folds": folds}
    return out


#: The ``train`` keys the prepare step reads (its checks of the task against the targets).
PREPARE_TRAIN_KEYS = ("log_target", "class_weight", "clip_predictions")


def prepare_section(section: dict[str, Any]) -> dict[str, Any]:
    """The ``materials`` section as the prepare rule gets it and its provenance records it: what
    :func:`training_section` gives prepare, with ``train`` cut to :data:`PREPARE_TRAIN_KEYS` and ``model`` to
    the backbone whose graphs it caches (its name; SevenNet's checkpoint). Editing the learning rate or the
    epochs then no longer reruns prepare (and, through its summary, every fold's input)."""
    out = training_section(section)
    out["train"] = {k: section["train"][k] for k in PREPARE_TRAIN_KEYS if k in section.get("train", {})}
    model = section.get("model", {})
    out["model"] = {"name": model.get("name", "cgcnn")}
    if out["model"]["name"] == "sevennet" and "sevennet" in model:
        out["model"]["sevennet"] = {"checkpoint": model["sevennet"].get("checkpoint")}
    return out

