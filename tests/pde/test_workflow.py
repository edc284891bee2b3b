"""Tiny end-to-end run of the pde pipeline through Snakemake."""

import json

import numpy as np
import pytest
import xarray as xr


@pytest.mark.slow
def test_pde_workflow_end_to_end(workflow_runner, tmp_path):
    cfg = {"domains": ["pde"], "pde": {"problems": ["heat"], "pinn": {
        "num_domain": 100, "adam_iterations": 100, "lbfgs_iterations": 50, "checkpoint_every": 50},
        "evaluation": {"timing_repeats": 1}}}
    workflow_runner(cfg)
    res = tmp_path / "results"
    sec_dir = res / "pde" / "section"
    section = json.loads((sec_dir / "section.json").read_text())
    assert section["domain"] == "pde"
    acc, checks, speed = section["tables"]
    assert acc["rows"][0][0] == "heat" and float(acc["rows"][0][2]) < 1e-2
    # reference-free checks: the trained network's residual on fresh points, as metrics.json has it
    assert checks["rows"][0][0] == "heat" and float(checks["rows"][0][1]) < 0.5
    assert speed["rows"][0][0] == "heat" and len(speed["rows"][0]) == len(speed["columns"])
    for rel in [fig["path"] for fig in section["figures"]] + section["provenance"]:
        assert (sec_dir / rel).is_file(), rel  # relative to the section folder
    assert (sec_dir / "provenance.json").is_file()
    model = json.loads((res / "pde" / "heat" / "train" / "model.json").read_text())
    assert model["problem"] == "heat" and model["format_version"] >= 1
    metrics = json.loads((res / "pde" / "heat" / "evaluate" / "metrics.json").read_text())
    assert metrics["rel_l2"] < 1e-2
    assert checks["rows"][0][1] == format(metrics["validation"]["residual_rms"], ".3g")
    ds = xr.open_dataset(res / "pde" / "heat" / "evaluate" / "fields.nc")
    assert set(ds.data_vars) == {"prediction", "reference", "abs_error", "solver", "abs_error_vs_solver"}
    assert ds["prediction"].dims == ("x", "t")
    # the error against the finest classical solve is the one the metrics report
    err = ds["prediction"].values - ds["solver"].values
    assert np.isclose(np.linalg.norm(err) / np.linalg.norm(ds["solver"].values),
                      metrics["rel_l2_vs_finest_solver"], rtol=1e-4)
    assert "units" in ds["prediction"].attrs and "units" in ds["t"].attrs
    assert (res / "report.html").is_file()
    assert (res / ".checkpoints" / "pde").is_dir()  # checkpoints outside declared outputs


def test_pde_rules_dry_run(workflow_runner):
    proc = workflow_runner({"domains": ["pde"], "pde": {"problems": ["heat", "burgers"]}}, extra_args=("-n",))
    assert "pde_train" in proc.stdout and "pde_section" in proc.stdout
