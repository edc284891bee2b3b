"""The hand-written L-BFGS from a diagonal start (``potts.preconditioned``) vs the usual multiple of the identity.

    OMP_NUM_THREADS=1 python benchmarks/proteins/potts_preconditioned.py \
        --config config/benchmarks/proteins_msa_pairs.yaml --families 1mkcA00,1guuA,1a3aA,16pkA,1a0tP,5ptpA \
        --out benchmarks/proteins/potts_preconditioned.json

Same rows, weights, start, coordinates (the schema defaults: centered) and stopping rule (tolerance 1e-6 unless
``--tolerance``); the only difference is the initial inverse Hessian of each L-BFGS direction: gamma I, or
gamma P with P the diagonal curvature estimate of ``PLObjective.precondition_``. The two runs of a family
alternate in order between families, so drifting load does not favour one. Prints, per run: iterations,
evaluations, final objective, wall seconds, and the seconds until the objective first reached the higher
of the two final objectives (the objective both reach; 1e-6 slack for the rounding of the recorded finals).
Nothing is compared with a native.
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
    ap.add_argument("--tolerance", type=float, default=1e-6)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    from potts_rows import add_seconds_to_common, family_rows, initial_theta
    from sciml.io import write_json_atomic
    from sciml.proteins import potts

    out: dict = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else {}
    for k, (name, Xu, wu, st) in enumerate(family_rows(args.config, args.families, args.threads)):
        obj = potts.PLObjective(Xu, wu, st.lambda_h, st.lambda_j, centered=st.centered)
        start = initial_theta(obj, Xu, wu)
        runs = {}
        for way in (("identity", "diagonal") if k % 2 == 0 else ("diagonal", "identity")):
            trace: list[tuple[float, float]] = []  # (seconds since start, objective) of every evaluation
            t0 = time.perf_counter()

            def fg(x, g, trace=trace, t0=t0):
                f = obj.value_and_grad(x, g)
                trace.append((time.perf_counter() - t0, f))
                return f

            pre = obj.precondition_ if way == "diagonal" else None
            _, losses, it, n_eval = potts.lbfgs(fg, start.clone(), st.max_iter, st.history, args.tolerance,
                                                precondition=pre)
            runs[way] = {"iterations": it, "evaluations": n_eval, "objective": losses[-1],
                         "wall_s": round(time.perf_counter() - t0, 2), "_trace": trace}
            print(name, way, {k2: v for k2, v in runs[way].items() if k2 != "_trace"}, flush=True)
        common = add_seconds_to_common(list(runs.values()))
        out[name] = {"L": int(Xu.shape[1]), "rows_used": int(Xu.shape[0]), "centered": st.centered,
                     "tolerance": args.tolerance, "common_objective": common, "runs": runs,
                     "speedup_to_common": round(runs["identity"]["s_to_common"]
                                                / max(runs["diagonal"]["s_to_common"], 1e-9), 2),
                     "speedup_wall": round(runs["identity"]["wall_s"] / runs["diagonal"]["wall_s"], 2)}
        print(name, json.dumps({k2: v for k2, v in out[name].items() if k2 != "runs"}), flush=True)
        write_json_atomic(Path(args.out), out)


if __name__ == "__main__":
    main()
