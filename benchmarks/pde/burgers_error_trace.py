"""Burgers PINN: the error against ``Burgers.npz`` after every training chunk, for one seed.

    python benchmarks/pde/burgers_error_trace.py --seed 1 [--threads 1] [--data-root ../shared/data] \
        [--config config/benchmarks/pde_burgers.yaml] [--pinn-json '{"num_domain": 1700}']

Trains through the package API (``build_pinn`` / ``train_pinn``, the same code the workflow's
``pde train`` step runs) with the ``pinn`` section of ``--config`` plus the overrides in
``--pinn-json``, and prints one line per checkpoint chunk: wall seconds, relative L2 against the
reference file, the stage and the training loss; then a ``FINAL`` line. This is how the schedules
in BENCHMARKS.md were explored (where the error plateaus, whether a RAR round helps); the
benchmark figures themselves come from the workflow command in the config file.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-root", default="../shared/data")
    ap.add_argument("--config", default="config/benchmarks/pde_burgers.yaml")
    ap.add_argument("--pinn-json", default="{}", help="overrides of the pinn section (JSON)")
    args = ap.parse_args()

    from sciml.config import domain_section, load_yaml, merged
    from sciml.pde import pinn as pinn_mod
    from sciml.pde.accuracy import relative_l2
    from sciml.pde.problems import get_problem

    pinn_cfg = merged(load_yaml(args.config)["pde"]["pinn"], json.loads(args.pinn_json))
    cfg = domain_section("pde", json.dumps({"seed": args.seed, "problems": ["burgers"], "pinn": pinn_cfg}), None)
    problem = get_problem("burgers", {})
    ref = problem.reference(args.data_root)
    X = ref.points()
    model = pinn_mod.build_pinn(problem, cfg["pinn"], args.seed, args.threads)
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        err = relative_l2(model.predict(X), ref)
        print(f"[{time.perf_counter() - t0:7.1f} s] rel. L2 {err:.3e} | {msg}", flush=True)

    with tempfile.TemporaryDirectory() as ckpt:
        report = pinn_mod.train_pinn(model, ckpt, args.seed, log=log)
    err = relative_l2(model.predict(X), ref)
    print(f"FINAL seed {args.seed} rel. L2 {err:.4e} training {report.train_seconds:.1f} s "
          f"pinn overrides {json.dumps(json.loads(args.pinn_json))}", flush=True)


if __name__ == "__main__":
    main()
