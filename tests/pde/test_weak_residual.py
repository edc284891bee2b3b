"""The residual's dual norm (sciml.pde.weak_residual): exact on modes, blind to a corner spike,
and reported by the evaluate step for declared box domains only."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.pde.weak_residual import quadrature_grid, weak_residual


def test_quadrature_weights_sum_to_the_volume_and_integrate_polynomials():
    nodes, pts, w = quadrature_grid([(0.0, 2.0), (-1.0, 1.0)], 9)
    assert pts.shape == (81, 2) and len(nodes) == 2
    assert w.sum() == pytest.approx(4.0, rel=1e-12)
    assert np.sum(w * pts[:, 0] ** 3 * pts[:, 1] ** 2) == pytest.approx(4.0 * 2 / 3, rel=1e-12)  # 16/4 * 2/3


def test_a_single_sine_mode_has_its_closed_form_norm():
    """r = a sin(pi x) sin(2 pi y) on the unit square: its only coefficient is a/2 on the
    orthonormal mode (1, 2), whose eigenvalue is 5 pi^2, so ||r||_{-1} = a / (2 sqrt(5) pi)."""
    a = 3.0
    out = weak_residual(lambda X: a * np.sin(np.pi * X[:, 0]) * np.sin(2 * np.pi * X[:, 1]),
                        [(0.0, 1.0), (0.0, 1.0)], n_space=2, n_points=40 ** 2)
    assert out["weak_residual"] == pytest.approx(a / (2 * np.sqrt(5) * np.pi), rel=1e-10)
    assert out["weak_points"] == 1600 and out["weak_modes"] == 10


def test_time_is_measured_in_l2_and_equations_add_in_quadrature():
    """r1 = sin(pi x) on x in [0, 1], t in [0, 2]: coefficient 1 on (phi_1, psi_0), eigenvalue pi^2,
    norm 1/pi; r2 = 2 r1 has norm 2/pi; together sqrt(5)/pi."""
    def residuals(X):
        r = np.sin(np.pi * X[:, 0])
        return np.stack([r, 2 * r])

    out = weak_residual(residuals, [(0.0, 1.0), (0.0, 2.0)], n_space=1, n_points=30 ** 2)
    assert out["weak_residual_per_equation"] == pytest.approx([1 / np.pi, 2 / np.pi], rel=1e-10)
    assert out["weak_residual"] == pytest.approx(np.sqrt(5) / np.pi, rel=1e-10)


def test_a_large_residual_at_one_corner_weighs_less_than_a_small_one_everywhere():
    """What the check is for: a residual of RMS ~0.1 concentrated within ~0.02 of a corner (a smooth
    network meeting a singular corner) has a far smaller dual norm than a residual of the same RMS
    spread over the domain (a network that is wrong everywhere); the strong RMS cannot tell them apart."""
    corner = lambda X: np.exp(-np.hypot(X[:, 0], 1 - X[:, 1]) / 0.02)  # noqa: E731
    smooth = lambda X: np.cos(np.pi * X[:, 0]) * np.cos(np.pi * X[:, 1])  # noqa: E731
    box = [(0.0, 1.0), (0.0, 1.0)]
    _, pts, w = quadrature_grid(box, 200)
    rms = lambda f: np.sqrt(np.sum(w * f(pts) ** 2))  # noqa: E731
    scale = rms(smooth) / rms(corner)
    spike = weak_residual(lambda X: scale * corner(X), box, 2, 101 ** 2)["weak_residual"]
    spread = weak_residual(smooth, box, 2, 101 ** 2)["weak_residual"]
    assert spike < spread / 10, (spike, spread)


def test_the_evaluate_step_reports_it_for_a_box_and_not_for_a_disk():
    """validation_metrics adds the weak residual on a declared interval/rectangle/box domain (it is
    small for a network that has the exact solution built in) and leaves it out on a disk."""
    from sciml.config import domain_section
    from sciml.pde.pinn import build_pinn
    from sciml.pde.steps.common import load_problem
    from sciml.pde.steps.evaluate import validation_metrics

    def declared(geometry, hard, equation, solution):
        section = {"problems": ["p"], "pinn": {"width": 8, "depth": 1, "adam_iterations": 1, "lbfgs_iterations": 0},
                   "declared": {"p": {"geometry": geometry, "fields": ["u"], "equations": [equation],
                                      "conditions": [{"type": "dirichlet", "value": 0}], "hard": {"u": hard},
                                      "solution": {"u": solution}}}}
        cfg = domain_section("pde", config_json=__import__("json").dumps(section))
        problem = load_problem(cfg, "p")
        return problem, build_pinn(problem, cfg["pinn"], 0, threads=1)

    # u = x(1-x) + 0 * N exactly (distance 0 switches the network off): u_xx + 2 = 0 everywhere
    problem, pinn = declared({"type": "interval", "low": 0, "high": 1}, {"lift": "x*(1 - x)", "distance": 0},
                             "u_xx + 2", "x*(1 - x)")
    v = validation_metrics(problem, pinn, 400, 0)
    assert v["weak_residual"] < 1e-10 and v["weak_modes"] == 16, v
    wrong, pinn_w = declared({"type": "interval", "low": 0, "high": 1}, {"lift": "x*(1 - x)", "distance": 0},
                             "u_xx + 3", "x*(1 - x)")
    assert validation_metrics(wrong, pinn_w, 400, 0)["weak_residual"] > 0.1
    disk, pinn_d = declared({"type": "disk", "center": [0, 0], "radius": 1},
                            {"lift": "1 - x**2 - y**2", "distance": 0}, "u_xx + u_yy + 4", "1 - x**2 - y**2")
    vd = validation_metrics(disk, pinn_d, 400, 0)
    assert "weak_residual" not in vd and vd["residual_rms"] < 1e-8, vd
