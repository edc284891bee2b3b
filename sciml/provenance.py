"""Provenance of a pipeline step: what ran, on what, with which versions, how long.

``record_step`` wraps a step; on success it writes ``provenance.json`` beside the
step's outputs (atomically) with the resolved config, seed, package versions, git
revision, sha256 of every input file and the wall time.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from sciml.io import sha256_file, sha256_tree, write_json_atomic

#: Distributions whose versions every provenance record lists (when installed).
TRACKED_PACKAGES = (
    "sciml", "torch", "torch-geometric", "lightning", "torchmetrics", "numpy", "scipy",
    "pandas", "scikit-learn", "xarray", "pymatgen", "deepxde", "biopython",
    "scikit-fem", "snakemake", "matplotlib", "chgnet", "sevenn", "torch-dftd",
)


def package_versions(names: Iterable[str] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed version of each named distribution (absent ones are left out)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_revision(start: str | Path | None = None) -> dict[str, Any] | None:
    """``{"commit": sha, "dirty": bool}`` of the git checkout holding ``start``, or None. Dirty: a tracked file
    changed, or a file git does not ignore added (a new module or plugin in the checkout runs too)."""
    cwd = Path(start) if start else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=normal"],
            cwd=cwd, capture_output=True, text=True, timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def input_checksums(paths: Iterable[str | Path]) -> dict[str, str]:
    """sha256 of each input: of the bytes for a file, of the tree for a folder."""
    sums = {}
    for p in paths:
        p = Path(p)
        if p.is_dir():
            sums[str(p)] = "tree:" + sha256_tree(p)
        elif p.is_file():
            sums[str(p)] = sha256_file(p)
    return sums


def cpu_model() -> str | None:
    """The host's CPU model: the first ``model name`` of ``/proc/cpuinfo`` (Linux), else
    ``platform.processor()``; None when neither says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, sep, value = line.partition(":")
                if sep and key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def device_info() -> dict[str, Any]:
    """Accelerator facts, read only if torch is already imported (never imports it)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return {}
    info: dict[str, Any] = {"torch_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        info["cuda"] = torch.version.cuda
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


@dataclass
class StepRecord:
    """Mutable record handed to the step body; add outputs, metrics or notes to it."""

    step: str
    config: dict[str, Any]
    seed: int | None
    inputs: list[str]
    outputs: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def provenance_dict(record: StepRecord, started: float, finished: float) -> dict[str, Any]:
    """The JSON-ready provenance of a finished step."""
    return {
        "step": record.step,
        "config": record.config,
        "seed": record.seed,
        "inputs_sha256": input_checksums(record.inputs),
        "outputs": record.outputs,
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "host": socket.gethostname(),
        "git": git_revision(),
        "device": device_info(),
        "started_unix": round(started, 3),
        "wall_time_s": round(finished - started, 3),
        "argv": sys.argv,
        "cwd": os.getcwd(),  # the folder relative input paths (a data root of 'data') are relative to
        "sciml_path": str(Path(__file__).resolve().parent),  # the package code that ran (a checkout or site-packages)
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        **({"extra": record.extra} if record.extra else {}),
    }


@contextmanager
def record_step(
    step: str,
    out_dir: str | Path,
    *,
    config: dict[str, Any],
    seed: int | None = None,
    inputs: Iterable[str | Path] = (),
    filename: str = "provenance.json",
) -> Iterator[StepRecord]:
    """Run a step body and, if it succeeds, write ``out_dir/filename``.

    Example::

        with record_step("pde.train", out, config=cfg, seed=cfg["seed"], inputs=[ref]) as rec:
            ...
            rec.outputs.append(str(out / "metrics.json"))
    """
    record = StepRecord(step=step, config=config, seed=seed, inputs=[str(p) for p in inputs])
    started = time.time()
    yield record
    finished = time.time()
    write_json_atomic(Path(out_dir) / filename, provenance_dict(record, started, finished))
