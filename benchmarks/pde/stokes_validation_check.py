"""Reference-free checks of trained Stokes PINNs (no reference file is read): where the PDE
residual on fresh points sits, and the residual's dual norm (``sciml.pde.weak_residual``).

The lid u = x(1 - x) meets the no-slip side walls with u_x = +-1 while the walls force
v_y = 0, so continuity cannot hold at the two top corners: the exact pressure is singular there
and every smooth network has a large residual next to them. This script shows how much of the
fresh-point residual RMS comes from within ``--corner-radius`` of those corners, and prints the
weak residual, which that neighbourhood cannot dominate.

    OMP_NUM_THREADS=1 python benchmarks/pde/stokes_validation_check.py \
        results/bench_pde_stokes_hard_dense/pde/stokes/train [more train folders] --out stokes_checks.json

Each folder is a ``sciml pde train`` output; the config is read from its provenance.json. A
``--declaration-from`` train folder evaluates the residual with that folder's equations instead
(to compare a network trained on rescaled equations on the unscaled ones).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

TOP_CORNERS = np.array([[0.0, 1.0], [1.0, 1.0]])


def _config(train_dir: Path) -> dict:
    from sciml.config import domain_section

    argv = json.loads((train_dir / "provenance.json").read_text())["argv"]
    return domain_section("pde", argv[argv.index("--config-json") + 1])


def check(train_dir: Path, declaration_from: Path | None, n: int, radius: float) -> dict:
    """Validation metrics of one trained model and the share of its residual near the top corners."""
    from sciml.pde.pinn import build_pinn
    from sciml.pde.saved_model import load_model
    from sciml.pde.steps.common import load_problem
    from sciml.pde.steps.evaluate import VALIDATION_SEED_OFFSET, validation_metrics

    cfg = _config(train_dir)
    problem = load_problem(cfg, "stokes")
    pinn = build_pinn(problem, cfg["pinn"], cfg["seed"])
    load_model(train_dir, pinn)
    if declaration_from is not None:  # the same network, residuals of another declaration's equations
        pinn.problem = load_problem(_config(declaration_from), "stokes")
    metrics = validation_metrics(pinn.problem, pinn, n, cfg["seed"])
    pts = pinn.problem.uniform_points(n, cfg["seed"] + VALIDATION_SEED_OFFSET)  # the same fresh points
    r = pinn.residual(pts)
    near = np.min(np.linalg.norm(pts[:, None, :] - TOP_CORNERS[None], axis=-1), axis=1) < radius
    return {"train_dir": str(train_dir), **metrics, "corner_radius": radius, "points_near_corners": int(near.sum()),
            "residual_rms_away_from_corners": float(np.sqrt(np.mean(r[~near] ** 2))),
            "share_of_mean_square_near_corners": float(np.sum(r[near] ** 2) / np.sum(r ** 2))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("train_dirs", nargs="+", type=Path)
    ap.add_argument("--declaration-from", type=Path, default=None)
    ap.add_argument("--points", type=int, default=10201, help="fresh points (the evaluate step uses the reference's count)")
    ap.add_argument("--corner-radius", type=float, default=0.05)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    rows = [check(d, args.declaration_from, args.points, args.corner_radius) for d in args.train_dirs]
    for row in rows:
        print(f"{row['train_dir']}: residual RMS {row['residual_rms']:.3e} "
              f"({100 * row['share_of_mean_square_near_corners']:.1f}% of its square from {row['points_near_corners']} "
              f"points within {row['corner_radius']} of the top corners; {row['residual_rms_away_from_corners']:.3e} "
              f"elsewhere), weak residual {row['weak_residual']:.3e}, condition RMS {row['condition_rms']}")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
