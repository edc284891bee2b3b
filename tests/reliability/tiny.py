"""Tiny per-domain configs for the reliability tests (seconds of training on 2 CPU cores),
and which domains have landed (rules + CLI present)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ALL_DOMAINS = ("materials", "pde", "proteins")

#: Smallest settings that still train for a few epochs and write every output.
TINY: dict[str, dict] = {
    "materials": {
        "dataset": {"limit": 48},
        "cv": {"n_splits": 2, "folds": [0]},
        "model": {"cgcnn": {"atom_fea_len": 8, "n_conv": 1, "h_fea_len": 8, "num_basis": 8}},
        "train": {"max_epochs": 3, "batch_size": 8, "accelerator": "cpu", "devices": 1},
    },
    "pde": {
        "problems": ["heat"],
        "params": {"heat": {"nx": 21, "nt": 21}},
        "pinn": {"width": 8, "depth": 2, "num_domain": 60, "num_boundary": 10, "num_initial": 10,
                 "adam_iterations": 300, "lbfgs_iterations": 0, "checkpoint_every": 50, "accelerator": "cpu"},
        "evaluation": {"timing_repeats": 1},
    },
    "proteins": {
        "threads": 1,
        "potts": {"epochs": 1, "max_sequences": 200},
        "meanfield": {"max_sequences": 200},
        "network": {"channels": 8, "blocks": 1, "max_epochs": 3, "folds": 2, "accelerator": "cpu"},
    },
}

#: Per domain: the checkpoint file a killed training leaves, the log line that proves a rerun
#: resumed from it, the final metrics files and the learning-curve files (globs under
#: results/<domain>/).
SPEC: dict[str, dict] = {
    "materials": {"checkpoint": "last.ckpt", "resumed": ("Restored all states from the checkpoint",),
                  "metrics": ("**/metrics.json",), "curves": ("**/logs/**/metrics.csv",)},
    "pde": {"checkpoint": "last.pt", "resumed": ("resuming from",),
            "metrics": ("**/evaluate/metrics.json",), "curves": ("**/train/loss_history.csv",)},
    "proteins": {"checkpoint": "last.ckpt", "resumed": ("Restored all states from the checkpoint",),
                 "metrics": ("**/metrics.json",), "curves": ("**/logs/**/metrics.csv",)},
}


def rule_names(domain: str) -> list[str]:
    """Rules defined in workflows/rules/<domain>.smk."""
    path = REPO_ROOT / "workflows" / "rules" / f"{domain}.smk"
    if not path.exists():
        return []
    return re.findall(r"^rule\s+(\w+)\s*:", path.read_text(), flags=re.M)


#: Training rules whose names do not start with ``<domain>_train``.
TRAINING_RULES: dict[str, tuple[str, ...]] = {"proteins": ("proteins_cross_validate",)}


def training_rules(domain: str) -> list[str]:
    return [r for r in rule_names(domain)
            if r.startswith(f"{domain}_train") or r in TRAINING_RULES.get(domain, ())]


def landed(domain: str) -> bool:
    """True when the domain has rules and its CLI module."""
    return bool(rule_names(domain)) and importlib.util.find_spec(f"sciml.{domain}.cli") is not None


def landed_domains() -> list[str]:
    return [d for d in ALL_DOMAINS if landed(d)]
