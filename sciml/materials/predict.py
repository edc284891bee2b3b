"""Screening: score a stream of structures with a trained model, batch by batch.

Memory stays bounded by ``batch_size``: records are read lazily (CSV rows and folder
files one at a time), validated, turned into graphs, scored and appended to the output
before the next batch is read. Bad structures are skipped and written with their reason
to ``<out>.skipped.csv``. The output is written to a temporary file and renamed at the
end, so a killed run never leaves a truncated file that looks complete.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from sciml.errors import DataError
from sciml.io import atomic_path


def load_model(model_dir: str | Path):
    """``(model, spec)`` from ``model.pt`` (a plain state_dict, ``weights_only=True``) + ``model.json``.

    A fold trained with ``train.ensemble: N > 1`` lists its member weight files under
    ``ensemble_weights`` in ``model.json``; the returned model is then their
    :class:`~sciml.materials.models.ensemble.EnsembleMean` (same predictions as the fold's test scores).
    """
    import torch

    from sciml.materials.models import build_model

    model_dir = Path(model_dir)
    spec_path = model_dir / "model.json"
    if not spec_path.is_file():
        raise DataError(spec_path, "model file missing", hint="point --model at a fold folder written by 'sciml materials train'")
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(spec_path, f"not valid JSON ({exc})") from None
    if spec.get("format") != "sciml.materials.model/1":
        raise DataError(spec_path, f"unknown model format {spec.get('format')!r}")
    names = spec.get("ensemble_weights", ["model.pt"])
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and Path(n).name == n for n in names):
        raise DataError(spec_path, "ensemble_weights must be a non-empty list of file names in the model folder")
    members = []
    for name in names:
        weights = model_dir / name
        if not weights.is_file():
            raise DataError(weights, "model file missing", hint="point --model at a fold folder written by 'sciml materials train'")
        model = build_model(spec["model_name"], **spec["model_kwargs"])
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            model.load_state_dict(state)
        except (RuntimeError, KeyError) as exc:
            raise DataError(weights, f"weights do not fit the model in model.json ({str(exc)[:200]})") from None
        members.append(model)
    if len(members) == 1:
        model = members[0]
    else:
        from sciml.materials.models.ensemble import EnsembleMean

        model = EnsembleMean(members)
    model.eval()
    return model, spec


def _batched(it: Iterable[Any], n: int) -> Iterator[list[Any]]:
    it = iter(it)
    while chunk := list(islice(it, n)):
        yield chunk


class _Writer:
    """Appends prediction rows to CSV or Parquet (by suffix)."""

    def __init__(self, tmp: Path, parquet: bool, columns: list[str]):
        self.parquet = parquet
        self.columns = columns
        if parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            types = {"id": pa.string(), "formula": pa.string(), "n_atoms": pa.int64()}
            self.schema = pa.schema([(c, types.get(c, pa.float64())) for c in columns])
            self.writer = pq.ParquetWriter(tmp, self.schema)
        else:
            self.fh = open(tmp, "w", encoding="utf-8", newline="")
            self.writer = csv.writer(self.fh, lineterminator="\n")
            self.writer.writerow(columns)

    def write(self, rows: list[list[Any]]) -> None:
        if not rows:
            return
        if self.parquet:
            import pyarrow as pa

            cols = list(zip(*rows))
            self.writer.write_table(pa.table({c: list(v) for c, v in zip(self.columns, cols)}, schema=self.schema))
        else:
            self.writer.writerows([[f"{v:.6g}" if isinstance(v, float) else v for v in r] for r in rows])

    def close(self) -> None:
        if self.parquet:
            self.writer.close()
        else:
            self.fh.close()


def predict_records(model, spec: dict[str, Any], records: Iterable[Any], batch_size: int = 512
                    ) -> Iterator[tuple[list[list[Any]], list[tuple[Any, str]]]]:
    """Per batch: (rows ``[id, formula, n_atoms, prediction(, prediction_linear)]``, rejected ``(record, reason)``)."""
    import torch
    from torch_geometric.data import Batch, Data

    from sciml.materials.graphs import GraphSettings
    from sciml.materials.validation import check_record

    settings = GraphSettings(**spec["graph"])
    mean, std = float(spec["target_mean"]), float(spec["target_std"])
    log10 = spec.get("transform") == "log10"
    for chunk in _batched(records, batch_size):
        good, graphs, rejected = [], [], []
        for rec in chunk:
            g, reason = check_record(rec, settings, max_z=spec["max_z"], min_distance=spec["min_distance"],
                                     need_target=False)
            if reason is not None:
                rejected.append((rec, reason))
                continue
            good.append(rec)
            graphs.append(Data(z=torch.from_numpy(g.z), edge_index=torch.from_numpy(g.edge_index),
                               distance=torch.from_numpy(g.distance), num_nodes=len(g.z)))
        rows: list[list[Any]] = []
        if graphs:
            with torch.inference_mode():
                out = model(Batch.from_data_list(graphs)).double() * std + mean
                pred = (torch.exp(out) if spec.get("log_target") else out).tolist()
            for rec, p in zip(good, pred):
                row = [rec.id, rec.structure.composition.reduced_formula, len(rec.structure), float(p)]
                if log10:
                    row.append(float(10.0**p))
                rows.append(row)
        yield rows, rejected


def predict_file(model_dir: str | Path, input_path: str | Path, out: str | Path, batch_size: int = 512,
                 structure_column: str = "structure", id_column: str | None = None, threads: int | None = None,
                 progress: bool = True) -> dict[str, Any]:
    """Score every structure of ``input_path``; write ``out`` (.csv or .parquet) and ``<out>.skipped.csv``."""
    import torch
    from tqdm import tqdm

    from sciml.materials.readers import read_records
    from sciml.materials.validation import Quarantine

    if threads:
        torch.set_num_threads(int(threads))
    out = Path(out)
    parquet = out.suffix.lower() == ".parquet"
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise DataError(out, "output must end in .csv or .parquet")
    model, spec = load_model(model_dir)
    columns = ["id", "formula", "n_atoms", "prediction"]
    if spec.get("transform") == "log10":
        columns.append("prediction_linear")
    records = read_records(input_path, structure_column=structure_column, id_column=id_column, with_targets=False)
    quarantine = Quarantine()
    n_ok = 0
    t0 = time.perf_counter()
    bar = tqdm(desc="screening", unit="structure", disable=not progress, file=sys.stderr)
    with atomic_path(out) as tmp:
        writer = _Writer(tmp, parquet, columns)
        try:
            for rows, rejected in predict_records(model, spec, records, batch_size):
                writer.write(rows)
                for rec, reason in rejected:
                    quarantine.add(rec, reason)
                n_ok += len(rows)
                bar.update(len(rows) + len(rejected))
        finally:
            writer.close()
            bar.close()
    elapsed = time.perf_counter() - t0
    skipped = out.with_name(out.name + ".skipped.csv")
    quarantine.write(skipped)
    if quarantine.items:
        print(f"materials predict: skipped {len(quarantine)} structure(s), reasons in {skipped}", file=sys.stderr)
    n_all = n_ok + len(quarantine)
    return {"n_predicted": n_ok, "n_skipped": len(quarantine), "skipped_file": str(skipped),
            "seconds": round(elapsed, 3), "structures_per_s": round(n_all / max(elapsed, 1e-9), 1)}
