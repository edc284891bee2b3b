"""Does the asymmetric plm objective fit faster one column block at a time? (issue #16, a negative result)

The asymmetric pseudo-likelihood is a sum of L independent terms, one per column i with its own
parameters (h_i and the couplings W[:, i]). So it can be minimised one block of columns at a time, each
block with its own small L-BFGS (as asymmetric plmDCA does per column), instead of one L-BFGS over all
(Lq)^2 couplings (``sciml.proteins.potts.fit``). This script fits both ways on one family and prints time,
final objective (the same function) and precision.

The block objective restates the column terms of ``PLObjective.value_and_grad`` (which has no per-block
entry point; adding one to the package for a fit that turned out no faster was not worth it). The block
fit's objective is reported by ``PLObjective`` itself on the assembled parameters, so both rows are values
of the same function.

    OMP_NUM_THREADS=1 python benchmarks/proteins/potts_column_blocks.py --family 16pkA [--positions 6]
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="config/benchmarks/proteins_msa_pairs.yaml")
    ap.add_argument("--family", required=True)
    ap.add_argument("--positions", type=int, default=6, help="columns per block")
    args = ap.parse_args()
    import numpy as np
    import torch
    import torch.nn.functional as F

    from potts_rows import load_family_rows

    from sciml.proteins import family, metrics, potts
    from sciml.proteins.alignments import Q

    fam, Xu, wu, st = load_family_rows(args.config, args.family, threads=1)
    M, L = Xu.shape
    Lq = L * Q
    obj = potts.PLObjective(Xu, wu, st.lambda_h, st.lambda_j)
    t0 = time.perf_counter()
    h, W = potts._init_fields(Xu, wu), torch.zeros(Lq, Lq)
    iterations = []
    P = args.positions
    for p0 in range(0, L, P):
        p1 = min(p0 + P, L)
        npos, s, e = p1 - p0, p0 * Q, p1 * Q
        nh, width = npos * Q, (p1 - p0) * Q

        def fg(th, g=None, p0=p0, p1=p1, npos=npos, nh=nh, width=width):
            # the terms of PLObjective.value_and_grad that belong to columns p0..p1 (same normalisation)
            hb, Wb = th[:nh].view(npos, Q), th[nh:].view(Lq, width)
            if g is not None:
                g.zero_()
                gh, gW = g[:nh].view(npos, Q), g[nh:].view(Lq, width)
            nll = 0.0
            for ch in obj.chunks:
                x, w = ch["x"], ch["w"]
                R = len(x)
                logp = torch.log_softmax(F.embedding_bag(ch["idx"], Wb, mode="sum").view(R, npos, Q) + hb, -1)
                xb = x[:, p0:p1, None]
                nll -= float((logp.gather(2, xb).squeeze(-1).sum(1) * w).sum())
                if g is None:
                    continue
                G = logp.exp_()
                G.scatter_add_(2, xb, torch.full((R, npos, 1), -1.0))
                G.mul_(w[:, None, None])
                gh += G.sum(0)
                gW += F.embedding_bag(ch["bag_rows"], G.view(R, width), ch["bag_offsets"], mode="sum")
            Wf = th[nh:]
            f = (nll + obj.lam_h * float(torch.dot(th[:nh], th[:nh])) + obj.lam_j * float(torch.dot(Wf, Wf))) / obj.norm
            if g is not None:
                g[:nh].add_(th[:nh], alpha=2 * obj.lam_h)
                g[nh:].add_(Wf, alpha=2 * obj.lam_j)
                g.div_(obj.norm)
                pos = torch.arange(p0, p1)
                gW.view(L, Q, npos, Q)[pos, :, pos - p0, :] = 0.0  # no self-coupling
            return f

        th0 = torch.cat([h[p0:p1].reshape(-1), torch.zeros(Lq * width)])
        th, _, its, _ = potts.lbfgs(fg, th0, st.max_iter, st.history, st.tolerance)
        h[p0:p1], W[:, s:e] = th[:nh].view(npos, Q), th[nh:].view(Lq, width)
        iterations.append(its)
    t_blocks = time.perf_counter() - t0

    def precision(Wfull):
        Wsym = (0.5 * (Wfull + Wfull.T)).numpy()
        return metrics.casp_precision(family.to_chain(potts.coupling_scores(Wsym, L), fam.res, L), fam.native, fam.positions)["long_L/5"]

    blocks = {"seconds": round(t_blocks, 1), "objective": round(obj.value_and_grad(obj.to_theta(h, W)), 6),
              "mean_iterations_per_block": round(float(np.mean(iterations)), 1), "long_L/5": precision(W)}
    t0 = time.perf_counter()
    r = potts.fit(fam.X, st, seed=0)
    joint = {"seconds": round(time.perf_counter() - t0, 1), "objective": r["objective"], "iterations": r["iterations"],
             "long_L/5": precision(torch.as_tensor(r["W"]))}
    print(json.dumps({"family": args.family, "L": L, "rows": M, "column_blocks": blocks, "joint (default)": joint}))


if __name__ == "__main__":
    main()
