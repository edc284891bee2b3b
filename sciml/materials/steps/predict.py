"""The ``predict`` step: screen structures (a CSV[.gz], Matbench JSON, extended XYZ or folder of CIF/POSCAR)
with a trained model, streaming in batches (:mod:`sciml.materials.screening`).

Writes into ``out_dir``: ``predictions.csv`` (or ``predictions.parquet``: id, formula,
n_atoms, prediction in target units (a classifier's: the probability of class 1), plus prediction_linear
for a log10 target and
prediction_std, the members' spread, for a seed ensemble, and unseen_elements, the structure's elements
that no training record had, for a model that recorded them; counted in the stats and warned about),
``skipped.csv`` (id, line, reason of every structure that could not be scored; ``line`` is the
1-based line of the input file, empty for a folder or Matbench JSON, where the id locates the
record), ``parser_warnings.csv`` (id, line, warning of every structure that parsed with parser
warnings, e.g. CIF coordinates rounded; those are scored, and counted in the stats) and
``provenance.json``. Records whose id repeats an earlier one are scored too (one row each) and counted
in the stats (``n_duplicate_ids``, with a warning; ids are remembered up to
:data:`~sciml.materials.validation.MAX_TRACKED_IDS` distinct ones). The returned stats (recorded in
provenance.json too) say what ``prediction`` is:
the model's ``target_name``, ``unit``, ``transform`` and ``prediction_label`` (see :func:`prediction_labels`).
The predictions file is written to a temporary file and renamed at
the end, so a killed run never leaves a truncated file that looks complete.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from sciml.errors import DataError
from sciml.io import atomic_path
from sciml.steps import resolve_threads, run_step

#: Output formats and their file names.
OUTPUT_FILES = {"csv": "predictions.csv", "parquet": "predictions.parquet"}
SKIPPED_FILE = "skipped.csv"
PARSER_WARNINGS_FILE = "parser_warnings.csv"


def prediction_labels(spec: dict[str, Any]) -> dict[str, str]:
    """What a model's predictions are, from its ``model.json`` ``spec``: ``target_name``, ``unit``,
    ``transform``, ``prediction_label`` (the ``prediction`` column, e.g. ``log10(band gap / eV)``), the
    ``error_unit`` of its errors and, for a log10 target, ``prediction_linear_label`` (the linear column).
    A model.json without target_name/unit (older models) gives the column name and "unit not given"."""
    from sciml.materials.dataset import error_unit, target_labels, value_label

    dataset = {"target_name": spec.get("target_name"), "unit": spec.get("unit"),
               "transform": spec.get("transform") or "none", "target_column": "target",
               "task": spec.get("task", "regression")}
    name, unit = target_labels(dataset)
    labels = {"target_name": name, "unit": unit, "transform": dataset["transform"],
              "prediction_label": value_label(dataset), "error_unit": error_unit(dataset)}
    if dataset["transform"] == "log10":
        labels["prediction_linear_label"] = f"{name} ({unit})"
    return labels


def default_id_column(input_path: Any, input_format: str, id_column: str | None) -> str | None:
    """``id_column``, or for a CSV input without one its ``id`` column when it has one (a shard file written
    by ``shard`` has), so the predictions keep the user's ids; otherwise None (rows named ``row<N>``)."""
    from sciml.materials.readers import csv_header, detect_format

    if id_column is not None or not isinstance(input_path, (str, Path)):
        return id_column
    try:
        fmt = input_format if input_format != "auto" else detect_format(input_path)
    except DataError:
        return None  # the reader says what is wrong with the path
    return "id" if fmt == "csv" and "id" in csv_header(input_path) else None


def in_memory_records(structures: Any) -> Any:
    """Records of structures held in memory (a notebook's): a mapping ``{id: Structure}``, or a sequence of
    pymatgen ``Structure`` s (ids ``item<N>``, N from 0), or one ``Structure`` (id ``item0``: iterating it
    would give its sites). An entry that is not a ``Structure`` becomes a record that did not parse (skipped
    with its type named), not a crash."""
    from pymatgen.core import Structure

    from sciml.materials.readers import RawRecord

    if isinstance(structures, Structure):
        structures = [structures]
    items = structures.items() if hasattr(structures, "items") else ((f"item{k}", s) for k, s in enumerate(structures))
    for rid, st in items:
        if isinstance(st, Structure):
            yield RawRecord(str(rid), st, None)
        else:
            yield RawRecord(str(rid), None, None, f"not a pymatgen Structure ({type(st).__name__})")


def predict(cfg: dict[str, Any], model_dir: str | Path, input_path: str | Path, out_dir: str | Path, *,
            fmt: str = "csv", batch_size: int | None = None, structure_column: str = "structure",
            id_column: str | None = None, threads: int | None = None, progress: bool = True,
            device: str = "auto", input_format: str = "auto") -> dict[str, Any]:
    """Score every structure of ``input_path`` with the model in ``model_dir`` (a fold folder
    written by ``train``); ``input_path`` may also be structures in memory (``{id: Structure}`` or a list
    of them, :func:`in_memory_records`); ``batch_size`` defaults to ``cfg["predict"]["batch_size"]``;
    ``device``: ``auto`` (a GPU when torch sees one), ``cpu``, ``cuda[:N]``. Returns counts (the
    structures with parser warnings and the distinct warnings among them), the output files, the
    device, the throughput (structures/s) and what was predicted (:func:`prediction_labels`)."""
    from tqdm import tqdm

    from sciml.io import CsvSpool
    from sciml.materials import saved_model
    from sciml.materials.models.ensemble import ensemble_size
    from sciml.materials.readers import FOLDER_FILES, ignored_files, read_records
    from sciml.devices import resolve_device
    from sciml.materials.screening import UNSEEN_COLUMN, PredictionWriter, columns_for, predict_records
    from sciml.materials.validation import (PARSER_WARNING_COLUMNS, QUARANTINE_COLUMNS, DuplicateIds,
                                            ParserWarnings, Quarantine, describe_parser_warnings)

    if fmt not in OUTPUT_FILES:
        raise DataError(out_dir, f"unknown output format {fmt!r} (valid: {', '.join(OUTPUT_FILES)})")
    batch_size = int(batch_size or cfg["predict"]["batch_size"])
    id_column = default_id_column(input_path, input_format, id_column)
    model, spec = saved_model.load(model_dir)
    device = resolve_device(device)
    model = model.to(device)
    n_members = ensemble_size(model)
    model_files = [Path(model_dir) / saved_model.SPEC_FILE, *saved_model.weight_files(model_dir, spec)]
    from_file = isinstance(input_path, (str, Path))
    with run_step("materials.predict", cfg, out_dir, inputs=[*model_files] + ([input_path] if from_file else []),
                  threads=resolve_threads(threads, cfg)) as step:
        out = step.output(OUTPUT_FILES[fmt])
        for other in set(OUTPUT_FILES.values()) - {OUTPUT_FILES[fmt]}:  # an earlier run's other format: not this run's
            (step.out_dir / other).unlink(missing_ok=True)
        # skipped and warned rows go to disk as they come: memory stays flat in their number
        warned = ParserWarnings(spool=CsvSpool(step.output(PARSER_WARNINGS_FILE), PARSER_WARNING_COLUMNS))
        duplicates = DuplicateIds()  # repeated ids are scored (rows kept) but counted and warned about
        records = duplicates.tap(warned.tap(read_records(
            input_path, fmt=input_format, structure_column=structure_column, id_column=id_column,
            with_targets=False, arrays=True) if from_file else in_memory_records(input_path)))
        quarantine = Quarantine(spool=CsvSpool(step.output(SKIPPED_FILE), QUARANTINE_COLUMNS))
        n_ok = 0
        import pymatgen.core  # noqa: F401  one-off imports before the clock: the rate is the steady one
        import torch_geometric.data  # noqa: F401

        t0 = time.perf_counter()
        bar = tqdm(desc="screening", unit="structure", disable=not progress, file=sys.stderr)
        columns = columns_for(spec, n_members)
        n_unseen = 0
        with atomic_path(out) as tmp:
            writer = PredictionWriter(tmp, fmt == "parquet", columns)
            try:
                for rows, rejected in predict_records(model, spec, records, batch_size, device=device):
                    writer.write(rows)
                    if UNSEEN_COLUMN in columns:
                        n_unseen += sum(1 for r in rows if r[-1])
                    for rec, reason in rejected:
                        quarantine.add(rec, reason)
                    n_ok += len(rows)
                    bar.update(len(rows) + len(rejected))
            except BaseException:
                quarantine.spool.discard()
                warned.spool.discard()
                raise
            finally:
                writer.close()
                bar.close()
        elapsed = time.perf_counter() - t0
        skipped = quarantine.write(step.output(SKIPPED_FILE))
        warned_file = warned.write(step.output(PARSER_WARNINGS_FILE))
        if len(quarantine):
            print(f"materials predict: skipped {len(quarantine)} structure(s), reasons in {skipped}", file=sys.stderr)
        n_all = n_ok + len(quarantine)
        warnings = []
        ignored = ignored_files(input_path) if from_file and Path(input_path).is_dir() else []
        source = input_path if from_file else "the structures given"
        if ignored:
            warnings.append(f"{len(ignored)} file(s) in {input_path} are not structure files this reader reads "
                            f"({FOLDER_FILES}) and were ignored: {', '.join(ignored[:10])}"
                            + (", ..." if len(ignored) > 10 else ""))
        if n_ok == 0:
            warnings.append(f"no structure was predicted: {source} gave {n_all} record(s)"
                            + (f", all skipped (reasons in {skipped})" if n_all else ""))
        parser_note = describe_parser_warnings(warned.summary(), n_all, str(warned_file))
        if parser_note:
            warnings.append(parser_note)
        if n_unseen:
            from sciml.materials.models import PRETRAINED

            why = ("the pretrained model's features know them, but its property head was fitted on no structure "
                   "with them" if spec["model_name"] in PRETRAINED else
                   "the model has learnt nothing about them (untrained element embeddings)")
            warnings.append(f"{n_unseen} of {n_ok} predicted structure(s) contain elements that no training record "
                            f"had (column {UNSEEN_COLUMN}): {why}, so those predictions extrapolate (the ensemble "
                            "spread need not show it)")
        if duplicates.describe():
            warnings.append(duplicates.describe())
        for w in warnings:
            print(f"materials predict: WARNING: {w}", file=sys.stderr)
        stats = {"n_predicted": n_ok, "n_skipped": len(quarantine), "predictions_file": str(out),
                 "skipped_file": str(skipped), "batch_size": batch_size, "device": device,
                 "ensemble_size": n_members, "seconds": round(elapsed, 3),
                 "structures_per_s": round(n_all / max(elapsed, 1e-9), 1),
                 "n_ignored_files": len(ignored), "n_unseen_elements": n_unseen,
                 **warned.summary(), **duplicates.summary(),
                 "parser_warnings_file": str(warned_file),
                 "warnings": warnings, **prediction_labels(spec)}
        step.record.extra.update(stats)
    return stats
