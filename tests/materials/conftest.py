"""Fixtures of the materials tests: small real structures and one tiny trained model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
JDFT2D = "materials/matbench_jdft2d.json.gz"


@pytest.fixture(scope="session", autouse=True)
def _threads():
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def jdft2d_records(shared_data):
    """The first 40 records of the real matbench_jdft2d file."""
    from itertools import islice

    from sciml.materials.readers import read_matbench_json

    return list(islice(read_matbench_json(shared_data / JDFT2D), 40))


def tiny_config(**over) -> dict:
    """A validated materials section for a seconds-long run on the embedded data."""
    from sciml.config import validate
    from sciml.config import schema_for

    cfg = {
        "dataset": {"limit": 120},
        "cv": {"folds": [0]},
        "model": {"name": "cgcnn", "cgcnn": {"atom_fea_len": 16, "n_conv": 2, "h_fea_len": 32}},
        "train": {"max_epochs": 3, "batch_size": 32, "accelerator": "cpu", "devices": 1},
    }
    for k, v in over.items():
        cfg.setdefault(k, {}).update(v) if isinstance(v, dict) else cfg.__setitem__(k, v)
    return validate(cfg, schema_for("materials"), prefix="materials")


@pytest.fixture(scope="session")
def trained_fold(tmp_path_factory):
    """A tiny CGCNN trained on fold 0 of 120 embedded records: (config, fold folder, metrics)."""
    from sciml.materials.steps import train

    base = tmp_path_factory.mktemp("trained")
    cfg = tiny_config()
    metrics = train(cfg, 0, REPO / "data", base / "fold_0", base / "ckpt", base / "cache", threads=1)
    return cfg, base / "fold_0", metrics


def corrupted_copy(src: str | Path, dest: Path) -> Path:
    """A copy of ``src`` at ``dest`` with one byte in the middle flipped (a corrupted weight file)."""
    import shutil

    shutil.copyfile(src, dest)
    with open(dest, "r+b") as fh:
        fh.seek(dest.stat().st_size // 2)
        b = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([b[0] ^ 0xFF]))
    return dest
