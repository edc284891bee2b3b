"""Seconds per inverse-Hessian update: SciPy's BFGS form (two dense n x n products) vs the rank-two
form of :class:`sciml.pde.quasi_newton.DenseBFGS`, at the PINN sizes of the benchmarks (issue #17).

    OMP_NUM_THREADS=1 python benchmarks/pde/bfgs_update_cost.py --sizes 921 3297 3585

Prints one line per size: n, SciPy-form seconds, rank-two seconds (median of --repeats).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def scipy_form(H: np.ndarray, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The update exactly as ``scipy.optimize._optimize._minimize_bfgs`` writes it."""
    n = len(s)
    rho = 1.0 / np.dot(y, s)
    eye = np.eye(n, dtype=int)
    A1 = eye - s[:, np.newaxis] * y[np.newaxis, :] * rho
    A2 = eye - y[:, np.newaxis] * s[np.newaxis, :] * rho
    return np.dot(A1, np.dot(H, A2)) + (rho * s[:, np.newaxis] * s[np.newaxis, :])


def main() -> None:
    import torch

    from sciml.pde.quasi_newton import DenseBFGS

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[921, 3297, 3585])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    for n in args.sizes:
        H0 = np.eye(n) * 0.5
        s = rng.normal(size=n)
        y = s + 0.1 * rng.normal(size=n)
        t_scipy, t_ours = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            scipy_form(H0, s, y)
            t_scipy.append(time.perf_counter() - t0)
            opt = DenseBFGS(lambda x: (0.0, np.zeros(n)), np.zeros(n), method="bfgs", H=H0)
            t0 = time.perf_counter()
            opt._update(s, y, alpha=1.0, g_old=-s)
            t_ours.append(time.perf_counter() - t0)
        print(f"n {n}: scipy form {statistics.median(t_scipy):.3f} s, rank-two {statistics.median(t_ours):.4f} s", flush=True)


if __name__ == "__main__":
    main()
