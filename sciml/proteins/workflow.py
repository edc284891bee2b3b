"""Helpers of the Snakemake rules of the proteins domain (``workflows/rules/proteins.smk``).

Kept in the package (standard library only) so that the rule file holds rules alone.
"""

from __future__ import annotations

import math
import os
from typing import Any

#: The keys of a config entry naming files its step reads.
FAMILY_FILES = ("alignment", "structure")
TARGET_FILES = ("alignment", "structure", "scores")


def entry_files(config: dict[str, Any], group: str, name: str, data_root: str) -> list[str]:
    """The input files of entry ``name`` of ``config["proteins"][group]`` (``families`` or
    ``targets``), resolved as the CLI resolves them: an absolute path as it is, else under
    ``data_root``. Only files that exist are listed: the step skips a family/target whose file is
    missing and says why, whereas a declared missing input would stop the whole workflow."""
    keys = FAMILY_FILES if group == "families" else TARGET_FILES
    entry = next((e for e in config["proteins"][group] if e["name"] == name), {})
    files = []
    for key in keys:
        path = entry.get(key)
        if path:
            path = path if os.path.isabs(path) else os.path.join(data_root, path)
            if os.path.isfile(path):
                files.append(path)
    return files


#: The keys of the ``proteins`` section a family's coevolution step reads (besides its own entry).
COEVOLUTION_KEYS = ("seed", "threads", "min_identity", "potts", "meanfield")


def coevolution_section(section: dict[str, Any], family: str) -> dict[str, Any]:
    """The part of the ``proteins`` section family ``family``'s coevolution step depends on: its own
    entry of ``families`` and :data:`COEVOLUTION_KEYS`. The rule passes only this, and the step records
    only this in provenance.json, so editing the network, the targets or another family does not rerun
    the Potts fits (the CLI fills the keys left out with their defaults, which the step never reads)."""
    entries = [e for e in section.get("families") or [] if e.get("name") == family]
    return {**{k: section[k] for k in COEVOLUTION_KEYS if k in section}, "families": entries}


#: Keys the contact network's cross-validation and training never read (a target's or the sequence model's):
#: their rules leave them out, so editing them reruns neither, and provenance does not record them.
NETWORK_OMITS = ("targets", "max_length", "max_memory_gb", "sequence_model")


def network_section(section: dict[str, Any]) -> dict[str, Any]:
    """The ``proteins`` section less :data:`NETWORK_OMITS`: what cross-validate and train-model record."""
    return {k: v for k, v in section.items() if k not in NETWORK_OMITS}


#: The keys of the ``proteins`` section the sequence-only model's training step reads.
SEQUENCE_MODEL_KEYS = ("seed", "threads", "sequence_model")


def sequence_model_section(section: dict[str, Any]) -> dict[str, Any]:
    """The part of the ``proteins`` section the sequence-only model's training depends on
    (:data:`SEQUENCE_MODEL_KEYS`; it reads no family, target or network key): what its rule passes and
    its provenance.json records, so that editing the contact network or the families does not retrain it."""
    return {k: section[k] for k in SEQUENCE_MODEL_KEYS if k in section}


def target_section(section: dict[str, Any], target: str) -> dict[str, Any]:
    """The ``proteins`` section with ``targets`` cut to target ``target``'s entry: what its predict job
    gets, so that adding or editing another target does not rerun this one."""
    return {**section, "targets": [t for t in section.get("targets", []) if t["name"] == target]}


#: Memory of a family's coevolution job on its first attempt (MB): a Potts fit of up to about 340 residues
#: (:func:`sciml.proteins.predict.memory_estimate_gb`, history 5). Each retry doubles it: a fit has no
#: checkpoint, so a retry with the memory that killed it would be killed again.
COEVOLUTION_MEM_MB = 4000


def coevolution_mem_mb(attempt: int) -> int:
    """``mem_mb`` of a coevolution job on its ``attempt`` (1-based): :data:`COEVOLUTION_MEM_MB`, doubled per retry."""
    return COEVOLUTION_MEM_MB * 2 ** (max(1, int(attempt)) - 1)


def predict_mem_mb(section: dict[str, Any], attempt: int = 1) -> int:
    """``mem_mb`` of a predict job: the memory predict may plan to use (``max_memory_gb``; a larger plan fails
    at once) plus 1 GiB of headroom, doubled per retry. It was a fixed 8000 MB, below what the default
    ``max_memory_gb: 8`` admits, and raising ``max_memory_gb`` never raised the job's ``--mem``."""
    gb = float(section.get("max_memory_gb") or 8.0)
    return (math.ceil(gb * 1024) + 1024) * 2 ** (max(1, int(attempt)) - 1)
