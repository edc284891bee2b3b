"""What a training rule asks a cluster for, read from the config (standard library only).

The Snakemake rules call :func:`gpus_per_job` for their ``gpu`` resource, so a SLURM job requests a
GPU only when its config would use one: ``accelerator: cpu`` asks for none (a CPU-only cluster
refuses ``--gpus`` jobs, and a GPU held idle is wasted allocation). Locally the resource limits
nothing unless ``--resources gpu=N`` is given.
"""

from __future__ import annotations

from typing import Any, Mapping


def gpus_per_job(trainer: Mapping[str, Any] | None) -> int:
    """GPUs one training job requests: 0 for ``accelerator: cpu``; 0 for a multi-process run
    (``devices`` other than 1, or ``num_nodes`` above 1), whose GPUs per node the profile's
    ``srun`` recipe requests (``slurm_extra: --gpus-per-node``); else 1 (``auto``/``gpu``/``cuda``:
    Lightning and DeepXDE take the GPU when the job has one). ``trainer``: the domain's Trainer
    settings (``materials.train``, ``proteins.network``...), ``None`` or ``{}`` for a step with
    no such keys (the PINN, which uses a GPU whenever torch sees one)."""
    trainer = trainer or {}
    if str(trainer.get("accelerator", "auto")).strip().lower() == "cpu":
        return 0
    if str(trainer.get("devices", 1)) != "1" or int(trainer.get("num_nodes", 1) or 1) > 1:
        return 0
    return 1
