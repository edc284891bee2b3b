"""Screening core: score a stream of structures with a trained model, batch by batch.

Memory stays bounded by ``batch_size``: records are read lazily (CSV rows and folder
files one at a time), validated, turned into graphs and scored one batch at a time
(:func:`predict_records`), and :class:`PredictionWriter` appends each batch's rows to a
CSV or Parquet file before the next batch is read. The ``predict`` step
(:mod:`sciml.materials.steps.predict`) wires them to files.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

#: Output columns; ``prediction_linear`` (10**prediction) is added for a log10 target.
COLUMNS = ["id", "formula", "n_atoms", "prediction"]


#: Output column naming a structure's elements that no training record had (empty when none).
UNSEEN_COLUMN = "unseen_elements"


def columns_for(spec: dict[str, Any], ensemble_size: int = 1) -> list[str]:
    """Output columns for a model whose ``model.json`` is ``spec``: ``prediction_linear``
    for a log10 target, ``prediction_std`` (the members' spread) for a seed ensemble, and
    :data:`UNSEEN_COLUMN` when the model recorded its training elements."""
    return (COLUMNS + (["prediction_linear"] if spec.get("transform") == "log10" else [])
            + (["prediction_std"] if ensemble_size > 1 else [])
            + ([UNSEEN_COLUMN] if "training_atomic_numbers" in spec else []))


def unseen_elements(graph: Any, seen: frozenset[int] | None) -> str:
    """The symbols (space-separated, by atomic number) of ``graph``'s elements not in ``seen``; "" when all
    were seen. A model trained from scratch has untrained embedding rows for them: its value extrapolates."""
    from ase.data import chemical_symbols

    from sciml.materials.saved_model import graph_atomic_numbers

    if seen is None:
        return ""
    return " ".join(chemical_symbols[z] for z in sorted(set(graph_atomic_numbers(graph)) - seen))


def batched(it: Iterable[Any], n: int) -> Iterator[list[Any]]:
    """Lists of up to ``n`` consecutive items of ``it`` (the last may be shorter)."""
    it = iter(it)
    while chunk := list(islice(it, n)):
        yield chunk


class PredictionWriter:
    """Appends prediction rows to a CSV (floats as ``:.6g``) or Parquet file."""

    def __init__(self, path: str | Path, parquet: bool, columns: list[str]):
        self.parquet = parquet
        self.columns = columns
        if parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            types = {"id": pa.string(), "formula": pa.string(), "n_atoms": pa.int64(), UNSEEN_COLUMN: pa.string()}
            self.schema = pa.schema([(c, types.get(c, pa.float64())) for c in columns])
            self.writer = pq.ParquetWriter(path, self.schema)
        else:
            self.fh = open(path, "w", encoding="utf-8", newline="")
            self.writer = csv.writer(self.fh, lineterminator="\n")
            self.writer.writerow(columns)

    def write(self, rows: list[list[Any]]) -> None:
        """Append ``rows`` (aligned with the columns)."""
        if not rows:
            return
        if self.parquet:
            import pyarrow as pa

            cols = list(zip(*rows))
            self.writer.write_table(pa.table({c: list(v) for c, v in zip(self.columns, cols)}, schema=self.schema))
        else:
            self.writer.writerows([[f"{v:.6g}" if isinstance(v, float) else v for v in r] for r in rows])

    def close(self) -> None:
        """Finish the file."""
        if self.parquet:
            self.writer.close()
        else:
            self.fh.close()


def collate(graphs: list[Any]) -> Any:
    """One torch-geometric ``Batch`` of :class:`~sciml.materials.graphs.CrystalGraph` s, built
    by concatenating the arrays once (what ``Batch.from_data_list`` gives for ``z``,
    ``edge_index``, ``distance``, ``batch`` and ``ptr``, without one ``Data`` object per
    structure: 10% of the screening time before)."""
    import numpy as np
    import torch
    from torch_geometric.data import Batch

    sizes = np.array([len(g.z) for g in graphs], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    edge_index = np.concatenate([g.edge_index + off for g, off in zip(graphs, offsets[:-1])], axis=1)
    return Batch(
        z=torch.from_numpy(np.concatenate([g.z for g in graphs])),
        edge_index=torch.from_numpy(edge_index),
        distance=torch.from_numpy(np.concatenate([g.distance for g in graphs])),
        batch=torch.from_numpy(np.repeat(np.arange(len(graphs), dtype=np.int64), sizes)),
        ptr=torch.from_numpy(offsets),
    )


def reduced_formula(structure: Any) -> str:
    """pymatgen's reduced formula of a ``Structure`` or :class:`~sciml.materials.readers.CrystalArrays`."""
    from sciml.materials.readers import CrystalArrays

    if isinstance(structure, CrystalArrays):
        return structure.reduced_formula
    return structure.composition.reduced_formula


def predict_records(model: Any, spec: dict[str, Any], records: Iterable[Any], batch_size: int = 512,
                    device: str = "cpu") -> Iterator[tuple[list[list[Any]], list[tuple[Any, str]]]]:
    """Score ``records`` with ``model`` (loaded by :func:`sciml.materials.saved_model.load`,
    already on ``device``).

    Yields per batch: (rows ``[id, formula, n_atoms, prediction(, prediction_linear)(,
    prediction_std)(, unseen_elements)]`` in target units, rejected ``(record, reason)``). For a seed ensemble
    the prediction is the members' mean (as in training) and ``prediction_std`` the
    population std of the members' predictions in target units (the ensemble's spread, a
    rough uncertainty). A classifier's prediction is the probability of class 1 (the members' mean
    probability, their spread its std). A model trained with ``train.clip_predictions`` clips each member's
    prediction to its ``target_range``, as training did. Records are checked with the graph
    settings and limits the model was trained with; structures may be pymatgen ``Structure`` s
    or :class:`~sciml.materials.readers.CrystalArrays` (the fast readers).
    """
    import torch

    from sciml.materials.graphs import GraphSettings
    from sciml.materials.models.ensemble import member_outputs
    from sciml.materials.saved_model import transformed_range
    from sciml.materials.validation import check_record

    settings = GraphSettings(**spec["graph"])
    chgnet = spec["model_name"] == "chgnet"
    sevennet = spec["model_name"] == "sevennet"
    if chgnet:  # CHGNet's own graphs (sciml.materials.chgnet_data), checked with the training limits
        from sciml.materials.chgnet_data import collate_graphs, convert_record, converter

        conv = converter()
    if sevennet:  # SevenNet's own graphs (sciml.materials.sevennet_data), checked with the training limits
        from sciml.materials.models.sevennet import known_atomic_numbers
        from sciml.materials.sevennet_data import collate_graphs as collate_sevennet, convert_record as convert_sevennet

        ckpt = spec["model_kwargs"].get("checkpoint", "7net-0")
        known = frozenset(z for z in known_atomic_numbers(ckpt) if z <= int(spec["max_z"]))
    mean, std = float(spec["target_mean"]), float(spec["target_std"])
    bounds = transformed_range(spec.get("target_range"), bool(spec.get("log_target")))
    log10 = spec.get("transform") == "log10"
    classifier = spec.get("task") == "classification"
    seen = frozenset(spec["training_atomic_numbers"]) if "training_atomic_numbers" in spec else None
    for chunk in batched(records, batch_size):
        good, graphs, rejected = [], [], []
        for rec in chunk:
            if chgnet:
                g, reason = convert_record(rec, conv, spec["max_z"], spec["min_distance"], need_target=False)
            elif sevennet:
                g, reason = convert_sevennet(rec, known, ckpt, spec["min_distance"], need_target=False)
            else:
                g, reason = check_record(rec, settings, max_z=spec["max_z"], min_distance=spec["min_distance"],
                                         need_target=False)
            if reason is not None:
                rejected.append((rec, reason))
                continue
            good.append(rec)
            graphs.append(g)
        rows: list[list[Any]] = []
        if graphs:
            with torch.inference_mode():
                batch = collate_graphs(graphs) if chgnet else collate_sevennet(graphs) if sevennet else collate(graphs)
                out = member_outputs(model, batch.to(device)).double().cpu() * std + mean  # (M, B)
                if bounds is not None:  # each member clipped, as training's test predictions
                    out = out.clamp(*bounds)
                if classifier:  # the members' mean probability, as training's test predictions
                    out = torch.sigmoid(out)
                    pred = out.mean(dim=0).tolist()
                    spread = out.std(dim=0, unbiased=False).tolist() if len(out) > 1 else None
                else:
                    decode = torch.exp if spec.get("log_target") else (lambda t: t)
                    pred = decode(out.mean(dim=0)).tolist()  # mean of the normalised outputs, as EnsembleMean
                    spread = decode(out).std(dim=0, unbiased=False).tolist() if len(out) > 1 else None
            for k, (rec, p) in enumerate(zip(good, pred)):
                if not math.isfinite(p):  # never a number in the table that is no number: skipped, with why
                    rejected.append((rec, f"non_finite_prediction: the model gave {p} (its weights or inputs hold "
                                          "values out of range)"))
                    continue
                row = [rec.id, reduced_formula(rec.structure), len(rec.structure), float(p)]
                if log10:
                    row.append(float(10.0**p))
                if spread is not None:
                    row.append(float(spread[k]))
                if seen is not None:
                    row.append(unseen_elements(graphs[k], seen))
                rows.append(row)
        yield rows, rejected
