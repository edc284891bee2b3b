"""A reference-free check of a PINN that a singular point cannot dominate: the residual's dual norm.

The RMS of the PDE residual on fresh points (``validation.residual_rms``) is the natural check
for a smooth solution, but where the boundary data are incompatible at a corner (a lid-driven
cavity: the lid's tangential velocity meets a no-slip wall) the exact pressure is singular there,
every smooth network has a large residual in a small neighbourhood of that corner, and the RMS
measures that neighbourhood only: the strong residual of the true solution's best smooth
approximations is not small, so the RMS cannot rank them. For a linear, well-posed problem the
error in the energy norm is bounded by the residual in the dual norm H^-1 plus the boundary
misfit, and the dual norm of a residual that is large only near a point is small. Here it is

    ||r||_{-1}^2  ~  sum_k <r, phi_k>^2 / lambda_k      (time-dependent: times psi_m(t), summed)

with phi_k the orthonormal sine modes of the spatial box (they vanish on its boundary, so the
test functions are in H^1_0), lambda_k = pi^2 |k / length|^2 their eigenvalues of -Laplace,
psi_m the orthonormal Legendre polynomials of the time interval, and the inner products by
tensor Gauss-Legendre quadrature. Truncating at ``modes`` per dimension keeps the low-frequency
part, which is what the dual norm weights most. Written here because neither DeepXDE nor SciPy
offers a dual-norm residual; it needs only the network's signed residuals at given points.

Only a box domain (interval, rectangle, box; optionally times an interval) has this sine basis:
the evaluate step reports it for declared box domains and leaves it out elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def quadrature_grid(bounds: list[tuple[float, float]], per_dim: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Tensor Gauss-Legendre nodes of a box: the 1D nodes per dimension, the points (n, d)
    (first dimension slowest) and the weights (n,), which sum to the box's volume."""
    x, w = np.polynomial.legendre.leggauss(per_dim)
    nodes, weights = [], []
    for lo, hi in bounds:
        nodes.append(lo + (hi - lo) * (x + 1) / 2)
        weights.append(w * (hi - lo) / 2)
    points = np.stack(np.meshgrid(*nodes, indexing="ij"), axis=-1).reshape(-1, len(bounds))
    W = weights[0]
    for wd in weights[1:]:
        W = np.multiply.outer(W, wd)
    return nodes, points, W.ravel()


def _sine_modes(nodes: np.ndarray, lo: float, hi: float, modes: int) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal sine modes (modes, n) of [lo, hi] at ``nodes`` and their wavenumbers k pi / length."""
    length = hi - lo
    k = np.arange(1, modes + 1)
    return np.sqrt(2 / length) * np.sin(np.pi * np.outer(k, nodes - lo) / length), np.pi * k / length


def _legendre_modes(nodes: np.ndarray, lo: float, hi: float, modes: int) -> np.ndarray:
    """Orthonormal Legendre polynomials (modes, n) of degree 0..modes-1 on [lo, hi]."""
    s = 2 * (nodes - lo) / (hi - lo) - 1
    return np.stack([np.polynomial.legendre.Legendre.basis(m)(s) * np.sqrt((2 * m + 1) / (hi - lo))
                     for m in range(modes)])


def dual_norm(residuals: np.ndarray, nodes: list[np.ndarray], weights: np.ndarray,
              bounds: list[tuple[float, float]], n_space: int, modes: int) -> np.ndarray:
    """Dual (H^-1 in space, L2 in time) norm of each residual (n_eq,) from its values (n_eq, n)
    on the tensor grid of :func:`quadrature_grid`; the first ``n_space`` dimensions are spatial,
    a remaining one is time."""
    bases, wavenumbers = [], []
    for d, (lo, hi) in enumerate(bounds):
        if d < n_space:
            phi, kd = _sine_modes(nodes[d], lo, hi, modes)
            wavenumbers.append(kd)
        else:
            phi = _legendre_modes(nodes[d], lo, hi, modes)
        bases.append(phi)
    lam = sum(np.meshgrid(*[kd ** 2 for kd in wavenumbers], indexing="ij"))  # (modes,) * n_space
    shape = [len(n) for n in nodes]
    out = []
    for r in np.asarray(residuals, dtype=float):
        c = (r * weights).reshape(shape)
        for phi in bases:  # contract one dimension at a time: c[k1, ..., n_d, ...] -> coefficient
            c = np.tensordot(c, phi, axes=([0], [1]))
        # c now has axes (k_1, ..., k_space, m_time?) in dimension order
        c2 = c ** 2
        if c2.ndim > n_space:
            c2 = c2.sum(axis=tuple(range(n_space, c2.ndim)))
        out.append(float(np.sqrt(np.sum(c2 / lam))))
    return np.array(out)


def weak_residual(residual_fn: Callable[[np.ndarray], np.ndarray], bounds: list[tuple[float, float]],
                  n_space: int, n_points: int, modes: int | None = None) -> dict[str, float | list[float]]:
    """The dual norm of a network's PDE residuals over a box (times a time interval).

    ``residual_fn(points (n, d)) -> (n_eq, n)`` signed residuals; ``bounds`` per input, spatial
    first; about ``n_points`` quadrature points in all (per dimension: the d-th root); ``modes``
    per dimension (default: a quarter of the nodes per dimension, at most 16). Returns
    ``weak_residual`` (root of the summed squares over equations), ``weak_residual_per_equation``,
    ``weak_modes`` and ``weak_points``.
    """
    d = len(bounds)
    per_dim = max(8, int(round(n_points ** (1 / d))))
    modes = modes or max(2, min(16, per_dim // 4))
    nodes, points, weights = quadrature_grid(bounds, per_dim)
    r = np.atleast_2d(np.asarray(residual_fn(points), dtype=float))
    norms = dual_norm(r, nodes, weights, bounds, n_space, modes)
    return {"weak_residual": float(np.sqrt(np.sum(norms ** 2))),
            "weak_residual_per_equation": [float(v) for v in norms],
            "weak_modes": int(modes), "weak_points": int(len(points))}
