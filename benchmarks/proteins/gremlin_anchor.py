"""Anchor: CASP precision of the published GREMLIN predictions on the PSICOV150 natives.

    python benchmarks/proteins/gremlin_anchor.py --data-root ../shared/data --out results/gremlin_anchor.json

Reads the PSICOV150 set through the data resolver (manifest name ``proteins/psicov150``,
checksum verified), scores each ``gremlin_apc_scores/<id>.gremlin`` matrix against the native
C-beta contacts of ``pdb_clean_chainA/<id>*.pdb`` with our CASP scorer, and writes the mean
and per-protein precisions (a matrix whose size differs from the chain is skipped, reported).
This validates our native maps and metric end to end (BENCHMARKS.md, "Anchor").
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

PSICOV150 = "proteins/psicov150"


def gremlin_anchor(data_root: str | Path | None = None, log: Any = None) -> dict[str, Any]:
    """``{"n", "mean", "per_protein"}``: CASP precisions of the shipped GREMLIN scores per protein."""
    import numpy as np

    from sciml.data import resolve
    from sciml.proteins.metrics import casp_precision, mean_metrics
    from sciml.proteins.structures import contact_map, read_structure

    log = log or (lambda m: print(m, file=sys.stderr))
    root = resolve(PSICOV150, data_root)
    pdbs = root / "pdb_clean_chainA"
    per = {}
    for g in sorted((root / "gremlin_apc_scores").glob("*.gremlin")):
        pid = g.stem
        pdb = pdbs / f"{pid}.pdb"
        st = read_structure(pdb if pdb.exists() else next(pdbs.glob(f"{pid}*")))
        s = np.loadtxt(g)
        if s.shape != (st.length, st.length):
            log(f"{pid}: GREMLIN matrix {s.shape} vs chain length {st.length}; skipped")
            continue
        per[pid] = casp_precision(s, contact_map(st.cb))
    return {"n": len(per), "mean": mean_metrics(list(per.values())), "per_protein": per}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None, help="folder holding the datasets (default: $SCIML_DATA_ROOT, else data/)")
    ap.add_argument("--out", required=True, help="output JSON")
    args = ap.parse_args(argv)
    from sciml.io import write_json_atomic

    res = gremlin_anchor(args.data_root)
    write_json_atomic(args.out, res)
    print(json.dumps(res["mean"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
