"""Calibration of the packaged score refiner on PSICOV150's GREMLIN matrices (its never-seen test set).

    python benchmarks/proteins/refiner_calibration.py --data-root ../shared/data \
        --out benchmarks/proteins/refiner_calibration_psicov150.json

``predict --scores <gremlin file>`` with a single sequence (no alignment, no ``--model-dir``) runs the
packaged score refiner on the matrix; this script applies the same functions predict calls
(:func:`sciml.proteins.predict.read_score_matrix`, :func:`~sciml.proteins.features.network_features`,
:func:`~sciml.proteins.predict.network_probabilities`) to every PSICOV150 protein whose FASTA sequence
matches its native chain, and pools the calibration of the probabilities over the scored pairs
(|i-j| >= 6; :mod:`sciml.proteins.calibration`) and over the 5 L pairs an RR file lists, with the expected
(sum of probabilities) over observed contacts per protein. Measures; chooses nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    from sciml.io import sha256_file, write_json_atomic
    from sciml.proteins import saved_model
    from sciml.proteins.calibration import calibration, scored_pairs
    from sciml.proteins.features import network_features
    from sciml.proteins.predict import network_probabilities, read_score_matrix
    from sciml.proteins.structures import contact_map, read_structure

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    root = Path(args.data_root) / "proteins" / "psicov150"
    model_dir = saved_model.packaged_model_dir("scores")
    members, meta = saved_model.load_model(model_dir)
    pos_weight = float(meta["training"]["pos_weight"])
    pairs, ratios, skipped = [], {}, {}
    for path in sorted((root / "gremlin_apc_scores").iterdir()):
        pid = path.name.split(".")[0]
        st = read_structure(root / "pdb_clean_chainA" / f"{pid}.pdb")
        lines = (root / "fasta" / f"{pid}.fasta").read_text().splitlines()
        seq = "".join(line.strip() for line in lines if not line.startswith(">"))
        if len(seq) != st.length:
            skipped[pid] = f"FASTA length {len(seq)} != native chain {st.length}"
            continue
        scores = read_score_matrix(path, len(seq), sequence=seq)
        probs = network_probabilities(members, network_features("scores", seq, scores), pos_weight)
        native = contact_map(st.cb)
        pairs.append((probs, native))
        p, y = scored_pairs(probs, native)
        ratios[pid] = round(float(p.sum()) / max(int(y.sum()), 1), 3)
    r = np.array(list(ratios.values()))
    out = {"n_scored": len(pairs), "skipped": skipped, "weights_sha256": sha256_file(model_dir / saved_model.WEIGHTS_FILE),
           "calibration": calibration(pairs), "calibration_rr_listed": calibration(pairs, top_per_residue=5),
           "expected_over_observed": {"median": round(float(np.median(r)), 3), "min": round(float(r.min()), 3),
                                      "max": round(float(r.max()), 3), "per_protein": ratios}}
    if args.out:
        write_json_atomic(args.out, out)
    json.dump({k: v for k, v in out.items() if k != "expected_over_observed"} | {
        "expected_over_observed": {k: v for k, v in out["expected_over_observed"].items() if k != "per_protein"}},
        sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
