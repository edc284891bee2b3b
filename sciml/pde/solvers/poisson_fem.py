"""Poisson -Laplace(u) = f on the L-shaped domain [-1,1]^2 minus (0,1]^2, u = 0 on the
boundary, with P2 (or P1) finite elements from scikit-fem: on uniformly refined meshes, or on
meshes refined adaptively by a residual error estimator (graded towards the re-entrant corner,
where the solution's gradient is singular and uniform refinement converges slowly)."""

from __future__ import annotations

import numpy as np


def _assemble_and_solve(mesh, source: float, order: int):
    """(basis, u): the FE solution on ``mesh``."""
    from skfem import Basis, BilinearForm, ElementTriP1, ElementTriP2, LinearForm, condense, solve
    from skfem.helpers import dot, grad

    basis = Basis(mesh, ElementTriP2() if order == 2 else ElementTriP1())

    @BilinearForm
    def laplace(u, v, _):
        return dot(grad(u), grad(v))

    @LinearForm
    def rhs(v, _):
        return source * v

    u = solve(*condense(laplace.assemble(basis), rhs.assemble(basis), D=basis.get_dofs()))
    return basis, u


def solve_poisson_lshape(source: float, points: np.ndarray, refine: int, order: int = 2) -> np.ndarray:
    """Solve on ``MeshTri.init_lshaped()`` refined uniformly ``refine`` times; evaluate at
    ``points`` (n, 2). Points outside the L-shape give NaN. ``source`` is the constant f."""
    from skfem import MeshTri

    basis, u = _assemble_and_solve(MeshTri.init_lshaped().refined(refine), source, order)
    return evaluate_on_points(basis, u, points)


def jump_estimator(basis, u: np.ndarray) -> np.ndarray:
    """Elementwise error indicator: the sum over the element's interior edges of
    h_E / 2 [du/dn]^2, the squared jump of the normal derivative (the edge part of Verfuerth's
    residual estimator).

    The element part h_K^2 |f + Laplace(u_h)|^2 is left out: scikit-fem does not evaluate
    Laplace(u_h) for P2, and h_K^2 f^2 in its place is nearly uniform, so the maximum strategy
    then refines almost every element (measured: it alternated between 2 and ~all). The edge
    jumps dominate the estimator for low-order elements (Carstensen and Verfuerth, SIAM J.
    Numer. Anal. 36, 1999). The indicator only chooses where to refine; accuracy is measured
    against the finest level of the problem's solver ladder.
    """
    from skfem import Functional, InteriorFacetBasis
    from skfem.helpers import grad

    mesh = basis.mesh
    sides = [InteriorFacetBasis(mesh, basis.elem, side=i) for i in (0, 1)]
    fields = {f"u{i}": sides[i].interpolate(u) for i in (0, 1)}

    @Functional
    def jump_term(w):
        d0, d1 = grad(w["u0"]), grad(w["u1"])
        return w.h * ((d0[0] - d1[0]) * w.n[0] + (d0[1] - d1[1]) * w.n[1]) ** 2

    per_facet = np.zeros(mesh.facets.shape[1])
    np.add.at(per_facet, sides[0].find, jump_term.elemental(sides[0], **fields))
    return 0.5 * per_facet[mesh.t2f].sum(axis=0)


def solve_poisson_lshape_adaptive(source: float, points: np.ndarray, steps: int, order: int = 2,
                                  theta: float = 0.5) -> np.ndarray:
    """Solve on ``MeshTri.init_lshaped()`` refined once, then ``steps`` times adaptively: each
    step refines the elements whose :func:`jump_estimator` exceeds ``theta`` times its
    maximum (scikit-fem's ``adaptive_theta``). Evaluates the last solution at ``points`` (n, 2)."""
    from skfem import MeshTri, adaptive_theta

    mesh = MeshTri.init_lshaped().refined(1)
    for _ in range(steps):
        basis, u = _assemble_and_solve(mesh, source, order)
        mesh = mesh.refined(adaptive_theta(jump_estimator(basis, u), theta=theta))
    basis, u = _assemble_and_solve(mesh, source, order)
    return evaluate_on_points(basis, u, points)


def evaluate_on_points(basis, u: np.ndarray, points: np.ndarray) -> np.ndarray:
    """FE function ``u`` at ``points`` (n, 2); NaN for points outside the L-shape."""
    from sciml.pde.solvers.fem_points import locate_or_nearest, values_in_cells

    pts = np.asarray(points, dtype=float)
    inside = np.flatnonzero(~((pts[:, 0] > 0) & (pts[:, 1] > 0)))
    out = np.full(len(pts), np.nan)
    if len(inside):
        out[inside] = values_in_cells(basis, u, pts[inside], locate_or_nearest(basis.mesh, pts[inside]))
    return out
