"""benchmarks/proteins/cv_select.py: the CV-only rule that picks the packaged network's capacity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import load_script


def _script():
    return load_script("benchmarks/proteins/cv_select.py")


def _run(tmp_path: Path, name: str, net: float, families=("A", "B")) -> Path:
    d = tmp_path / name / "proteins" / "cross_validate"
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(json.dumps({
        "per_family": {f: {} for f in families},
        "mean": {"network": {"long_L/5": net}, "potts": {"long_L/5": 0.6}},
        "member_means": [{"long_L/5": net - 0.01}, {"long_L/5": net - 0.02}]}))
    return tmp_path / name


def test_the_best_candidate_wins_only_by_the_margin(tmp_path):
    s = _script()
    base = s.cv_summary(_run(tmp_path, "base", 0.750))
    small = s.cv_summary(_run(tmp_path, "small", 0.758))
    big = s.cv_summary(_run(tmp_path, "big", 0.765))
    assert s.select(base, [small], 0.010)["chosen"] == base["results_dir"]  # +0.008 < margin
    rec = s.select(base, [small, big], 0.010)
    assert rec["chosen"] == big["results_dir"] and rec["threshold"] == pytest.approx(0.760)
    assert big["members"] == pytest.approx([0.755, 0.745])


def test_runs_over_other_families_are_not_compared(tmp_path):
    s = _script()
    base = s.cv_summary(_run(tmp_path, "base", 0.75))
    other = s.cv_summary(_run(tmp_path, "other", 0.80, families=("A", "C")))
    with pytest.raises(ValueError, match="other families"):
        s.select(base, [other], 0.01)
