"""Make the embedded default dataset data/materials/flla_2015_subset1000.csv.gz.

Source: matminer 0.3.9 (PyPI sdist, BSD licence) dataset flla_2015 (Faber et al.,
Int. J. Quantum Chem. 115, 1094 (2015); Materials Project formation energies).
We take 1000 of its 3938 rows, chosen with numpy's default_rng(0) and kept in their
original order, and write the structure as CIF text (pymatgen CifWriter, 6 decimals)
beside id / formula / formation_energy_per_atom (eV/atom). Deterministic: running it
again produces the same rows (gzip mtime fixed at 0).

Usage: python scripts/make_materials_default_data.py [SHARED_DATA_ROOT]
"""

from __future__ import annotations

import csv
import gzip
import io
import sys
from pathlib import Path

import numpy as np


def main(root: str = "../shared/data") -> None:
    from pymatgen.io.cif import CifWriter

    from sciml.materials.readers import read_structure_csv

    src = Path(root) / "materials/matminer_0.3.9/flla_2015.csv.gz"
    records = list(read_structure_csv(src, target_column="formation_energy_per_atom"))
    keep = np.sort(np.random.default_rng(0).choice(len(records), size=1000, replace=False))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "formula", "formation_energy_per_atom", "structure"])
    for i in keep:
        r = records[i]
        if r.structure is None:
            continue
        cif = str(CifWriter(r.structure, significant_figures=6))
        w.writerow([f"flla-{i:04d}", r.structure.composition.reduced_formula, repr(r.target), cif])
    out = Path("data/materials/flla_2015_subset1000.csv.gz")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(("# ref: F. Faber, A. Lindmaa, O.A. von Lilienfeld, R. Armiento, Int. J. Quantum Chem. 115 "
                  "(2015) 1094-1101 (via matminer 0.3.9, BSD); 1000-row subset made by "
                  "scripts/make_materials_default_data.py\n").encode())
        gz.write(buf.getvalue().encode())
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main(*sys.argv[1:])
