"""Run FreeContact (evfold = mean-field DCA, psicov mode) on the families of a finished
proteins benchmark run and put its precision and time beside ours.

    python benchmarks/proteins/freecontact_peer.py --config config/benchmarks/proteins_msa_pairs.yaml \
        --out benchmarks/proteins/msa_pairs_peer.json

Needs the ``freecontact`` binary (``apt-get install freecontact``) and the pipeline's
results (metrics.json + timings.json per family) for our side.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--modes", default="evfold,psicov")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--families", default=None, help="comma-separated subset of family names")
    args = ap.parse_args()
    import torch

    from sciml.config import load_config
    from sciml.io import write_json_atomic
    from sciml.proteins import family, freecontact, metrics

    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    pc = cfg["proteins"]
    res_dir = Path(cfg["results_dir"]) / "proteins" / "families"
    out = {}
    from sciml.errors import DataError

    wanted = set(args.families.split(",")) if args.families else None
    for spec in pc["families"]:
        if wanted is not None and spec["name"] not in wanted:
            continue
        try:
            fam = family.load_family(spec, cfg["data_root"], pc["min_identity"])
        except DataError as exc:  # skipped by the pipeline too (e.g. structure does not match the alignment)
            out[spec["name"]] = {"skipped": str(exc)}
            continue
        ours = json.loads((res_dir / spec["name"] / "metrics.json").read_text())
        times = json.loads((res_dir / spec["name"] / "timings.json").read_text())
        row = {"L": len(fam.sequence), "n_seqs": fam.n_seqs,
               "potts": {"long_L/5": ours["potts"]["long_L/5"], "time_s": times["potts_s"]},
               "meanfield": {"long_L/5": ours["meanfield"]["long_L/5"], "time_s": times["meanfield_s"]}}
        if freecontact.available():
            for mode in args.modes.split(","):
                r = freecontact.run(fam, mode, args.threads)
                row[f"freecontact_{mode}"] = {"long_L/5": metrics.casp_precision(r["scores"], fam.native, fam.positions)["long_L/5"],
                                              "time_s": round(r["time_s"], 2)}
        out[spec["name"]] = row
        print(spec["name"], json.dumps(row), flush=True)
        write_json_atomic(args.out, out)  # after every family, so a partial run keeps its results
    write_json_atomic(args.out, out)


if __name__ == "__main__":
    main()
