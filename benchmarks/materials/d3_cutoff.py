"""How much the D3 pair cutoff changes the restacking dispersion binding, and what it costs.

For the first N training rows of a Matbench jdft2d fold (training rows only), the D3(BJ, PBE) energy
difference between the layer in its vacuum cell and the layer restacked at a 3 A gap (AA), at several
cutoffs; prints the largest and the median deviation from the 95-bohr value and the time per cell.

    OMP_NUM_THREADS=1 python benchmarks/materials/d3_cutoff.py --data-root ../shared/data
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    import numpy as np
    import torch

    from sciml.materials.dispersion import d3_energies
    from sciml.materials.folds import official_folds
    from sciml.materials.readers import read_matbench_json
    from sciml.materials.stacking import restack

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--rows", type=int, default=30)
    ap.add_argument("--cutoffs", type=float, nargs="+", default=[40.0, 60.0, 95.0])
    args = ap.parse_args()
    torch.set_num_threads(1)
    root = Path(args.data_root) / "materials"
    train = set(official_folds(root / "matbench_v0.1_folds.json.gz", "matbench_jdft2d")[args.fold]["train"])
    items = []
    for rec in read_matbench_json(root / "matbench_jdft2d.json.gz"):
        if rec.id not in train or rec.structure is None:
            continue
        s = rec.structure
        z = np.array(s.atomic_numbers)
        items += [(z, s.lattice.matrix, s.frac_coords), (z, *restack(s.lattice.matrix, s.frac_coords, 3.0))]
        if len(items) == 2 * args.rows:
            break
    binding, seconds = {}, {}
    for cut in args.cutoffs:
        t0 = time.perf_counter()
        e = np.array(d3_energies(items, cutoff_bohr=cut)).reshape(-1, 2)
        seconds[cut] = (time.perf_counter() - t0) / len(items)
        binding[cut] = 1000 * (e[:, 0] - e[:, 1])  # meV/atom
    ref = binding[max(args.cutoffs)]
    for cut in args.cutoffs:
        dev = np.abs(binding[cut] - ref)
        print(f"cutoff {cut:5.1f} bohr: {seconds[cut]:.4f} s per cell; binding at 3 A deviates from "
              f"{max(args.cutoffs):.0f} bohr by max {dev.max():.2f} meV/atom, median {np.median(dev / np.abs(ref)):.2%}")


if __name__ == "__main__":
    main()
