"""Plugin route: a Problem subclass in a file outside the package (written in tmp_path), loaded by
``pde.plugins``, through the whole workflow to the report; bad plugin files are refused."""

import json
import textwrap

import pytest

from sciml.config import domain_section
from sciml.errors import ConfigError
from sciml.pde.steps.common import load_problem

PLUGIN = textwrap.dedent('''
    """My own problem: -u'' = pi^2 sin(pi x) on [0, 1], u(0) = u(1) = 0, solution sin(pi x)."""
    import numpy as np

    from sciml.pde.problems.base import Problem
    from sciml.pde.references import Reference


    class MyPoisson(Problem):
        name = "my_poisson"
        title = "my 1D Poisson (plugin)"
        equation = "-u_xx = pi^2 sin(pi x), u(0) = u(1) = 0"
        inputs = ("x",)
        supports_hard_constraints = False
        has_solver = False

        def bounds(self):
            return [(0.0, 1.0)]

        def geometry(self, dde):
            return dde.geometry.Interval(0.0, 1.0)

        def pde(self, dde):
            return lambda x, u: dde.grad.hessian(u, x) + np.pi ** 2 * dde.backend.sin(np.pi * x)

        def conditions(self, dde, geom, hard):
            return [dde.icbc.DirichletBC(geom, lambda X: 0 * X, lambda _, on: on)]

        def analytic_reference(self):
            x = np.linspace(0.0, 1.0, 101)
            return Reference(("x",), {"x": x}, np.sin(np.pi * x), "analytic", inputs=("x",))
''')


def test_plugin_problem_runs_through_the_workflow_to_the_report(workflow_runner, tmp_path):
    plugin = tmp_path / "my_problem.py"
    plugin.write_text(PLUGIN)
    assert len(PLUGIN.strip().splitlines()) < 40  # the documented size of a complete new problem
    cfg = {"domains": ["pde"], "pde": {"problems": ["my_poisson"], "plugins": [str(plugin)], "pinn": {
        "num_domain": 64, "num_boundary": 2, "width": 16, "depth": 2, "adam_iterations": 300,
        "lbfgs_iterations": 200, "checkpoint_every": 100}, "evaluation": {"timing_repeats": 1}}}
    workflow_runner(cfg)
    res = tmp_path / "results"
    metrics = json.loads((res / "pde" / "my_poisson" / "evaluate" / "metrics.json").read_text())
    assert metrics["rel_l2"] < 1e-2, metrics  # a zero network: 1.0
    section = json.loads((res / "pde" / "section" / "section.json").read_text())
    assert section["tables"][0]["rows"][0][0] == "my_poisson"
    assert (res / "report.html").is_file() and "my_poisson" in (res / "report.html").read_text()
    prov = json.loads((res / "pde" / "my_poisson" / "train" / "provenance.json").read_text())
    assert "my_problem.py" in json.dumps(prov)  # the plugin file keys checkpoints and is recorded


def test_bad_plugins_are_refused(tmp_path):
    base = json.loads(json.dumps(domain_section("pde")))
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(ConfigError, match=r"pde\.plugins\[0\].*defines no subclass of Problem"):
        load_problem({**base, "plugins": [str(empty)]}, "heat")
    broken = tmp_path / "broken.py"
    broken.write_text("import not_a_module_anywhere\n")
    with pytest.raises(ConfigError, match=r"failed to import \(ModuleNotFoundError"):
        load_problem({**base, "plugins": [str(broken)]}, "heat")
    clash = tmp_path / "clash.py"
    clash.write_text(PLUGIN.replace('name = "my_poisson"', 'name = "heat"'))
    with pytest.raises(ConfigError, match="built-in problem"):
        load_problem({**base, "plugins": [str(clash)]}, "heat")
    with pytest.raises(ConfigError, match="not a .py file"):
        load_problem({**base, "plugins": [str(tmp_path / "missing.py")]}, "heat")


def test_entry_point_group_is_read(monkeypatch, tmp_path):
    import importlib.metadata as md
    import sys

    (tmp_path / "ep_problem.py").write_text(PLUGIN.replace('"my_poisson"', '"ep_poisson"'))
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = md.EntryPoint("ep_poisson", "ep_problem:MyPoisson", "sciml.pde_problems")
    monkeypatch.setattr(md, "entry_points", lambda group=None: [ep] if group == "sciml.pde_problems" else [])
    p = load_problem(json.loads(json.dumps(domain_section("pde"))), "ep_poisson")
    assert p.name == "ep_poisson" and p.analytic_reference().values.max() == pytest.approx(1.0)
    sys.modules.pop("ep_problem", None)
