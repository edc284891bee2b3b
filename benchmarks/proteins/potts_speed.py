"""Potts (plm) fit per family: wall time split (weights / fit), objective, precision; optional peers.

    OMP_NUM_THREADS=1 python benchmarks/proteins/potts_speed.py --config config/benchmarks/proteins_msa_pairs.yaml \
        --potts '{"optimizer": "lbfgs"}' --out benchmarks/proteins/potts_speed.json [--full-objective] \
        [--meanfield] [--freecontact evfold,psicov] [--families 5ptpA,1guuA]

``--full-objective`` also evaluates the final couplings on ALL rows of the alignment (whole-alignment
weights), so fits on a subsample and on all rows are compared on the same objective.
Runs with 1 torch thread unless ``--threads`` says otherwise; FreeContact gets the same thread count.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--potts", default="{}", help="JSON overrides of the potts settings")
    ap.add_argument("--families", default=None, help="comma-separated subset")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--full-objective", action="store_true")
    ap.add_argument("--meanfield", action="store_true")
    ap.add_argument("--freecontact", default="", help="comma-separated FreeContact modes (evfold, psicov)")
    ap.add_argument("--freecontact-timeout", type=float, default=600.0, help="seconds per FreeContact run")
    args = ap.parse_args()
    import numpy as np
    import torch

    from sciml.config import load_config
    from sciml.errors import DataError
    from sciml.io import write_json_atomic
    from sciml.proteins import family, freecontact, meanfield, metrics, potts

    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    pc = cfg["proteins"]
    st = potts.PottsSettings(**{**pc.get("potts", {}), **json.loads(args.potts)})
    wanted = set(args.families.split(",")) if args.families else None
    out = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else {}
    out["_settings"] = st.__dict__
    for spec in pc["families"]:
        if wanted is not None and spec["name"] not in wanted:
            continue
        try:
            fam = family.load_family(spec, cfg["data_root"], pc["min_identity"])
        except DataError as exc:
            out[spec["name"]] = {"skipped": str(exc)}
            continue
        L = len(fam.sequence)
        t0 = time.perf_counter()
        r = potts.fit(fam.X, st, seed=pc.get("seed", 0), log=lambda m: print(m, flush=True))
        wall = time.perf_counter() - t0
        ev = metrics.casp_precision(family.to_chain(r["scores"], fam.res, L), fam.native, fam.positions)
        row = {"L": L, "columns": int(fam.X.shape[1]), "n_seqs": fam.n_seqs, "n_used": r["n_used"],
               "n_eff": round(r["n_eff"], 1),
               "potts": {"long_L/5": ev["long_L/5"], "long_L/2": ev["long_L/2"], "long_L": ev["long_L"],
                         "wall_s": round(wall, 2), "weights_s": round(r["weights_s"], 2), "fit_s": round(r["fit_s"], 2),
                         "objective": r["objective"], "iterations": r["iterations"], "evaluations": r["evaluations"]}}
        if args.full_objective:
            Xa = torch.as_tensor(np.asarray(fam.X).astype(np.int64))
            from sciml.proteins.alignments import sequence_weights

            wa = sequence_weights(fam.X, st.identity_threshold)
            obj = potts.PLObjective(Xa, wa, st.lambda_h, st.lambda_j)
            theta = obj.to_theta(torch.as_tensor(r["h"]), torch.as_tensor(r["W"]))  # symmetrised couplings
            row["potts"]["objective_all_rows_sym"] = round(obj.value_and_grad(theta), 6)
        if args.meanfield:
            t0 = time.perf_counter()
            m = meanfield.fit(fam.X, seed=pc.get("seed", 0))
            row["meanfield"] = {"long_L/5": metrics.casp_precision(family.to_chain(m["scores"], fam.res, L), fam.native, fam.positions)["long_L/5"],
                                "wall_s": round(time.perf_counter() - t0, 2)}
        for mode in [m for m in args.freecontact.split(",") if m]:
            if not freecontact.available():
                row[f"freecontact_{mode}"] = {"skipped": "freecontact binary not found"}
                continue
            try:
                fr = freecontact.run(fam, mode, args.threads, timeout=args.freecontact_timeout)
            except subprocess.TimeoutExpired:
                row[f"freecontact_{mode}"] = {"not_finished": f"killed after {args.freecontact_timeout:.0f} s"}
                continue
            e = metrics.casp_precision(fr["scores"], fam.native, fam.positions)
            row[f"freecontact_{mode}"] = {"long_L/5": e["long_L/5"], "long_L/2": e["long_L/2"], "long_L": e["long_L"],
                                          "wall_s": round(fr["time_s"], 2)}
        out[spec["name"]] = row
        print(spec["name"], json.dumps(row), flush=True)
        write_json_atomic(args.out, out)
    write_json_atomic(args.out, out)


if __name__ == "__main__":
    main()
