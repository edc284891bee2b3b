"""Registry of PDE problems, defined in code and selected by name from the config.

Each problem knows its physics (DeepXDE geometry, residual, initial/boundary
conditions, optional hard-constraint output transform), its reference solution (a
shipped file or an analytic formula) and its classical solver with a ladder of
resolutions for timing. Config only picks a name and numeric parameters; nothing
from config is ever evaluated as code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sciml.errors import ConfigError
from sciml.pde.references import Reference

REGISTRY: dict[str, type["Problem"]] = {}


def register(cls: type["Problem"]) -> type["Problem"]:
    """Class decorator adding a problem to :data:`REGISTRY` under ``cls.name``."""
    REGISTRY[cls.name] = cls
    return cls


def problem_names() -> list[str]:
    """Names of all registered problems, sorted."""
    return sorted(REGISTRY)


def get_problem(name: str, params: dict[str, Any] | None = None) -> "Problem":
    """Instantiate problem ``name`` with ``params``; ConfigError naming valid names if unknown."""
    if name not in REGISTRY:
        raise ConfigError("pde.problems", f"unknown problem '{name}' (valid: {', '.join(problem_names())})")
    return REGISTRY[name](params or {})


class Problem:
    """Base class. Subclasses set the class attributes and implement the methods."""

    name: ClassVar[str]
    title: ClassVar[str]
    equation: ClassVar[str]
    #: manifest name of the shipped reference, or None (analytic / solver reference)
    reference_file: ClassVar[str | None] = None
    #: parameter name -> default value
    defaults: ClassVar[dict[str, float]] = {}
    #: input names in network order (time last)
    inputs: ClassVar[tuple[str, ...]] = ("x", "t")
    supports_hard_constraints: ClassVar[bool] = True
    #: input index -> period, for inputs in which the solution is periodic (used by the
    #: optional periodic Fourier embedding of the network inputs, ``pinn.periodic_modes``)
    periods: ClassVar[dict[int, float]] = {}
    #: index of an input in which the solution is odd, u(.., -x_i, ..) = -u(.., x_i, ..), or None
    #: (used by the optional exact-symmetry network, ``pinn.symmetry``)
    odd_input: ClassVar[int | None] = None
    #: reference dims that are physical parameters given to the network as inputs (a
    #: parametric surrogate); the evaluation reports the error and timing per value
    parameter_dims: ClassVar[tuple[str, ...]] = ()
    #: what is known about a shipped reference file that disagrees with the converged solver
    #: (shown in the report beside that disagreement), or None
    reference_caveat: ClassVar[str | None] = None

    def __init__(self, params: dict[str, Any]):
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise ConfigError(f"pde.params.{self.name}.{unknown[0]}",
                              f"problem '{self.name}' has no parameter '{unknown[0]}' (valid: {', '.join(sorted(self.defaults))})")
        self.params = {**self.defaults, **params}
        self.validate()

    # -- parameters --------------------------------------------------------
    def validate(self) -> None:
        """Raise ConfigError for non-physical parameters."""

    def _positive(self, key: str, what: str) -> None:
        value = self.params[key]
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ConfigError(f"pde.params.{self.name}.{key}", f"problem '{self.name}': {what} must be > 0, got {value}")

    # -- reference and solver ----------------------------------------------
    def uses_reference_file(self) -> bool:
        """True when the shipped reference file solves exactly these parameters."""
        return self.reference_file is not None

    def reference(self, data_root: str | Path | None = None) -> Reference:
        """The reference solution on its grid."""
        raise NotImplementedError

    def solver_levels(self) -> list[dict[str, int]]:
        """Resolutions of the classical solver, coarse to fine."""
        raise NotImplementedError

    def solve(self, ref: Reference, level: dict[str, int]) -> np.ndarray:
        """Classical solution at ``level`` on the reference grid (shape ``ref.shape``, NaN outside)."""
        raise NotImplementedError

    # -- physics for DeepXDE -------------------------------------------------
    def bounds(self) -> list[tuple[float, float]]:
        """(low, high) of each network input."""
        raise NotImplementedError

    def inside(self, X: np.ndarray) -> np.ndarray:
        """Boolean mask of points inside the domain (default: the whole box)."""
        return np.ones(len(X), dtype=bool)

    def geometry(self, dde: Any) -> Any:
        raise NotImplementedError

    def pde(self, dde: Any) -> Callable[[Any, Any], Any]:
        raise NotImplementedError

    def conditions(self, dde: Any, geom: Any, hard: bool) -> list[Any]:
        """Soft initial/boundary conditions (those not built into the output transform)."""
        raise NotImplementedError

    def output_transform(self, dde: Any) -> Callable[[Any, Any], Any] | None:
        """Hard-constraint transform ``(inputs, raw) -> u`` or None."""
        return None

    def boundary_samples(self, n: int) -> np.ndarray | None:
        """``n`` points on the boundary to use instead of DeepXDE's boundary sampling, or None
        (DeepXDE samples). Needed where DeepXDE's sampling is biased (nested CSG differences)."""
        return None

    def feature_transform(self, dde: Any) -> Callable[[Any], Any] | None:
        """Map of the network inputs (n, d) to its features (n, d) (e.g. rescaling a parameter
        input), applied before any periodic embedding; None = raw inputs."""
        return None

    def describe(self) -> str:
        ps = ", ".join(f"{k}={v:g}" for k, v in sorted(self.params.items()))
        return f"{self.title}: {self.equation}" + (f" ({ps})" if ps else "")


def _grid_from_data(name: str, data_root: str | Path | None, loader: Callable[[Path, str], Reference]) -> Reference:
    from sciml.data import resolve

    return loader(resolve(name, data_root), name)


# ---------------------------------------------------------------------------
@register
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

    def uses_reference_file(self) -> bool:
        return False

    def reference(self, data_root=None) -> Reference:
        from sciml.pde.solvers.heat import heat_analytic

        p = self.params
        x = np.linspace(0.0, p["length"], int(p["nx"]))
        t = np.linspace(0.0, p["t_end"], int(p["nt"]))
        u = heat_analytic(p["alpha"], p["length"], int(p["mode"]), x, t)
        return Reference(("x", "t"), {"x": x, "t": t}, u, "analytic", inputs=("x", "t"))

    def solver_levels(self):
        return [{"nx": n, "steps_per_output": max(1, n // 32)} for n in (8, 16, 32, 64, 128, 256)]

    def solve(self, ref, level):
        from sciml.pde.solvers.heat import solve_heat_cn

        p = self.params
        return solve_heat_cn(p["alpha"], p["length"], int(p["mode"]), ref.coords["x"], ref.coords["t"],
                             level["nx"], level["steps_per_output"])

    def bounds(self):
        return [(0.0, float(self.params["length"])), (0.0, float(self.params["t_end"]))]

    def geometry(self, dde):
        (x0, x1), (t0, t1) = self.bounds()
        return dde.geometry.GeometryXTime(dde.geometry.Interval(x0, x1), dde.geometry.TimeDomain(t0, t1))

    def pde(self, dde):
        alpha = float(self.params["alpha"])

        def residual(x, u):
            return dde.grad.jacobian(u, x, i=0, j=1) - alpha * dde.grad.hessian(u, x, i=0, j=0)

        return residual

    def conditions(self, dde, geom, hard):
        if hard:
            return []
        k = int(self.params["mode"]) * np.pi / self.params["length"]
        ic = dde.icbc.IC(geom, lambda X: np.sin(k * X[:, 0:1]), lambda _, on_initial: on_initial)
        bc = dde.icbc.DirichletBC(geom, lambda X: np.zeros((len(X), 1)), lambda _, on_boundary: on_boundary)
        return [ic, bc]

    def output_transform(self, dde):
        length = float(self.params["length"])
        k = int(self.params["mode"]) * np.pi / length
        sin = dde.backend.sin

        def transform(X, y):
            x, t = X[:, 0:1], X[:, 1:2]
            return sin(k * x) + t * x * (length - x) * y

        return transform


def _burgers_soft_conditions(dde: Any, geom: Any, on_boundary: Callable[[Any, bool], bool]) -> list[Any]:
    """Soft IC u(x, 0) = -sin(pi x) (x = input 0) and u = 0 where ``on_boundary`` holds."""
    ic = dde.icbc.IC(geom, lambda X: -np.sin(np.pi * X[:, 0:1]), lambda _, on_initial: on_initial)
    bc = dde.icbc.DirichletBC(geom, lambda X: np.zeros((len(X), 1)), on_boundary)
    return [ic, bc]


def _burgers_hard_transform(dde: Any, t_column: int) -> Callable[[Any, Any], Any]:
    """u = -sin(pi x) + t (1 - x^2) N: the IC and u(+-1, t) = 0 hold exactly (x = input 0)."""
    sin = dde.backend.sin

    def transform(X, y):
        x, t = X[:, 0:1], X[:, t_column:t_column + 1]
        return -sin(np.pi * x) + t * (1 - x) * (1 + x) * y

    return transform


# ---------------------------------------------------------------------------
@register
class Burgers1D(Problem):
    """Viscous Burgers on [-1, 1] x [0, 0.99] (Raissi et al. 2019)."""

    name = "burgers"
    title = "Burgers 1D"
    equation = "u_t + u u_x = nu u_xx, u(x,0) = -sin(pi x), u(+-1,t) = 0"
    reference_file = "pde/deepxde/Burgers.npz"
    defaults = {"nu": 0.01 / math.pi}
    FILE_NU = 0.01 / math.pi
    # The solution is also the 2-periodic one: -sin(pi x) is odd about x = 0 and x = +-1 and
    # Burgers keeps that symmetry, so u(+-1, t) = 0 holds (the spectral solver relies on it too).
    periods = {0: 2.0}
    # For the same reason u is odd in x for all t (the shock stays at x = 0).
    odd_input = 0

    def validate(self) -> None:
        self._positive("nu", "viscosity nu")

    def uses_reference_file(self) -> bool:
        return abs(self.params["nu"] - self.FILE_NU) < 1e-12

    def reference(self, data_root=None) -> Reference:
        from sciml.pde.references import load_burgers

        if self.uses_reference_file():
            return _grid_from_data(self.reference_file, data_root, load_burgers)
        # No file for this viscosity: the finest in-package solve is the ground truth.
        x = np.linspace(-1.0, 1.0, 256)
        t = np.linspace(0.0, 0.99, 100)
        grid = Reference(("x", "t"), {"x": x, "t": t}, np.zeros((256, 100)), "solver", inputs=("x", "t"))
        return Reference(("x", "t"), grid.coords, self.solve(grid, self.solver_levels()[-1]),
                         "in-package spectral solver (N=2048)", inputs=("x", "t"))

    def solver_levels(self):
        return [{"n": n, "steps_per_output": m} for n, m in ((128, 2), (256, 2), (384, 3), (512, 4), (768, 6), (1024, 8), (2048, 16))]

    def solve(self, ref, level):
        from sciml.pde.solvers.spectral import solve_burgers

        return solve_burgers(self.params["nu"], ref.coords["x"], ref.coords["t"], level["n"], level["steps_per_output"])

    def bounds(self):
        return [(-1.0, 1.0), (0.0, 0.99)]

    def geometry(self, dde):
        return dde.geometry.GeometryXTime(dde.geometry.Interval(-1, 1), dde.geometry.TimeDomain(0, 0.99))

    def pde(self, dde):
        nu = float(self.params["nu"])

        def residual(x, u):
            u_x = dde.grad.jacobian(u, x, i=0, j=0)
            u_t = dde.grad.jacobian(u, x, i=0, j=1)
            u_xx = dde.grad.hessian(u, x, i=0, j=0)
            return u_t + u * u_x - nu * u_xx

        return residual

    def conditions(self, dde, geom, hard):
        return [] if hard else _burgers_soft_conditions(dde, geom, lambda _, on_boundary: on_boundary)

    def output_transform(self, dde):
        return _burgers_hard_transform(dde, t_column=1)


# ---------------------------------------------------------------------------
@register
class BurgersParametric(Problem):
    """Burgers 1D with the viscosity as a network input: one trained network answers any nu
    in [nu_min, nu_max] (a parametric surrogate). Reference: the in-package spectral solver at
    ``n_nu`` log-spaced viscosities (end points included), on Burgers.npz's (x, t) grid."""

    name = "burgers_nu"
    title = "Burgers 1D, parametric in nu"
    equation = "u_t + u u_x = nu u_xx for nu in [nu_min, nu_max], u(x,0) = -sin(pi x), u(+-1,t) = 0"
    defaults = {"nu_min": 0.01 / math.pi, "nu_max": 0.1 / math.pi, "n_nu": 4}
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

    def reference(self, data_root=None) -> Reference:
        x = np.linspace(-1.0, 1.0, 256)
        t = np.linspace(0.0, 0.99, 100)
        coords = {"nu": self.nu_values(), "x": x, "t": t}
        grid = Reference(("nu", "x", "t"), coords, np.zeros((len(coords["nu"]), 256, 100)), "solver", inputs=self.inputs)
        return Reference(("nu", "x", "t"), coords, self.solve(grid, self.solver_levels()[-1]),
                         "in-package spectral solver (N=2048), one solve per nu", inputs=self.inputs)

    def solver_levels(self):
        return Burgers1D.solver_levels(self)

    def solve(self, ref, level):
        from sciml.pde.solvers.spectral import solve_burgers

        x, t = ref.coords["x"], ref.coords["t"]
        return np.stack([solve_burgers(float(nu), x, t, level["n"], level["steps_per_output"]) for nu in ref.coords["nu"]])

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
        return _burgers_soft_conditions(dde, geom, lambda X, on_boundary: on_boundary and bool(np.isclose(abs(X[0]), 1.0)))

    def output_transform(self, dde):
        return _burgers_hard_transform(dde, t_column=2)

    def feature_transform(self, dde):
        """Network features (x, s, t) with s = the position of log(nu) in [log nu_min, log nu_max]
        mapped to [-1, 1]: raw nu (~0.003-0.03) would be a near-constant input to a tanh network."""
        lo, hi = math.log(self.params["nu_min"]), math.log(self.params["nu_max"])
        import torch

        def features(X):
            s = 2.0 * (torch.log(X[:, 1:2]) - lo) / (hi - lo) - 1.0
            return torch.cat([X[:, 0:1], s, X[:, 2:3]], dim=1)

        return features


# ---------------------------------------------------------------------------
@register
class AllenCahn1D(Problem):
    """Allen-Cahn on [-1, 1] x [0, 1], periodic in x (DeepXDE example)."""

    name = "allen_cahn"
    title = "Allen-Cahn 1D"
    equation = "u_t = d u_xx + r (u - u^3), u(x,0) = x^2 cos(pi x), periodic in x"
    reference_file = "pde/deepxde/Allen_Cahn.mat"
    defaults = {"d": 0.001, "r": 5.0}
    periods = {0: 2.0}

    def validate(self) -> None:
        self._positive("d", "diffusion coefficient d")
        self._positive("r", "reaction rate r")

    def uses_reference_file(self) -> bool:
        return abs(self.params["d"] - 0.001) < 1e-15 and abs(self.params["r"] - 5.0) < 1e-15

    def reference(self, data_root=None) -> Reference:
        from sciml.pde.references import load_allen_cahn

        if self.uses_reference_file():
            return _grid_from_data(self.reference_file, data_root, load_allen_cahn)
        x = np.linspace(-1.0, 1.0, 201)
        t = np.linspace(0.0, 1.0, 101)
        grid = Reference(("x", "t"), {"x": x, "t": t}, np.zeros((201, 101)), "solver", inputs=("x", "t"))
        return Reference(("x", "t"), grid.coords, self.solve(grid, self.solver_levels()[-1]),
                         "in-package spectral solver (N=512)", inputs=("x", "t"))

    def solver_levels(self):
        return [{"n": n, "steps_per_output": m} for n, m in ((32, 1), (64, 1), (64, 2), (128, 2), (256, 4), (512, 8))]

    def solve(self, ref, level):
        from sciml.pde.solvers.spectral import solve_allen_cahn

        return solve_allen_cahn(self.params["d"], self.params["r"], ref.coords["x"], ref.coords["t"],
                                level["n"], level["steps_per_output"])

    def bounds(self):
        return [(-1.0, 1.0), (0.0, 1.0)]

    def geometry(self, dde):
        return dde.geometry.GeometryXTime(dde.geometry.Interval(-1, 1), dde.geometry.TimeDomain(0, 1))

    def pde(self, dde):
        d, r = float(self.params["d"]), float(self.params["r"])

        def residual(x, u):
            u_t = dde.grad.jacobian(u, x, i=0, j=1)
            u_xx = dde.grad.hessian(u, x, i=0, j=0)
            return u_t - d * u_xx - r * (u - u**3)

        return residual

    def conditions(self, dde, geom, hard):
        if hard:
            return []
        ic = dde.icbc.IC(geom, lambda X: X[:, 0:1] ** 2 * np.cos(np.pi * X[:, 0:1]), lambda _, on_initial: on_initial)
        on_b = lambda _, on_boundary: on_boundary  # noqa: E731
        return [ic, dde.icbc.PeriodicBC(geom, 0, on_b, derivative_order=0),
                dde.icbc.PeriodicBC(geom, 0, on_b, derivative_order=1)]

    def output_transform(self, dde):
        cos = dde.backend.cos

        # u(+-1, t) = -1 for all t: x = +-1 starts at the stable state u = -1 of the
        # reaction and stays there by symmetry, so this transform is exact (DeepXDE example).
        def transform(X, y):
            x, t = X[:, 0:1], X[:, 1:2]
            return x**2 * cos(np.pi * x) + t * (1 - x**2) * y

        return transform


# ---------------------------------------------------------------------------
@register
class PoissonLShape(Problem):
    """-Laplace(u) = f on [-1,1]^2 minus (0,1]^2, u = 0 on the boundary."""

    name = "poisson_lshape"
    title = "Poisson on the L-shape"
    equation = "-(u_xx + u_yy) = f on [-1,1]^2 \\ (0,1]^2, u = 0 on the boundary"
    reference_file = "pde/deepxde/Poisson_Lshape.npz"
    defaults = {"f": 1.0}
    inputs = ("x", "y")
    reference_caveat = ("An independent finite-difference solve agrees with the in-package FEM, and the file's own "
                        "-Laplacian, differentiated exactly on its spectral elements, averages 0.935 instead of 1 "
                        "(benchmarks/pde/lshape_reference_check.py): the file is not a converged solution.")
    VERTICES = [[0, 0], [1, 0], [1, -1], [-1, -1], [-1, 1], [0, 1]]

    def validate(self) -> None:
        if not math.isfinite(self.params["f"]):
            raise ConfigError("pde.params.poisson_lshape.f", "problem 'poisson_lshape': source f must be finite")

    def uses_reference_file(self) -> bool:
        return self.params["f"] == 1.0

    def reference(self, data_root=None) -> Reference:
        from sciml.pde.references import load_poisson_lshape

        if self.uses_reference_file():
            return _grid_from_data(self.reference_file, data_root, load_poisson_lshape)
        x = np.linspace(-1.0, 1.0, 161)
        grid = Reference(("x", "y"), {"x": x, "y": x}, np.zeros((161, 161)), "solver", inputs=("x", "y"))
        finest = self.solver_levels()[-1]
        return Reference(("x", "y"), grid.coords, self.solve(grid, finest),
                         f"in-package adaptive P2 FEM ({finest['adaptive_steps']} steps)", inputs=("x", "y"))

    def solver_levels(self):
        """Uniform P2 meshes (refine 1..5), then adaptively refined P2 meshes (5..25 steps).

        The gradient is singular at the re-entrant corner, so uniform refinement converges slowly
        (refine 7, 200k dofs, is still 1.2e-4 off); the adaptive meshes grade towards the corner
        and are the honest classical baseline. 25 steps (~60k dofs, ~4 s) is the ground truth:
        it is 1.1e-6 from 35 steps (BENCHMARKS.md)."""
        return ([{"refine": r, "order": 2} for r in (1, 2, 3, 4, 5)]
                + [{"adaptive_steps": k, "order": 2} for k in (5, 10, 15, 20, 25)])

    def solve(self, ref, level):
        from sciml.pde.solvers.poisson_fem import solve_poisson_lshape, solve_poisson_lshape_adaptive

        f = self.params["f"]
        if "adaptive_steps" in level:
            u = solve_poisson_lshape_adaptive(f, ref.points(), level["adaptive_steps"], level["order"])
        else:
            u = solve_poisson_lshape(f, ref.points(), level["refine"], level["order"])
        return u.reshape(ref.shape)

    def bounds(self):
        return [(-1.0, 1.0), (-1.0, 1.0)]

    def inside(self, X):
        return ~((X[:, 0] > 0) & (X[:, 1] > 0))

    def geometry(self, dde):
        return dde.geometry.Polygon(self.VERTICES)

    def pde(self, dde):
        f = float(self.params["f"])

        def residual(x, u):
            return -dde.grad.hessian(u, x, i=0, j=0) - dde.grad.hessian(u, x, i=1, j=1) - f

        return residual

    def conditions(self, dde, geom, hard):
        if hard:
            return []
        return [dde.icbc.DirichletBC(geom, lambda X: np.zeros((len(X), 1)), lambda _, on_boundary: on_boundary)]

    def output_transform(self, dde):
        """u = (1 - x^2)(1 - y^2) s N with s = r^(2/3) cos(2 beta / 3), beta = atan2(x - y, -x - y).

        s is r^(2/3) sin(2 theta / 3), theta the angle from the edge x = 0, y > 0 across the domain
        to the edge y = 0, x > 0 (3 pi / 2 in all): harmonic, zero on both re-entrant edges, > 0
        inside, and the leading singular term of the solution at this corner (Grisvard, Elliptic
        problems in nonsmooth domains), so the network only has to learn a smooth factor. beta is
        theta measured from the diagonal x = y < 0, which puts atan2's branch cut in the cut-out
        quadrant. The 1e-30 and 1e-15 keep the derivatives finite at the corner itself (u is
        1e-10 N there instead of 0).
        (Measured against the plain R-function factor r - x - y, which also vanishes on the
        edges: 1.9e-3 vs 7.4e-3 relative L2 to the converged FEM at the same cost; BENCHMARKS.md.)
        """
        import torch  # the pde domain runs DeepXDE on its PyTorch backend only (import_deepxde)

        def transform(X, y):
            x1, x2 = X[:, 0:1], X[:, 1:2]
            beta = torch.atan2(x1 - x2, -x1 - x2 + 1e-15)
            s = (x1 * x1 + x2 * x2 + 1e-30) ** (1.0 / 3.0) * torch.cos(2.0 * beta / 3.0)
            return (1 - x1 * x1) * (1 - x2 * x2) * s * y

        return transform


# ---------------------------------------------------------------------------
@register
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
    reference_file = "pde/pinnacle/poisson_classic.dat"
    defaults = {"u_outer": 1.0, "u_holes": 0.0, "radius": 0.1}
    inputs = ("x", "y")
    # A hard-constraint ansatz would need a distance function to five boundaries and a lift
    # matching two boundary values: not natural here, so the boundary conditions are soft.
    supports_hard_constraints = False
    BOX = (-0.5, 0.5, -0.5, 0.5)
    CENTRES = ((0.3, 0.3), (-0.3, 0.3), (0.3, -0.3), (-0.3, -0.3))
    FILE_PARAMS = {"u_outer": 1.0, "u_holes": 0.0, "radius": 0.1}

    def validate(self) -> None:
        for key in ("u_outer", "u_holes"):
            v = self.params[key]
            if not (isinstance(v, (int, float)) and math.isfinite(v)):
                raise ConfigError(f"pde.params.{self.name}.{key}", f"problem '{self.name}': boundary value {key} must be finite, got {v}")
        self._positive("radius", "hole radius")
        if self.params["radius"] >= 0.2:
            raise ConfigError(f"pde.params.{self.name}.radius",
                              f"problem '{self.name}': hole radius must be < 0.2 (holes centred 0.2 from the box edges "
                              f"and 0.6 apart), got {self.params['radius']}")

    def disks(self) -> list[tuple[float, float, float]]:
        r = float(self.params["radius"])
        return [(cx, cy, r) for cx, cy in self.CENTRES]

    def uses_reference_file(self) -> bool:
        return all(abs(self.params[k] - v) < 1e-12 for k, v in self.FILE_PARAMS.items())

    def reference(self, data_root=None) -> Reference:
        from sciml.data import resolve
        from sciml.pde.references import load_comsol_dat

        if self.uses_reference_file():
            return load_comsol_dat(resolve(self.reference_file, data_root), self.name)
        x = np.linspace(self.BOX[0], self.BOX[1], 101)
        y = np.linspace(self.BOX[2], self.BOX[3], 101)
        grid = Reference(("x", "y"), {"x": x, "y": y}, np.zeros((101, 101)), "solver", inputs=("x", "y"))
        return Reference(("x", "y"), grid.coords, self.solve(grid, self.solver_levels()[-1]),
                         "in-package P1 FEM (n=320)", inputs=("x", "y"))

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

    def geometry(self, dde):
        x0, x1, y0, y1 = self.BOX
        geom = dde.geometry.Rectangle([x0, y0], [x1, y1])
        for cx, cy, r in self.disks():
            geom = dde.geometry.CSGDifference(geom, dde.geometry.Disk([cx, cy], r))
        return geom

    def pde(self, dde):
        def residual(x, u):
            return dde.grad.hessian(u, x, i=0, j=0) + dde.grad.hessian(u, x, i=1, j=1)

        return residual

    def on_box(self, X: np.ndarray) -> np.ndarray:
        """Boolean mask (n,) of points on the outer box edges."""
        x0, x1, y0, y1 = self.BOX
        X = np.asarray(X)
        return (np.isclose(X[:, 0], x0) | np.isclose(X[:, 0], x1) | np.isclose(X[:, 1], y0)
                | np.isclose(X[:, 1], y1))

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

    def conditions(self, dde, geom, hard):
        u_outer, u_holes = float(self.params["u_outer"]), float(self.params["u_holes"])

        def value(X):
            return np.where(self.on_box(X), u_outer, u_holes)[:, None]

        return [dde.icbc.DirichletBC(geom, value, lambda _, on_boundary: on_boundary)]
