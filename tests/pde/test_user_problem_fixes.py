"""What a walkthrough with a scientist's own PDE found (2026-12-07): a field whose reference is zero, an
edited plugin file, a plugin residual DeepXDE would drop, ``1e-3`` in YAML, and problem names defined twice."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sciml.config import domain_section, validate
from sciml.errors import ConfigError
from sciml.pde.steps.common import load_problem
from tests.pde.test_plugins import PLUGIN


def _base() -> dict:
    return json.loads(json.dumps(domain_section("pde")))


def test_a_field_whose_reference_is_zero_has_no_relative_error_but_an_rms_one():
    from sciml.pde.accuracy import joint_relative_l2, rms_error
    from sciml.pde.references import Reference

    x = np.linspace(0.0, 1.0, 11)
    u, v = np.sin(np.pi * x), np.zeros_like(x)
    ref = Reference(("x",), {"x": x}, u, "test", inputs=("x",), field_values={"u": u, "v": v})
    preds = {"u": 1.1 * u, "v": np.full_like(x, 0.01)}
    assert np.isnan(joint_relative_l2(preds, ref, ("v",)))
    assert rms_error(preds["v"], ref, "v") == pytest.approx(0.01)
    assert joint_relative_l2(preds, ref, ("u",)) == pytest.approx(0.1)
    both = joint_relative_l2(preds, ref, ("u", "v"))
    assert np.isfinite(both) and both > 0.1  # v's error counts against u's norm


def test_an_edited_plugin_file_changes_the_saved_models_fingerprint(tmp_path):
    """The fingerprint hashes the plugin's file (it could not find it before: the module was not in
    sys.modules), so a model trained on the old file is refused for the new one."""
    from sciml.pde.saved_model import problem_fingerprint

    prints = []
    for k, amplitude in enumerate(("np.pi ** 2", "5 * np.pi ** 2")):
        path = tmp_path / f"p{k}.py"
        path.write_text(PLUGIN.replace("+ np.pi ** 2 * dde", f"+ {amplitude} * dde"))
        prints.append(problem_fingerprint(load_problem({**_base(), "plugins": [str(path)]}, "my_poisson")))
    assert None not in prints and prints[0] != prints[1]


def test_a_plugin_residual_deepxde_would_drop_is_refused_naming_the_file(tmp_path):
    no_dde = tmp_path / "no_dde.py"
    no_dde.write_text(PLUGIN.replace('"my_poisson"', '"no_dde"').replace("def pde(self, dde):", "def pde(self):"))
    with pytest.raises(ConfigError, match=r"pde\.plugins\[0\].*no_dde.py: problem 'no_dde': pde\(\) must take"):
        load_problem({**_base(), "plugins": [str(no_dde)]}, "no_dde")
    one_arg = tmp_path / "one_arg.py"
    one_arg.write_text(PLUGIN.replace('"my_poisson"', '"one_arg"').replace("lambda x, u:", "lambda x:"))
    problem = load_problem({**_base(), "plugins": [str(one_arg)]}, "one_arg")  # fine until the PINN is built
    from sciml.pde.pinn import build_pinn

    with pytest.raises(ConfigError, match=r"one_arg.py: problem 'one_arg': pde\(dde\) must return a function of "
                                          r"\(x, y\)"):
        build_pinn(problem, _base()["pinn"], 0)


def test_numbers_in_exponent_form_are_numbers_in_yaml_configs():
    """PyYAML (and Snakemake's loader) read ``1e-3`` as a string; the schema's number keys take it as 0.001."""
    import yaml

    cfg = validate(yaml.safe_load("pde:\n  pinn: {lr: 1e-3, adam_iterations: 2e3}\n  params: {burgers: {nu: 1E-2}}\n"))
    assert cfg["pde"]["pinn"]["lr"] == 0.001 and cfg["pde"]["pinn"]["adam_iterations"] == 2000
    assert isinstance(cfg["pde"]["pinn"]["adam_iterations"], int)
    with pytest.raises(ConfigError, match="adam_iterations"):  # not a whole number: still refused
        validate(yaml.safe_load("pde:\n  pinn: {adam_iterations: 2.5e0}\n"))
    with pytest.raises(ConfigError, match="lr"):  # a word stays a word
        validate(yaml.safe_load("pde:\n  pinn: {lr: fast}\n"))
    # Snakemake's --config passes numbers nested in a mapping as strings
    cfg = validate({"materials": {"train": {"max_epochs": "3", "lr": "0.01"}}, "results_dir": "123"})
    assert cfg["materials"]["train"]["max_epochs"] == 3 and cfg["materials"]["train"]["lr"] == 0.01
    assert cfg["results_dir"] == "123"  # a string key keeps its string


def test_a_problem_name_defined_twice_is_refused(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text(PLUGIN.replace('"my_poisson"', '"twice"'))
    b.write_text(PLUGIN.replace('"my_poisson"', '"twice"').replace("101)", "51)"))
    with pytest.raises(ConfigError, match=r"pde\.plugins\[1\].*defines problem 'twice', which plugin .*a.py"):
        load_problem({**_base(), "plugins": [str(a), str(b)]}, "twice")
    decl = {"geometry": {"interval": [0, 1]}, "fields": ["u"], "equations": ["u_xx + 1"],
            "conditions": [{"type": "dirichlet", "on": "boundary", "value": "0"}], "solution": {"u": "x*(1-x)/2"}}
    with pytest.raises(ConfigError, match=r"pde\.declared\.heat.*built-in problem's name"):
        load_problem({**_base(), "declared": {"heat": decl}}, "heat")
    with pytest.raises(ConfigError, match=r"pde\.declared\.twice.*also defined by the plugin pde\.plugins\[0\]"):
        load_problem({**_base(), "plugins": [str(a)], "declared": {"twice": decl}}, "twice")


def test_a_plugin_problems_parameters_are_set_under_pde_params(tmp_path):
    plugin = tmp_path / "k.py"
    plugin.write_text(PLUGIN.replace('"my_poisson"', '"poisson_k"').replace(
        'has_solver = False', 'has_solver = False\n    defaults = {"k": 1.0}'))
    cfg = validate({"pde": {"plugins": [str(plugin)], "params": {"poisson_k": {"k": 3.0}}}})["pde"]
    assert load_problem(cfg, "poisson_k").params == {"k": 3.0}
    with pytest.raises(ConfigError, match=r"has no parameter 'kk'"):
        load_problem({**cfg, "params": {"poisson_k": {"kk": 3.0}}}, "poisson_k")
    with pytest.raises(ConfigError, match=r"pde\.params\.poison_k': no built-in, plugin or entry-point problem"):
        load_problem({**cfg, "params": {"poison_k": {"k": 3.0}}}, "poisson_k")


def test_a_malformed_analytic_reference_is_refused_when_the_plugin_is_loaded(tmp_path):
    bad = tmp_path / "bad_ref.py"
    bad.write_text(PLUGIN.replace('"my_poisson"', '"bad_ref"').replace("np.sin(np.pi * x), \"analytic\"",
                                                                      "np.sin(np.pi * x)[:5], \"analytic\""))
    with pytest.raises(ConfigError, match=r"bad_ref.py: problem 'bad_ref': analytic_reference\(\) failed: .*shape"):
        load_problem({**_base(), "plugins": [str(bad)]}, "bad_ref")
