"""PINNacle Poisson2d-C: Laplace equation on a box with four circular holes (COMSOL reference, P1 FEM)."""

from __future__ import annotations

import math

import numpy as np

from sciml.errors import ConfigError
from sciml.pde.problems.base import Problem
from sciml.pde.references import Reference


class Poisson2DClassic(Problem):
    """PINNacle "Poisson2D_Classic" (Poisson2d-C): Laplace(u) = 0 on [-0.5,0.5]^2 minus four disks.

    Definition checked against the PINNacle source (Hao et al., NeurIPS 2023 Datasets and
    Benchmarks; https://github.com/i207M/PINNacle, ``src/pde/poisson.py``, class
    ``Poisson2D_Classic`` with ``scale=1``): rectangle [-0.5, 0.5]^2 minus the disks of radius
    0.1 centred at (+-0.3, +-0.3); PDE u_xx + u_yy = 0; Dirichlet u = 1 on the outer edges and
    u = 0 on the four circles. The COMSOL reference ``ref/poisson1_cg_data.dat`` (shipped here as
    ``pinnacle/poisson_classic.dat``, 1255 nodes) agrees: u = 1 at its 108 box-edge nodes and
    u = 0 at its 112 circle nodes. Boundary values and the radius are parameters; only the
    PINNacle values use the file, other values use the finest in-package FEM as reference.
    """

    name = "poisson2d_classic"
    title = "Poisson 2D with four holes (PINNacle Poisson2d-C)"
    equation = "u_xx + u_yy = 0 on [-0.5,0.5]^2 minus 4 disks (r at (+-0.3,+-0.3)), u = u_outer on the box, u_holes on the circles"
    defaults = {"u_outer": 1.0, "u_holes": 0.0, "radius": 0.1}
    inputs = ("x", "y")
    # A hard-constraint ansatz would need a distance function to five boundaries and a lift
    # matching two boundary values: not natural here, so the boundary conditions are soft.
    supports_hard_constraints = False
    BOX = (-0.5, 0.5, -0.5, 0.5)
    CENTRES = ((0.3, 0.3), (-0.3, 0.3), (0.3, -0.3), (-0.3, -0.3))
    reference_file = "pde/pinnacle/poisson_classic.dat"
    reference_file_params = {"u_outer": 1.0, "u_holes": 0.0, "radius": 0.1}

    def validate(self) -> None:
        for key in ("u_outer", "u_holes"):
            self._finite(key, f"boundary value {key}")
        self._positive("radius", "hole radius")
        if self.params["radius"] >= 0.2:
            raise ConfigError(f"pde.params.{self.name}.radius",
                              f"problem '{self.name}': hole radius must be < 0.2 (holes centred 0.2 from the box edges "
                              f"and 0.6 apart), got {self.params['radius']}")

    def disks(self) -> list[tuple[float, float, float]]:
        """The four holes as (centre x, centre y, radius)."""
        r = float(self.params["radius"])
        return [(cx, cy, r) for cx, cy in self.CENTRES]

    # -- reference: the COMSOL export for the PINNacle values, else the finest P1 FEM on a 101 x 101 grid
    def load_reference_file(self, path):
        from sciml.pde.references import load_comsol_dat

        return load_comsol_dat(path, self.name)

    def solver_grid(self) -> Reference:
        return self._grid(("x", "y"), {"x": np.linspace(self.BOX[0], self.BOX[1], 101),
                                       "y": np.linspace(self.BOX[2], self.BOX[3], 101)})

    def solver_reference_source(self) -> str:
        return f"in-package P1 FEM (n={self.finest_level()['n']})"

    # -- classical solver: P1 FEM (scikit-fem) on a Delaunay mesh of the holed box
    def solver_levels(self):
        # P1 on a Delaunay mesh with node spacing 1/n; P2 gains nothing here because the
        # polygonal circles limit the accuracy to O(h^2) (measured: see BENCHMARKS.md).
        return [{"n": n, "order": 1} for n in (10, 20, 40, 80, 160, 320)]

    def solve(self, ref, level):
        from sciml.pde.solvers.poisson_holes import solve_laplace_holes

        p = self.params
        u = solve_laplace_holes(self.BOX, self.disks(), float(p["u_outer"]), float(p["u_holes"]), ref.points(),
                                int(level["n"]), int(level["order"]))
        return u.reshape(ref.shape)

    def bounds(self):
        return [(self.BOX[0], self.BOX[1]), (self.BOX[2], self.BOX[3])]

    def inside(self, X):
        from sciml.pde.solvers.poisson_holes import in_holes

        # points on a circle up to rounding (the COMSOL nodes: r = 0.1 - 1e-16) are inside
        return ~in_holes(X, [(cx, cy, r - 1e-9) for cx, cy, r in self.disks()])

    def declaration(self):
        x0, x1, y0, y1 = self.BOX
        geom = {"type": "rectangle", "low": [x0, y0], "high": [x1, y1]}
        for cx, cy, r in self.disks():
            geom = {"type": "difference", "of": [geom, {"type": "disk", "center": [cx, cy], "radius": r}]}
        # One Dirichlet condition (one loss term, as the benchmark figures were measured) whose
        # value is u_outer on the box edges and u_holes on the circles: the box indicator is
        # 1 - (1 - H(|x| - a))(1 - H(|y| - a)), H the Heaviside step, a = 0.5 (the box is symmetric).
        on_box = f"(1 - (1 - heaviside(abs(x) - {x1} + 1e-9))*(1 - heaviside(abs(y) - {y1} + 1e-9)))"
        return {"geometry": geom, "fields": ["u"], "equations": ["u_xx + u_yy"],
                "params": {"u_outer": float(self.params["u_outer"]), "u_holes": float(self.params["u_holes"])},
                "conditions": [{"type": "dirichlet", "value": f"u_holes + (u_outer - u_holes)*{on_box}"}]}

    def boundary_samples(self, n: int) -> np.ndarray:
        """``n`` points equally spaced by arc length over the box edges and the four circles.

        DeepXDE's ``CSGDifference`` boundary sampling halves the share of the outer boundary at
        each nested difference: with four holes only ~1/16 of the points land on the box
        (measured: 6 of 100), and the PINN learns u ~ 0 everywhere.
        """
        x0, x1, y0, y1 = self.BOX
        r = float(self.params["radius"])
        perim_box, perim_circ = 2 * (x1 - x0) + 2 * (y1 - y0), 2 * math.pi * r
        total = perim_box + 4 * perim_circ
        n_box = max(4, int(round(n * perim_box / total)))
        n_circ = max(3, int(round((n - n_box) / 4)))
        s = (np.arange(n_box) + 0.5) / n_box * perim_box  # arc length along the box, from (x0, y0)
        w, hgt = x1 - x0, y1 - y0
        # walk counter-clockwise from (x0, y0): bottom, right, top, left edge
        bx = np.select([s < w, s < w + hgt, s < 2 * w + hgt], [x0 + s, x1, x1 - (s - w - hgt)], x0)
        by = np.select([s < w, s < w + hgt, s < 2 * w + hgt], [y0, y0 + s - w, y1], y1 - (s - 2 * w - hgt))
        box = np.c_[bx, by]
        a = 2 * math.pi * (np.arange(n_circ) + 0.5) / n_circ
        circles = [np.c_[cx + r * np.cos(a), cy + r * np.sin(a)] for cx, cy, _ in self.disks()]
        return np.concatenate([box, *circles])
