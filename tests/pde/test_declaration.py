"""sciml.pde.declaration: the one path that builds every problem's domain, residual and conditions
(built-in problems and config-declared ones), the arc-length boundary sampler for CSG domains,
the reference-free condition misfit, and the input scaling option of the PINN."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sciml.config import domain_section
from sciml.errors import ConfigError
from sciml.pde.declaration import Declaration
from sciml.pde.problems import get_problem


@pytest.fixture(scope="module")
def dde():
    from sciml.pde.pinn import setup_deepxde, torch_precision

    with torch_precision("float64"):
        yield setup_deepxde("float64", 0, 1)


def _points_1d_time(dde):
    import torch

    dde.grad.clear()
    x = torch.tensor([[0.1, 0.2], [-0.5, 0.9], [0.7, 0.3], [0.25, 0.6]], dtype=torch.float64, requires_grad=True)
    a, t = x[:, :1], x[:, 1:]
    u = torch.sin(a) * torch.exp(-t) + 0.3 * a * t
    A, T = (v.detach().numpy() for v in (a, t))
    U = np.sin(A) * np.exp(-T) + 0.3 * A * T
    d = {"u": U, "u_x": np.cos(A) * np.exp(-T) + 0.3 * T, "u_t": -np.sin(A) * np.exp(-T) + 0.3 * A,
         "u_xx": -np.sin(A) * np.exp(-T)}
    return x, u, d


def _points_2d(dde):
    import torch

    dde.grad.clear()
    x = torch.tensor([[0.1, -0.2], [-0.35, 0.4], [-0.7, -0.3]], dtype=torch.float64, requires_grad=True)
    a, b = x[:, :1], x[:, 1:]
    u = torch.sin(a) * torch.cos(2 * b) + a * b
    A, B = (v.detach().numpy() for v in (a, b))
    return x, u, {"u_xx": -np.sin(A) * np.cos(2 * B), "u_yy": -4 * np.sin(A) * np.cos(2 * B)}


@pytest.mark.parametrize("name, want", [
    ("heat", lambda d, p: d["u_t"] - p["alpha"] * d["u_xx"]),
    ("burgers", lambda d, p: d["u_t"] + d["u"] * d["u_x"] - p["nu"] * d["u_xx"]),
    ("allen_cahn", lambda d, p: d["u_t"] - p["d"] * d["u_xx"] - p["r"] * (d["u"] - d["u"] ** 3)),
])
def test_builtin_time_problems_residual_is_their_equation(dde, name, want):
    """The built-ins' residuals come from their declarations; each equals the equation written out
    by hand on a test function with known derivatives (a wrong sign or coefficient fails)."""
    p = get_problem(name)
    assert p.physics() is not None and p.n_residuals() == 1
    x, u, d = _points_1d_time(dde)
    got = p.pde(dde)(x, u).detach().numpy()
    np.testing.assert_allclose(got, want(d, p.params), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, want", [
    ("poisson_lshape", lambda d, p: -d["u_xx"] - d["u_yy"] - p["f"]),
    ("poisson2d_classic", lambda d, p: d["u_xx"] + d["u_yy"]),
])
def test_builtin_2d_problems_residual_is_their_equation(dde, name, want):
    p = get_problem(name, {"f": 2.5} if name == "poisson_lshape" else {})
    x, u, d = _points_2d(dde)
    np.testing.assert_allclose(p.pde(dde)(x, u).detach().numpy(), want(d, p.params), rtol=1e-12, atol=1e-12)


def test_builtin_conditions_and_geometry_come_from_the_declaration(dde):
    heat = get_problem("heat", {"length": 2.0, "mode": 3, "t_end": 0.5})
    geom = heat.geometry(dde)
    assert np.allclose(geom.geometry.bbox, [[0.0], [2.0]]) and geom.timedomain.t1 == 0.5
    ic, bc = heat.conditions(dde, geom, hard=False)
    X = np.array([[0.3, 0.0], [1.1, 0.0]])
    np.testing.assert_allclose(ic.func(X, 0, len(X), None), np.sin(3 * np.pi / 2.0 * X[:, :1]), rtol=1e-15)
    assert type(bc).__name__ == "DirichletBC" and not np.asarray(bc.func(X, 0, len(X), None)).any()
    assert heat.conditions(dde, geom, hard=True) == []  # the hard transform carries them
    kinds = [type(c).__name__ for c in get_problem("allen_cahn").conditions(dde, geom, hard=False)]
    assert kinds == ["IC", "PeriodicBC", "PeriodicBC"]
    assert get_problem("burgers_nu").physics() is None  # a parameter as an input: written in code


def test_declaration_refuses_bad_parts_with_the_key():
    base = {"geometry": {"type": "interval", "low": 0, "high": 1}, "fields": ["u"], "equations": ["u_xx"],
            "conditions": [{"type": "dirichlet", "value": 0}]}
    Declaration(base, "k")  # fine
    with pytest.raises(ConfigError, match=r"k\.equations\[0\].*unknown name 'q'"):
        Declaration({**base, "equations": ["u_xx + q"]}, "k")
    with pytest.raises(ConfigError, match=r"k\.conditions\[0\]\.field"):
        Declaration({**base, "conditions": [{"type": "dirichlet", "field": "w", "value": 0}]}, "k")
    with pytest.raises(ConfigError, match=r"k\.conditions\[0\]\.type.*time interval"):
        Declaration({**base, "conditions": [{"type": "initial", "value": 0}]}, "k")
    with pytest.raises(ConfigError, match=r"k\.geometry\.type"):
        Declaration({**base, "geometry": {"type": "sphere"}}, "k")
    # a condition written in code for a problem of two fields, without `field:` (was "no field None")
    two = {**base, "fields": ["u", "v"], "equations": ["u_xx", "v_xx"]}
    with pytest.raises(ConfigError, match=r"k\.conditions\[0\]\.field.*names its field \(one of: u, v\)"):
        Declaration(two, "k")


HOLED_BOX = {"type": "difference", "of": [{"type": "rectangle", "low": [-0.5, -0.5], "high": [0.5, 0.5]}]
             + [{"type": "disk", "center": [cx, cy], "radius": 0.1} for cx in (-0.3, 0.3) for cy in (-0.3, 0.3)]}


def test_csg_boundary_samples_are_even_by_arc_length(dde):
    """DeepXDE's nested differences put ~1/16 of the boundary points on the box; the declared
    domain's own sampler gives the box its length share (4 / (4 + 8 pi 0.1) = 0.614)."""
    d = Declaration({"geometry": HOLED_BOX, "fields": ["u"], "equations": ["u_xx + u_yy"],
                     "conditions": [{"type": "dirichlet", "value": 0}]}, "k")
    b = d.boundary_samples(dde, 400)
    assert 380 <= len(b) <= 440
    geom = d.spatial(dde)
    assert np.asarray(geom.on_boundary(b)).all()
    on_box = np.isclose(np.abs(b), 0.5, rtol=0, atol=1e-9).any(axis=1)
    assert abs(on_box.mean() - 4 / (4 + 8 * math.pi * 0.1)) < 0.03
    deepxde_share = np.isclose(np.abs(geom.random_boundary_points(400)), 0.5, atol=1e-9).any(axis=1).mean()
    assert deepxde_share < 0.25  # the bias this sampler exists for
    for cx in (-0.3, 0.3):  # every hole gets its share
        for cy in (-0.3, 0.3):
            near = np.isclose(np.hypot(b[:, 0] - cx, b[:, 1] - cy), 0.1, atol=1e-9).sum()
            assert abs(near / len(b) - 2 * math.pi * 0.1 / (4 + 8 * math.pi * 0.1)) < 0.03
    plain = Declaration({"geometry": HOLED_BOX["of"][0], "fields": ["u"], "equations": ["u_xx"],
                         "conditions": [{"type": "dirichlet", "value": 0}]}, "k")
    assert plain.boundary_samples(dde, 100) is None  # a single primitive: DeepXDE samples it evenly


def test_condition_misfit_is_zero_for_the_solution_and_measures_a_wrong_one(dde):
    d = Declaration({"geometry": {"type": "rectangle", "low": [0, 0], "high": [1, 1]}, "time": [0, 1],
                     "fields": ["u", "v"], "equations": ["u_t - v", "v_t + u"],
                     "conditions": [{"type": "initial", "field": "u", "value": "sin(x)"},
                                    {"type": "dirichlet", "field": "v", "value": "x + y", "on": "x > 0.5"},
                                    {"type": "neumann", "field": "u", "value": 0}]}, "k")

    def exact(X):
        return np.c_[np.sin(X[:, 0]), X[:, 0] + X[:, 1]]

    assert d.condition_misfit(dde, exact, 500, seed=3) == pytest.approx(0.0, abs=1e-12)
    off = d.condition_misfit(dde, lambda X: exact(X) + np.c_[np.full(len(X), 0.2), np.full(len(X), 0.2)], 500, seed=3)
    assert off == pytest.approx(0.2, rel=1e-9)
    state = np.random.get_state()[1].copy()
    d.condition_misfit(dde, exact, 50, seed=4)
    assert np.array_equal(np.random.get_state()[1], state)  # numpy's global generator is left as it was


def test_normalize_inputs_maps_bounds_to_unit_box_and_refuses_parametric_problems():
    import torch

    from sciml.pde.pinn import input_scaling, periodic_embedding

    p = get_problem("heat", {"length": 2.0, "t_end": 100.0})
    scale = input_scaling(p, None)
    X = torch.tensor([[0.0, 0.0], [2.0, 100.0], [1.0, 50.0]], dtype=torch.float64)
    np.testing.assert_allclose(scale(X).numpy(), [[-1, -1], [1, 1], [0, 0]], atol=1e-15)
    ac = get_problem("allen_cahn")  # x periodic: stays raw under the embedding, t is scaled
    s2 = input_scaling(ac, periodic_embedding(ac, 2))
    np.testing.assert_allclose(s2(torch.tensor([[0.7, 1.0]], dtype=torch.float64)).numpy(), [[0.7, 1.0]])
    from sciml.pde.pinn import build_pinn

    cfg = domain_section("pde", json.dumps({"problems": ["burgers_nu"], "pinn": {"normalize_inputs": True}}))
    with pytest.raises(ConfigError, match="pde.pinn.normalize_inputs"):
        build_pinn(get_problem("burgers_nu"), cfg["pinn"], 0, threads=1)
