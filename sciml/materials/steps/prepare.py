"""The ``prepare`` step: validate the dataset, build and cache its graphs, write the quarantine.

Outputs in ``out_dir``: ``summary.json`` (record counts, quarantine by reason, the records whose
structure parsed with parser warnings and the distinct warnings with their counts, graph
settings and sizes), ``quarantine.csv`` (id, line, reason of every rejected record; ``line`` is
the 1-based line of the user's file, empty for formats without lines, see
:mod:`sciml.materials.validation`), ``parser_warnings.csv`` (id, line, warning: one row per
parser warning; such records are kept) and ``provenance.json``. The graph cache
(``cache_dir``) is shared with the ``train`` step.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from sciml.io import write_json_atomic
from sciml.steps import resolve_threads, run_step


def prepare(cfg: dict[str, Any], root: str | Path | None, out_dir: str | Path,
            cache_dir: str | Path | None = None, threads: int | None = None) -> dict[str, Any]:
    """Build (or reuse) the graph cache of ``cfg["dataset"]`` under data root ``root``;
    write ``summary.json``, ``quarantine.csv`` and ``parser_warnings.csv`` into ``out_dir``
    (cache default: ``out_dir/cache``). Returns the summary."""
    import torch

    from sciml.data import resolve
    from sciml.materials.dataset import (GraphTable, check_task, load_or_build, repeated_structures_warning,
                                         resolved_dataset, target_labels)
    from sciml.materials.folds import check_cv
    from sciml.materials.graphs import GraphSettings
    from sciml.materials.models import PRETRAINED
    from sciml.materials.validation import ParserWarnings, Quarantine, Rejection, describe_parser_warnings

    out_dir = Path(out_dir)
    cache_dir = Path(cache_dir) if cache_dir is not None else out_dir / "cache"
    graph = GraphSettings(**cfg["graph"])
    data_path = resolve(cfg["dataset"]["path"], root)
    from sciml.materials.workflow import prepare_section

    with run_step("materials.prepare", cfg, out_dir, inputs=[data_path],
                  threads=resolve_threads(threads, cfg), provenance_config=prepare_section(cfg)) as step:
        # the target column actually read (a Matbench file's only other column) names the target
        cfg = {**cfg, "dataset": resolved_dataset(cfg["dataset"], data_path)}
        step.record.config = prepare_section(cfg)  # provenance: the keys read, the column read (not the config's null)
        check_task(cfg)
        check_cv(cfg["cv"])
        t0 = time.perf_counter()
        if cfg["model"]["name"] == "sevennet":  # SevenNet's own graphs, cached for the train step
            from sciml.materials.models.sevennet import SEVENNET_CUTOFF
            from sciml.materials.sevennet_data import load_or_build as load_sevennet

            table, _, hit = load_sevennet(cfg["dataset"], root, cache_dir, cfg["validation"],
                                          cfg["model"]["sevennet"]["checkpoint"])
            n_atoms, n_edges = torch.from_numpy(table.n_atoms()), table.n_edges()
            graph = GraphSettings(cutoff=SEVENNET_CUTOFF, max_neighbors=0)
        elif cfg["model"]["name"] in PRETRAINED:  # CHGNet's own graphs, cached for the train step
            from sciml.materials.chgnet_data import ATOM_GRAPH_CUTOFF, load_or_build as load_chgnet

            table, _, hit = load_chgnet(cfg["dataset"], root, cache_dir, cfg["validation"])
            n_atoms, n_edges = torch.from_numpy(table.n_atoms()), table.n_edges()
            graph = GraphSettings(cutoff=ATOM_GRAPH_CUTOFF, max_neighbors=0)
        else:
            table, _, hit = load_or_build(cfg["dataset"], graph, root, cache_dir, cfg["validation"])
            n_atoms, n_edges = table.atom_ptr[1:] - table.atom_ptr[:-1], int(table.edge_index.shape[1])
        elapsed = time.perf_counter() - t0
        q = Quarantine([Rejection(i, line, reason) for i, line, reason in table.quarantine])
        warned = ParserWarnings(table.parser_warnings)
        # written first: a refusal below (one class only) points the user at them
        q.write(step.output("quarantine.csv"))
        warned.write(step.output("parser_warnings.csv"))
        summary = {
            "dataset": cfg["dataset"]["path"],
            "n_records": len(table.all_ids),
            "n_kept": len(table),
            "n_quarantined": len(q),
            "quarantine_by_reason": q.counts(),
            **warned.summary(),
            "graph": graph.as_dict(),
            "n_edges": n_edges,
            "atoms_per_structure_mean": round(float(n_atoms.float().mean()), 3),
            "atoms_per_structure_max": int(n_atoms.max()),
            "target_column": cfg["dataset"]["target_column"],
            **dict(zip(("target_name", "unit"), target_labels(cfg["dataset"]))),
            "transform": cfg["dataset"]["transform"],
            **target_checks(cfg, table.y.numpy(), data_path, q.counts(), len(table.all_ids), ids=table.ids),
        }
        repeats = repeated_structures_warning(table, cfg["dataset"]["transform"]) if isinstance(table, GraphTable) \
            else None  # the graph models' tables (a pretrained backbone's graphs hold no distances to compare)
        if repeats:
            summary["warnings"] = [*summary.get("warnings", []), repeats]
        write_json_atomic(step.output("summary.json"), summary)
        for w in summary.get("warnings", []):
            print(f"materials prepare: WARNING: {w}", file=sys.stderr)
        note = describe_parser_warnings(summary, summary["n_records"], "parser_warnings.csv")
        if note:
            print(f"materials prepare: WARNING: {note}", file=sys.stderr)
        step.record.extra.update({"cache_hit": hit, "build_seconds": round(elapsed, 3),
                                  "structures_per_s": None if hit else round(len(table.all_ids) / max(elapsed, 1e-9), 1)})
    return summary


def target_checks(cfg: dict[str, Any], y: Any, data_path: Path, quarantined: dict[str, int], n_records: int,
                  ids: list[str] | None = None) -> dict[str, Any]:
    """The summary's task keys for the kept records' targets ``y`` (model units): for a classification task
    ``task`` and ``class_counts``; ``warnings`` when the task disagrees with ``matbench_task``, a
    regression's targets are all 0/1 (class labels, most likely), a classification's column holds many
    values that are no label, a class has fewer records than folds (some test folds then hold one class,
    where ROC-AUC is undefined), or ``train.log_target`` meets targets <= 0 (``ids``: the kept records' ids,
    to name them). A DataError naming the file when a class is missing (nothing to separate),
    a ConfigError naming ``materials.cv.n_splits`` when no class fills the folds."""
    import numpy as np

    from sciml.errors import DataError
    from sciml.materials.anchors import task_type_mismatch
    from sciml.materials.dataset import is_classification
    from sciml.materials.folds import check_class_counts

    classification = is_classification(cfg["dataset"])
    warnings = task_type_mismatch(cfg["dataset"].get("matbench_task"), classification)
    out: dict[str, Any] = {}
    if not classification:
        if len(y) >= 10 and np.isin(y, (0.0, 1.0)).all():
            warnings.append("every target is 0 or 1: if these are class labels, set materials.dataset.task: "
                            "classification (ROC-AUC over StratifiedKFold folds, as Matbench scores them)")
        nonpositive = np.flatnonzero(np.asarray(y) <= 0)
        if cfg["train"].get("log_target") and nonpositive.size:
            named = ", ".join(f"{ids[i]} = {float(y[i]):g}" for i in nonpositive[:3]) if ids is not None else ""
            warnings.append(f"train.log_target: {nonpositive.size} of {len(y)} records have a target <= 0"
                            + (f" (first: {named})" if named else "") + ", which has no log: they are left out of "
                            "the training folds (counted per fold in metrics.json, train_records_nonpositive) and "
                            "still scored in their test fold; dataset.transform: log10 quarantines them instead")
        return {"warnings": warnings} if warnings else {}
    counts = {"0": int((y == 0).sum()), "1": int((y == 1).sum())}
    column = cfg["dataset"].get("target_column") or "the target"
    bad = quarantined.get("bad_target", 0)
    no_label = (f"{bad} of {n_records} records have no class label (see quarantine.csv): is {column} a yes/no "
                "column?") if bad else ""
    if 0 in counts.values():
        raise DataError(data_path, f"classification needs both classes; the {len(y)} kept records' labels are all "
                                   f"{'1' if counts['0'] == 0 else '0'}" + (f". {no_label}" if no_label else ""),
                        hint="check materials.dataset.target_column")
    check_class_counts(y, int(cfg["cv"]["n_splits"]))
    if bad > 0.1 * n_records:
        warnings.append(no_label)
    rare = min(counts, key=lambda c: counts[c])
    if counts[rare] < int(cfg["cv"]["n_splits"]):
        warnings.append(f"class {rare} has {counts[rare]} records, fewer than the {cfg['cv']['n_splits']} folds: "
                        "some test folds hold no record of it, and their ROC-AUC is undefined")
    out.update(task="classification", class_counts=counts)
    if warnings:
        out["warnings"] = warnings
    return out
