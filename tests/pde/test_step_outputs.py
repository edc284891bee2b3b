"""What the pde steps write about themselves: measured machine facts (no claims about the host),
CF-conforming netCDF fields (units "1", long_name, Conventions, no stringified None / bool), and
the closing log line of evaluate."""

import os

import numpy as np
import pytest
import xarray as xr

from sciml.pde.fields import global_attrs, to_dataset, to_dataset_fields, write_netcdf
from sciml.pde.references import Reference
from sciml.pde.steps.evaluate import solver_comparison_line
from sciml.pde.timing import machine
from sciml.provenance import cpu_model


def test_machine_reports_measured_facts():
    torch = pytest.importorskip("torch")
    m = machine("cpu")
    assert m["logical_cpus"] == os.cpu_count() and m["device"] == "cpu"
    assert m["torch_threads"] == torch.get_num_threads()
    assert m["cpu"] == cpu_model() and "cpu" in m and "platform" in m
    if os.path.isfile("/proc/cpuinfo") and "model name" in open("/proc/cpuinfo").read():
        assert m["cpu"]  # read from /proc/cpuinfo, not left empty


def _ref(nodes: bool = False) -> Reference:
    x, t = np.linspace(0, 1, 5), np.linspace(0, 1, 3)
    vals = np.outer(x, t)
    if nodes:
        pts = np.array([[a, b] for a in x for b in t])
        return Reference(("node",), {"node": np.arange(len(pts))}, vals.ravel(), "ref.csv", inputs=("x", "t"), nodes=pts)
    return Reference(("x", "t"), {"x": x, "t": t}, vals, "ref.npz", inputs=("x", "t"))


@pytest.mark.parametrize("nodes", [False, True])
def test_fields_netcdf_follows_cf_units_and_drops_none(tmp_path, nodes):
    ref = _ref(nodes)
    attrs = {"problem": "p", "equation": "u_t = u_xx", "rel_l2": 0.01, "rel_l2_vs_finest_solver": None,
             "exact_symmetry": True}
    single = to_dataset(ref.values * 0.9, ref, attrs, solver=ref.values, field="T")
    multi = to_dataset_fields({"u": ref.values, "v": ref.values}, ref, ("u", "v"), attrs)
    for i, ds in enumerate((single, multi)):
        path = write_netcdf(ds, tmp_path / f"f{i}.nc")
        with xr.open_dataset(path) as back:
            assert back.attrs["Conventions"] == "CF-1.8"
            assert "rel_l2_vs_finest_solver" not in back.attrs  # omitted, not the string 'None'
            assert int(back.attrs["exact_symmetry"]) == 1  # a bool as 0/1, not 'True'
            assert not [k for k, v in back.attrs.items() if str(v) in ("None", "True", "False")]
            for name in list(back.data_vars) + list(back.coords):
                assert back[name].attrs.get("units") == "1", name  # a valid udunits string
                assert back[name].attrs.get("long_name"), name
    assert "non-dimensional T" in single["prediction"].attrs["long_name"]
    assert "non-dimensional time" in single["t"].attrs["long_name"]


def test_global_attrs_refuses_what_it_would_stringify():
    assert global_attrs({"a": None, "b": False, "c": [1, 2.5]})["b"] == 0
    assert list(global_attrs({"c": [1, 2.5]})["c"]) == [1.0, 2.5]
    with pytest.raises(TypeError, match="'d'"):
        global_attrs({"d": {"nested": 1}})


def test_evaluate_line_names_a_missing_solver_once():
    line = solver_comparison_line("p", 1e-3, "no classical solver", [], None, 12.0, 0.01, 100)
    assert line.count("no classical solver") == 1 and "None" not in line
    with_solver = solver_comparison_line("p", 1e-3, "2.00e-03 vs finest solver", [{"level": 1}], 0.5, 12.0, 0.01, 100)
    assert "solver at that accuracy 0.5 s" in with_solver
    unreached = solver_comparison_line("p", 1e-3, "2.00e-03 vs finest solver", [{"level": 1}], None, 12.0, 0.01, 100)
    assert "no solver level reaches that accuracy" in unreached


def test_training_checkpoints_do_not_depend_on_the_evaluation_settings():
    """A new timing_repeats reruns evaluate; it must not retrain the PINN from scratch."""
    from sciml.config import domain_section
    from sciml.pde.steps.common import step_config, training_key
    from sciml.training import checkpoint_dir

    cfg = domain_section("pde")
    other = {**cfg, "evaluation": {**cfg["evaluation"], "timing_repeats": cfg["evaluation"]["timing_repeats"] + 1}}
    a, b = (checkpoint_dir("c", "pde.train.heat", training_key(step_config(c, "heat"))) for c in (cfg, other))
    assert a == b and step_config(cfg, "heat") != step_config(other, "heat")
    longer = {**cfg, "pinn": {**cfg["pinn"], "lbfgs_iterations": cfg["pinn"]["lbfgs_iterations"] + 1}}
    assert checkpoint_dir("c", "pde.train.heat", training_key(step_config(longer, "heat"))) != a
