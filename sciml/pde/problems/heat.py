"""1D heat equation with an analytic reference and a Crank-Nicolson solver."""

from __future__ import annotations

import numpy as np

from sciml.errors import ConfigError
from sciml.pde.problems.base import Problem
from sciml.pde.references import Reference


class Heat1D(Problem):
    """u_t = alpha u_xx on [0, L] x [0, T], u(0,t) = u(L,t) = 0, u(x,0) = sin(m pi x / L)."""

    name = "heat"
    title = "1D heat equation"
    equation = "u_t = alpha u_xx, u(x,0) = sin(m pi x/L), u(0,t) = u(L,t) = 0"
    defaults = {"alpha": 0.1, "length": 1.0, "t_end": 1.0, "mode": 1, "nx": 101, "nt": 101}

    def validate(self) -> None:
        self._positive("alpha", "diffusivity alpha")
        self._positive("length", "domain length L (empty domain otherwise)")
        self._positive("t_end", "final time t_end (empty time interval otherwise)")
        for key in ("mode", "nx", "nt"):
            if int(self.params[key]) != self.params[key] or self.params[key] < (1 if key == "mode" else 2):
                raise ConfigError(f"pde.params.heat.{key}", f"problem 'heat': {key} must be an integer >= {1 if key == 'mode' else 2}")

    # -- geometry and physics
    def bounds(self):
        return [(0.0, float(self.params["length"])), (0.0, float(self.params["t_end"]))]

    def declaration(self):
        (x0, x1), (t0, t1) = self.bounds()
        return {"geometry": {"type": "interval", "low": x0, "high": x1}, "time": [t0, t1], "fields": ["u"],
                "params": {"alpha": float(self.params["alpha"]),
                           "k": int(self.params["mode"]) * np.pi / self.params["length"]},
                "equations": ["u_t - alpha*u_xx"],
                "conditions": [{"type": "initial", "value": "sin(k*x)"}, {"type": "dirichlet", "value": 0}]}

    def output_transform(self, dde):
        length = float(self.params["length"])
        k = int(self.params["mode"]) * np.pi / length
        sin = dde.backend.sin

        def transform(X, y):
            x, t = X[:, 0:1], X[:, 1:2]
            return sin(k * x) + t * x * (length - x) * y

        return transform

    # -- reference: analytic on an nx x nt grid
    def analytic_reference(self) -> Reference:
        from sciml.pde.solvers.heat import heat_analytic

        p = self.params
        x = np.linspace(0.0, p["length"], int(p["nx"]))
        t = np.linspace(0.0, p["t_end"], int(p["nt"]))
        u = heat_analytic(p["alpha"], p["length"], int(p["mode"]), x, t)
        return Reference(("x", "t"), {"x": x, "t": t}, u, "analytic", inputs=("x", "t"))

    # -- classical solver
    def solver_levels(self):
        return [{"nx": n, "steps_per_output": max(1, n // 32)} for n in (8, 16, 32, 64, 128, 256)]

    def solve(self, ref, level):
        from sciml.pde.solvers.heat import solve_heat_cn

        p = self.params
        return solve_heat_cn(p["alpha"], p["length"], int(p["mode"]), ref.coords["x"], ref.coords["t"],
                             level["nx"], level["steps_per_output"])
