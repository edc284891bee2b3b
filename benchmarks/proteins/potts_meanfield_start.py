"""Does a mean-field coupling start shorten the Potts fit? And where does an L-BFGS iteration's time go?

    OMP_NUM_THREADS=1 python benchmarks/proteins/potts_meanfield_start.py \
        --config config/benchmarks/proteins_msa_pairs.yaml --families 1a3aA,16pkA \
        --out benchmarks/proteins/potts_meanfield_start.json

Two starts for the same objective, rows, weights, coordinates, diagonal start and stopping rule (the schema
defaults): the default (frequency fields, zero couplings) and a mean-field one. The mean-field start takes the
couplings J = -C^-1 of mean-field DCA (:func:`sciml.proteins.meanfield.couplings`: pseudocount 0.5, gap as the
reference state), scaled by the alpha in ``--alphas`` with the lowest pseudo-likelihood
objective (alpha 0 is the default start, so the scan never starts worse), with the fields kept at the
frequency start in centered coordinates. Its wall time includes the inversion and the scan.

Per run it records iterations, final objective, wall seconds, the seconds to the higher of the two final
objectives, and how the time splits between objective evaluations and the optimiser's own work (the L-BFGS
direction, line-search and curvature-pair updates over the n parameters). Nothing is compared with a native.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def meanfield_couplings(Xu: Any, wu: Any, pseudocount: float = 0.5) -> Any:
    """(Lq, Lq) float32 mean-field couplings (:func:`sciml.proteins.meanfield.couplings`) in the Potts objective's
    one-hot layout: gap rows/columns and the (i, i) blocks zero."""
    import torch

    from sciml.proteins import meanfield
    from sciml.proteins.alignments import GAP, Q

    L = Xu.shape[1]
    keep = torch.tensor([a for a in range(Q) if a != GAP])
    part = torch.zeros(L, Q, L, Q - 1, dtype=torch.float64)
    part[:, keep] = meanfield.couplings(Xu, wu, pseudocount)
    full = torch.zeros(L, Q, L, Q, dtype=torch.float64)
    full[:, :, :, keep] = part
    full[torch.arange(L), :, torch.arange(L), :] = 0.0
    return full.reshape(L * Q, L * Q).float()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--families", required=True, help="comma-separated family names")
    ap.add_argument("--alphas", default="0,0.005,0.01,0.02,0.05,0.1,0.2", help="scales of the mean-field couplings")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    from potts_rows import add_seconds_to_common, family_rows, initial_theta
    from sciml.io import write_json_atomic
    from sciml.proteins import potts

    out: dict = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else {}
    for name, Xu, wu, st in family_rows(args.config, args.families, args.threads):
        obj = potts.PLObjective(Xu, wu, st.lambda_h, st.lambda_j, centered=st.centered)
        L = Xu.shape[1]
        t0 = time.perf_counter()
        W_mf = meanfield_couplings(Xu, wu)
        fields = potts._init_fields(Xu, wu)
        scan = {}
        for alpha in (float(a) for a in args.alphas.split(",")):
            W = alpha * W_mf
            # true fields h = start - f W, so that the centered fields h' = h + f W stay at the frequency start
            theta = obj.to_theta(fields - (obj.freq @ W).view(L, potts.Q), W)
            scan[alpha] = (obj.value_and_grad(theta), theta)
        alpha = min(scan, key=lambda a: scan[a][0])
        t_start = time.perf_counter() - t0
        starts = {"default": (initial_theta(obj, Xu, wu), 0.0), "meanfield": (scan[alpha][1], t_start)}
        runs = {}
        for way, (theta, offset) in starts.items():
            trace: list[tuple[float, float]] = []
            spent = [0.0]
            t1 = time.perf_counter()

            def fg(x, g, trace=trace, spent=spent, t1=t1, offset=offset):
                t = time.perf_counter()
                f = obj.value_and_grad(x, g)
                spent[0] += time.perf_counter() - t
                trace.append((time.perf_counter() - t1 + offset, f))
                return f

            _, losses, it, n_eval = potts.lbfgs(fg, theta.clone(), st.max_iter, st.history, st.tolerance,
                                                precondition=obj.precondition_ if st.preconditioned else None)
            wall = time.perf_counter() - t1
            runs[way] = {"iterations": it, "evaluations": n_eval, "start_objective": losses[0], "objective": losses[-1],
                         "wall_s": round(wall + offset, 2), "start_s": round(offset, 2),
                         "objective_s_per_evaluation": round(spent[0] / n_eval, 4),
                         "optimiser_s_per_iteration": round((wall - spent[0]) / it, 4), "_trace": trace}
            print(name, way, {k: v for k, v in runs[way].items() if k != "_trace"}, flush=True)
        common = add_seconds_to_common(list(runs.values()))
        out[name] = {"L": int(L), "rows_used": int(Xu.shape[0]), "n_parameters": int(obj.n),
                     "alpha": alpha, "scan": {str(a): round(v[0], 4) for a, v in scan.items()},
                     "common_objective": common, "runs": runs}
        print(name, json.dumps({k: v for k, v in out[name].items() if k != "runs"}), flush=True)
        write_json_atomic(Path(args.out), out)


if __name__ == "__main__":
    main()
