"""Score the PSICOV150 refinement run afterwards: the network's maps and GREMLIN's, on the natives.

    python benchmarks/proteins/psicov150_refine_score.py --data-root ../shared/data \
        --targets results/bench_proteins_psicov150_refine/proteins/targets \
        --out benchmarks/proteins/psicov150_refine.json

``predict`` saw each protein's sequence and GREMLIN matrix only; this script reads the natives
(``pdb_clean_chainA``), the first time anything does, and prints the mean CASP precisions of the
network (``prediction/<id>.contacts.npz``), of the GREMLIN matrix it refined, and of the
separation-only baseline over the proteins both could score, with per-protein figures and how
many proteins the network wins, ties and loses on (long-range top-L/5).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    from sciml.io import write_json_atomic
    from sciml.proteins.metrics import casp_precision, mean_metrics
    from sciml.proteins.steps.predict import separation_baseline
    from sciml.proteins.structures import contact_map, read_structure

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--targets", required=True, help="the run's proteins/targets folder")
    ap.add_argument("--out", default=None, help="JSON with the means and per-protein precisions")
    args = ap.parse_args(argv)
    root = Path(args.data_root) / "proteins" / "psicov150"
    per, skipped = {}, {}
    for d in sorted(Path(args.targets).iterdir()):
        m = json.loads((d / "metrics.json").read_text())
        if "skipped" in m:
            skipped[d.name] = m["skipped"]
            continue
        with np.load(d / "prediction" / f"{d.name}.contacts.npz") as z:
            probs, gremlin = z["probs"], z["coevolution"]
        st = read_structure(root / "pdb_clean_chainA" / f"{d.name}.pdb")
        if st.length != len(probs):
            skipped[d.name] = f"native chain length {st.length} != prediction {len(probs)}"
            continue
        native = contact_map(st.cb)
        per[d.name] = {"network": casp_precision(probs, native), "gremlin": casp_precision(gremlin, native),
                       "separation_baseline": casp_precision(separation_baseline(len(probs)), native)}
    key = "long_L/5"
    diff = [v["network"][key] - v["gremlin"][key] for v in per.values()]
    out = {"n_scored": len(per), "n_skipped": len(skipped), "skipped": skipped,
           "mean": {k: mean_metrics([v[k] for v in per.values()]) for k in ("network", "gremlin", "separation_baseline")},
           "long_L/5_wins_ties_losses": [int(sum(x > 1e-9 for x in diff)), int(sum(abs(x) <= 1e-9 for x in diff)),
                                         int(sum(x < -1e-9 for x in diff))],
           "per_protein": per}
    if args.out:
        write_json_atomic(args.out, out)
    json.dump({k: out[k] for k in ("n_scored", "n_skipped", "mean", "long_L/5_wins_ties_losses")}, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
