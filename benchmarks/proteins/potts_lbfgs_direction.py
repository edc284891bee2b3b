"""The hand-written L-BFGS with the compact direction (default) vs the two-loop recursion, same objective.

    OMP_NUM_THREADS=1 python benchmarks/proteins/potts_lbfgs_direction.py \
        --config config/benchmarks/proteins_msa_pairs.yaml --families 1a3aA,16pkA --repeats 2 \
        --out benchmarks/proteins/potts_lbfgs_direction.json

Same rows, weights, start, coordinates (plain unless ``--centered``), initial matrix (gamma I unless
``--preconditioned``: the diagonal start) and tolerance; the runs alternate (two-loop, compact, two-loop, ...)
so drifting machine load hits both. Prints the iterations, final objective, total wall seconds and the
seconds per iteration spent outside the objective (the optimiser's own vector work, which is what the
direction's form changes).

``--ways`` picks the variants: ``two-loop``; ``compact`` (S g and Y P g recomputed from g every iteration,
``products="direct"``, the compact form as first measured); ``compact-updated`` (those products carried from
the last iteration, ``products="updated"``, the default since 2026-12-06):

    OMP_NUM_THREADS=1 python benchmarks/proteins/potts_lbfgs_direction.py \
        --config config/benchmarks/proteins_msa_pairs.yaml --families 1a3aA,16pkA,1a0tP --repeats 1 \
        --centered --preconditioned --ways compact,compact-updated \
        --out benchmarks/proteins/potts_lbfgs_products.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


#: variant -> (direction, products) of ``potts.lbfgs``
WAYS = {"two-loop": ("two-loop", "direct"), "compact": ("compact", "direct"), "compact-updated": ("compact", "updated")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--families", required=True, help="comma-separated family names")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--tolerance", type=float, default=1e-6)
    ap.add_argument("--centered", action="store_true")
    ap.add_argument("--preconditioned", action="store_true", help="the diagonal start (potts.preconditioned)")
    ap.add_argument("--ways", default="two-loop,compact", help="comma-separated: two-loop, compact, compact-updated")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if unknown := set(args.ways.split(",")) - set(WAYS):
        raise SystemExit(f"unknown --ways {sorted(unknown)}; valid: {', '.join(WAYS)}")
    from potts_rows import add_seconds_to_common, family_rows, initial_theta
    from sciml.io import write_json_atomic
    from sciml.proteins import potts

    out: dict = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else {}
    for name, Xu, wu, st in family_rows(args.config, args.families, args.threads):
        obj = potts.PLObjective(Xu, wu, st.lambda_h, st.lambda_j, centered=args.centered)
        L = Xu.shape[1]
        start = initial_theta(obj, Xu, wu)
        runs = []
        for _ in range(args.repeats):
            block = []
            for way in args.ways.split(","):
                in_objective = [0.0]
                trace: list[tuple[float, float]] = []  # (seconds since start, objective) of every evaluation
                t0 = time.perf_counter()

                def fg(x, g, acc=in_objective, trace=trace, t0=t0):
                    t = time.perf_counter()
                    f = obj.value_and_grad(x, g)
                    acc[0] += time.perf_counter() - t
                    trace.append((time.perf_counter() - t0, f))
                    return f

                _, losses, it, n_eval = potts.lbfgs(fg, start.clone(), st.max_iter, st.history, args.tolerance,
                                                    direction=WAYS[way][0], products=WAYS[way][1],
                                                    precondition=obj.precondition_ if args.preconditioned else None)
                total = time.perf_counter() - t0
                block.append({"direction": way, "iterations": it, "evaluations": n_eval, "objective": losses[-1],
                              "wall_s": round(total, 2), "objective_s": round(in_objective[0], 2),
                              "optimiser_s_per_iteration": round((total - in_objective[0]) / it, 4), "_trace": trace})
            # seconds until each run first reached the highest final objective of the repeat (the one all reach)
            add_seconds_to_common(block)
            for r in block:
                print(name, json.dumps(r), flush=True)
            runs.extend(block)
        out[name] = {"L": L, "rows_used": int(Xu.shape[0]), "centered": args.centered,
                     "preconditioned": args.preconditioned, "runs": runs}
        write_json_atomic(Path(args.out), out)


if __name__ == "__main__":
    main()
