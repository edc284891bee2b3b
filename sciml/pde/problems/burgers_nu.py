"""Burgers 1D with the viscosity as a network input (a parametric surrogate)."""

from __future__ import annotations

import math

import numpy as np

from sciml.errors import ConfigError
from sciml.pde.problems.base import Problem
from sciml.pde.problems.burgers import BURGERS_LEVELS, FILE_NU, burgers_hard_transform, burgers_soft_conditions
from sciml.pde.references import Reference


class BurgersParametric(Problem):
    """Burgers 1D with the viscosity as a network input: one trained network answers any nu
    in [nu_min, nu_max] (a parametric surrogate). Reference: the in-package spectral solver at
    ``n_nu`` log-spaced viscosities (end points included), on Burgers.npz's (x, t) grid."""

    name = "burgers_nu"
    title = "Burgers 1D, parametric in nu"
    equation = "u_t + u u_x = nu u_xx for nu in [nu_min, nu_max], u(x,0) = -sin(pi x), u(+-1,t) = 0"
    defaults = {"nu_min": FILE_NU, "nu_max": 0.1 / math.pi, "n_nu": 4}
    inputs = ("x", "nu", "t")
    parameter_dims = ("nu",)
    odd_input = 0  # odd in x at every viscosity, as Burgers1D

    def validate(self) -> None:
        self._positive("nu_min", "viscosity nu_min")
        self._positive("nu_max", "viscosity nu_max")
        if self.params["nu_max"] <= self.params["nu_min"]:
            raise ConfigError(f"pde.params.{self.name}.nu_max", f"problem '{self.name}': nu_max must be > nu_min "
                              f"(an empty parameter range), got {self.params['nu_max']} <= {self.params['nu_min']}")
        n = self.params["n_nu"]
        if not (isinstance(n, int) and n >= 1):
            raise ConfigError(f"pde.params.{self.name}.n_nu", f"problem '{self.name}': n_nu must be an integer >= 1, got {n}")

    def nu_values(self) -> np.ndarray:
        """The reference viscosities: ``n_nu`` log-spaced values from nu_min to nu_max."""
        lo, hi, n = self.params["nu_min"], self.params["nu_max"], self.params["n_nu"]
        return np.geomspace(lo, hi, n) if n > 1 else np.array([lo])

    # -- geometry and physics
    def bounds(self):
        return [(-1.0, 1.0), (self.params["nu_min"], self.params["nu_max"]), (0.0, 0.99)]

    def geometry(self, dde):
        space = dde.geometry.Rectangle([-1.0, self.params["nu_min"]], [1.0, self.params["nu_max"]])
        return dde.geometry.GeometryXTime(space, dde.geometry.TimeDomain(0, 0.99))

    def pde(self, dde):
        def residual(x, u):
            u_x = dde.grad.jacobian(u, x, i=0, j=0)
            u_t = dde.grad.jacobian(u, x, i=0, j=2)
            u_xx = dde.grad.hessian(u, x, i=0, j=0)
            return u_t + u * u_x - x[:, 1:2] * u_xx

        return residual

    def conditions(self, dde, geom, hard):
        if hard:
            return []
        # only the x = +-1 faces: the nu faces of the box are not a physical boundary
        return burgers_soft_conditions(dde, geom, lambda X, on_boundary: on_boundary and bool(np.isclose(abs(X[0]), 1.0)))

    def output_transform(self, dde):
        return burgers_hard_transform(dde, t_column=2)

    def feature_transform(self, dde):
        """Network features (x, s, t) with s = the position of log(nu) in [log nu_min, log nu_max]
        mapped to [-1, 1]: raw nu (~0.003-0.03) would be a near-constant input to a tanh network."""
        lo, hi = math.log(self.params["nu_min"]), math.log(self.params["nu_max"])
        import torch

        def features(X):
            s = 2.0 * (torch.log(X[:, 1:2]) - lo) / (hi - lo) - 1.0
            return torch.cat([X[:, 0:1], s, X[:, 2:3]], dim=1)

        return features

    # -- reference: the finest spectral solve per viscosity on Burgers.npz's grid
    def solver_grid(self) -> Reference:
        return self._grid(("nu", "x", "t"), {"nu": self.nu_values(), "x": np.linspace(-1.0, 1.0, 256),
                                             "t": np.linspace(0.0, 0.99, 100)})

    def solver_reference_source(self) -> str:
        return f"in-package spectral solver (N={self.finest_level()['n']}), one solve per nu"

    # -- classical solver: one spectral solve per viscosity
    def solver_levels(self):
        return [{"n": n, "steps_per_output": m} for n, m in BURGERS_LEVELS]

    def solve(self, ref, level):
        from sciml.pde.solvers.spectral import solve_burgers

        x, t = ref.coords["x"], ref.coords["t"]
        return np.stack([solve_burgers(float(nu), x, t, level["n"], level["steps_per_output"]) for nu in ref.coords["nu"]])
