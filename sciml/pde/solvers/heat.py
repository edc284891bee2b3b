"""1D heat equation u_t = alpha u_xx on [0, L] with u(0,t) = u(L,t) = 0,
u(x,0) = sin(n pi x / L): analytic solution and a Crank-Nicolson finite-difference solver."""

from __future__ import annotations

import numpy as np


def heat_analytic(alpha: float, length: float, mode: int, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Exact solution exp(-alpha (n pi / L)^2 t) sin(n pi x / L) on the grid (len(x), len(t))."""
    k = mode * np.pi / length
    return np.sin(k * np.asarray(x))[:, None] * np.exp(-alpha * k**2 * np.asarray(t))[None, :]


def solve_heat_cn(alpha: float, length: float, mode: int, x_out: np.ndarray, t_out: np.ndarray,
                  nx: int, steps_per_output: int) -> np.ndarray:
    """Crank-Nicolson with ``nx`` intervals; output at equally spaced ``t_out`` (from 0),
    linearly interpolated in x onto ``x_out``. Returns (len(x_out), len(t_out))."""
    from scipy.linalg import solve_banded

    x = np.linspace(0.0, length, nx + 1)
    dx = x[1] - x[0]
    dt = float(t_out[1] - t_out[0]) / steps_per_output
    r = alpha * dt / dx**2
    m = nx - 1  # interior unknowns
    ab = np.zeros((3, m))
    ab[0, 1:] = -r / 2
    ab[1, :] = 1 + r
    ab[2, :-1] = -r / 2
    u = np.sin(mode * np.pi * x / length)[1:-1]
    out = np.empty((len(x_out), len(t_out)))

    def emit(col: int, interior: np.ndarray) -> None:
        out[:, col] = np.interp(x_out, x, np.concatenate([[0.0], interior, [0.0]]))

    emit(0, u)
    for j in range(1, len(t_out)):
        for _ in range(steps_per_output):
            rhs = (1 - r) * u
            rhs[1:] += r / 2 * u[:-1]
            rhs[:-1] += r / 2 * u[1:]
            u = solve_banded((1, 1), ab, rhs)
        emit(j, u)
    return out
