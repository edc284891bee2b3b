"""The ``prepare`` step: validate, build and cache graphs, write the quarantine and a summary."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sciml.io import write_json_atomic


def prepare(cfg: dict[str, Any], root: str | Path | None, out_dir: str | Path, cache_dir: str | Path) -> dict[str, Any]:
    """Build (or reuse) the graph cache; write ``summary.json`` and ``quarantine.csv`` into ``out_dir``."""
    from sciml.materials.dataset import load_or_build
    from sciml.materials.graphs import GraphSettings
    from sciml.materials.validation import Quarantine, Rejection
    from sciml.provenance import record_step

    out_dir = Path(out_dir)
    graph = GraphSettings(**cfg["graph"])
    from sciml.data import resolve

    data_path = resolve(cfg["dataset"]["path"], root)
    with record_step("materials.prepare", out_dir, config=cfg, seed=cfg["seed"], inputs=[data_path]) as rec:
        t0 = time.perf_counter()
        table, _, hit = load_or_build(cfg["dataset"], graph, root, cache_dir, cfg["validation"])
        elapsed = time.perf_counter() - t0
        q = Quarantine([Rejection(i, line, reason) for i, line, reason in table.quarantine])
        q.write(out_dir / "quarantine.csv")
        n_atoms = table.atom_ptr[1:] - table.atom_ptr[:-1]
        summary = {
            "dataset": cfg["dataset"]["path"],
            "n_records": len(table.all_ids),
            "n_kept": len(table),
            "n_quarantined": len(q),
            "quarantine_by_reason": q.counts(),
            "graph": graph.as_dict(),
            "n_edges": int(table.edge_index.shape[1]),
            "atoms_per_structure_mean": round(float(n_atoms.float().mean()), 3),
            "atoms_per_structure_max": int(n_atoms.max()),
            "target_name": cfg["dataset"]["target_name"], "unit": cfg["dataset"]["unit"],
            "transform": cfg["dataset"]["transform"],
        }
        write_json_atomic(out_dir / "summary.json", summary)
        rec.extra.update({"cache_hit": hit, "build_seconds": round(elapsed, 3),
                          "structures_per_s": None if hit else round(len(table.all_ids) / max(elapsed, 1e-9), 1)})
        rec.outputs += [str(out_dir / "summary.json"), str(out_dir / "quarantine.csv")]
    return summary
