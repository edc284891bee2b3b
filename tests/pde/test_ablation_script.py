"""benchmarks/pde/ablation.py: its base is the documented chain of configs, merged in order."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REPO_ROOT as ROOT
from tests.conftest import load_script


def _ablation():
    return load_script("benchmarks/pde/ablation.py")


def test_overlay_changes_only_its_keys_and_later_files_win(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text("data_root: d\npde:\n  problems: [burgers]\n  pinn: {width: 32, depth: 4, rar: {rounds: 1, k: 2.0}}\n")
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("pde:\n  pinn: {width: 64, rar: {rounds: 3}}\n")
    merged = _ablation().load_base([str(base), str(overlay)])
    assert merged["pde"]["pinn"] == {"width": 64, "depth": 4, "rar": {"rounds": 3, "k": 2.0}}
    assert merged["data_root"] == "d" and merged["pde"]["problems"] == ["burgers"]
    assert _ablation().load_base([str(overlay), str(base)])["pde"]["pinn"]["width"] == 32


def test_shipped_candidate_overlays_make_a_full_pinn_section() -> None:
    bench = ROOT / "config" / "benchmarks"
    merged = _ablation().load_base([str(bench / "pde_allen_cahn_selected_budget.yaml"),
                                    str(bench / "pde_allen_cahn_budget_rar_lbfgs.yaml")])
    pinn = merged["pde"]["pinn"]
    assert pinn["rar"]["optimizer"] == "lbfgs" and pinn["rar"]["points_per_round"] == 500
    assert pinn["network"] == "modified_mlp" and merged["data_root"]
