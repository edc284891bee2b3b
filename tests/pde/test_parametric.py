"""The parametric Burgers surrogate (viscosity as a network input)."""

import math

import numpy as np
import pytest

from sciml.errors import ConfigError
from sciml.pde.accuracy import relative_l2
from sciml.pde.problems import get_problem
from sciml.pde.references import Reference, load_burgers


@pytest.mark.parametrize("params, key", [
    ({"nu_min": 0.02, "nu_max": 0.01}, "nu_max"),  # empty range
    ({"nu_min": -0.01}, "nu_min"),
    ({"n_nu": 0}, "n_nu"),
])
def test_bad_parameter_ranges_name_the_problem(params, key):
    with pytest.raises(ConfigError, match=f"pde.params.burgers_nu.{key}") as exc:
        get_problem("burgers_nu", params)
    assert "burgers_nu" in str(exc.value)


def test_reference_viscosities_are_log_spaced_with_both_ends():
    p = get_problem("burgers_nu", {"nu_min": 0.001, "nu_max": 0.1, "n_nu": 3})
    assert np.allclose(p.nu_values(), [0.001, 0.01, 0.1])
    assert p.bounds()[1] == (0.001, 0.1) and p.inputs == ("x", "nu", "t")


def test_solver_slice_at_the_file_viscosity_matches_burgers_npz(shared_data):
    """The parametric solve at nu = 0.01/pi is the Burgers.npz solution; at another nu it is
    the plain Burgers problem's solve at that nu."""
    p = get_problem("burgers_nu", {"nu_min": 0.01 / math.pi, "nu_max": 0.05, "n_nu": 2})
    file_ref = load_burgers(shared_data / "pde/deepxde/Burgers.npz")
    grid = Reference(("nu", "x", "t"), {"nu": p.nu_values(), "x": file_ref.coords["x"], "t": file_ref.coords["t"]},
                     np.zeros((2, *file_ref.shape)), "grid", inputs=p.inputs)
    level = {"n": 1024, "steps_per_output": 8}
    u = p.solve(grid, level)
    assert u.shape == (2, *file_ref.shape)
    assert relative_l2(u[0], file_ref) <= 1e-3
    plain = get_problem("burgers", {"nu": 0.05})
    assert np.allclose(u[1], plain.solve(file_ref, level))


def test_residual_uses_the_viscosity_input():
    """Residual of u = x^2 t: u_t + u u_x - nu u_xx = x^2 + 2 x^3 t^2 - 2 nu t, nu read per point."""
    import torch

    from sciml.pde.pinn import setup_deepxde, torch_precision

    with torch_precision("float64"):
        dde = setup_deepxde("float64", 0, 1)
        p = get_problem("burgers_nu")
        X = torch.tensor([[0.3, 0.004, 0.5], [-0.7, 0.02, 0.9]], requires_grad=True)
        u = X[:, 0:1] ** 2 * X[:, 2:3]
        r = p.pde(dde)(X, u).detach().numpy().ravel()
        x, nu, t = X.detach().numpy().T
        assert np.allclose(r, x ** 2 + 2 * x ** 3 * t ** 2 - 2 * nu * t)


def test_feature_transform_maps_log_viscosity_to_unit_range():
    import torch

    p = get_problem("burgers_nu", {"nu_min": 0.001, "nu_max": 0.1})
    f = p.feature_transform(None)
    X = torch.tensor([[0.5, 0.001, 0.2], [0.5, 0.01, 0.2], [-0.5, 0.1, 0.7]], dtype=torch.float64)
    F = f(X)
    assert torch.allclose(F[:, 1], torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64))
    assert torch.equal(F[:, [0, 2]], X[:, [0, 2]])


def test_tiny_parametric_training_and_per_query_table(tmp_path):
    from sciml.config import domain_section
    from sciml.pde import pinn as pinn_mod
    from sciml.pde.timing import per_parameter_queries

    cfg = domain_section("pde", '{"pinn": {"num_domain": 200, "adam_iterations": 30, "lbfgs_iterations": 0, '
                                '"checkpoint_every": 30}}')
    p = get_problem("burgers_nu", {"nu_min": 0.02, "nu_max": 0.08, "n_nu": 2})
    model = pinn_mod.build_pinn(p, cfg["pinn"], seed=0, threads=1)
    assert model.hard and len(model.data.bcs) == 0
    pinn_mod.train_pinn(model, tmp_path, seed=0, log=lambda m: None)
    x = np.linspace(-1, 1, 5)
    for nu in (0.02, 0.08):  # the hard initial condition holds at every viscosity
        X0 = np.stack([x, np.full(5, nu), np.zeros(5)], axis=1)
        assert np.allclose(model.predict(X0), -np.sin(np.pi * x), atol=1e-12)
    # per-query table on a small grid: an exact "prediction" gets error 0 and the finest level;
    # a perturbed one gets its own error and a coarser solver level
    small = Reference(("nu", "x", "t"), {"nu": p.nu_values(), "x": np.linspace(-1, 1, 33), "t": np.linspace(0, 0.99, 11)},
                      np.zeros((2, 33, 11)), "grid", inputs=p.inputs)
    exact = Reference(small.dims, small.coords, p.solve(small, p.solver_levels()[-1]), "solver", inputs=p.inputs)
    rows = per_parameter_queries(p, exact, model.predict, exact.values * 1.05, repeats=1, log=lambda m: None)
    assert [r["nu"] for r in rows] == pytest.approx([0.02, 0.08])
    for r in rows:
        assert r["pinn_rel_l2"] == pytest.approx(0.05 / 1.0, rel=1e-6)
        assert r["points"] == 33 * 11 and r["pinn_inference_seconds"] > 0
        assert r["solver_level"] is not None and r["solver_rel_l2"] <= 0.05
        assert r["solver_level"] != p.solver_levels()[-1]


def test_soft_boundary_condition_only_on_the_x_faces():
    from sciml.pde.pinn import setup_deepxde, torch_precision

    with torch_precision("float64"):
        dde = setup_deepxde("float64", 0, 1)
        p = get_problem("burgers_nu", {"nu_min": 0.01, "nu_max": 0.02})
        geom = p.geometry(dde)
        ic, bc = p.conditions(dde, geom, hard=False)
        X = np.array([[1.0, 0.015, 0.5], [0.3, 0.01, 0.5]])  # on an x face; on a nu face
        assert bc.on_boundary(X, np.array([True, True])).tolist() == [True, False]
        assert p.conditions(dde, geom, hard=True) == []
