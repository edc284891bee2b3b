"""Readers: structure files -> a stream of :class:`RawRecord`.

Three layouts users already have:

- Matbench JSON "split" layout (``index`` / ``columns`` / ``data``, structure = pymatgen dict);
- CSV (optionally gzipped, leading ``#`` comment lines allowed as in the matminer files)
  with a structure column holding CIF text, POSCAR text or a pymatgen dict (JSON or a
  Python literal, parsed with ``ast.literal_eval`` -- never ``eval``);
- a folder of ``*.cif`` / ``POSCAR`` / ``*.vasp`` files plus ``id_prop.csv`` (``id,target``
  without header), the CGCNN/ALIGNN convention.

Readers never raise on a bad *record*: a structure that does not parse is yielded with
``structure=None`` and ``error`` set, so validation can quarantine it. A missing or
malformed *file* raises :class:`~sciml.errors.DataError`. The CSV and folder readers
stream (one record in memory at a time); the Matbench JSON layout is one JSON document
and is read whole.
"""

from __future__ import annotations

import ast
import csv
import gzip
import io
import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sciml.errors import DataError

STRUCTURE_SUFFIXES = (".cif", ".vasp", ".poscar", ".json")


@dataclass
class RawRecord:
    """One input record: ``structure`` is a pymatgen ``Structure`` or None if it did not parse.

    ``target`` is the float target (None when the file has none, e.g. screening input;
    NaN when the value is missing or not a number). ``line`` locates it in the file.
    """

    id: str
    structure: Any | None
    target: float | None
    error: str | None = None
    line: int | None = None


def _to_float(value: Any) -> float:
    """Target value as float; non-numbers become NaN (validation quarantines them)."""
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def parse_structure(value: Any, fmt: str = "auto"):
    """A pymatgen ``Structure`` from a dict, CIF text, POSCAR text or dict-literal text.

    ``fmt`` is one of ``auto``, ``cif``, ``poscar``, ``dict``. Raises ``ValueError`` with
    a short reason when the value cannot be parsed.
    """
    import warnings

    from pymatgen.core import Structure

    if isinstance(value, dict):
        fmt = "dict"
    elif not isinstance(value, str) or not value.strip():
        raise ValueError("empty structure field")
    if fmt == "auto":
        text = value.lstrip()
        if text.startswith("{"):
            fmt = "dict"
        elif "_cell_length_a" in value or text.startswith("data_") or "\ndata_" in value:
            fmt = "cif"
        else:
            fmt = "poscar"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt == "dict":
                obj = value
                if isinstance(value, str):
                    try:
                        obj = json.loads(value)
                    except json.JSONDecodeError:
                        obj = ast.literal_eval(value)  # Python-literal dicts (matminer flla); literals only
                if not isinstance(obj, dict):
                    raise ValueError("structure dict is not a mapping")
                structure = Structure.from_dict(obj)
            elif fmt in ("cif", "poscar"):
                structure = Structure.from_str(value, fmt=fmt)
            else:
                raise ValueError(f"unknown structure format '{fmt}' (valid: auto, cif, poscar, dict)")
    except ValueError:
        raise
    except Exception as exc:  # pymatgen raises many types for malformed text
        raise ValueError(f"cannot parse structure as {fmt}: {type(exc).__name__}: {str(exc)[:160]}") from None
    if len(structure) == 0:
        raise ValueError("structure has no sites")
    return structure


def _open_text(path: Path):
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_matbench_json(path: str | Path, target_column: str | None = None) -> Iterator[RawRecord]:
    """Records of a Matbench dataset in the figshare "split" JSON layout (``.json`` or ``.json.gz``)."""
    path = Path(path)
    try:
        with _open_text(path) as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError, EOFError) as exc:
        raise DataError(path, f"not a readable Matbench JSON file ({exc})") from None
    except RecursionError:
        raise DataError(path, "JSON nested too deeply to be a Matbench file") from None
    if not isinstance(doc, dict) or not {"index", "columns", "data"} <= set(doc):
        raise DataError(path, "expected the Matbench 'split' layout with keys index, columns, data")
    for key in ("index", "columns", "data"):
        if not isinstance(doc[key], list):
            raise DataError(path, f"'{key}' must be a list in the Matbench 'split' layout, not {type(doc[key]).__name__}")
    columns = list(doc["columns"])
    if "structure" not in columns:
        raise DataError(path, f"no 'structure' column (columns: {columns})")
    s_col = columns.index("structure")
    targets = [c for c in columns if c != "structure"]
    if target_column is None:
        if len(targets) != 1:
            raise DataError(path, f"several target columns {targets}; set materials.dataset.target_column")
        target_column = targets[0]
    if target_column not in columns:
        raise DataError(path, f"target column '{target_column}' not found (columns: {columns})")
    t_col = columns.index(target_column)
    if len(doc["index"]) != len(doc["data"]):
        raise DataError(path, "index and data have different lengths")
    for i, (mbid, row) in enumerate(zip(doc["index"], doc["data"])):
        rid = str(mbid)
        try:
            structure = parse_structure(row[s_col], "dict")
            error = None
        except (ValueError, IndexError, TypeError) as exc:
            structure, error = None, str(exc)
        try:
            target = _to_float(row[t_col])
        except (IndexError, TypeError):
            target = math.nan
        yield RawRecord(rid, structure, target, error, line=i)


def read_structure_csv(path: str | Path, structure_column: str = "structure", target_column: str | None = None,
                       id_column: str | None = None, structure_format: str = "auto") -> Iterator[RawRecord]:
    """Stream records of a CSV whose ``structure_column`` holds CIF/POSCAR/dict text.

    Leading lines starting with ``#`` (matminer's reference line) are skipped. Records
    without ``id_column`` are named ``row<N>`` (N = 0-based data row). ``target_column``
    None means no target (screening input).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # CIF text fields exceed the 128 kB default
    try:
        fh = _open_text(path)
        # skip comment lines before the header; remember how many for line numbers
        skipped = 0
        while True:
            pos_line = fh.readline()
            if not pos_line:
                raise DataError(path, "empty CSV file")
            if pos_line.startswith("#"):
                skipped += 1
                continue
            break
        header = next(csv.reader([pos_line]))
        for col, what in ((structure_column, "structure_column"), (target_column, "target_column"),
                          (id_column, "id_column")):
            if col is not None and col not in header:
                raise DataError(path, f"column '{col}' ({what}) not in the header {header}",
                                hint=f"set materials.dataset.{what}")
        rows = csv.reader(fh)
        first = next(rows, None)
        if first is not None and len(first) == len(header) + 1:
            # pandas' to_csv with an unnamed index writes one more field than header names
            # (the matminer files); read it as pandas does: the extra first field is the index
            header = ["__index__"] + header
        rows = _chain_first(first, rows)
        for i, values in enumerate(rows):
            row = dict(zip(header, values))
            rid = str(row[id_column]) if id_column else f"row{i}"
            try:
                structure = parse_structure(row.get(structure_column) or "", structure_format)
                error = None
            except ValueError as exc:
                structure, error = None, str(exc)
            target = _to_float(row.get(target_column)) if target_column else None
            yield RawRecord(rid, structure, target, error, line=i)
        fh.close()
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(path, f"cannot read CSV ({exc})") from None


def _chain_first(first: list[str] | None, rest: Iterator[list[str]]) -> Iterator[list[str]]:
    if first is not None:
        yield first
    yield from rest


def _structure_files(folder: Path) -> dict[str, Path]:
    files = {}
    for p in sorted(folder.iterdir()):
        if not p.is_file() or p.name == "id_prop.csv":
            continue
        name = p.name
        if p.suffix.lower() in STRUCTURE_SUFFIXES:
            files[p.stem] = p
        elif name.upper().startswith(("POSCAR", "CONTCAR")):
            files[name] = p
    return files


def _read_file_structure(p: Path):
    text = p.read_text(encoding="utf-8", errors="replace")
    suffix = p.suffix.lower()
    fmt = {".cif": "cif", ".json": "dict"}.get(suffix, "poscar")
    return parse_structure(text, fmt)


def read_structure_folder(folder: str | Path, id_prop: str | None = "id_prop.csv") -> Iterator[RawRecord]:
    """Stream records of a folder of structure files.

    With ``id_prop.csv`` present (rows ``id,target``, no header; CGCNN/ALIGNN layout) the
    records follow its order and ``<id>.cif`` / ``<id>.vasp`` / ``<id>`` is looked up for
    each id; a missing file is a bad record. Without it (screening) every structure file
    is read in name order with ``target=None``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, "not a folder")
    files = _structure_files(folder)
    prop_path = folder / id_prop if id_prop else None
    if prop_path is not None and prop_path.is_file():
        with open(prop_path, encoding="utf-8", newline="") as fh:
            for i, row in enumerate(csv.reader(fh)):
                if not row or row[0].startswith("#"):
                    continue
                if len(row) < 2:
                    raise DataError(prop_path, "expected 'id,target' rows", record=i + 1)
                rid, raw_target = row[0].strip(), row[1]
                # the CGCNN convention names files <id>.cif; also accept an id that is the file name
                p = files.get(Path(rid).stem) or files.get(rid)
                if p is None:
                    yield RawRecord(rid, None, _to_float(raw_target), f"no structure file for id '{rid}' in {folder}", i)
                    continue
                try:
                    structure, error = _read_file_structure(p), None
                except (ValueError, OSError) as exc:
                    structure, error = None, str(exc)
                yield RawRecord(rid, structure, _to_float(raw_target), error, i)
        return
    for i, (rid, p) in enumerate(files.items()):
        try:
            structure, error = _read_file_structure(p), None
        except (ValueError, OSError) as exc:
            structure, error = None, str(exc)
        yield RawRecord(rid, structure, None, error, i)


def detect_format(path: str | Path) -> str:
    """``matbench_json``, ``csv`` or ``folder`` from the path."""
    path = Path(path)
    if path.is_dir():
        return "folder"
    name = path.name.lower()
    if name.endswith((".json", ".json.gz")):
        return "matbench_json"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    raise DataError(path, "cannot tell the format from the name",
                    hint="use a .json[.gz] Matbench file, a .csv[.gz] file or a folder with id_prop.csv")


def read_records(path: str | Path, fmt: str = "auto", structure_column: str = "structure",
                 target_column: str | None = None, id_column: str | None = None,
                 structure_format: str = "auto", with_targets: bool = True) -> Iterator[RawRecord]:
    """Dispatch to the reader for ``fmt`` (``auto`` detects it from the path)."""
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "matbench_json":
        it = read_matbench_json(path, target_column)
    elif fmt == "csv":
        it = read_structure_csv(path, structure_column, target_column if with_targets else None,
                                id_column, structure_format)
    elif fmt == "folder":
        it = read_structure_folder(path, "id_prop.csv" if with_targets else None)
    else:
        raise DataError(path, f"unknown dataset format '{fmt}' (valid: auto, matbench_json, csv, folder)")
    if with_targets:
        return it
    return (RawRecord(r.id, r.structure, None, r.error, r.line) for r in it)
