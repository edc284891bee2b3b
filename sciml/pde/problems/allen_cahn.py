"""Allen-Cahn 1D (DeepXDE example) against Allen_Cahn.mat and a spectral solver."""

from __future__ import annotations

import numpy as np

from sciml.pde.problems.base import Problem
from sciml.pde.references import Reference


class AllenCahn1D(Problem):
    """Allen-Cahn on [-1, 1] x [0, 1], periodic in x (DeepXDE example)."""

    name = "allen_cahn"
    title = "Allen-Cahn 1D"
    equation = "u_t = d u_xx + r (u - u^3), u(x,0) = x^2 cos(pi x), periodic in x"
    defaults = {"d": 0.001, "r": 5.0}
    periods = {0: 2.0}
    reference_file = "pde/deepxde/Allen_Cahn.mat"
    reference_file_params = {"d": 0.001, "r": 5.0}
    reference_file_tolerance = 1e-15
    target_rel_l2 = 1e-2

    def validate(self) -> None:
        self._positive("d", "diffusion coefficient d")
        self._positive("r", "reaction rate r")

    # -- geometry and physics
    def bounds(self):
        return [(-1.0, 1.0), (0.0, 1.0)]

    def declaration(self):
        return {"geometry": {"type": "interval", "low": -1, "high": 1}, "time": [0, 1], "fields": ["u"],
                "params": {"d": float(self.params["d"]), "r": float(self.params["r"])},
                "equations": ["u_t - d*u_xx - r*(u - u**3)"],
                "conditions": [{"type": "initial", "value": "x**2*cos(pi*x)"},
                               {"type": "periodic", "input": "x", "on": "boundary", "derivative_order": 0},
                               {"type": "periodic", "input": "x", "on": "boundary", "derivative_order": 1}]}

    def output_transform(self, dde):
        cos = dde.backend.cos

        # u(+-1, t) = -1 for all t: x = +-1 starts at the stable state u = -1 of the
        # reaction and stays there by symmetry, so this transform is exact (DeepXDE example).
        def transform(X, y):
            x, t = X[:, 0:1], X[:, 1:2]
            return x**2 * cos(np.pi * x) + t * (1 - x**2) * y

        return transform

    # -- reference: Allen_Cahn.mat for d = 0.001, r = 5, else the finest spectral solve
    def load_reference_file(self, path):
        from sciml.pde.references import load_allen_cahn

        return load_allen_cahn(path, self.name)

    def solver_grid(self) -> Reference:
        return self._grid(("x", "t"), {"x": np.linspace(-1.0, 1.0, 201), "t": np.linspace(0.0, 1.0, 101)})

    def solver_reference_source(self) -> str:
        return f"in-package spectral solver (N={self.finest_level()['n']})"

    # -- classical solver: Fourier pseudo-spectral + ETDRK4
    def solver_levels(self):
        return [{"n": n, "steps_per_output": m} for n, m in ((32, 1), (64, 1), (64, 2), (128, 2), (256, 4), (512, 8))]

    def solve(self, ref, level):
        from sciml.pde.solvers.spectral import solve_allen_cahn

        return solve_allen_cahn(self.params["d"], self.params["r"], ref.coords["x"], ref.coords["t"],
                                level["n"], level["steps_per_output"])
