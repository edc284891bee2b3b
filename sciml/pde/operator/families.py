"""Input-function families of an operator surrogate and their classical solves.

A family maps random coefficients (one row per member) to
- the *input function* sampled at fixed sensors (the DeepONet branch input), and
- the *solution* on fixed query points (the trunk input), computed by the in-package solver.

Two families:

- :class:`BurgersGRF`: ``u_t + u u_x = nu u_xx`` on periodic [-1, 1), t in [0, t_final];
  u0 a zero-mean periodic Gaussian random field (truncated Fourier series with Matern-type
  spectral density); solved by :func:`sciml.pde.solvers.spectral.etdrk4_periodic`.
- :class:`PoissonLShape`: ``-Laplace(u) = f`` on the L-shape [-1,1]^2 minus (0,1]^2, u = 0 on
  the boundary; f a random sum of smooth sine modes with a squared-exponential spectral decay;
  solved with scikit-fem P1/P2 elements as in :mod:`sciml.pde.solvers.poisson_fem`.

Each family has a solver *ladder* (coarse to fine levels) used to find the classical solve
whose error matches the surrogate's, and a reference level that generates the data.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class OperatorFamily(ABC):
    """What ``sciml pde operator`` needs of an input-function family (subclass it in a plugin file
    named by ``family.plugin``; see docs/pde_operator.md).

    Attributes: ``kind`` (a name recorded with the data and the model) and ``ladder`` (solver levels,
    coarse to fine, searched for the classical solve whose error matches the surrogate's; a level
    is anything :meth:`solve` accepts, stored as a JSON list). Coefficients are the family's random
    parameters, one row per member; every array is float.
    """

    kind: str
    ladder: list

    @abstractmethod
    def spec(self) -> dict[str, Any]:
        """JSON-able description (``kind`` included): data and model record it; a change regenerates the data."""

    def timed_ladder(self) -> list:
        """The levels the speed comparison times (``ladder`` unless a family adds cheaper variants of its levels)."""
        return list(self.ladder)

    @abstractmethod
    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, n_coeffs) random coefficients drawn with ``rng``."""

    @abstractmethod
    def sensors(self) -> np.ndarray:
        """(n_sensors, d) coordinates where the input function is sampled (the branch input)."""

    @abstractmethod
    def input_function(self, coeffs: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Input function of each row of ``coeffs`` at ``x`` (the sensors: (n,) for d = 1, else (n, d)) -> (rows, n)."""

    @abstractmethod
    def points(self) -> np.ndarray:
        """(n_points, d_out) query points of the solution (the trunk input)."""

    @abstractmethod
    def solve(self, coeffs: np.ndarray, level: Any = None) -> np.ndarray:
        """Solution at the query points (n_points,) for one coefficient row; ``level`` None = reference."""

    def solve_many(self, coeffs: np.ndarray) -> np.ndarray:
        """(rows, n_points) reference solutions, one :meth:`solve` per row."""
        return np.stack([np.asarray(self.solve(c), dtype=float) for c in coeffs])


def split_rng(seed: int, split: str) -> np.random.Generator:
    """Independent random stream of one split ('train', 'validation', 'test') for ``seed``."""
    return np.random.default_rng([seed, {"train": 0, "validation": 1, "test": 2}[split]])


# ----------------------------------------------------------------------------- Burgers


@dataclass
class BurgersGRF(OperatorFamily):
    """Burgers on periodic [-1, 1) over random initial conditions.

    u0(x) = sum_k a_k cos(pi k x) + b_k sin(pi k x), k = 1..modes, a_k, b_k ~ N(0, s^2 w_k) with
    w_k = (1 + (length_scale pi k)^2)^(-smoothness), s chosen so that E[mean_x u0^2] = amplitude^2.
    Coefficient rows are [a_1..a_K, b_1..b_K]. Query points: (x, t) on nx equispaced x in
    [-1, 1) times nt equispaced t in [0, t_final], x-major (flattened from (nx, nt)).
    """

    nu: float = 0.1
    t_final: float = 1.0
    nx: int = 64
    nt: int = 21
    modes: int = 24
    length_scale: float = 0.2
    smoothness: float = 2.0
    amplitude: float = 0.5
    reference: tuple[int, int] = (256, 20)  # (Fourier points, ETDRK4 steps per output interval)
    ladder: list[tuple[int, int]] = field(default_factory=lambda: [
        (16, 1), (16, 2), (24, 2), (32, 2), (32, 4), (48, 4), (64, 5), (96, 10), (128, 10)])
    kind: str = "burgers_grf"

    def __post_init__(self) -> None:
        if self.modes >= self.nx // 2:
            raise ValueError(f"modes ({self.modes}) must be < nx/2 ({self.nx // 2}) so the sensors resolve u0")
        self.reference = tuple(self.reference)
        self.ladder = [tuple(level) for level in self.ladder]

    def timed_ladder(self) -> list[tuple[int, int]]:
        """``ladder`` with each (points, steps) level preceded by the same grid at 1 and half its steps per output:
        the error here is spatial, so the ladder's time steps bought no accuracy and made the matched solve up to
        4.5x slower than needed (an audit's measurement, 2026-12-07)."""
        from sciml.pde.timing import fewer_time_steps

        out: list[tuple[int, int]] = []
        for n, steps in self.ladder:
            out += [(n, fewer) for fewer in fewer_time_steps(steps)] + [(n, steps)]
        return list(dict.fromkeys(out))  # a variant the ladder already has is timed once

    def spec(self) -> dict[str, Any]:
        """JSON-able description (recorded with data and model)."""
        return {"kind": self.kind, "nu": self.nu, "t_final": self.t_final, "nx": self.nx, "nt": self.nt,
                "modes": self.modes, "length_scale": self.length_scale, "smoothness": self.smoothness,
                "amplitude": self.amplitude, "reference": list(self.reference),
                "ladder": [list(level) for level in self.ladder]}

    @property
    def x(self) -> np.ndarray:
        return -1.0 + 2.0 * np.arange(self.nx) / self.nx

    @property
    def t(self) -> np.ndarray:
        return np.linspace(0.0, self.t_final, self.nt)

    def _std(self) -> np.ndarray:
        k = np.arange(1, self.modes + 1)
        w = (1.0 + (self.length_scale * np.pi * k) ** 2) ** (-self.smoothness)
        return self.amplitude * np.sqrt(w / w.sum())

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, 2 * modes) random coefficients."""
        std = np.concatenate([self._std(), self._std()])
        return rng.standard_normal((n, 2 * self.modes)) * std

    def input_function(self, coeffs: np.ndarray, x: np.ndarray) -> np.ndarray:
        """u0 of each coefficient row at ``x``: (n, len(x)) (or (len(x),) for one row)."""
        coeffs = np.asarray(coeffs, dtype=float)
        k = np.arange(1, self.modes + 1)
        arg = np.pi * np.outer(x, k)  # (len(x), K)
        basis = np.concatenate([np.cos(arg), np.sin(arg)], axis=1)  # (len(x), 2K)
        return coeffs @ basis.T

    def sensors(self) -> np.ndarray:
        """(nx, 1) sensor coordinates: u0 is sampled on the output x grid."""
        return self.x[:, None]

    def points(self) -> np.ndarray:
        """(nx * nt, 2) query points (x, t), x-major."""
        xx, tt = np.meshgrid(self.x, self.t, indexing="ij")
        return np.stack([xx.ravel(), tt.ravel()], axis=1)

    def solve(self, coeffs: np.ndarray, level: tuple[int, int] | None = None) -> np.ndarray:
        """u at the query points (nx * nt,) for one coefficient row, with ``level`` = (Fourier
        points, steps per output interval) of the spectral solver (None: the reference level)."""
        from sciml.pde.solvers.spectral import etdrk4_periodic

        n, steps = level if level is not None else self.reference

        def nonlinear(u, u_hat, k):  # -(u^2/2)_x, as in sciml.pde.solvers.spectral.solve_burgers
            return -0.5j * k * np.fft.rfft(u * u)

        u = etdrk4_periodic(lambda x: self.input_function(coeffs, x), self.nu, nonlinear, n, self.t, self.x, steps)
        return u.ravel()

    def solve_many(self, coeffs: np.ndarray) -> np.ndarray:
        """(n, nx * nt) reference solutions, one solve per row."""
        return np.stack([self.solve(c) for c in coeffs])


# ----------------------------------------------------------------------------- Poisson


class _LShapeFEM:
    """P1/P2 FEM of -Laplace(u) = f on the L-shape, u = 0 on the boundary, at one mesh level:
    assembled and factorised once, then one right-hand side per solve."""

    def __init__(self, refine: int, order: int, points: np.ndarray):
        from scipy.sparse.linalg import splu
        from skfem import Basis, BilinearForm, ElementTriP1, ElementTriP2, MeshTri
        from skfem.helpers import dot, grad

        from sciml.pde.solvers.fem_points import locate_or_nearest

        self.mesh = MeshTri.init_lshaped().refined(refine)
        self.basis = Basis(self.mesh, ElementTriP2() if order == 2 else ElementTriP1())

        @BilinearForm
        def laplace(u, v, _):
            return dot(grad(u), grad(v))

        A = laplace.assemble(self.basis)
        self.interior = self.basis.complement_dofs(self.basis.get_dofs())
        self.lu = splu(A[self.interior][:, self.interior].tocsc())
        self.points = np.asarray(points, dtype=float)
        self.cells = locate_or_nearest(self.mesh, self.points)

    def load(self, f) -> np.ndarray:
        """Load vector of ``f(x, y)`` (vectorised callable)."""
        from skfem import LinearForm

        @LinearForm
        def rhs(v, w):
            return f(w.x[0], w.x[1]) * v

        return rhs.assemble(self.basis)

    def solve_load(self, b: np.ndarray) -> np.ndarray:
        """u at the query points for load vector(s) ``b`` (ndof,) or (ndof, r) -> (q,) or (r, q)."""
        from sciml.pde.solvers.fem_points import values_in_cells

        b = np.asarray(b)
        cols = b[:, None] if b.ndim == 1 else b
        u = np.zeros((self.basis.N, cols.shape[1]))
        u[self.interior] = self.lu.solve(np.ascontiguousarray(cols[self.interior]))
        out = np.stack([values_in_cells(self.basis, u[:, j], self.points, self.cells) for j in range(u.shape[1])])
        return out[0] if b.ndim == 1 else out


@dataclass
class PoissonLShape(OperatorFamily):
    """Poisson on the L-shape over random sources.

    f(x, y) = sum_{j,k=1..modes} a_jk sin(j pi (x+1)/2) sin(k pi (y+1)/2), a_jk ~ N(0, s^2 w_jk)
    with w_jk = exp(-(length_scale omega_jk)^2 / 2), omega_jk = (pi/2) sqrt(j^2 + k^2), s chosen
    so that E[mean f^2 over the square] = amplitude^2. Sensors: the points of an equispaced
    ``sensors_per_side``^2 grid of [-1, 1]^2 that lie in the closed L-shape. Query points: the
    vertices of ``MeshTri.init_lshaped().refined(query_refine)``. Reference: P2 on
    ``refined(reference_refine)``; ladder levels are (refine, order).
    """

    modes: int = 8
    length_scale: float = 0.5
    amplitude: float = 10.0
    sensors_per_side: int = 15
    query_refine: int = 4
    reference: tuple[int, int] = (6, 2)
    ladder: list[tuple[int, int]] = field(default_factory=lambda: [
        (1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (1, 2), (2, 2), (3, 2), (4, 2), (5, 2)])
    kind: str = "poisson_lshape"

    def __post_init__(self) -> None:
        self.reference = tuple(self.reference)
        self.ladder = [tuple(level) for level in self.ladder]
        self._fem: dict[tuple[int, int], _LShapeFEM] = {}

    def spec(self) -> dict[str, Any]:
        """JSON-able description (recorded with data and model)."""
        return {"kind": self.kind, "modes": self.modes, "length_scale": self.length_scale,
                "amplitude": self.amplitude, "sensors_per_side": self.sensors_per_side,
                "query_refine": self.query_refine, "reference": list(self.reference),
                "ladder": [list(level) for level in self.ladder]}

    def _std(self) -> np.ndarray:
        j, k = np.meshgrid(np.arange(1, self.modes + 1), np.arange(1, self.modes + 1), indexing="ij")
        w = np.exp(-0.5 * (self.length_scale * np.pi / 2) ** 2 * (j**2 + k**2)).ravel()
        return self.amplitude * np.sqrt(4.0 * w / w.sum())  # mean of sin^2 sin^2 over the square = 1/4

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, modes^2) random coefficients (j-major)."""
        return rng.standard_normal((n, self.modes**2)) * self._std()

    def _mode_values(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(modes^2, *x.shape) values of the sine modes."""
        m = np.arange(1, self.modes + 1)
        sx = np.sin(np.pi * np.multiply.outer(m, (np.asarray(x) + 1.0) / 2.0))
        sy = np.sin(np.pi * np.multiply.outer(m, (np.asarray(y) + 1.0) / 2.0))
        return (sx[:, None] * sy[None, :]).reshape(self.modes**2, *np.shape(x))

    def source(self, coeffs: np.ndarray):
        """f of one coefficient row as a vectorised callable f(x, y)."""
        coeffs = np.asarray(coeffs, dtype=float)
        return lambda x, y: np.tensordot(coeffs, self._mode_values(x, y), axes=1)

    def sensors(self) -> np.ndarray:
        """(m, 2) sensor points in the closed L-shape."""
        g = np.linspace(-1.0, 1.0, self.sensors_per_side)
        xx, yy = np.meshgrid(g, g, indexing="ij")
        pts = np.stack([xx.ravel(), yy.ravel()], axis=1)
        return pts[~((pts[:, 0] > 0) & (pts[:, 1] > 0))]

    def input_function(self, coeffs: np.ndarray, pts: np.ndarray) -> np.ndarray:
        """f of each coefficient row at ``pts`` (m, 2): (n, m)."""
        return np.asarray(coeffs, dtype=float) @ self._mode_values(pts[:, 0], pts[:, 1])

    def points(self) -> np.ndarray:
        """(q, 2) query points: the vertices of the query mesh."""
        from skfem import MeshTri

        return MeshTri.init_lshaped().refined(self.query_refine).p.T.copy()

    def fem(self, level: tuple[int, int]) -> _LShapeFEM:
        """The assembled, factorised solver of ``level`` = (refine, order) (cached)."""
        level = tuple(level)
        if level not in self._fem:
            self._fem[level] = _LShapeFEM(level[0], level[1], self.points())
        return self._fem[level]

    def solve(self, coeffs: np.ndarray, level: tuple[int, int] | None = None, reuse: bool = False) -> np.ndarray:
        """u at the query points (q,) for one coefficient row: mesh, assembly, factorisation,
        load vector, solve and evaluation from scratch (``reuse``: keep the factorised matrix of
        an earlier call, so only the load vector, the triangular solves and the evaluation count)."""
        level = tuple(level) if level is not None else self.reference
        fem = self.fem(level) if reuse else _LShapeFEM(level[0], level[1], self.points())
        return fem.solve_load(fem.load(self.source(coeffs)))

    def solve_many(self, coeffs: np.ndarray) -> np.ndarray:
        """(n, q) reference solutions. The problem is linear in f, so each sine mode is solved
        once (one factorisation, modes^2 right-hand sides) and every member is the same linear
        combination of the mode solutions as its f is of the modes (exact up to rounding)."""
        fem = self.fem(self.reference)
        loads = np.stack([fem.load(self._single_mode(i)) for i in range(self.modes**2)], axis=1)
        return np.asarray(coeffs, dtype=float) @ fem.solve_load(loads)

    def _single_mode(self, i: int):
        e = np.zeros(self.modes**2)
        e[i] = 1.0
        return self.source(e)


FAMILIES = {"burgers_grf": BurgersGRF, "poisson_lshape": PoissonLShape}


def make_family(spec: dict[str, Any]):
    """The family of a config/record ``spec`` (its ``kind`` picks the class)."""
    spec = dict(spec)
    kind = spec.pop("kind")
    if kind not in FAMILIES:
        raise ValueError(f"unknown operator family {kind!r} (known: {', '.join(FAMILIES)})")
    return FAMILIES[kind](**{k: v for k, v in spec.items() if v is not None})


def check_family(family: OperatorFamily, key: str) -> None:
    """Draw 2 members and check every array the step will use has the documented shape and is
    finite; raise :class:`~sciml.errors.ConfigError` naming ``key`` (before any data is made)."""
    from sciml.errors import ConfigError

    def fail(what: str) -> None:
        raise ConfigError(key, f"operator family {getattr(family, 'kind', type(family).__name__)!r}: {what}")

    try:
        coeffs = np.asarray(family.sample(split_rng(0, "train"), 2), dtype=float)
        sensors = np.asarray(family.sensors(), dtype=float)
        points = np.asarray(family.points(), dtype=float)
        if coeffs.ndim != 2 or len(coeffs) != 2:
            fail(f"sample(rng, 2) must return 2 rows of coefficients, got shape {coeffs.shape}")
        if sensors.ndim != 2 or points.ndim != 2:
            fail(f"sensors() and points() must be 2D (n, d) arrays, got {sensors.shape} and {points.shape}")
        inputs = np.asarray(family.input_function(coeffs, sensors[:, 0] if sensors.shape[1] == 1 else sensors))
        if inputs.shape != (2, len(sensors)):
            fail(f"input_function must return (rows, n_sensors) = (2, {len(sensors)}), got {inputs.shape}")
        u = np.asarray(family.solve(coeffs[0]), dtype=float)
        if u.shape != (len(points),):
            fail(f"solve(row) must return one value per query point ({len(points)},), got {u.shape}")
        if not (np.isfinite(inputs).all() and np.isfinite(u).all()):
            fail("input_function or solve returned NaN/inf")
        if not getattr(family, "ladder", None):
            fail("needs a non-empty 'ladder' of solver levels to time the matched classical solve")
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 -- the user's family code failed: say where
        fail(f"{type(exc).__name__}: {exc}")


def timed_reference(family, coeffs: np.ndarray) -> tuple[np.ndarray, float]:
    """Reference solutions of ``coeffs`` and the wall time (s) it took."""
    import time

    t0 = time.perf_counter()
    u = family.solve_many(coeffs)
    return u, time.perf_counter() - t0


def rel_l2(pred: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Relative L2 error of each row of ``pred`` against ``ref`` (n,)."""
    pred, ref = np.atleast_2d(pred), np.atleast_2d(ref)
    return np.linalg.norm(pred - ref, axis=1) / np.maximum(np.linalg.norm(ref, axis=1), np.finfo(float).tiny)


__all__ = ["OperatorFamily", "BurgersGRF", "PoissonLShape", "make_family", "check_family", "split_rng", "rel_l2", "timed_reference"]
