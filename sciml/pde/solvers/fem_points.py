"""Point evaluation of scikit-fem solutions on triangle meshes, in bounded memory.

scikit-fem's ``basis.probes`` finds each point's element by testing it against the union of the
candidate elements of the whole batch (an array of points x candidates), and falls back to all
elements when a guess misses, which happens on graded (adaptively refined) meshes: 19 521 points
took 3.8 GB on a uniform mesh and over 15 GB on a graded one. Here points are located exactly with
matplotlib's trapezoid-map finder and each point is mapped into its own element only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def locate_triangles(mesh, points: np.ndarray) -> np.ndarray:
    """Index of the triangle of ``mesh`` (straight-sided) holding each point (m, 2); -1 outside."""
    from matplotlib.tri import Triangulation

    tri = Triangulation(mesh.p[0], mesh.p[1], mesh.t.T)
    return np.asarray(tri.get_trifinder()(points[:, 0], points[:, 1]), dtype=np.int64)


def nearest_cells(mesh, points: np.ndarray) -> np.ndarray:
    """Element with the nearest centroid for each point (m, 2): for points that lie on the
    boundary up to rounding, where the element's affine map extrapolates over ~1e-9."""
    from scipy.spatial import cKDTree

    return cKDTree(mesh.p[:, mesh.t].mean(axis=1).T).query(points)[1]


def locate_or_nearest(mesh, points: np.ndarray,
                      locate: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Element of each point by ``locate`` (default :func:`locate_triangles`; -1 = not found),
    with :func:`nearest_cells` for the points it does not find (call it only for points known
    to be in the closed domain)."""
    cells = locate(points) if locate is not None else locate_triangles(mesh, points)
    lost = np.flatnonzero(cells < 0)
    if len(lost):
        cells[lost] = nearest_cells(mesh, points[lost])
    return cells


def values_in_cells(basis, u: np.ndarray, points: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """FE function ``u`` of ``basis`` at ``points`` (m, 2), point i lying in element ``cells[i]``."""
    x = np.asarray(points, dtype=float).T
    ref_pts = basis.mapping.invF(x[:, :, None], tind=cells)
    phis = np.array([basis.elem.gbasis(basis.mapping, ref_pts, k, tind=cells)[0] for k in range(basis.Nbfun)])
    # phis: (Nbfun, m, 1); dofs of each point's element: (Nbfun, m)
    return np.einsum("km,km->m", phis[..., 0], u[basis.element_dofs[:, cells]])
