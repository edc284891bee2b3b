"""PINN training: tiny heat run, checkpoint/resume, NaN stop, float32 L-BFGS handling."""

import numpy as np
import pytest

from sciml.config import domain_section
from sciml.errors import TrainingError
from sciml.pde import pinn as pinn_mod
from sciml.pde.accuracy import relative_l2
from sciml.pde.problems import get_problem


def tiny_cfg(**pinn):
    base = {"num_domain": 100, "adam_iterations": 200, "lbfgs_iterations": 100, "checkpoint_every": 100}
    base.update(pinn)
    return domain_section("pde", None, None) | {"pinn": domain_section("pde", f'{{"pinn": {__import__("json").dumps(base)}}}')["pinn"]}


def test_tiny_heat_training_reaches_accuracy(tmp_path):
    cfg = tiny_cfg()
    problem = get_problem("heat")
    model = pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1)
    assert model.hard
    report = pinn_mod.train_pinn(model, tmp_path / "ckpt", seed=0, log=lambda m: None)
    ref = problem.reference()
    err = relative_l2(model.predict(ref.points()), ref)
    assert err < 1e-2, err
    assert report.iterations["adam"] == 200 and report.iterations["lbfgs"] > 0
    assert (tmp_path / "ckpt" / "last.pt").is_file()
    # the checkpoint loads with weights_only=True and holds the final stage marker
    state = pinn_mod.load_state(tmp_path / "ckpt" / "last.pt")
    assert state["stage"] == 2


def test_killed_run_resumes_from_checkpoint(tmp_path):
    cfg = tiny_cfg(lbfgs_iterations=0)
    problem = get_problem("heat")
    calls = []

    def killer(msg):
        calls.append(msg)
        if msg.startswith("adam: 100/"):
            raise KeyboardInterrupt  # simulated kill after the first checkpoint

    model = pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1)
    with pytest.raises(KeyboardInterrupt):
        pinn_mod.train_pinn(model, tmp_path, seed=0, log=killer)
    assert pinn_mod.load_state(tmp_path / "last.pt")["done"] == 100
    model2 = pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1)
    report = pinn_mod.train_pinn(model2, tmp_path, seed=0, log=lambda m: None)
    assert report.resumed_from is not None
    assert report.iterations == {"adam": 200}  # 100 before the kill + 100 after
    # the loss history reads as one run: iterations continue from the checkpoint's, and the
    # losses equal those of an uninterrupted run at the same iterations
    model3 = pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1)
    straight = pinn_mod.train_pinn(model3, tmp_path / "straight", seed=0, log=lambda m: None)
    steps = [h[0] for h in report.history]
    assert steps == sorted(set(steps)) and steps[-1] == 200
    assert [h[0] for h in report.history] == [h[0] for h in straight.history]
    assert np.allclose([h[2] for h in report.history], [h[2] for h in straight.history], rtol=1e-6)


def _final_weights(model):
    return np.concatenate([p.detach().numpy().ravel() for p in model.net.parameters()])


def test_lbfgs_trajectory_does_not_depend_on_the_checkpoint_interval(tmp_path):
    """L-BFGS keeps its curvature memory across checkpoints: checkpoints every 100 iterations give
    the same weights as one checkpoint at the end (rebuilding the optimizer per chunk would not)."""
    problem = get_problem("heat")
    weights, reports = [], []
    for every in (100, 1000):
        cfg = tiny_cfg(precision="float64", adam_iterations=100, lbfgs_iterations=400, checkpoint_every=every,
                       lbfgs_reset_every=None)
        model = pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1)
        reports.append(pinn_mod.train_pinn(model, tmp_path / str(every), seed=0, log=lambda m: None))
        weights.append(_final_weights(model))
    # exactly the configured count (steps that ended short used to carry it to 400 + up to 99)
    assert reports[0].iterations == reports[1].iterations and reports[0].iterations["lbfgs"] == 400
    assert not reports[0].lbfgs_stopped_early
    np.testing.assert_array_equal(weights[0], weights[1])
    assert [h[0] for h in reports[0].history] == [h[0] for h in reports[1].history]


def test_lbfgs_reset_every_rebuilds_the_optimizer_on_its_own_schedule(tmp_path):
    """lbfgs_reset_every: periodic fresh curvature memory. The trajectory then depends on that
    schedule, not on the checkpoint interval, and differs from keeping one optimizer."""
    problem = get_problem("heat")
    weights, reports = {}, {}
    for every, reset in ((100, 100), (1000, 100), (100, None)):
        cfg = tiny_cfg(precision="float64", adam_iterations=100, lbfgs_iterations=400, checkpoint_every=every,
                       lbfgs_reset_every=reset)
        model = pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1)
        reports[every, reset] = pinn_mod.train_pinn(model, tmp_path / f"{every}_{reset}", seed=0, log=lambda m: None)
        assert reports[every, reset].iterations["lbfgs"] >= 390  # converged runs may stop a step early
        weights[every, reset] = _final_weights(model)
    # the same schedule whatever the checkpoint interval: the same stops, restarts and weights (whether
    # L-BFGS stops a step early near convergence depends on the CPU's rounding: on an Intel Xeon the
    # reset-every-100 runs stop at 399 with 2 restarts, on an AMD EPYC they ran all 400)
    a, b = reports[100, 100], reports[1000, 100]
    assert (a.iterations, a.lbfgs_restarts, a.history) == (b.iterations, b.lbfgs_restarts, b.history)
    np.testing.assert_array_equal(weights[100, 100], weights[1000, 100])
    assert np.abs(weights[100, 100] - weights[100, None]).max() > 1e-6


def assert_resume_matches_uninterrupted(problem, cfg, tmp_path, atol):
    """Resume the run killed in ``tmp_path / "killed"`` and train the same config uninterrupted in
    ``tmp_path / "straight"``: the resumed run is a resume, does the same iterations, ends on the same weights."""
    resumed_model = pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1)
    resumed = pinn_mod.train_pinn(resumed_model, tmp_path / "killed", seed=0, log=lambda m: None)
    straight_model = pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1)
    straight = pinn_mod.train_pinn(straight_model, tmp_path / "straight", seed=0, log=lambda m: None)
    assert resumed.resumed_from is not None and resumed.iterations == straight.iterations
    np.testing.assert_allclose(_final_weights(resumed_model), _final_weights(straight_model), rtol=0, atol=atol)


def kill_at(prefix):
    """A training log function that raises KeyboardInterrupt (a simulated kill) at the first message
    starting with ``prefix``, i.e. just after the checkpoint that message reports."""
    def log(msg):
        if msg.startswith(prefix):
            raise KeyboardInterrupt
    return log


@pytest.mark.parametrize("reset_every", [None, 250, 200])
def test_run_killed_during_lbfgs_resumes_the_same_optimisation(tmp_path, reset_every):
    """A kill after an L-BFGS checkpoint, then a resume: the checkpoint holds the optimizer's memory
    (loadable with weights_only=True), and the resumed run ends on the uninterrupted run's weights,
    with one optimizer, killed mid reset cycle (250) and killed where a cycle ends (200)."""
    problem = get_problem("heat")
    cfg = tiny_cfg(precision="float64", adam_iterations=100, lbfgs_iterations=400, checkpoint_every=100,
                   lbfgs_reset_every=reset_every)
    with pytest.raises(KeyboardInterrupt):
        pinn_mod.train_pinn(pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1), tmp_path / "killed",
                            seed=0, log=kill_at("lbfgs: 200/"))
    state = pinn_mod.load_state(tmp_path / "killed" / "last.pt")
    assert state["stage"] == 1 and state["done"] == 200
    memory = state["opt"]["state"][0]
    assert memory["n_iter"] == 200 and len(memory["old_dirs"]) > 0
    assert_resume_matches_uninterrupted(problem, cfg, tmp_path, atol=1e-12)


def test_time_budget_stops_training_at_a_checkpoint_and_a_resume_trains_no_further(tmp_path):
    """max_train_seconds: training stops at the first chunk boundary past the budget (here the
    first chunk of Adam; L-BFGS never starts), the report says so, and a rerun from the checkpoint
    does not train past the spent budget. Without a budget every stage runs (the control)."""
    problem = get_problem("heat")
    cfg = tiny_cfg(max_train_seconds=1e-6)
    messages = []
    report = pinn_mod.train_pinn(pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1), tmp_path, seed=0,
                                 log=messages.append)
    assert report.stopped_by_time_budget and report.iterations == {"adam": 100}, report.iterations
    assert any("time budget" in m for m in messages), messages
    again = pinn_mod.train_pinn(pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1), tmp_path, seed=0,
                                log=lambda m: None)
    assert again.stopped_by_time_budget and again.iterations == {"adam": 100}
    full = pinn_mod.train_pinn(pinn_mod.build_pinn(problem, tiny_cfg()["pinn"], seed=0, threads=1),
                               tmp_path / "full", seed=0, log=lambda m: None)
    assert not full.stopped_by_time_budget and full.iterations["adam"] == 200 and full.iterations["lbfgs"] > 0


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    cfg = tiny_cfg(lbfgs_iterations=0)
    model = pinn_mod.build_pinn(get_problem("heat"), cfg["pinn"], seed=0, threads=1)
    losses = iter([0.5, float("nan")])
    monkeypatch.setattr(pinn_mod, "_current_loss", lambda m: next(losses))
    with pytest.raises(TrainingError) as exc:
        pinn_mod.train_pinn(model, tmp_path, seed=0, log=lambda m: None)
    assert "heat" in str(exc.value) and "last good checkpoint" in str(exc.value)
    state = pinn_mod.load_state(tmp_path / "last.pt")
    assert state["done"] == 100 and all(np.isfinite(v).all() for v in state["net"].values())


def test_float32_lbfgs_early_stop_is_handled(tmp_path):
    cfg = tiny_cfg(precision="float32", adam_iterations=100, lbfgs_iterations=3000, checkpoint_every=1000,
                   lbfgs_restarts=1)
    model = pinn_mod.build_pinn(get_problem("heat"), cfg["pinn"], seed=0, threads=1)
    report = pinn_mod.train_pinn(model, tmp_path, seed=0, log=lambda m: None)
    # float32 L-BFGS on this problem stops before 3000 iterations; the run must end
    # cleanly, record it, and have restarted at most lbfgs_restarts times.
    assert report.lbfgs_stopped_early
    assert report.iterations["lbfgs"] < 3000 and report.lbfgs_restarts <= 1


def test_rar_adds_anchor_points(tmp_path):
    cfg = tiny_cfg(adam_iterations=50, lbfgs_iterations=0, checkpoint_every=50,
                   rar={"enabled": True, "rounds": 2, "candidates": 500, "points_per_round": 10, "iterations": 50})
    model = pinn_mod.build_pinn(get_problem("heat"), cfg["pinn"], seed=0, threads=1)
    n0 = len(model.data.train_x_all)
    report = pinn_mod.train_pinn(model, tmp_path, seed=0, log=lambda m: None)
    assert report.anchors == 20 and len(model.data.train_x_all) == n0 + 20
    assert set(report.iterations) == {"adam", "rar1", "rar2"}


def test_rar_rounds_after_lbfgs_train_with_lbfgs(tmp_path):
    import torch

    rar = {"enabled": True, "rounds": 1, "candidates": 500, "points_per_round": 10, "iterations": 20,
           "optimizer": "lbfgs"}
    cfg = tiny_cfg(precision="float64", adam_iterations=30, lbfgs_iterations=20, checkpoint_every=10, rar=rar)
    assert pinn_mod._stages(cfg["pinn"]) == [("adam", 30), ("lbfgs", 20), ("rar1", 20)]
    assert pinn_mod._stages({**cfg["pinn"], "rar": {**rar, "optimizer": "adam"}}) == [
        ("adam", 30), ("rar1", 20), ("lbfgs", 20)]
    model = pinn_mod.build_pinn(get_problem("heat"), cfg["pinn"], seed=0, threads=1)
    n0 = len(model.data.train_x_all)
    report = pinn_mod.train_pinn(model, tmp_path, seed=0, log=lambda m: None)
    assert report.anchors == 10 and len(model.data.train_x_all) == n0 + 10
    assert [h[1] for h in report.history] == sorted((h[1] for h in report.history),
                                                    key=["adam", "lbfgs", "rar1"].index)
    assert 0 < report.iterations["rar1"] <= 20
    assert isinstance(model.model.opt, torch.optim.LBFGS)


def test_float64_pinn_does_not_leak_torch_default_dtype(tmp_path):
    """DeepXDE sets torch's default dtype process-wide; a PINN run must restore it, or every
    later torch model in the process (another domain, a notebook cell) turns float64."""
    import torch

    assert torch.get_default_dtype() == torch.float32
    cfg = tiny_cfg(precision="float64", adam_iterations=20, lbfgs_iterations=10, checkpoint_every=10)
    problem = get_problem("heat")
    model = pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1)
    assert torch.get_default_dtype() == torch.float32
    pinn_mod.train_pinn(model, tmp_path / "ckpt", seed=0, log=lambda m: None)
    assert torch.get_default_dtype() == torch.float32
    out = model.predict(problem.reference().points()[:5])
    assert out.dtype == np.float64 and np.isfinite(out).all()
    assert torch.get_default_dtype() == torch.float32


def test_periodic_embedding_features():
    import torch

    emb = pinn_mod.periodic_embedding(get_problem("allen_cahn"), 3)
    assert emb is not None and emb.n_features == 3 * 2 + 1
    X = torch.tensor([[-1.0, 0.3], [1.0, 0.3], [0.5, 0.7]], dtype=torch.float64)
    F = emb(X)
    assert F.shape == (3, 7)
    # x = -1 and x = +1 are the same point of the period-2 circle; t passes through unchanged
    assert torch.allclose(F[0], F[1], atol=1e-12)
    assert torch.allclose(F[2, :3], torch.cos(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64) * torch.pi * 0.5))
    assert F[2, -1] == 0.7
    # off, or a problem without periodic inputs: raw inputs
    assert pinn_mod.periodic_embedding(get_problem("allen_cahn"), 0) is None
    assert pinn_mod.periodic_embedding(get_problem("heat"), 5) is None


def test_periodic_embedding_makes_the_network_periodic(tmp_path):
    """With soft constraints (no output transform) only the embedding can make u(-1, t) = u(1, t)."""
    cfg = tiny_cfg(hard_constraints=False, periodic_modes=4, adam_iterations=20, lbfgs_iterations=0,
                   checkpoint_every=20)
    problem = get_problem("allen_cahn")
    model = pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1)
    pinn_mod.train_pinn(model, tmp_path / "ckpt", seed=0, log=lambda m: None)
    t = np.linspace(0.0, 1.0, 11)
    left = model.predict(np.stack([-np.ones_like(t), t], axis=1))
    right = model.predict(np.stack([np.ones_like(t), t], axis=1))
    middle = model.predict(np.stack([np.zeros_like(t), t], axis=1))
    assert np.allclose(left, right, atol=1e-5)
    assert not np.allclose(left, middle, atol=1e-3)
    # the same config without the embedding is not periodic
    cfg0 = tiny_cfg(hard_constraints=False, adam_iterations=20, lbfgs_iterations=0, checkpoint_every=20)
    model0 = pinn_mod.build_pinn(problem, cfg0["pinn"], seed=0, threads=1)
    assert not np.allclose(model0.predict(np.stack([-np.ones_like(t), t], axis=1)),
                           model0.predict(np.stack([np.ones_like(t), t], axis=1)), atol=1e-5)


def test_lshape_hard_constraint_is_zero_on_every_edge_and_trains(tmp_path):
    """The L-shape transform vanishes on all six edges (the re-entrant corner included), not
    inside; its residual is finite at the corner; a tiny hard-BC run approaches the FEM."""
    cfg = tiny_cfg(num_boundary=0, adam_iterations=300, lbfgs_iterations=200, checkpoint_every=100, width=20)
    problem = get_problem("poisson_lshape")
    model = pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1)
    assert model.hard and model.data.bcs == []
    s = np.linspace(0.0, 1.0, 21)
    edges = np.concatenate([
        np.stack([s, 0 * s], 1), np.stack([0 * s, s], 1),            # re-entrant edges, corner (0, 0)
        np.stack([np.ones_like(s), -s], 1), np.stack([-s, -np.ones_like(s)], 1),
        np.stack([-np.ones_like(s), 2 * s - 1], 1), np.stack([-s, np.ones_like(s)], 1),
    ])
    inner = np.array([[-0.5, -0.5], [0.5, -0.5], [-0.5, 0.5], [-0.01, 0.01], [0.3, -0.02]])
    before = model.predict(inner)
    corner = np.all(edges == 0, axis=1)  # u = 1e-10 N there: the regularisation that keeps derivatives finite

    def edges_zero() -> bool:
        u = np.abs(model.predict(edges))
        return bool(u[~corner].max() < 1e-12 and u[corner].max() < 1e-9)

    assert edges_zero()
    assert np.all(np.abs(before) > 1e-6)
    assert np.all(np.isfinite(model.residual(np.array([[0.0, 0.0], [1e-9, -1e-9]]))))
    pinn_mod.train_pinn(model, tmp_path / "ckpt", seed=0, log=lambda m: None)
    from sciml.pde.references import Reference  # the FEM on a coarse grid, not the (inexact) file
    g = np.linspace(-1.0, 1.0, 21)
    grid = Reference(("x", "y"), {"x": g, "y": g}, np.zeros((21, 21)), "test", inputs=("x", "y"))
    fem = problem.solve(grid, {"refine": 3, "order": 2})
    mask = np.isfinite(fem)
    pred = model.predict(grid.points()).reshape(fem.shape)
    err = np.linalg.norm(pred[mask] - fem[mask]) / np.linalg.norm(fem[mask])
    assert err < 0.1, err
    assert edges_zero()  # still exact after training
    # soft mode keeps its Dirichlet term
    soft = pinn_mod.build_pinn(problem, tiny_cfg(hard_constraints=False)["pinn"], seed=0, threads=1)
    assert not soft.hard and len(soft.data.bcs) == 1


def test_symmetry_makes_the_burgers_network_exactly_odd_with_hard_constraints(tmp_path):
    """pinn.symmetry: u(-x, t) = -u(x, t) for any weights; IC and BC still exact; off = not odd."""
    cfg = tiny_cfg(symmetry=True, num_domain=200, adam_iterations=20, lbfgs_iterations=0, checkpoint_every=20)
    problem = get_problem("burgers")
    model = pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1)
    pinn_mod.train_pinn(model, tmp_path / "ckpt", seed=0, log=lambda m: None)
    x, t = np.meshgrid(np.linspace(-1.0, 1.0, 21), np.linspace(0.0, 0.99, 7), indexing="ij")
    X = np.stack([x.ravel(), t.ravel()], axis=1)
    mirrored = X * np.array([-1.0, 1.0])
    u = model.predict(X)
    assert np.allclose(model.predict(mirrored), -u, atol=1e-12)
    assert np.abs(u).max() > 0.1 and np.abs(model.predict(np.array([[0.0, 0.5]]))).max() < 1e-12
    assert np.allclose(model.predict(np.stack([x[:, 0], 0 * x[:, 0]], 1)), -np.sin(np.pi * x[:, 0]), atol=1e-12)
    assert np.abs(model.predict(np.array([[-1.0, 0.5], [1.0, 0.5]]))).max() < 1e-12
    assert np.isfinite(model.residual(X)).all()
    # the mirrored network answers in the input's shape and trains (the loss fell)
    state = pinn_mod.load_state(tmp_path / "ckpt" / "last.pt")
    assert state["history"][-1][2] < state["history"][0][2]
    # without the option the same network is not odd
    plain = pinn_mod.build_pinn(problem, tiny_cfg(num_domain=200)["pinn"], seed=0, threads=1)
    assert not np.allclose(plain.predict(mirrored), -plain.predict(X), atol=1e-3)


def test_symmetry_for_the_parametric_problem_and_problems_without_one():
    """burgers_nu is odd in x at every viscosity (x is input 0 of (x, nu, t)); a problem without
    a declared symmetry ignores the option."""
    cfg = tiny_cfg(symmetry=True, num_domain=100)
    model = pinn_mod.build_pinn(get_problem("burgers_nu"), cfg["pinn"], seed=0, threads=1)
    X = np.array([[0.3, 0.005, 0.2], [0.7, 0.02, 0.9], [-0.1, 0.01, 0.5]])
    assert np.allclose(model.predict(X * np.array([-1.0, 1.0, 1.0])), -model.predict(X), atol=1e-12)
    assert pinn_mod.odd_mirror(get_problem("heat")) is None
    heat = pinn_mod.build_pinn(get_problem("heat"), cfg["pinn"], seed=0, threads=1)
    assert heat.predict(np.array([[0.5, 0.5]])).shape == (1,)


@pytest.mark.parametrize("precision, suggests_float64", [("float64", False), ("float32", True)])
def test_nan_advice_suggests_float64_only_when_not_already_in_use(tmp_path, monkeypatch, precision, suggests_float64):
    cfg = tiny_cfg(lbfgs_iterations=0, adam_iterations=100, precision=precision)
    model = pinn_mod.build_pinn(get_problem("heat"), cfg["pinn"], seed=0, threads=1)
    monkeypatch.setattr(pinn_mod, "_current_loss", lambda m: float("nan"))
    with pytest.raises(TrainingError) as exc:
        pinn_mod.train_pinn(model, tmp_path, seed=0, log=lambda m: None)
    assert "Lower pinn.lr" in str(exc.value)
    assert ("use float64" in str(exc.value)) == suggests_float64


def test_a_condition_without_training_points_is_refused_before_training():
    """A code-written condition u_t(x, 0) = g whose selector wants t = 0 among the spatial boundary's
    points holds on none of them: its loss term would be NaN, so building the PINN refuses it."""
    from sciml.errors import ConfigError
    from sciml.pde.problems.base import Problem

    class Wave(Problem):
        name, title, equation, inputs, has_solver = "wave_t0", "wave", "u_tt = u_xx", ("x", "t"), False

        def bounds(self):
            return [(0.0, 1.0), (0.0, 1.0)]

        def geometry(self, dde):
            return dde.geometry.GeometryXTime(dde.geometry.Interval(0.0, 1.0), dde.geometry.TimeDomain(0.0, 1.0))

        def pde(self, dde):
            return lambda x, u: dde.grad.hessian(u, x, i=1, j=1) - dde.grad.hessian(u, x, i=0, j=0)

        def conditions(self, dde, geom, hard):
            return [dde.icbc.DirichletBC(geom, lambda X: 0 * X[:, :1], lambda _, on: on),
                    dde.icbc.OperatorBC(geom, lambda x, u, X: dde.grad.jacobian(u, x, i=0, j=1),
                                        lambda X, on: on and bool(np.isclose(X[1], 0.0)))]

    cfg = tiny_cfg(num_boundary=20, num_initial=20)
    with pytest.raises(ConfigError, match=r"condition 1 \(OperatorBC.*holds on none of the training points "
                                          r"\(pinn.num_boundary = 20, pinn.num_initial = 20\)"):
        pinn_mod.build_pinn(Wave({}), cfg["pinn"], seed=0, threads=1)


def test_accelerator_cpu_pins_the_network_to_the_cpu_whatever_device_was_the_default(tmp_path):
    """DeepXDE makes cuda torch's default device on import whenever a GPU is visible; with
    ``pinn.accelerator: cpu`` the network and its points must stay on the CPU. No GPU here, so
    another default ('meta', which holds no data) stands in for the GPU DeepXDE would pick."""
    import torch

    problem = get_problem("heat")
    torch.set_default_device("meta")
    try:
        model = pinn_mod.build_pinn(problem, tiny_cfg(accelerator="cpu", adam_iterations=50,
                                                      lbfgs_iterations=0)["pinn"], seed=0, threads=1)
        assert torch.get_default_device() == torch.device("cpu")
    finally:
        torch.set_default_device(None)
    assert {p.device.type for p in model.net.parameters()} == {"cpu"}
    pinn_mod.train_pinn(model, tmp_path, seed=0, log=lambda m: None)  # trains: nothing on 'meta'
    assert np.isfinite(model.predict(problem.reference().points())).all()


def test_accelerator_cuda_without_a_gpu_names_the_key():
    import torch

    from sciml.errors import ConfigError

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match=r"pde\.pinn\.accelerator.*no CUDA device"):
        pinn_mod.build_pinn(get_problem("heat"), tiny_cfg(accelerator="cuda")["pinn"], seed=0, threads=1)
