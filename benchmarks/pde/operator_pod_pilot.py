"""Pilot runs behind ``benchmarks/pde/operator_burgers_pod.yaml``: a POD-DeepONet fitted in plain torch
on an operator dataset written by ``sciml pde operator``, scored on its VALIDATION split only.

Prints, for K POD modes, the validation error of the projection alone (the floor any branch can
reach), then the train and validation median relative L2 of a GELU branch MLP every 2000 Adam
steps. The test split is never read. These runs chose the benchmark's settings (number of training
functions, modes, branch size, iterations); the benchmark itself trains through DeepXDE's PODDeepONet.

    OMP_NUM_THREADS=1 python benchmarks/pde/operator_pod_pilot.py \\
        --dataset results/bench_pde_operator_burgers_pod/dataset.npz --train 5000 --modes 128 \\
        --width 512 --depth 3 --iterations 40000
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def median_rel_l2(pred: np.ndarray, ref: np.ndarray) -> float:
    """Median over functions of ||pred - ref|| / ||ref|| (the step's own measure)."""
    from sciml.pde.operator.families import rel_l2

    return float(np.median(rel_l2(pred, ref)))


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--train", type=int, default=1000, help="first N training functions")
    ap.add_argument("--modes", type=int, default=128)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    with np.load(args.dataset) as z:
        x_tr, y_tr = z["inputs_train"][:args.train], z["outputs_train"][:args.train]
        x_va, y_va = z["inputs_validation"], z["outputs_validation"]
    y_mean, x_mean = y_tr.mean(axis=0), x_tr.mean(axis=0)
    _, sv, vt = np.linalg.svd(y_tr - y_mean, full_matrices=False)
    left = 1.0 - np.cumsum(sv**2) / np.sum(sv**2)
    for k in sorted({16, 32, 64, 128, args.modes}):
        proj = (y_va - y_mean) @ vt[:k].T @ vt[:k] + y_mean
        print(f"K={k}: unexplained training variance {left[k - 1]:.1e}, validation error of the projection "
              f"{median_rel_l2(proj, y_va):.2e}")
    basis = vt[:args.modes]
    c_tr = (y_tr - y_mean) @ basis.T
    c_scale, x_scale = float(c_tr.std()), float((x_tr - x_mean).std())
    X = torch.tensor((x_tr - x_mean) / x_scale, dtype=torch.float32)
    C = torch.tensor(c_tr / c_scale, dtype=torch.float32)
    Xv = torch.tensor((x_va - x_mean) / x_scale, dtype=torch.float32)
    layers, n = [], X.shape[1]
    for _ in range(args.depth):
        layers += [torch.nn.Linear(n, args.width), torch.nn.GELU()]
        n = args.width
    net = torch.nn.Sequential(*layers, torch.nn.Linear(n, args.modes))
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.iterations, eta_min=args.lr * 1e-2)

    def field(inputs: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return (net(inputs).numpy() * c_scale) @ basis + y_mean

    t0 = time.perf_counter()
    for it in range(args.iterations):
        idx = torch.randint(0, len(X), (args.batch,))
        loss = ((net(X[idx]) - C[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (it + 1) % 2000 == 0 or it + 1 == args.iterations:
            print(f"{it + 1:6d} train {median_rel_l2(field(X), y_tr):.2e} validation "
                  f"{median_rel_l2(field(Xv), y_va):.2e} ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
