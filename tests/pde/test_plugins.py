"""Plugin route: a Problem subclass in a file outside the package (written in tmp_path), loaded by
``pde.plugins``, through the whole workflow to the report; bad plugin files are refused."""

import json
import textwrap

import pytest
import yaml

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
    assert any(k.endswith("my_problem.py") for k in prov["inputs_sha256"])  # with its sha256, as in solve/evaluate


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
    with pytest.raises(ConfigError, match="missing.py not found"):
        load_problem({**base, "plugins": [str(tmp_path / "missing.py")]}, "heat")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="not a .py file"):
        load_problem({**base, "plugins": [str(tmp_path / "notes.txt")]}, "heat")


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


DECLARED_2D = textwrap.dedent('''
    import numpy as np

    from sciml.pde.problems.base import Problem
    from sciml.pde.references import Reference


    class Laplace(Problem):
        name = "NAME"
        title = "2D Laplace (plugin with a declaration)"
        equation = "u_xx + u_yy = 0"
        supports_hard_constraints = False
        has_solver = False
        INPUTS
        def bounds(self):
            return [(0.0, 1.0), (0.0, 1.0)]

        def declaration(self):
            return {"geometry": {"type": "rectangle", "low": [0, 0], "high": [1, 1]}, "fields": ["u"],
                    "equations": ["u_xx + u_yy"], "conditions": [{"type": "dirichlet", "value": "x**2 - y**2"}]}

        def analytic_reference(self):
            g = np.linspace(0, 1, 5)
            X, Y = np.meshgrid(g, g, indexing="ij")
            return Reference(("x", "y"), {"x": g, "y": g}, X**2 - Y**2, "analytic", inputs=("x", "y"))
''')


def _load(tmp_path, source: str, name: str):
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    return load_problem({**json.loads(json.dumps(domain_section("pde"))), "plugins": [str(path)]}, name)


def test_plugin_inputs_and_fields_are_checked_against_its_declaration(tmp_path):
    """The default inputs ('x', 't') on a 2D domain without time crashed deep in DeepXDE at train."""
    with pytest.raises(ConfigError, match=r"wrong_inputs.py: problem 'wrong_inputs' has inputs = \('x', 't'\) "
                                          r"\(the default\).*2D geometry, no time.*set inputs = \('x', 'y'\)") as info:
        _load(tmp_path, DECLARED_2D.replace("NAME", "wrong_inputs").replace("INPUTS", ""), "wrong_inputs")
    assert info.value.key == "pde.plugins[0]"
    with pytest.raises(ConfigError, match=r"has fields = \('v',\).*gives \('u',\)"):
        _load(tmp_path, DECLARED_2D.replace("NAME", "wrong_fields")
              .replace("INPUTS", "inputs = ('x', 'y')\n    fields = ('v',)\n"), "wrong_fields")
    ok = _load(tmp_path, DECLARED_2D.replace("NAME", "right_inputs").replace("INPUTS", "inputs = ('x', 'y')\n"),
               "right_inputs")
    assert ok.inputs == ("x", "y") and ok.physics().inputs == ("x", "y")
    with pytest.raises(ConfigError, match=r"bad_decl.py: problem 'bad_decl', declaration\(\):.*sinn"):
        _load(tmp_path, DECLARED_2D.replace("NAME", "bad_decl").replace("INPUTS", "inputs = ('x', 'y')\n")
              .replace('"u_xx + u_yy"', '"u_xx + sinn(x)"'), "bad_decl")


def test_plugin_missing_physics_solver_or_reference_is_named(tmp_path):
    """These raised a bare NotImplementedError from base.py (solver_grid / solver_levels)."""
    no_physics = "\n".join(line for line in PLUGIN.replace('"my_poisson"', '"no_physics"').splitlines()
                           if not line.strip().startswith(("def geometry", "return dde.geometry")))
    with pytest.raises(ConfigError, match=r"no_physics.py: problem 'no_physics' has no physics: define "
                                          r"declaration\(\).*geometry\(\)") as info:
        _load(tmp_path, no_physics, "no_physics")
    assert info.value.key == "pde.plugins[0]"
    forgot = PLUGIN.replace('"my_poisson"', '"forgot_solver"').replace("    has_solver = False\n", "")
    with pytest.raises(ConfigError, match=r"has_solver = True \(the default\) but defines no solver_levels\(\), "
                                          r"solve\(\).*or set has_solver = False"):
        _load(tmp_path, forgot, "forgot_solver")
    no_ref = PLUGIN.replace('"my_poisson"', '"no_ref"').split("    def analytic_reference")[0]
    with pytest.raises(ConfigError, match=r"no_ref.py: problem 'no_ref' has no reference.*analytic_reference\(\)"):
        _load(tmp_path, no_ref, "no_ref")


def test_plugin_target_is_kept(tmp_path):
    """A plugin's target_rel_l2 (no shipped file) reaches metrics.json through Problem.target();
    a built-in's target still applies to its shipped file's parameters only."""
    from sciml.pde.problems import get_problem

    p = _load(tmp_path, PLUGIN.replace('"my_poisson"', '"with_target"')
              .replace("    has_solver = False\n", "    has_solver = False\n    target_rel_l2 = 0.01\n"), "with_target")
    assert p.target() == 0.01
    assert get_problem("burgers").target() == 1e-3 and get_problem("burgers", {"nu": 0.02}).target() is None


def test_problems_command_lists_and_checks_the_configs_own_problems(tmp_path, capsys):
    from sciml.cli import main

    plugin = tmp_path / "my_problem.py"
    plugin.write_text(PLUGIN)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(textwrap.dedent(f"""\
        pde:
          plugins: [{plugin}]
          declared:
            my_laplace:
              geometry: {{type: rectangle, low: [0, 0], high: [1, 1]}}
              fields: [u]
              equations: ["u_xx + u_yy"]
              conditions: [{{type: dirichlet, on: boundary, value: "x**2 - y**2"}}]
              solution: {{u: "x**2 - y**2"}}
        """))
    assert main(["pde", "problems", "--config", str(cfg)]) == 0
    lines = {ln.split()[0]: ln for ln in capsys.readouterr().out.splitlines()}
    assert "burgers" in lines and "[declared in the config]" in lines["my_laplace"]
    assert "[plugin]" in lines["my_poisson"] and "my 1D Poisson" in lines["my_poisson"]
    # a plugin that cannot run is refused here already, naming its file
    plugin.write_text(PLUGIN.replace("has_solver = False", ""))
    cfg.write_text(f"pde:\n  plugins: [{plugin}]\n")
    import sciml.pde.plugins as plugins_mod

    plugins_mod._LOADED.clear()
    from sciml.pde.problems import REGISTRY

    REGISTRY.pop("my_poisson", None)
    assert main(["pde", "problems", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "my_problem.py" in err and "has_solver" in err


def test_an_edited_plugin_file_is_imported_again_in_one_process(tmp_path):
    """A notebook user edits their problem file between cells: the old class kept training (under the new file's
    checksum) until the kernel restarted."""
    plugin = tmp_path / "edited.py"
    plugin.write_text(PLUGIN.replace('"my_poisson"', '"edited_poisson"'))
    cfg = domain_section("pde", json.dumps({"problems": ["edited_poisson"], "plugins": [str(plugin)]}))
    assert load_problem(cfg, "edited_poisson").title == "my 1D Poisson (plugin)"
    plugin.write_text(PLUGIN.replace('"my_poisson"', '"edited_poisson"').replace("my 1D Poisson", "edited 1D Poisson"))
    assert load_problem(cfg, "edited_poisson").title == "edited 1D Poisson (plugin)"


def test_a_problem_class_redefined_in_a_notebook_keys_its_own_checkpoints():
    """A class registered in a cell and redefined with other physics resumed the old class's finished checkpoint
    (its key held no physics): no training, the old weights under the new fingerprint."""
    from sciml.pde.problems import REGISTRY, register
    from sciml.pde.problems.base import Problem
    from sciml.pde.steps.common import step_config, training_key

    def define(amplitude: float) -> type:
        class CellProblem(Problem):
            name = "cell_problem"
            inputs = ("x",)

            def bounds(self):
                return [(0.0, 1.0)]

            def declaration(self):
                return {"geometry": {"type": "interval", "low": 0, "high": 1}, "fields": ["u"],
                        "equations": [f"-u_xx - {amplitude}*pi**2*sin(pi*x)"],
                        "conditions": [{"type": "dirichlet", "value": 0}]}

        return register(CellProblem)

    try:
        cfg = domain_section("pde", json.dumps({"problems": ["heat"]}))
        keys = []
        for amplitude in (1.0, 3.0, 1.0):
            define(amplitude)
            keys.append(training_key(step_config(cfg, "cell_problem", load_problem(cfg, "cell_problem"))))
        assert keys[0] != keys[1] and keys[0] == keys[2]
        heat = load_problem(cfg, "heat")
        assert "problem_fingerprint" not in step_config(cfg, "heat", heat)  # built-ins keep their earlier keys
    finally:
        REGISTRY.pop("cell_problem", None)


def test_a_plugin_param_written_1e_3_is_the_number(tmp_path):
    """A plugin's params are free-form in the schema: k: 1e-3 (YAML 1.1 reads a string) reached the plugin as
    '1e-3' and failed in numpy with a dtype error."""
    plugin = tmp_path / "param.py"
    plugin.write_text(PLUGIN.replace('"my_poisson"', '"param_poisson"') + "\n    defaults = {'k': 1.0}\n")
    cfg = domain_section("pde", {"problems": ["param_poisson"], "plugins": [str(plugin)],
                                 "params": yaml.safe_load("param_poisson: {k: 1e-3}")})
    assert cfg["params"]["param_poisson"]["k"] == "1e-3"
    assert load_problem(cfg, "param_poisson").params["k"] == 0.001
