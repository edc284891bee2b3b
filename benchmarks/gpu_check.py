"""GPU check: run each domain's training through the package CLI on an accelerator.

    python benchmarks/gpu_check.py --data-root ../shared/data --out results/gpu_check [--only materials,pde,proteins]

It reuses the benchmark configs (config/benchmarks/*.yaml), switches their accelerator keys to
the GPU, and calls the same `sciml` steps the Snakemake rules call (so it needs no Snakemake).
It prints one line per figure and writes `gpu_check.json` into --out. `pde_options` runs the PINN
training-option ablation (benchmarks/pde/ablation.py, seed 0) on the GPU. The materials step is the
full Matbench jdft2d 5-fold CGCNN benchmark. The `ddp` step trains with 1 process and with one
process per GPU of the machine (Lightning DDP, NCCL) and records throughput (materials
structures/s on the jdft2d fold 0 with the coGN-24 config, contact maps/s on the msa_pairs
families) and the peak GPU memory per rank, through benchmarks/materials/ddp_throughput.py and
benchmarks/proteins/ddp_throughput.py. The `d3` step computes the D3 dispersion energies of 20 jdft2d layers'
restacked cells (what `model.chgnet.dispersion` adds) on the CPU and on the GPU, and records their largest
difference (meV/atom) and both times.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from sciml.config import domain_section, load_yaml
from sciml.io import write_json_atomic

CLI = [sys.executable, "-m", "sciml.cli"]


def _section(bench: str, domain: str, overrides: dict) -> dict:
    cfg = load_yaml(Path("config/benchmarks") / f"{bench}.yaml")[domain]
    for key, value in overrides.items():
        node = cfg
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return domain_section(domain, json.dumps(cfg))


def _run(args: list[str], log: Path) -> float:
    start = time.perf_counter()
    with open(log, "a") as fh:
        fh.write("$ " + " ".join(args) + "\n")
        fh.flush()
        subprocess.run(args, check=True, stdout=fh, stderr=subprocess.STDOUT)
    return time.perf_counter() - start


def materials(data_root: str, out: Path, log: Path) -> dict:
    cfg = _section("materials_jdft2d", "materials", {"train.accelerator": "gpu", "train.devices": 1})
    cj = json.dumps(cfg)
    m = out / "materials"
    t_prep = _run([*CLI, "materials", "prepare", "--config-json", cj, "--data-root", data_root,
                   "--out-dir", str(m / "prepared"), "--cache-dir", str(m / "cache")], log)
    t_train = 0.0
    for fold in cfg["cv"]["folds"]:
        t_train += _run([*CLI, "materials", "train", "--config-json", cj, "--data-root", data_root,
                         "--fold", str(fold), "--out-dir", str(m / f"fold_{fold}"),
                         "--checkpoint-dir", str(m / "ckpt"), "--cache-dir", str(m / "cache"), "--threads", "4"], log)
    _run([*CLI, "materials", "section", "--config-json", cj, "--prepared-dir", str(m / "prepared"),
          "--fold-dirs", *[str(m / f"fold_{f}") for f in cfg["cv"]["folds"]], "--out-dir", str(m / "section")], log)
    metrics = json.loads((m / "section" / "metrics.json").read_text())
    return {"prepare_s": round(t_prep, 1), "train_5_folds_s": round(t_train, 1), "metrics": metrics}


def proteins(data_root: str, out: Path, log: Path) -> dict:
    cfg = _section("proteins_msa_pairs", "proteins", {"potts.device": "cuda"})
    names = [f["name"] for f in cfg["families"]]
    family = "5ptpA" if "5ptpA" in names else names[0]
    p = out / "proteins" / family
    t = _run([*CLI, "proteins", "coevolution", "--config-json", json.dumps(cfg), "--data-root", data_root,
              "--family", family, "--out-dir", str(p)], log)
    return {"family": family, "coevolution_step_s": round(t, 1),
            "metrics": json.loads((p / "metrics.json").read_text()) if (p / "metrics.json").exists() else None}


def pde(data_root: str, out: Path, log: Path) -> dict:
    cfg = _section("pde_burgers", "pde", {})
    p = out / "pde" / "burgers"
    t = _run([*CLI, "pde", "train", "--config-json", json.dumps(cfg), "--problem", "burgers",
              "--out-dir", str(p / "train"), "--checkpoint-dir", str(out / "pde" / "ckpt")], log)
    return {"train_s": round(t, 1)}


def pde_options(data_root: str, out: Path, log: Path) -> dict:
    """The PINN training-option ablation (issue #17) on Burgers, seed 0, every option: DeepXDE
    places its tensors on the GPU when one is present, so the code is the CPU one unchanged."""
    res = out / "pde" / "ablation_burgers.json"
    t = _run([sys.executable, "benchmarks/pde/ablation.py", "--problem", "burgers",
              "--base", "config/benchmarks/pde_ablation_burgers.yaml", "--seeds", "0", "--out", str(res)], log)
    return {"wall_s": round(t, 1), "summary": json.loads(res.read_text())["summary"]}


def ddp(data_root: str, out: Path, log: Path) -> dict:
    """1 process vs one per GPU: training throughput and peak GPU memory per rank."""
    import torch

    n = torch.cuda.device_count()
    counts = sorted({1, n}) if n else [1]
    result = {"gpus": n}
    for domain, extra in (("materials", ["--epochs", "2", "12"]), ("proteins", ["--epochs", "2", "8"])):
        res = out / "ddp" / f"{domain}.json"
        _run([sys.executable, f"benchmarks/{domain}/ddp_throughput.py", "--accelerator", "gpu" if n else "cpu",
              "--processes", *map(str, counts), *extra, "--work", str(out / "ddp" / domain), "--out", str(res)], log)
        result[domain] = json.loads(res.read_text())["rows"]
    return result


def d3(data_root: str, out: Path, log: Path) -> dict:
    from itertools import islice

    import numpy as np

    from sciml.materials.dispersion import d3_energies
    from sciml.materials.readers import read_matbench_json
    from sciml.materials.stacking import GAPS, OFFSETS, restack

    cells = []
    for rec in islice(read_matbench_json(Path(data_root) / "materials" / "matbench_jdft2d.json.gz"), 20):
        s = rec.structure
        z, lattice, frac = s.atomic_numbers, s.lattice.matrix, s.frac_coords
        cells.append((z, lattice, frac))
        cells += [(z, *restack(lattice, frac, gap, offset)) for gap in GAPS for offset in OFFSETS]
    times, energies = {}, {}
    for device in ("cpu", "cuda"):
        start = time.perf_counter()
        energies[device] = np.asarray(d3_energies(cells, device=device))
        times[device] = round(time.perf_counter() - start, 2)
    diff = np.nanmax(np.abs(energies["cpu"] - energies["cuda"])) * 1000
    return {"cells": len(cells), "cpu_s": times["cpu"], "cuda_s": times["cuda"], "max_diff_meV_per_atom": float(diff)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--out", default="results/gpu_check")
    parser.add_argument("--only", default="materials,proteins,pde,pde_options,ddp,d3")
    args = parser.parse_args()
    import torch

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "gpu_check.log"
    result: dict = {"torch": torch.__version__, "cuda": torch.version.cuda,
                    "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    print(json.dumps(result))
    steps = {"materials": materials, "proteins": proteins, "pde": pde, "pde_options": pde_options, "ddp": ddp, "d3": d3}
    for name in args.only.split(","):
        try:
            result[name] = steps[name](args.data_root, out, log)
        except subprocess.CalledProcessError as exc:
            result[name] = {"error": f"exit {exc.returncode}; see {log}"}
        print(name, json.dumps(result[name])[:2000], flush=True)
        write_json_atomic(out / "gpu_check.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
