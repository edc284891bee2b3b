"""Throughput of graph construction and batched inference on matbench_jdft2d (CPU).

Usage (repo root): python benchmarks/materials/speed.py [--data-root ../shared/data] [--model FOLD_DIR]
Wall-clock rates depend on machine load; the per-CPU-second rates (process_time) are what
one core delivers and are less sensitive to other jobs. Prints JSON: graph construction structures/s (pymatgen neighbour list + 12-NN selection,
validation included; parsing excluded), and inference structures/s of the model in
FOLD_DIR (or an untrained CGCNN with the paper's sizes) on pre-built graphs in batches of 256.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-root", default="../shared/data")
    ap.add_argument("--model", default=None, help="fold folder with model.pt + model.json")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu", help="torch device for inference (cpu, cuda)")
    args = ap.parse_args()

    import torch
    from torch_geometric.data import Batch, Data

    from sciml.data import resolve
    from sciml.materials.graphs import GraphSettings
    from sciml.materials.models import build_model
    from sciml.materials.readers import read_matbench_json
    from sciml.materials.saved_model import load as load_model
    from sciml.materials.validation import check_record

    torch.set_num_threads(args.threads)
    records = list(read_matbench_json(resolve("materials/matbench_jdft2d.json.gz", args.data_root)))
    settings = GraphSettings()
    best, best_cpu = float("inf"), float("inf")
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        graphs = [check_record(r, settings)[0] for r in records]
        best, best_cpu = min(best, time.perf_counter() - t0), min(best_cpu, time.process_time() - c0)
    graph_rate = len(records) / best

    if args.model:
        model, _ = load_model(args.model)
    else:
        model = build_model("cgcnn", cutoff=8.0).eval()
    data = [Data(z=torch.from_numpy(g.z), edge_index=torch.from_numpy(g.edge_index),
                 distance=torch.from_numpy(g.distance), num_nodes=len(g.z)) for g in graphs]
    batches = [data[i:i + args.batch_size] for i in range(0, len(data), args.batch_size)]
    model = model.to(args.device)

    def sync():
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    with torch.inference_mode():
        model(Batch.from_data_list(batches[0]).to(args.device))  # warm-up
        sync()
        best_inf, best_inf_cpu = float("inf"), float("inf")
        for _ in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            for b in batches:
                model(Batch.from_data_list(b).to(args.device))
            sync()
            best_inf, best_inf_cpu = min(best_inf, time.perf_counter() - t0), min(best_inf_cpu, time.process_time() - c0)
    print(json.dumps({
        "structures": len(records), "threads": args.threads,
        "graph_construction_structures_per_s": round(graph_rate, 1),
        "graph_construction_structures_per_cpu_s": round(len(records) / best_cpu, 1),
        "inference_structures_per_s_incl_collate": round(len(records) / best_inf, 1),
        "inference_structures_per_cpu_s_incl_collate": round(len(records) / best_inf_cpu, 1),
        "model": args.model or "untrained CGCNN (paper sizes)", "batch_size": args.batch_size,
        "device": args.device,
    }, indent=2))


if __name__ == "__main__":
    main()
