"""Write a binary classification dataset from matminer's elastic_tensor (MP elastic constants): is a crystal
ductile by Pugh's criterion, K_VRH / G_VRH > 1.75 (Pugh, Phil. Mag. 45, 823 (1954))?

The labels come from the DFT elastic moduli in the file; the structures are its CIF column. Used by
``config/benchmarks/materials_elastic_pugh_classification.yaml``:

    python benchmarks/materials/make_pugh_dataset.py --data-root ../shared/data \
        --out results/bench_data/materials/elastic_pugh.csv.gz
"""

from __future__ import annotations

import argparse
import csv
import gzip
from pathlib import Path

#: Pugh's ratio above which a crystal counts as ductile.
PUGH_RATIO = 1.75
SOURCE = "materials/matminer_0.3.9/elastic_tensor.csv.gz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", type=Path, required=True, help="folder holding " + SOURCE)
    ap.add_argument("--out", type=Path, required=True, help="output .csv.gz (material_id, structure, ductile)")
    args = ap.parse_args()
    src = args.data_root / SOURCE
    with gzip.open(src, "rt", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    n_ductile = 0
    with gzip.open(tmp, "wt", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["material_id", "structure", "ductile"])
        for r in rows:
            ductile = float(r["K_VRH"]) / float(r["G_VRH"]) > PUGH_RATIO
            n_ductile += ductile
            w.writerow([r["material_id"], r["structure"], "true" if ductile else "false"])
    tmp.replace(args.out)
    print(f"{args.out}: {len(rows)} structures, {n_ductile} ductile (K/G > {PUGH_RATIO}), "
          f"{len(rows) - n_ductile} brittle")


if __name__ == "__main__":
    main()
