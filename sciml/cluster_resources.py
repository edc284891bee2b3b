"""What a training rule asks a cluster for, read from the config (standard library only).

The Snakemake rules call :func:`gpus_per_job` for their ``gpu`` resource, so a SLURM job requests a
GPU only when its config would use one: ``accelerator: cpu`` asks for none (a CPU-only cluster
refuses ``--gpus`` jobs, and a GPU held idle is wasted allocation). Locally the resource limits
nothing unless ``--resources gpu=N`` is given.
"""

from __future__ import annotations

from typing import Any, Mapping


def devices_per_node(devices: Any, strategy: Any = "auto") -> int | None:
    """How many devices (processes) per node Lightning's Trainer uses for ``devices``, as
    :meth:`sciml.training.TrainerSettings.lightning_devices` passes it: ``"auto"`` with strategy
    ``auto`` is 1; a count is that count; a list, or a text list such as ``"0,"`` or ``"0,1"``, counts
    its entries; ``"auto"`` with a strategy set (every device the node has) is None: unknown here."""
    if isinstance(devices, (list, tuple)):
        return len(devices)
    text = str(devices).strip().lower()
    if text == "auto":
        return 1 if str(strategy or "auto").strip().lower() == "auto" else None
    if "," in text:
        return len([d for d in text.split(",") if d.strip()])
    try:
        count = int(text)
    except ValueError:
        return None
    return None if count == -1 else count  # -1: every device


def gpus_per_job(trainer: Mapping[str, Any] | None) -> int:
    """GPUs one training job requests: 0 for ``accelerator: cpu``; 0 for a multi-process run
    (more than one device per node, :func:`devices_per_node`, or ``num_nodes`` above 1), whose GPUs
    per node the profile's ``srun`` recipe requests (``slurm_extra: --gpus-per-node``); else 1
    (``auto``/``gpu``/``cuda``, with ``devices`` 1, ``"auto"`` or ``"0,"``: Lightning and DeepXDE take the
    GPU when the job has one). ``trainer``: the domain's Trainer settings (``materials.train``,
    ``proteins.network``...), ``None`` or ``{}`` for a step with no such keys (the PINN, which uses a
    GPU whenever torch sees one)."""
    trainer = trainer or {}
    if str(trainer.get("accelerator", "auto")).strip().lower() == "cpu":
        return 0
    per_node = devices_per_node(trainer.get("devices", 1), trainer.get("strategy", "auto"))
    if per_node != 1 or int(trainer.get("num_nodes", 1) or 1) > 1:
        return 0
    return 1
