"""Is DeepXDE's ``Poisson_Lshape.npz`` a solution of -Laplace(u) = 1, u = 0 on the L-shape?

    python benchmarks/pde/lshape_reference_check.py [--data-root ../shared/data]

Three checks, each printed as one line:

1. the converged in-package P2 FEM (scikit-fem, the finest level of the problem's solver ladder:
   adaptively refined towards the re-entrant corner) against the file;
2. an independent 5-point finite-difference solve (written here, scipy sparse) against the file;
3. the file's own Laplacian: the file's grid is a spectral-element grid (elements of
   Gauss-Lobatto-Legendre nodes), so inside each element the polynomial through the file's values
   is differentiated exactly (scipy's barycentric interpolation); a solution of the PDE gives
   -Laplace(u) = 1 there up to the discretisation error.
"""

from __future__ import annotations

import argparse

import numpy as np


def gll_elements(xs: np.ndarray) -> list[slice] | None:
    """Slices of the elements if ``xs`` is a grid of equal elements of GLL nodes, else None."""
    from numpy.polynomial import legendre

    n = len(xs)
    for p in range(2, 33):
        if (n - 1) % p:
            continue
        ends = xs[::p]
        if not np.allclose(np.diff(ends), np.diff(ends)[0]):
            continue
        ref = np.concatenate([[-1.0], np.sort(legendre.Legendre.basis(p).deriv().roots().real), [1.0]])
        a, b = ends[0], ends[1]
        if np.allclose(xs[:p + 1], a + (ref + 1) * (b - a) / 2, atol=1e-9):
            return [slice(e * p, e * p + p + 1) for e in range(len(ends) - 1)]
    return None


def spectral_minus_laplacian(ref) -> np.ndarray:
    """-Laplace(u) of the file at the interior nodes of every element inside the domain."""
    from scipy.interpolate import BarycentricInterpolator

    xs, ys = ref.coords["x"], ref.coords["y"]
    ex, ey = gll_elements(xs), gll_elements(ys)
    if ex is None or ey is None:
        raise SystemExit("the file's grid is not a spectral-element (GLL) grid: check 3 does not apply")
    out = []
    for sx in ex:
        for sy in ey:
            block = ref.values[sx, sy]
            if not np.isfinite(block).all():
                continue  # element in the cut-out quadrant
            uxx = BarycentricInterpolator(xs[sx], block, axis=0).derivative(xs[sx], der=2)
            uyy = BarycentricInterpolator(ys[sy], block.T, axis=0).derivative(ys[sy], der=2).T
            out.append(-(uxx + uyy)[1:-1, 1:-1].ravel())
    return np.concatenate(out)


def finite_difference_solve(n: int) -> tuple[np.ndarray, np.ndarray]:
    """5-point FD solve of -Laplace(u) = 1 on [-1,1]^2 minus (0,1]^2, u = 0 on the boundary;
    returns (nodes (n+1,), u (n+1, n+1)) with u[i, j] = u(nodes[i], nodes[j])."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spl

    g = np.linspace(-1.0, 1.0, n + 1)
    h = g[1] - g[0]
    X, Y = np.meshgrid(g, g, indexing="ij")
    inside = ~((X >= 0) & (Y >= 0)) & (np.abs(X) < 1) & (np.abs(Y) < 1)
    index = np.full(X.shape, -1)
    index[inside] = np.arange(inside.sum())
    i, j = np.nonzero(inside)
    k = index[i, j]
    rows, cols, vals = [k], [k], [np.full(len(k), 4 / h**2)]
    for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        nb = index[i + di, j + dj]
        m = nb >= 0
        rows.append(k[m]), cols.append(nb[m]), vals.append(np.full(m.sum(), -1 / h**2))
    A = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))))
    u = np.zeros(X.shape)
    u[inside] = spl.spsolve(A, np.ones(len(k)))
    return g, u


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--fd-n", type=int, default=400, help="FD intervals per side (h = 2/n)")
    args = parser.parse_args()

    from scipy.interpolate import RegularGridInterpolator

    from sciml.pde.problems import get_problem

    problem = get_problem("poisson_lshape")
    ref = problem.reference(args.data_root)
    mask = ref.mask
    file_u = ref.values[mask]

    def rel(a: np.ndarray) -> float:
        return float(np.linalg.norm(a - file_u) / np.linalg.norm(file_u))

    finest = problem.solver_levels()[-1]
    fem = problem.solve(ref, finest)[mask]
    print(f"1. FEM {', '.join(f'{k}={v}' for k, v in finest.items())} vs file: rel. L2 {rel(fem):.4f}; max u FEM {fem.max():.5f}, file {file_u.max():.5f}")
    g, u = finite_difference_solve(args.fd_n)
    fd = RegularGridInterpolator((g, g), u)(ref.points()[mask.ravel()])
    print(f"2. FD h=2/{args.fd_n} vs file: rel. L2 {rel(fd):.4f}; vs FEM {np.linalg.norm(fd - fem) / np.linalg.norm(fem):.2e}; "
          f"max u FD {u.max():.5f}")
    lap = spectral_minus_laplacian(ref)
    p5, p50, p95 = np.percentile(lap, [5, 50, 95])
    print(f"3. -Laplace(file) at {lap.size} interior element nodes (PDE: 1): mean {lap.mean():.4f}, "
          f"median {p50:.4f}, 5-95% {p5:.4f}..{p95:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
