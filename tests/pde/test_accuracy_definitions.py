"""What the PDE accuracy figures mean on references the package never shipped: a field fixed up to a
constant against any constant the file uses, the space-time norm with and without the initial slice,
repeated points in a user's reference (counted once, or refused when their values disagree)."""

import numpy as np
import pytest

from sciml.errors import DataError
from sciml.pde.accuracy import after_initial_time, joint_relative_l2, max_abs_errors
from sciml.pde.references import Reference
from sciml.pde.user_references import load_user_reference

KEY = "pde.declared.mine.reference"


def _grid_reference(fields: dict[str, np.ndarray], x: np.ndarray, t: np.ndarray | None = None) -> Reference:
    dims = ("x",) if t is None else ("x", "t")
    coords = {"x": x} if t is None else {"x": x, "t": t}
    first = next(iter(fields.values()))
    return Reference(dims, coords, first, "mem", inputs=dims, field_values=dict(fields) if len(fields) > 1 else None)


@pytest.mark.parametrize("constant", [0.0, 1.0, 100.0])
def test_a_field_up_to_a_constant_scores_the_same_whatever_constant_the_file_uses(constant):
    """The same prediction error (5 % of p's variation, after the mean shift) scored against a file whose
    pressure carries 0, 1 or 100: the same relative error each time (before: 100 made it ~2000x smaller)."""
    x = np.linspace(0, 1, 201)
    p = np.cos(np.pi * x) + constant
    u = np.sin(np.pi * x)
    ref = _grid_reference({"u": u, "p": p}, x)
    err_p = 0.05 * np.cos(3 * np.pi * x)
    preds = {"u": u * 1.001, "p": p + err_p - err_p.mean()}
    got = joint_relative_l2(preds, ref, ("p",), centered=("p",))
    want = np.linalg.norm(preds["p"] - p) / np.linalg.norm(p - p.mean())
    assert np.isclose(got, want) and np.isclose(got, 0.05, rtol=0.01)
    both = joint_relative_l2(preds, ref, ("u", "p"), centered=("p",))
    assert 0.03 < both < 0.05  # u's 0.1 % and p's 5 %, pooled: never below u's error because of p's constant
    if constant:
        assert joint_relative_l2(preds, ref, ("p",)) < got  # the plain norm: shrunk by the constant


def test_the_initial_slice_can_hide_a_decaying_solution_s_error_and_is_left_out_on_demand():
    """10 % error at every t > 0 of a solution decaying from 1 to 1e-2: the space-time figure is far below
    10 % (the exact t = 0 slice holds the norm); after_initial_time gives the 10 % back."""
    x, t = np.linspace(0, 1, 51), np.linspace(0, 1, 5)
    u = np.sin(np.pi * x)[:, None] * np.exp(-4.6 * t)[None, :]
    ref = _grid_reference({"u": u}, x, t)
    pred = u * np.where(t > 0, 1.1, 1.0)[None, :]
    space_time = joint_relative_l2({"u": pred}, ref, ("u",))
    later = after_initial_time(ref, 0.0)
    assert later is not None and later.shape == u.shape and not later[:, 0].any() and later[:, 1:].all()
    assert space_time < 0.04 and np.isclose(joint_relative_l2({"u": pred}, ref, ("u",), where=later), 0.1)
    assert after_initial_time(_grid_reference({"u": u[:, 1:]}, x, t[1:]), 0.0) is None  # no slice at t0


def test_max_abs_error_per_field_in_each_field_s_units():
    x = np.linspace(0, 1, 11)
    ref = _grid_reference({"u": np.zeros(11), "p": np.ones(11) * 1e3}, x)
    got = max_abs_errors({"u": np.full(11, 0.5), "p": np.full(11, 1e3 + 20)}, ref, ("u", "p"))
    assert got == pytest.approx({"u": 0.5, "p": 20.0})


def _csv(path, rows):
    path.write_text("x,u\n" + "".join(f"{a!r},{b!r}\n" for a, b in rows))
    return {"path": str(path), "columns": {"coords": ["x"], "fields": {"u": "u"}}}


def test_points_repeated_in_a_user_reference_count_once_and_are_noted(tmp_path):
    """The first tenth of the points exported twice more (two exports concatenated): each point once, the
    score that of the clean file, and a note for the report naming the first repeat's line."""
    x = np.linspace(0, 1, 101)
    rows = [(float(a), float(np.sin(np.pi * a))) for a in x]
    clean, _ = load_user_reference(_csv(tmp_path / "clean.csv", rows), KEY, ("x",), ("u",))
    repeated, lines = load_user_reference(_csv(tmp_path / "rep.csv", rows + rows[:10] + rows[:10]), KEY, ("x",), ("u",))
    assert repeated.values.size == clean.values.size == 101 and len(lines) == 101
    pred = lambda r: np.sin(np.pi * r.points()[:, 0]) + 0.01 * (r.points()[:, 0] < 0.1)  # noqa: E731
    from sciml.pde.accuracy import relative_l2

    assert relative_l2(pred(repeated), repeated) == pytest.approx(relative_l2(pred(clean), clean))
    assert len(repeated.notes) == 1 and "20 repeated point(s) of rep.csv dropped" in repeated.notes[0]
    assert "line 103" in repeated.notes[0] and not clean.notes  # header is line 1: row 102 is on line 103


def test_a_point_listed_twice_with_different_values_is_refused_naming_both_lines(tmp_path):
    x = np.linspace(0, 1, 11)
    rows = [(float(a), float(np.sin(np.pi * a))) for a in x] + [(float(x[5]), 0.5)]
    with pytest.raises(DataError, match=r"conflict\.csv.*line 13.*listed twice with different 'u' values.*line 7"):
        load_user_reference(_csv(tmp_path / "conflict.csv", rows), KEY, ("x",), ("u",))
    # round-off between two exports of the same node is a repeat, not a conflict
    rows[-1] = (float(x[5]), float(np.sin(np.pi * x[5])) * (1 + 1e-9))
    ref, _ = load_user_reference(_csv(tmp_path / "roundoff.csv", rows), KEY, ("x",), ("u",))
    assert ref.values.size == 11 and ref.notes


PAIR_PLUGIN = '''
import numpy as np

from sciml.pde.problems.base import Problem
from sciml.pde.references import Reference


class PairWithSolver(Problem):
    """-u'' = pi^2 sin(pi x), u(0) = u(1) = 0, and p = 3 u: two fields, a finite-difference solver of u."""
    name = "pair_solver"
    title = "two fields with a solver (test plugin)"
    equation = "-u_xx = pi^2 sin(pi x), p = 3 u"
    inputs = ("x",)
    fields = ("u", "p")
    supports_hard_constraints = False

    def n_residuals(self):
        return 2

    def bounds(self):
        return [(0.0, 1.0)]

    def geometry(self, dde):
        return dde.geometry.Interval(0.0, 1.0)

    def pde(self, dde):
        def residual(x, y):
            return [dde.grad.hessian(y, x, component=0) + np.pi ** 2 * dde.backend.sin(np.pi * x),
                    y[:, 1:2] - 3 * y[:, 0:1]]
        return residual

    def conditions(self, dde, geom, hard):
        return [dde.icbc.DirichletBC(geom, lambda X: 0 * X[:, :1], lambda _, on: on, component=0)]

    def analytic_reference(self):
        x = np.linspace(0.0, 1.0, 101)
        u = np.sin(np.pi * x)
        return Reference(("x",), {"x": x}, u, "analytic", inputs=("x",), field_values={"u": u, "p": 3 * u})

    def solver_levels(self):
        return [{"n": n} for n in (4, 8, 16, 32, 64, 128, 256)]

    def solve(self, ref, level):
        n = level["n"]
        xs, h = np.linspace(0.0, 1.0, n + 1), 1.0 / n
        A = (2 * np.eye(n - 1) - np.eye(n - 1, k=1) - np.eye(n - 1, k=-1)) / h ** 2
        u = np.zeros(n + 1)
        u[1:-1] = np.linalg.solve(A, np.pi ** 2 * np.sin(np.pi * xs[1:-1]))
        return np.interp(ref.points()[:, 0], xs, u).reshape(ref.shape)
'''


def test_a_multi_field_problem_is_matched_to_its_solver_on_the_field_the_solver_computes(tmp_path):
    """The solver ladder scores the first field (u); the PINN's u error, not the u-and-p headline, picks the
    solver level, and metrics, timing and the report say which field."""
    import json

    from sciml.config import domain_section
    from sciml.pde.steps import evaluate, section, solve, train

    plugin = tmp_path / "pair.py"
    plugin.write_text(PAIR_PLUGIN)
    cfg = domain_section("pde", json.dumps({
        "problems": ["pair_solver"], "plugins": [str(plugin)], "evaluation": {"timing_repeats": 1},
        "pinn": {"num_domain": 64, "num_boundary": 2, "width": 16, "depth": 2, "adam_iterations": 300,
                 "lbfgs_iterations": 200, "checkpoint_every": 100}}))
    solve(cfg, "pair_solver", tmp_path / "solve", log=lambda m: None)
    train(cfg, "pair_solver", tmp_path / "train", checkpoint_dir=tmp_path / "ckpt", log=lambda m: None)
    m = evaluate(cfg, "pair_solver", tmp_path / "evaluate", model_dir=tmp_path / "train",
                 solver_dir=tmp_path / "solve", log=lambda m: None)
    t = json.loads((tmp_path / "evaluate" / "timing.json").read_text())
    assert m["solver_field"] == "u" and t["pinn_rel_l2_field"] == "u"
    assert t["pinn_rel_l2"] == m["rel_l2_per_field"]["u"] and t["pinn_rel_l2"] < 5e-2, (m, t)
    ladder = json.loads((tmp_path / "solve" / "solver.json").read_text())["ladder"]
    cheapest = next(row for row in ladder if row["rel_l2"] <= t["pinn_rel_l2"])  # the like-with-like match
    assert t["solver_level_at_pinn_accuracy"] == cheapest["level"], (t, ladder)
    section(cfg, tmp_path / "section", evaluate_dirs=[tmp_path / "evaluate"], solve_dirs=[tmp_path / "solve"],
            train_dirs=[tmp_path / "train"])
    tables = json.loads((tmp_path / "section" / "section.json").read_text())["tables"]
    acc = tables[0]
    assert acc["rows"][0][acc["columns"].index("PINN rel. L2")].endswith("(u, p together)")
    assert acc["rows"][0][acc["columns"].index("PINN vs finest solver")].endswith("(u)")
    speed = next(tb for tb in tables if tb["title"].startswith("Speed"))
    assert speed["rows"][0][1].endswith("(u)")
    assert "each point weight 1" in acc["note"]
