"""Laplace equation on a rectangle with circular holes (PINNacle "Poisson2D_Classic"), solved
with P1/P2 finite elements from scikit-fem on a Delaunay mesh of the holed domain.

Meshing: scikit-fem ships no mesher for holed domains and the pip-installable meshers
(gmsh, triangle) are extra binary dependencies, so the mesh is built here in ~30 lines:
nodes on the box edges and on the circles at spacing ``h``, a hexagonal lattice of interior
nodes (dropped within ``0.5 h`` of any boundary), ``scipy.spatial.Delaunay`` of all nodes,
and the triangles whose centroid lies inside a hole are removed. Circles are thus
approximated by inscribed polygons with ``ceil(2 pi r / h)`` sides (geometric error
``O(h^2 / r)``); the polygon lies inside the disk, so every point of the true domain is
covered by the mesh.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sciml.pde.solvers.fem_points import locate_or_nearest, values_in_cells

Box = tuple[float, float, float, float]  # xmin, xmax, ymin, ymax
Disk = tuple[float, float, float]  # cx, cy, r


def in_holes(points: np.ndarray, disks: Sequence[Disk]) -> np.ndarray:
    """Boolean mask (n,) of points strictly inside any disk."""
    pts = np.asarray(points, dtype=float)
    out = np.zeros(len(pts), dtype=bool)
    for cx, cy, r in disks:
        out |= np.hypot(pts[:, 0] - cx, pts[:, 1] - cy) < r
    return out


def mesh_holed_box(box: Box, disks: Sequence[Disk], h: float):
    """Triangle mesh (``skfem.MeshTri``) of ``box`` minus ``disks`` with node spacing ~``h``,
    and a point locator ``locate(points (m, 2)) -> element index (m,)`` (-1 if not found)."""
    from scipy.spatial import Delaunay
    from skfem import MeshTri

    x0, x1, y0, y1 = box
    nx, ny = max(2, math.ceil((x1 - x0) / h)), max(2, math.ceil((y1 - y0) / h))
    xs, ys = np.linspace(x0, x1, nx + 1), np.linspace(y0, y1, ny + 1)
    edges = [np.c_[xs, np.full_like(xs, y0)], np.c_[xs, np.full_like(xs, y1)],
             np.c_[np.full_like(ys, x0), ys][1:-1], np.c_[np.full_like(ys, x1), ys][1:-1]]
    circles = []
    for cx, cy, r in disks:
        m = max(8, math.ceil(2 * math.pi * r / h))
        a = 2 * math.pi * np.arange(m) / m
        circles.append(np.c_[cx + r * np.cos(a), cy + r * np.sin(a)])
    # hexagonal lattice: rows h*sqrt(3)/2 apart, every other row shifted by h/2
    dy = h * math.sqrt(3) / 2
    rows = np.arange(y0 + dy / 2, y1, dy)
    lattice = []
    for i, y in enumerate(rows):
        xr = np.arange(x0 + (h / 2 if i % 2 else h / 4), x1, h)
        lattice.append(np.c_[xr, np.full_like(xr, y)])
    lattice = np.concatenate(lattice)
    keep = ((lattice[:, 0] - x0 > 0.5 * h) & (x1 - lattice[:, 0] > 0.5 * h)
            & (lattice[:, 1] - y0 > 0.5 * h) & (y1 - lattice[:, 1] > 0.5 * h))
    for cx, cy, r in disks:
        keep &= np.hypot(lattice[:, 0] - cx, lattice[:, 1] - cy) > r + 0.5 * h
    nodes = np.concatenate(edges + circles + [lattice[keep]])
    dela = Delaunay(nodes)
    tri = dela.simplices
    keep = ~in_holes(nodes[tri].mean(axis=1), disks)
    element_of_simplex = np.where(keep, np.cumsum(keep) - 1, -1)

    def locate(points: np.ndarray) -> np.ndarray:
        simplex = dela.find_simplex(np.asarray(points, dtype=float))
        return np.where(simplex >= 0, element_of_simplex[simplex], -1)

    # MeshTri sorts the vertices of each triangle but keeps the triangle order
    return MeshTri(nodes.T.copy(), tri[keep].T.copy()), locate


def solve_laplace_holes(box: Box, disks: Sequence[Disk], u_outer: float, u_holes: float,
                        points: np.ndarray, n: int, order: int = 2) -> np.ndarray:
    """Solve Laplace(u) = 0, u = ``u_outer`` on the box edges, ``u_holes`` on the circles.

    ``n``: mesh nodes per unit length (h = 1/n); ``order``: 1 (P1) or 2 (P2). Returns u at
    ``points`` (m, 2); NaN for points inside a hole or outside the box.
    """
    from skfem import Basis, BilinearForm, ElementTriP1, ElementTriP2, condense, solve
    from skfem.helpers import dot, grad

    mesh, locate = mesh_holed_box(box, disks, 1.0 / n)
    basis = Basis(mesh, ElementTriP2() if order == 2 else ElementTriP1())

    @BilinearForm
    def laplace(u, v, _):
        return dot(grad(u), grad(v))

    A = laplace.assemble(basis)
    x0, x1, y0, y1 = box
    tol = 1e-9 * max(x1 - x0, y1 - y0)
    on_box = mesh.facets_satisfying(
        lambda X: (np.abs(X[0] - x0) < tol) | (np.abs(X[0] - x1) < tol) | (np.abs(X[1] - y0) < tol)
        | (np.abs(X[1] - y1) < tol), boundaries_only=True)
    on_holes = np.setdiff1d(mesh.boundary_facets(), on_box)
    d_box, d_holes = basis.get_dofs(on_box).all(), basis.get_dofs(on_holes).all()
    u = basis.zeros()
    u[d_holes] = u_holes
    u[d_box] = u_outer  # corners belong to the box
    u = solve(*condense(A, np.zeros(basis.N), x=u, D=np.union1d(d_box, d_holes)))
    return evaluate(basis, u, points, box, disks, locate)


def evaluate(basis, u: np.ndarray, points: np.ndarray, box: Box, disks: Sequence[Disk], locate) -> np.ndarray:
    """FE function ``u`` at ``points`` (m, 2); NaN inside holes / outside the box.

    Points are located with the mesher's Delaunay structure instead of ``basis.probes``
    (see :mod:`.fem_points` for why).
    """
    pts = np.asarray(points, dtype=float)
    x0, x1, y0, y1 = box
    eps = 1e-12
    ok = (~in_holes(pts, [(cx, cy, r - 1e-9) for cx, cy, r in disks])
          & (pts[:, 0] >= x0 - eps) & (pts[:, 0] <= x1 + eps) & (pts[:, 1] >= y0 - eps) & (pts[:, 1] <= y1 + eps))
    out = np.full(len(pts), np.nan)
    idx = np.flatnonzero(ok)
    if not len(idx):
        return out
    # points on a circle up to rounding (1e-9) may fall in a removed triangle: nearest element
    out[idx] = values_in_cells(basis, u, pts[idx], locate_or_nearest(basis.mesh, pts[idx], locate))
    return out
