"""Dense (self-scaled) BFGS: the update's algebra, convergence against SciPy, and the PINN stage
(accuracy beyond L-BFGS's on the same budget, redraws, checkpoint/resume, bad settings)."""

import numpy as np
import pytest
from scipy.optimize import minimize, rosen, rosen_der

from sciml.errors import ConfigError
from sciml.pde import pinn as pinn_mod
from sciml.pde.accuracy import relative_l2
from sciml.pde.problems import get_problem
from sciml.pde.quasi_newton import DenseBFGS, LineSearchFailed
from tests.pde.test_pinn import assert_resume_matches_uninterrupted, kill_at, tiny_cfg


def _rosen(x):
    return float(rosen(x)), rosen_der(x)


def test_rank_two_update_equals_the_textbook_product_form():
    """H+ = (I - rho s y') H (I - rho y s') + rho s s' (SciPy's form, O(n^3)), here as three rank-one updates."""
    import torch

    rng = np.random.default_rng(0)
    n = 7
    A = rng.normal(size=(n, n))
    H0 = A @ A.T + n * np.eye(n)
    s, y = rng.normal(size=n), rng.normal(size=n)
    y = y if s @ y > 0 else -y
    rho = 1 / (s @ y)
    expected = (np.eye(n) - rho * np.outer(s, y)) @ H0 @ (np.eye(n) - rho * np.outer(y, s)) + rho * np.outer(s, s)
    opt = DenseBFGS(lambda x: (0.0, np.zeros(n)), np.zeros(n), method="bfgs", H=H0)
    opt._update(s, y, alpha=1.0, g_old=-s)
    np.testing.assert_allclose(opt.H.numpy(), expected, rtol=1e-12, atol=1e-12)
    # the secant condition H+ y = s holds, and H+ stays symmetric
    np.testing.assert_allclose(opt.H.numpy() @ y, s, rtol=1e-10)
    assert torch.allclose(opt.H, opt.H.T)


@pytest.mark.parametrize("method", ["bfgs", "ssbfgs"])
def test_dense_bfgs_finds_scipys_rosenbrock_optimum(method):
    x0 = np.array([-1.2, 1.0, -0.5, 0.8, 1.5, -1.0])
    opt = DenseBFGS(_rosen, x0, method=method)
    for _ in range(500):
        if np.linalg.norm(opt.g) < 1e-10:
            break
        try:
            opt.step()
        except LineSearchFailed:
            break
    ref = minimize(rosen, x0, jac=rosen_der, method="BFGS", options={"gtol": 1e-10})
    np.testing.assert_allclose(opt.x, ref.x, atol=1e-6)
    np.testing.assert_allclose(opt.x, np.ones_like(x0), atol=1e-6)
    assert opt.f < 1e-12 and opt.iterations < 200


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="method"):
        DenseBFGS(_rosen, np.zeros(2), method="sr1")


def _bfgs_cfg(**extra):
    qn = {"method": "ssbfgs", "resample_every": 100, "resample_candidates": 2000}
    qn.update(extra.pop("quasi_newton", {}))
    settings = {"precision": "float64", "adam_iterations": 200, "lbfgs_iterations": 300, "checkpoint_every": 100}
    return tiny_cfg(**(settings | extra), quasi_newton=qn)


def test_ssbfgs_stage_beats_lbfgs_on_the_same_iterations(tmp_path):
    """The same tiny heat problem, Adam then 300 quasi-Newton iterations: self-scaled dense BFGS with
    redrawn points ends closer to the analytic solution than DeepXDE's L-BFGS (rebuilt every 500)."""
    problem = get_problem("heat")
    ref = problem.reference()
    errors, reports = {}, {}
    for name, cfg in (("ssbfgs", _bfgs_cfg()),
                      ("lbfgs", tiny_cfg(precision="float64", adam_iterations=200, lbfgs_iterations=300,
                                         checkpoint_every=100))):
        model = pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1)
        reports[name] = pinn_mod.train_pinn(model, tmp_path / name, seed=0, log=lambda m: None)
        errors[name] = relative_l2(model.predict(ref.points()), ref)
    assert reports["ssbfgs"].iterations == {"adam": 200, "ssbfgs": 300}
    assert errors["ssbfgs"] < 0.5 * errors["lbfgs"], errors
    assert errors["ssbfgs"] < 1e-3, errors


def test_run_killed_during_bfgs_resumes_the_same_optimisation(tmp_path):
    """A kill after a BFGS checkpoint that follows a redraw: the checkpoint holds the inverse Hessian
    and the current points (weights_only=True), and the resumed run ends on the uninterrupted weights."""
    problem = get_problem("heat")
    cfg = _bfgs_cfg()
    with pytest.raises(KeyboardInterrupt):
        pinn_mod.train_pinn(pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1), tmp_path / "killed",
                            seed=0, log=kill_at("ssbfgs: 200/"))
    state = pinn_mod.load_state(tmp_path / "killed" / "last.pt")
    assert state["stage"] == 1 and state["done"] == 200
    assert state["opt"]["kind"] == "bfgs" and state["opt"]["redraws"] == 2
    n = sum(p.numel() for p in pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1).net.parameters())
    assert tuple(state["opt"]["H"].shape) == (n, n)
    assert_resume_matches_uninterrupted(problem, cfg, tmp_path, atol=1e-10)


def test_redraw_replaces_the_collocation_points(tmp_path):
    problem = get_problem("heat")
    cfg = _bfgs_cfg(lbfgs_iterations=100, quasi_newton={"resample_every": 50})
    model = pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1)
    before = np.array(model.data.train_x_all, copy=True)
    pinn_mod.train_pinn(model, tmp_path, seed=0, log=lambda m: None)
    after = np.asarray(model.data.train_x_all)
    assert after.shape == before.shape and not np.allclose(after, before)


def test_bfgs_needs_float64_and_a_compact_network(tmp_path):
    problem = get_problem("heat")
    cfg = tiny_cfg(precision="float32", quasi_newton={"method": "bfgs"})
    with pytest.raises(ConfigError, match="float64"):
        pinn_mod.train_pinn(pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1), tmp_path / "a",
                            seed=0, log=lambda m: None)
    cfg = tiny_cfg(precision="float64", width=64, depth=3, quasi_newton={"method": "bfgs", "max_weights": 1000})
    with pytest.raises(ConfigError, match="max_weights"):
        pinn_mod.train_pinn(pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1), tmp_path / "b",
                            seed=0, log=lambda m: None)


def test_bfgs_stage_stops_within_an_iteration_of_the_time_budget(tmp_path):
    """max_train_seconds is checked after every BFGS iteration: the run stops just past the budget (not at the
    next checkpoint, here 100 000 iterations away), says so, checkpoints there, and a rerun trains no further."""
    problem = get_problem("heat")
    cfg = _bfgs_cfg(adam_iterations=100, lbfgs_iterations=100000, checkpoint_every=100000, max_train_seconds=3.0)
    model = pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1)
    report = pinn_mod.train_pinn(model, tmp_path, seed=0, log=lambda m: None)
    assert report.stopped_by_time_budget
    assert 3.0 <= report.train_seconds < 3.5, report.train_seconds
    assert 0 < report.iterations["ssbfgs"] < 100000
    state = pinn_mod.load_state(tmp_path / "last.pt")
    assert state["stage"] == 1 and state["done"] == report.iterations["ssbfgs"]
    again = pinn_mod.train_pinn(pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1), tmp_path, seed=0,
                                log=lambda m: None)
    assert again.iterations == report.iterations and again.stopped_by_time_budget


def test_ssbfgs_on_a_declared_problem_through_the_steps(tmp_path):
    """A user's own equation from the config (1D Poisson, soft Dirichlet conditions, never seen by the package):
    the self-scaled BFGS stage with redraws trains it through the train/evaluate steps to a relative L2 error
    below 1e-4 against the analytic solution, where the same Adam stage alone is still far off.

    It is not compared with L-BFGS here: on this tiny problem the ranking of the two depends on the seed and the
    CPU (seeds 0/1/2 on an AMD EPYC box: 6.4e-6 vs 8.3e-6, 1.0e-5 vs 7.0e-7, 3.3e-6 vs 3.3e-6). That comparison
    is made by the Burgers and Allen-Cahn benchmarks (BENCHMARKS.md), over seeds."""
    from tests.pde.test_declared import POISSON_YAML, cfg_from, run_steps

    errors = {}
    for method, qn_iterations in (("ssbfgs", 300), ("adam_only", 0)):
        cfg = cfg_from(POISSON_YAML, precision="float64", hard_constraints=False, adam_iterations=300,
                       lbfgs_iterations=qn_iterations, lbfgs_reset_every=None,
                       quasi_newton={"method": "ssbfgs", "resample_every": 100, "resample_candidates": 1000})
        m = run_steps(cfg, "poisson1d", tmp_path / method)
        errors[method] = m["rel_l2"]
        assert m["iterations"]["adam"] == 300
        assert m["iterations"].get("ssbfgs", 0) == qn_iterations
    assert errors["ssbfgs"] < 1e-4, errors
    assert errors["ssbfgs"] < 1e-3 * errors["adam_only"], errors


def _selection(model, cfg):
    from sciml.pde.bfgs_stage import SELECTION_SEED_OFFSET, selection_score

    n = cfg["pinn"]["quasi_newton"]["selection_points"]
    X = model.problem.uniform_points(n, SELECTION_SEED_OFFSET)
    return selection_score(model, X, n, SELECTION_SEED_OFFSET)


def test_keep_best_ends_on_the_best_scored_weights(tmp_path):
    """With keep_best the stage ends on whichever of the last weights and the weights before each redraw
    scores best on the validation score; the optimisation itself is unchanged (same iterations, and the
    same last weights as a run without it, which a kill/resume of the keep_best run also reproduces)."""
    problem = get_problem("heat")
    # the stage ends 1 iteration after the redraw at 150: strongly residual-driven redraws (k = 4, c = 0)
    base = dict(lbfgs_iterations=151, quasi_newton={"resample_every": 50, "resample_k": 4.0, "resample_c": 0.0})
    plain_cfg = _bfgs_cfg(**base)
    keep_cfg = _bfgs_cfg(**(base | {"quasi_newton": base["quasi_newton"] | {"keep_best": True}}))
    plain = pinn_mod.build_pinn(problem, plain_cfg["pinn"], seed=0, threads=1)
    plain_report = pinn_mod.train_pinn(plain, tmp_path / "plain", seed=0, log=lambda m: None)
    logs = []
    keep = pinn_mod.build_pinn(problem, keep_cfg["pinn"], seed=0, threads=1)
    keep_report = pinn_mod.train_pinn(keep, tmp_path / "keep", seed=0, log=logs.append)
    assert keep_report.iterations == plain_report.iterations == {"adam": 200, "ssbfgs": 151}
    last, chosen = _selection(plain, keep_cfg), _selection(keep, keep_cfg)
    assert chosen <= last
    w_last = np.concatenate([p.detach().numpy().ravel() for p in plain.net.parameters()])
    w_chosen = np.concatenate([p.detach().numpy().ravel() for p in keep.net.parameters()])
    # one iteration after a redraw the last weights are still recovering from it (score 1.2e-3 vs 4.0e-4
    # before the redraw, seed 0): the kept ones win
    assert keep_report.kept_best is not None and plain_report.kept_best is None
    assert keep_report.kept_best["kept_score"] < keep_report.kept_best["last_score"]
    assert chosen < 0.5 * last and not np.allclose(w_chosen, w_last)
    assert any("kept before a redraw" in m for m in logs)
    # a kill after the first checkpoint resumes the same selection
    with pytest.raises(KeyboardInterrupt):
        pinn_mod.train_pinn(pinn_mod.build_pinn(problem, keep_cfg["pinn"], seed=0, threads=1), tmp_path / "killed",
                            seed=0, log=kill_at("ssbfgs: 100/"))
    state = pinn_mod.load_state(tmp_path / "killed" / "last.pt")
    assert state["opt"]["best_x"] is not None and np.isfinite(state["opt"]["best_score"])
    assert_resume_matches_uninterrupted(problem, keep_cfg, tmp_path, atol=1e-10)


def test_keep_best_prefers_a_lower_score_and_otherwise_keeps_the_last_weights(tmp_path):
    """The selection rule itself, with the score replaced by the first weight: the best snapshot wins only
    where it scores strictly lower than the last weights."""
    from sciml.pde.bfgs_stage import BFGSStage

    problem = get_problem("heat")
    cfg = _bfgs_cfg(quasi_newton={"keep_best": True})
    model = pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1)
    stage = BFGSStage(model, "ssbfgs", 1, 10, tmp_path / "last.pt", pinn_mod.TrainReport(), None, 0, lambda m: None)
    stage._score = lambda x: float(x[0])
    for first in (3.0, 1.0, 2.0):
        stage._remember(np.array([first, 7.0]))
    assert stage.best_score == 1.0
    np.testing.assert_array_equal(stage._final_weights(np.array([0.5, 9.0])), [0.5, 9.0])
    assert stage.report.kept_best is None
    np.testing.assert_array_equal(stage._final_weights(np.array([1.5, 9.0])), [1.0, 7.0])
    assert stage.report.kept_best == {"kept_score": 1.0, "last_score": 1.5}
    model.cfg["quasi_newton"]["keep_best"] = False
    np.testing.assert_array_equal(stage._final_weights(np.array([1.5, 9.0])), [1.5, 9.0])


def test_keep_best_needs_redraws(tmp_path):
    problem = get_problem("heat")
    cfg = _bfgs_cfg(quasi_newton={"resample_every": None, "keep_best": True})
    with pytest.raises(ConfigError, match="keep_best"):
        pinn_mod.train_pinn(pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1), tmp_path, seed=0,
                            log=lambda m: None)


def test_keep_best_on_a_declared_problem_is_reported(tmp_path):
    """keep_best through the train/evaluate/section steps on a user's own equation: metrics.json carries both
    validation scores, and the report section says the run ended on kept weights."""
    from sciml.pde.steps.section import section
    from tests.pde.test_declared import POISSON_YAML, cfg_from, run_steps

    cfg = cfg_from(POISSON_YAML, precision="float64", hard_constraints=False, adam_iterations=300,
                   lbfgs_iterations=201, lbfgs_reset_every=None,
                   quasi_newton={"method": "ssbfgs", "resample_every": 100, "resample_candidates": 1000,
                                 "resample_k": 4.0, "resample_c": 0.0, "keep_best": True, "selection_points": 500})
    m = run_steps(cfg, "poisson1d", tmp_path)
    assert m["iterations"]["ssbfgs"] == 201
    assert m["kept_best"]["kept_score"] < m["kept_best"]["last_score"], m["kept_best"]
    assert m["rel_l2"] < 1e-3, m["rel_l2"]
    section(cfg, tmp_path / "section", evaluate_dirs=[tmp_path / "evaluate"])
    assert "kept before a point redraw" in (tmp_path / "section" / "section.json").read_text()
