"""Centered vs plain field coordinates for the Potts plm fit: time to a given objective, and where each
tolerance of the stopping rule would stop.

    OMP_NUM_THREADS=1 python benchmarks/proteins/potts_centered.py \
        --config config/benchmarks/proteins_msa_pairs.yaml --families 1a3aA,16pkA \
        --tolerance 1e-8 --max-iter 1000 --out benchmarks/proteins/potts_centered.json

Both modes minimise the same objective (same rows, weights, start, hand-written L-BFGS); "centered" only
changes the coordinates the optimiser walks in (theta holds h' = h + f @ W, f the weighted one-hot
frequencies). Each mode runs once with a tight tolerance, recording the objective and wall time after
every iteration; since the L-BFGS path does not depend on the tolerance, the stopping rule
(mean relative decrease over the last 5 iterations <= tol) is replayed on that trace for each
candidate tolerance. "gap" is the relative distance to the lowest objective either mode reached.
No precision against a native is computed: the comparison is of optimisers, on the objective alone.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

CANDIDATE_TOLERANCES = (1e-5, 3e-6, 1e-6, 3e-7)


def replay_stop(losses: list[float], tolerance: float) -> int:
    """Iteration at which :func:`sciml.proteins.potts.lbfgs`'s decrease test fires on ``losses`` (or the last)."""
    from sciml.proteins.potts import decrease_stalled

    return next((it for it in range(1, len(losses)) if decrease_stalled(losses[:it + 1], tolerance)), len(losses) - 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--families", required=True, help="comma-separated family names")
    ap.add_argument("--tolerance", type=float, default=1e-8)
    ap.add_argument("--max-iter", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    from potts_rows import family_rows, initial_theta
    from sciml.io import write_json_atomic
    from sciml.proteins import potts

    out: dict = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else {}
    for name, Xu, wu, st in family_rows(args.config, args.families, args.threads):
        L = Xu.shape[1]
        rows = {}
        for mode in ("plain", "centered"):
            obj = potts.PLObjective(Xu, wu, st.lambda_h, st.lambda_j, centered=mode == "centered")
            start = initial_theta(obj, Xu, wu)
            trace: list[tuple[float, float]] = []  # (wall s, objective) of each evaluation
            t0 = time.perf_counter()

            def fg(x, g, trace=trace, obj=obj, t0=t0):
                f = obj.value_and_grad(x, g)
                trace.append((time.perf_counter() - t0, f))
                return f

            _, losses, it, n_eval = potts.lbfgs(fg, start, args.max_iter, st.history, args.tolerance)
            rows[mode] = {"L": L, "rows_used": int(Xu.shape[0]), "objective": losses[-1], "iterations": it,
                          "evaluations": n_eval, "wall_s": round(time.perf_counter() - t0, 2), "losses": losses,
                          "trace": [(round(t, 3), f) for t, f in trace]}
            print(name, mode, {k: v for k, v in rows[mode].items() if k not in ("losses", "trace")}, flush=True)
        best = min(min(r["losses"]) for r in rows.values())
        for mode, r in rows.items():
            r["stops"] = {}
            for tol in CANDIDATE_TOLERANCES:
                k = replay_stop(r["losses"], tol)
                r["stops"][f"{tol:g}"] = {"iteration": k, "objective": r["losses"][k],
                                          "gap": round((r["losses"][k] - best) / abs(best), 6),
                                          # wall time of the first evaluation at or below that objective
                                          "s": next(t for t, f in r["trace"] if round(f, 6) <= r["losses"][k])}
            print(name, mode, json.dumps(r["stops"]), flush=True)
        out[name] = {"best_objective": best, **rows}
        write_json_atomic(Path(args.out), out)


if __name__ == "__main__":
    main()
