"""Tiny end-to-end run of the pde pipeline through Snakemake."""

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr


OPERATOR_YAML = """\
family: {kind: poisson_lshape, poisson: {modes: 4, sensors_per_side: 9, query_refine: 2, reference: [3, 2],
         ladder: [[1, 1], [2, 1]]}}
data: {train: 60, validation: 10, test: 10}
model: {width: 16, latent: 16, iterations: 1500, select_iterations: 30, candidates: [{width: 8}, {width: 16}]}
accelerator: cpu
evaluation: {batch_sizes: [1, 50], timing_repeats: 1, ladder_functions: 2}
"""


@pytest.mark.slow
def test_pde_workflow_end_to_end(workflow_runner, tmp_path):
    op_cfg = tmp_path / "poisson_sources.yaml"
    op_cfg.write_text(OPERATOR_YAML)
    cfg = {"domains": ["pde"], "pde": {"problems": ["heat"], "operators": [str(op_cfg)], "pinn": {
        "num_domain": 100, "adam_iterations": 100, "lbfgs_iterations": 50, "checkpoint_every": 50},
        "evaluation": {"timing_repeats": 1}}}
    workflow_runner(cfg)
    res = tmp_path / "results"
    sec_dir = res / "pde" / "section"
    section = json.loads((sec_dir / "section.json").read_text())
    assert section["domain"] == "pde"
    acc, checks, speed, operators = section["tables"]
    # the operator job's test accuracy is the one its metrics.json holds, and beats the mean-solution baseline
    op = json.loads((res / "pde" / "operator" / "poisson_sources" / "metrics.json").read_text())["test"]
    row = operators["rows"][0]
    assert row[0] == "poisson_sources" and row[2].startswith(format(op["surrogate"]["median"], ".3g"))
    assert op["surrogate"]["median"] < 0.5 * op["baseline_mean_solution"]["median"]
    assert acc["rows"][0][0] == "heat" and float(acc["rows"][0][acc["columns"].index("PINN rel. L2")]) < 1e-2
    heat = json.loads((res / "pde" / "heat" / "evaluate" / "metrics.json").read_text())
    assert acc["rows"][0][acc["columns"].index("reference points")] == heat["evaluated_points"] > 100
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
    # heat is declared on an interval x time: the residual's dual norm is reported beside the RMS
    assert checks["rows"][0][2] == format(metrics["validation"]["weak_residual"], ".3g")
    assert 0 < metrics["validation"]["weak_residual"] < metrics["validation"]["residual_rms"]
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


POISSON_1D = {
    "geometry": {"type": "interval", "low": 0, "high": 1}, "fields": ["u"],
    "equations": ["u_xx + pi**2*sin(pi*x)"],
    "conditions": [{"type": "dirichlet", "on": "left", "value": 0}, {"type": "dirichlet", "on": "right", "value": 0}],
}


def _fake_outputs(res, problem: str, newer_than: float) -> None:
    """Every output of solve, train and evaluate of ``problem``, dated after ``newer_than``."""
    import os

    names = {"solve": ("solver.json", "provenance.json"),
             "train": ("model.pt", "model.json", "train.json", "train_timing.json", "loss_history.csv",
                       "provenance.json"),
             "evaluate": ("metrics.json", "timing.json", "fields.nc", "fields.png", "loss.png", "provenance.json")}
    for k, (step, files) in enumerate(names.items()):
        for f in files:
            path = res / "pde" / problem / step / f
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("{}")
            os.utime(path, (newer_than + 10 + k, newer_than + 10 + k))  # solve < train < evaluate


def test_an_edited_declared_reference_reruns_its_steps(workflow_runner, tmp_path):
    """The declared reference file is an input of solve/train/evaluate: with every output up to
    date a dry run has nothing to do; once the file changes it lists the three steps."""
    import os

    ref = tmp_path / "ref.csv"
    ref.write_text("x,u\n0,0\n0.5,1\n1,0\n")
    os.utime(ref, (1_000_000, 1_000_000))
    cfg = {"domains": ["pde"], "pde": {"problems": ["mypoisson"], "declared": {"mypoisson": {
        **POISSON_1D, "reference": {"path": str(ref), "columns": {"coords": ["x"], "fields": {"u": "u"}}}}}}}
    res = tmp_path / "results"
    _fake_outputs(res, "mypoisson", 1_000_000)
    target = str(res / "pde" / "mypoisson" / "evaluate" / "metrics.json")
    proc = workflow_runner(cfg, targets=(target,), extra_args=("-n", "--rerun-triggers", "mtime"))
    assert "Nothing to be done" in proc.stdout + proc.stderr
    ref.write_text("x,u\n0,0\n0.5,0.9\n1,0\n")  # now newer than every output
    proc = workflow_runner(cfg, targets=(target,), extra_args=("-n", "--rerun-triggers", "mtime"))
    out = proc.stdout + proc.stderr
    for rule in ("pde_solve", "pde_train", "pde_evaluate"):
        assert f"rule {rule}:" in out or f"{rule} " in out, rule
    assert str(ref) in out  # named as the updated input


def test_rule_inputs_are_the_declared_reference_or_the_plugin_files(tmp_path):
    from sciml.pde.workflow import problem_files

    ref, plugin = tmp_path / "ref.csv", tmp_path / "plug.py"
    ref.write_text("x,u\n0,0\n")
    plugin.write_text("# plugin\n")
    cfg = {"pde": {"declared": {"mine": {"reference": {"path": str(ref)}}, "analytic": {"solution": {"u": "x"}}},
                   "plugins": [str(plugin), str(tmp_path / "missing.py")]}}
    assert problem_files(cfg, "mine") == [str(ref)]
    assert problem_files(cfg, "analytic") == []
    assert problem_files(cfg, "from_plugin") == [str(plugin)]  # a missing file: the step names it


def test_two_operator_configs_of_one_name_are_refused_not_one_silently_dropped(workflow_runner, tmp_path):
    from sciml.pde.workflow import operator_configs

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = str(tmp_path / "a" / "op.yaml"), str(tmp_path / "b" / "op.yaml")
    with pytest.raises(ValueError, match=r"pde.operators\[0\]: .* not found"):  # not Snakemake's keyless error
        operator_configs({"pde": {"operators": [a]}})
    for p in (a, b, str(tmp_path / "other.yml")):
        Path(p).write_text(OPERATOR_YAML)
    assert operator_configs({"pde": {"operators": [a, str(tmp_path / "other.yml")]}}) == {
        "op": a, "other": str(tmp_path / "other.yml")}
    with pytest.raises(ValueError, match=r"have one name, 'op'.*rename one"):
        operator_configs({"pde": {"operators": [a, b]}})
    proc = workflow_runner({"domains": ["pde"], "pde": {"operators": [a, b]}}, extra_args=("-n",), check=False)
    assert proc.returncode != 0 and "have one name, 'op'" in proc.stdout + proc.stderr


PLUGIN_WITH_REFERENCE = '''
from sciml.pde.problems.base import Problem


class Mine(Problem):
    name = "mine_plugin"
    reference_file = "user/mine_ref.npz"


class Other(Problem):
    name: str = "other_plugin"
'''


def test_a_plugin_s_reference_file_is_an_input_and_a_built_in_problem_gets_no_plugin_file(tmp_path):
    """A plugin problem's reference file (under the data root) was no rule input, so replacing it left the
    report's error stale; every plugin file was an input (and a checkpoint key) of every problem, so editing
    one retrained the built-in ones too."""
    from sciml.config import domain_section
    from sciml.pde.steps.common import step_config
    from sciml.pde.workflow import plugin_declarations, problem_files

    plugin, dynamic = tmp_path / "mine.py", tmp_path / "dynamic.py"
    plugin.write_text(PLUGIN_WITH_REFERENCE)
    dynamic.write_text("NAME = 'x'\nclass P:\n    name = NAME\n")  # a name only importing the file tells
    root = tmp_path / "data"
    (root / "user").mkdir(parents=True)
    (root / "user" / "mine_ref.npz").write_bytes(b"npz")
    assert plugin_declarations(str(plugin)) == (["mine_plugin", "other_plugin"], ["user/mine_ref.npz"])
    cfg = {"pde": {"plugins": [str(plugin), str(dynamic)]}}
    assert problem_files(cfg, "mine_plugin", str(root)) == [str(plugin), str(root / "user" / "mine_ref.npz"),
                                                             str(dynamic)]
    assert problem_files(cfg, "heat", str(root)) == [str(dynamic)]  # only the file whose names cannot be read
    only_mine = {"pde": {"plugins": [str(plugin)]}}
    assert problem_files(only_mine, "heat", str(root)) == []
    pde = domain_section("pde", json.dumps({"plugins": [str(plugin)]}))
    assert "plugins" not in step_config(pde, "heat")  # a plugin edit no longer retrains the built-in problems
    assert list(step_config(pde, "mine_plugin")["plugins"]) == [str(plugin)]


def test_an_operator_s_plugin_solver_is_an_input_of_its_job(tmp_path):
    from sciml.pde.workflow import operator_files

    solver = tmp_path / "family.py"
    solver.write_text("# my family\n")
    cfg = tmp_path / "op.yaml"
    cfg.write_text(f"family: {{kind: plugin, plugin: {solver}}}\n")
    assert operator_files(str(cfg)) == [str(solver)]
    cfg.write_text(OPERATOR_YAML)
    assert operator_files(str(cfg)) == []


NAMED_PLUGIN = '''
from sciml.pde.problems.base import Problem


class Narrowed(Problem):
    name = "narrowed_plugin"
'''


def test_a_problem_s_jobs_get_the_section_cut_to_that_problem(tmp_path):
    """Every problem's solve/train/evaluate job got the whole pde section: adding an operator or a problem,
    or editing another problem's params, reran (re-solved, re-timed, re-evaluated) all of them."""
    from sciml.pde.problems import REGISTRY
    from sciml.pde.workflow import _built_in_names, problem_section

    assert _built_in_names() == {n for n, c in REGISTRY.items() if c.__module__.startswith("sciml.pde.problems")}
    plugin = tmp_path / "narrowed.py"
    plugin.write_text(NAMED_PLUGIN)
    section = {"seed": 1, "threads": 2, "pinn": {"width": 8}, "evaluation": {"timing_repeats": 1},
               "problems": ["heat", "burgers", "narrowed_plugin", "mine"], "operators": ["op.yaml"],
               "plugins": [str(plugin)], "declared": {"mine": {"fields": ["u"]}, "unused": {"fields": ["v"]}},
               "params": {"heat": {"alpha": 0.5}, "burgers": {"nu": 0.01}, "allen_cahn": {"d": 1e-3},
                          "narrowed_plugin": {"k": 2}, "heet": {"alpha": 1}}}
    heat = problem_section(section, "heat")
    assert heat == {"seed": 1, "threads": 2, "pinn": {"width": 8}, "evaluation": {"timing_repeats": 1},
                    "problems": ["heat"], "plugins": [],
                    "params": {"heat": {"alpha": 0.5}, "heet": {"alpha": 1}}}  # the misspelt name stays: refused
    assert "evaluation" not in problem_section(section, "heat", without=("evaluation",))
    mine = problem_section(section, "mine")
    assert mine["declared"] == {"mine": {"fields": ["u"]}} and mine["plugins"] == []
    assert mine["params"] == {"heet": {"alpha": 1}}
    plug = problem_section(section, "narrowed_plugin")
    assert plug["plugins"] == [str(plugin)] and plug["params"] == {"narrowed_plugin": {"k": 2}, "heet": {"alpha": 1}}
    # what the others may change without touching heat's jobs
    edited = {**section, "operators": [], "problems": ["heat"],
              "params": {**section["params"], "burgers": {"nu": 0.1}, "narrowed_plugin": {"k": 3}}}
    assert problem_section(edited, "heat") == heat


def test_the_steps_accept_a_cut_section_and_still_refuse_a_misspelt_problem(tmp_path):
    from sciml.config import domain_section
    from sciml.errors import ConfigError
    from sciml.pde.steps.common import load_problem, step_config
    from sciml.pde.workflow import problem_section

    full = domain_section("pde", json.dumps({"problems": ["heat", "burgers"], "params": {"heat": {"alpha": 0.2},
                                                                                        "burgers": {"nu": 0.02}}}))
    cut = domain_section("pde", json.dumps(problem_section(full, "heat")))
    assert load_problem(cut, "heat").params == load_problem(full, "heat").params
    assert step_config(cut, "heat") == step_config(full, "heat")  # checkpoints and provenance keep their key
    typo = domain_section("pde", json.dumps(problem_section({**full, "params": {**full["params"], "haet": {}}}, "heat")))
    with pytest.raises(ConfigError, match="pde.params.haet"):
        load_problem(typo, "heat")


def test_the_rules_pass_each_problem_its_own_section(workflow_runner, tmp_path):
    """The dry run's printed commands: heat's jobs carry neither burgers' params nor the operators."""
    import shlex

    op_cfg = tmp_path / "ops.yaml"
    op_cfg.write_text(OPERATOR_YAML)
    cfg = {"domains": ["pde"], "pde": {"problems": ["heat", "burgers"], "operators": [str(op_cfg)],
                                       "params": {"burgers": {"nu": 0.02}}}}
    proc = workflow_runner(cfg, extra_args=("-n", "-p"))
    prefix = "Shell command: "
    commands = [line[len(prefix):] for line in proc.stdout.splitlines() if line.startswith(prefix + "sciml pde ")]
    heat = [c for c in commands if "--problem heat" in c]
    assert sorted(c.split()[2] for c in heat) == ["evaluate", "solve", "train"], commands
    for command in heat:
        section = json.loads(shlex.split(command)[shlex.split(command).index("--config-json") + 1])
        assert section["problems"] == ["heat"] and "operators" not in section and "burgers" not in section["params"]
        assert ("evaluation" in section) == (command.split()[2] != "train")
