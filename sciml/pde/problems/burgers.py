"""Viscous Burgers 1D (Raissi et al. 2019) against DeepXDE's Burgers.npz and a spectral solver."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from sciml.pde.problems.base import Problem
from sciml.pde.references import Reference

#: Viscosity the shipped Burgers.npz solves.
FILE_NU = 0.01 / math.pi


def burgers_soft_conditions(dde: Any, geom: Any, on_boundary: Callable[[Any, bool], bool]) -> list[Any]:
    """Soft IC u(x, 0) = -sin(pi x) (x = input 0) and u = 0 where ``on_boundary`` holds."""
    ic = dde.icbc.IC(geom, lambda X: -np.sin(np.pi * X[:, 0:1]), lambda _, on_initial: on_initial)
    bc = dde.icbc.DirichletBC(geom, lambda X: np.zeros((len(X), 1)), on_boundary)
    return [ic, bc]


def burgers_hard_transform(dde: Any, t_column: int) -> Callable[[Any, Any], Any]:
    """u = -sin(pi x) + t (1 - x^2) N: the IC and u(+-1, t) = 0 hold exactly (x = input 0)."""
    sin = dde.backend.sin

    def transform(X, y):
        x, t = X[:, 0:1], X[:, t_column:t_column + 1]
        return -sin(np.pi * x) + t * (1 - x) * (1 + x) * y

    return transform


#: Spectral solver resolutions (modes, time steps per output step), coarse to fine.
BURGERS_LEVELS = ((128, 2), (256, 2), (384, 3), (512, 4), (768, 6), (1024, 8), (2048, 16))


class Burgers1D(Problem):
    """Viscous Burgers on [-1, 1] x [0, 0.99] (Raissi et al. 2019)."""

    name = "burgers"
    title = "Burgers 1D"
    equation = "u_t + u u_x = nu u_xx, u(x,0) = -sin(pi x), u(+-1,t) = 0"
    defaults = {"nu": FILE_NU}
    # The solution is also the 2-periodic one: -sin(pi x) is odd about x = 0 and x = +-1 and
    # Burgers keeps that symmetry, so u(+-1, t) = 0 holds (the spectral solver relies on it too).
    periods = {0: 2.0}
    # For the same reason u is odd in x for all t (the shock stays at x = 0).
    odd_input = 0
    reference_file = "pde/deepxde/Burgers.npz"
    reference_file_params = {"nu": FILE_NU}
    target_rel_l2 = 1e-3

    def validate(self) -> None:
        self._positive("nu", "viscosity nu")

    # -- geometry and physics
    def bounds(self):
        return [(-1.0, 1.0), (0.0, 0.99)]

    def declaration(self):
        return {"geometry": {"type": "interval", "low": -1, "high": 1}, "time": [0, 0.99], "fields": ["u"],
                "params": {"nu": float(self.params["nu"])},
                "equations": ["u_t + u*u_x - nu*u_xx"],
                "conditions": [{"type": "initial", "value": "-sin(pi*x)"}, {"type": "dirichlet", "value": 0}]}

    def output_transform(self, dde):
        return burgers_hard_transform(dde, t_column=1)

    # -- reference: Burgers.npz for nu = 0.01/pi, else the finest spectral solve on its grid
    def load_reference_file(self, path):
        from sciml.pde.references import load_burgers

        return load_burgers(path, self.name)

    def solver_grid(self) -> Reference:
        return self._grid(("x", "t"), {"x": np.linspace(-1.0, 1.0, 256), "t": np.linspace(0.0, 0.99, 100)})

    def solver_reference_source(self) -> str:
        return f"in-package spectral solver (N={self.finest_level()['n']})"

    # -- classical solver: Fourier pseudo-spectral + ETDRK4
    def solver_levels(self):
        return [{"n": n, "steps_per_output": m} for n, m in BURGERS_LEVELS]

    def solve(self, ref, level):
        from sciml.pde.solvers.spectral import solve_burgers

        return solve_burgers(self.params["nu"], ref.coords["x"], ref.coords["t"], level["n"], level["steps_per_output"])
