"""Side by side: the Potts plm fit by SciPy's L-BFGS-B, torch.optim.LBFGS and the hand-written L-BFGS.

    OMP_NUM_THREADS=1 python benchmarks/proteins/potts_lbfgs_backends.py \
        --config config/benchmarks/proteins_msa_pairs.yaml --families 1a3aA,16pkA \
        --backends scipy,own,torch --tolerance 1e-7 --max-iter 1000 --out /tmp/potts_backends.json

Each backend minimises the same objective (same rows, weights, start) to the same stopping rule
(relative decrease per iteration <= tolerance); the table prints the final objective, iterations,
objective evaluations and wall seconds of the fit. No precision against a native is computed here:
the comparison is of optimisers, on the objective alone.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--families", required=True, help="comma-separated family names")
    ap.add_argument("--backends", default="scipy,own")
    ap.add_argument("--tolerance", type=float, default=1e-7)
    ap.add_argument("--gtol", type=float, default=0.0)
    ap.add_argument("--max-iter", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    from potts_rows import family_rows, initial_theta
    from sciml.io import write_json_atomic
    from sciml.proteins import potts

    minimisers = {"scipy": potts.scipy_lbfgs, "torch": potts.torch_lbfgs, "own": potts.lbfgs}
    out: dict = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else {}
    for name, Xu, wu, st in family_rows(args.config, args.families, args.threads):
        # the same preparation, objective and start as potts.fit, so only the optimiser differs
        obj = potts.PLObjective(Xu, wu, st.lambda_h, st.lambda_j)
        L = Xu.shape[1]
        start = initial_theta(obj, Xu, wu)
        rows = {}
        for backend in args.backends.split(","):
            trace: list[tuple[float, float]] = []
            t0 = time.perf_counter()

            def fg(x, g, trace=trace, t0=t0):
                f = obj.value_and_grad(x, g)
                trace.append((time.perf_counter() - t0, f))
                return f

            _, losses, it, n_eval = minimisers[backend](fg, start.clone(), args.max_iter, st.history, args.tolerance,
                                                        gtol=args.gtol)
            rows[backend] = {"L": L, "rows_used": int(Xu.shape[0]), "objective": losses[-1], "iterations": it,
                             "evaluations": n_eval, "wall_s": round(time.perf_counter() - t0, 2), "trace": trace}
            print(name, backend, {k: v for k, v in rows[backend].items() if k != "trace"}, flush=True)
        # time for each backend to first reach the worst final objective of all backends (the same objective)
        target = max(r["objective"] for r in rows.values())
        for backend, r in rows.items():
            r["target_objective"] = target
            r["seconds_to_target"] = round(next(t for t, f in r["trace"] if round(f, 6) <= target), 2)
            print(name, backend, "reaches", target, "after", r["seconds_to_target"], "s", flush=True)
        out[name] = rows
        write_json_atomic(Path(args.out), out)


if __name__ == "__main__":
    main()
