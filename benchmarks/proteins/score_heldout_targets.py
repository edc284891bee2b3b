"""Score held-out prediction targets afterwards against their natives, beside the CV estimate.

    python benchmarks/proteins/score_heldout_targets.py --config config/benchmarks/proteins_heldout_predict.yaml \
        --families-from config/benchmarks/proteins_cv.yaml --data-root ../shared/data \
        --out benchmarks/proteins/heldout_predict.json

``predict`` saw each target's alignment only (no structure). Here each target's structure is taken
from the family of the same name in ``--families-from`` and mapped onto the predicted query row
(the same Biopython alignment ``predict`` uses when given a structure); the script prints the mean
CASP precisions of the saved network and of the converged Potts fit ``predict`` ran, and the
family-held-out CV estimate of the same config (``<results_dir>/proteins/cross_validate/metrics.json``),
and the calibration of the network's probabilities over the scored pairs (|i-j| >= 6): pooled
(Brier, ECE, reliability table; and over the top 5 L pairs of each family, the ones its RR file lists) and per family (expected contacts, the sum of the probabilities, vs
observed contacts).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    import yaml

    from sciml.config import merge_yaml_files
    from sciml.io import write_json_atomic
    from sciml.proteins.calibration import calibration, scored_pairs
    from sciml.proteins.metrics import mean_metrics
    from sciml.proteins.query import load_query
    from sciml.proteins.steps.predict import target_precisions

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, nargs="+",
                    help="the held-out run's config (its targets and results_dir): one file, or a base and its "
                         "overlays, merged in order as Snakemake merges its --configfile list")
    ap.add_argument("--families-from", required=True, help="config whose families give each target's structure")
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--out", default=None)
    ap.add_argument("--cv-from", default=None,
                    help="take the CV estimate from this earlier output of this script instead of the run's "
                         "cross_validate/metrics.json (for targets predicted again without rerunning the CV)")
    args = ap.parse_args(argv)
    cfg = merge_yaml_files(args.config)
    natives = {f["name"]: f for f in yaml.safe_load(Path(args.families_from).read_text())["proteins"]["families"]}
    run = Path(cfg["results_dir"]) / "proteins"
    data = Path(args.data_root)
    per, skipped, pairs = {}, {}, []
    for t in cfg["proteins"]["targets"]:
        name = t["name"]
        m = json.loads((run / "targets" / name / "metrics.json").read_text())
        if "skipped" in m:
            skipped[name] = m["skipped"]
            continue
        fam = natives[name]
        q = load_query(data / t["alignment"], t.get("format"), t.get("query"), data / fam["structure"], fam.get("chain"),
                       min_identity=float(fam.get("min_identity") or 0.9))
        with np.load(run / "targets" / name / "prediction" / f"{name}.contacts.npz") as z:
            probs, potts = z["probs"], z["coevolution"]
        scored = target_precisions(q, probs, potts)  # as predict scores it (a query's insert residues counted)
        per[name] = {"network": scored["network"], "potts": scored["coevolution"]}
        p, y = scored_pairs(probs, q.native)  # calibration: expected contacts (sum of probabilities) vs observed
        per[name]["contacts"] = {"expected": round(float(p.sum()), 1), "observed": int(y.sum()), "pairs": len(y),
                                 "expected_over_observed": round(float(p.sum()) / max(int(y.sum()), 1), 3)}
        pairs.append((probs, q.native))
    if args.cv_from:
        cv = json.loads(Path(args.cv_from).read_text())["cv_estimate"]
    else:
        cv = json.loads((run / "cross_validate" / "metrics.json").read_text())["mean"]
    key = "long_L/5"
    out = {"n_scored": len(per), "skipped": skipped,
           "mean": {k: mean_metrics([v[k] for v in per.values()]) for k in ("network", "potts")},
           "cv_estimate": {"network": cv["network"], "potts": cv["potts"]}, "per_family": per,
           "calibration": calibration(pairs),
           # the pairs the RR file lists (top 5 L with |i-j| >= 6), where a user reads the probabilities
           "calibration_rr_listed": calibration(pairs, top_per_residue=5)}
    out["gain_long_L/5"] = round(out["mean"]["network"][key] - out["mean"]["potts"][key], 4)
    out["network_minus_cv_long_L/5"] = round(out["mean"]["network"][key] - cv["network"][key], 4)
    if args.out:
        write_json_atomic(args.out, out)
    json.dump({k: v for k, v in out.items() if k != "per_family"}, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
