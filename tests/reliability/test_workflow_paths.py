"""The workflow with paths a user's file system has: spaces in results_dir and data_root (every path
in a rule's command is shell-quoted). A folder dataset edited in place: tests/materials/test_workflow.py."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.slow
def test_results_dir_and_data_root_with_spaces(workflow_runner, tmp_path):
    root = tmp_path / "my data root"
    shutil.copytree(REPO_ROOT / "data", root)
    out = tmp_path / "my results"
    cfg = {"results_dir": str(out), "data_root": str(root), "domains": ["pde"],
           "pde": {"problems": ["heat"], "pinn": {"num_domain": 64, "adam_iterations": 50, "lbfgs_iterations": 10,
                                                    "checkpoint_every": 50},
                   "evaluation": {"timing_repeats": 1}}}
    workflow_runner(cfg)
    metrics = json.loads((out / "pde" / "heat" / "evaluate" / "metrics.json").read_text())
    assert metrics["rel_l2"] is not None and (out / "report.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "my data root", "my results"]  # no stray file
