"""The GPU a training job asks a cluster for follows the config's accelerator."""

from __future__ import annotations

import re

import pytest

from sciml.cluster_resources import gpus_per_job


@pytest.mark.parametrize("trainer, gpus", [
    ({"accelerator": "cpu"}, 0),
    ({"accelerator": "CPU "}, 0),
    ({"accelerator": "auto"}, 1),
    ({"accelerator": "gpu", "devices": 1, "num_nodes": 1}, 1),
    ({"accelerator": "cuda"}, 1),
    ({}, 1),
    (None, 1),  # a step with no Trainer keys
    ({"accelerator": "gpu", "devices": 4}, 0),  # the srun recipe requests GPUs per node
    ({"accelerator": "gpu", "devices": "auto", "strategy": "ddp"}, 0),
    ({"accelerator": "gpu", "num_nodes": 2}, 0),
    # one device, written as Lightning also reads it: requested no GPU, and trained on one CPU core
    ({"accelerator": "auto", "devices": "auto"}, 1),
    ({"accelerator": "gpu", "devices": "0,"}, 1),
    ({"accelerator": "gpu", "devices": [1]}, 1),
    ({"accelerator": "gpu", "devices": "0,1"}, 0),
    ({"accelerator": "gpu", "devices": -1}, 0),
])
def test_gpus_per_job(trainer, gpus) -> None:
    assert gpus_per_job(trainer) == gpus


def _training_job_gpus(output: str) -> dict[str, set[int]]:
    """rule -> the `gpu` resource values of its jobs, from a dry run's job listing."""
    found: dict[str, set[int]] = {}
    for rule, gpu in re.findall(r"^rule (\w+):\n(?:    .*\n)*?    resources: .*?\bgpu=(\d+)", output, flags=re.M):
        found.setdefault(rule, set()).add(int(gpu))
    return found


@pytest.mark.e2e
def test_training_rules_request_a_gpu_only_when_the_config_would_use_one(workflow_runner) -> None:
    """A dry run of the whole pipeline: with accelerator cpu the materials, proteins and PINN training
    jobs carry gpu=0 (the SLURM plugin then adds no --gpus), with auto gpu=1; the profile no longer
    sets the GPU count itself (its set-resources would override the rules)."""
    target = [{"name": "t1", "alignment": "proteins/alignments/1lpbA.aln"}]  # makes train_model a job
    cpu = {"materials": {"train": {"accelerator": "cpu"}}, "pde": {"pinn": {"accelerator": "cpu"}},
           "proteins": {"targets": target, "network": {"accelerator": "cpu"},
                        "sequence_model": {"enabled": True, "accelerator": "cpu"}}}
    proc = workflow_runner(cpu, extra_args=("-n",))
    jobs = _training_job_gpus(proc.stdout + proc.stderr)
    for rule in ("materials_train_fold", "proteins_cross_validate", "proteins_train_model",
                 "proteins_train_sequence_model", "pde_train"):
        assert jobs.get(rule) == {0}, (rule, jobs)
    proc = workflow_runner({"proteins": {"targets": target, "sequence_model": {"enabled": True}}},
                           extra_args=("-n",))
    jobs = _training_job_gpus(proc.stdout + proc.stderr)
    for rule in ("materials_train_fold", "proteins_cross_validate", "proteins_train_model",
                 "proteins_train_sequence_model", "pde_train"):
        assert jobs.get(rule) == {1}, (rule, jobs)
