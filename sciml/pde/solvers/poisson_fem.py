"""Poisson -Laplace(u) = f on the L-shaped domain [-1,1]^2 minus (0,1]^2, u = 0 on the
boundary, with P2 (or P1) finite elements from scikit-fem."""

from __future__ import annotations

import numpy as np


def solve_poisson_lshape(source: float, points: np.ndarray, refine: int, order: int = 2) -> np.ndarray:
    """Solve on ``MeshTri.init_lshaped()`` refined ``refine`` times; evaluate at ``points`` (n, 2).

    Points outside the mesh give NaN. ``source`` is the constant right-hand side f.
    """
    from skfem import Basis, BilinearForm, ElementTriP1, ElementTriP2, LinearForm, MeshTri, condense, solve
    from skfem.helpers import dot, grad

    mesh = MeshTri.init_lshaped().refined(refine)
    element = ElementTriP2() if order == 2 else ElementTriP1()
    basis = Basis(mesh, element)

    @BilinearForm
    def laplace(u, v, _):
        return dot(grad(u), grad(v))

    @LinearForm
    def rhs(v, _):
        return source * v

    A = laplace.assemble(basis)
    b = rhs.assemble(basis)
    u = solve(*condense(A, b, D=basis.get_dofs()))
    return evaluate_on_points(basis, u, points)


def evaluate_on_points(basis, u: np.ndarray, points: np.ndarray) -> np.ndarray:
    """FE function ``u`` at ``points`` (n, 2); NaN for points outside the mesh."""
    pts = np.asarray(points, dtype=float)
    inside = ~((pts[:, 0] > 0) & (pts[:, 1] > 0))
    out = np.full(len(pts), np.nan)
    if inside.any():
        out[inside] = basis.probes(pts[inside].T) @ u
    return out
