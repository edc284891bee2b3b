"""Fingerprint of a short training run of every built-in PDE problem: the sha256 of the network's
weights after 100 Adam iterations (seed 0, 1 thread, float64), soft and hard conditions.

Run it in two checkouts and compare the output: identical lines mean the two trees build the same
domain, residual, conditions and sampling for that problem (used to check that re-expressing the
built-ins through ``sciml/pde/declaration.py`` changed nothing; BENCHMARKS.md).

    OMP_NUM_THREADS=1 python benchmarks/pde/builtin_training_fingerprint.py > fingerprint.txt
"""

from __future__ import annotations

import hashlib
import json

PROBLEMS = ("heat", "burgers", "allen_cahn", "poisson_lshape", "poisson2d_classic")


def main() -> None:
    from sciml.config import domain_section
    from sciml.pde.pinn import build_pinn
    from sciml.pde.steps.common import load_problem

    for name in PROBLEMS:
        for hard in (False, True):
            cfg = domain_section("pde", json.dumps({"problems": [name], "pinn": {
                "hard_constraints": hard, "num_domain": 200, "num_boundary": 40, "num_initial": 40, "width": 16,
                "depth": 2, "bc_weight": 3.0}}))
            pinn = build_pinn(load_problem(cfg, name), cfg["pinn"], 0, threads=1)
            history, _ = pinn.model.train(iterations=100, display_every=1000, verbose=0)
            weights = b"".join(p.detach().numpy().tobytes() for p in pinn.net.parameters())
            print(f"{name} hard={hard} weights_sha256={hashlib.sha256(weights).hexdigest()[:16]} "
                  f"loss={float(sum(history.loss_train[-1])):.17g}")


if __name__ == "__main__":
    main()
