"""The operator dataset file: ``<name>.npz`` (arrays) + ``<name>.json`` (family spec, seeds,
counts, sha256 of the npz, generation time), both written atomically, checked on read.

Arrays: ``sensors`` (m, d_s), ``points`` (q, d), and per split s in train/validation/test:
``coeffs_s`` (n_s, c), ``inputs_s`` (n_s, m) (input function at the sensors),
``outputs_s`` (n_s, q) (solution at the query points).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from sciml.errors import ChecksumError, DataError

FORMAT = "sciml.pde.operator.dataset"
FORMAT_VERSION = 1
SPLITS = ("train", "validation", "test")


def write_dataset(path: str | Path, arrays: dict[str, np.ndarray], record: dict[str, Any]) -> dict[str, Any]:
    """Check ``arrays``, write them to ``path`` (.npz) and the record (+ sha256) beside it; return the record."""
    from sciml.io import atomic_path, sha256_file, write_json_atomic

    path = Path(path)
    check_arrays(arrays, path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    record = {**record, "format": FORMAT, "format_version": FORMAT_VERSION, "file": path.name,
              "sha256": sha256_file(path),
              "counts": {s: int(arrays[f"inputs_{s}"].shape[0]) for s in SPLITS if f"inputs_{s}" in arrays}}
    write_json_atomic(path.with_suffix(".json"), record)
    return record


def check_arrays(arrays: dict[str, np.ndarray], path: str | Path) -> None:
    """DataError naming ``path`` (and the array) for missing arrays, wrong shapes or NaN/inf."""
    for key in ("sensors", "points"):
        if key not in arrays:
            raise DataError(path, f"array '{key}' missing", hint="Regenerate the dataset with 'sciml pde operator'.")
    m, q = len(arrays["sensors"]), len(arrays["points"])
    for split in SPLITS:
        names = [f"coeffs_{split}", f"inputs_{split}", f"outputs_{split}"]
        if not all(n in arrays for n in names):
            raise DataError(path, f"split '{split}' incomplete (needs {', '.join(names)})")
        n = len(arrays[names[1]])
        want = {names[1]: (n, m), names[2]: (n, q)}
        for name, shape in want.items():
            if arrays[name].shape != shape:
                raise DataError(path, f"array shape {arrays[name].shape}, expected {shape} "
                                      f"(sensors {m}, query points {q})", record=name)
        if len(arrays[names[0]]) != n:
            raise DataError(path, f"{len(arrays[names[0]])} coefficient rows for {n} inputs", record=names[0])
    for name, a in arrays.items():
        if not np.all(np.isfinite(a)):
            bad = int(np.size(a) - np.isfinite(a).sum())
            raise DataError(path, f"{bad} NaN/inf values", record=name,
                            hint="The solver diverged or the file is corrupt; regenerate it.")


def read_dataset(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, record) of a dataset; DataError naming the file when it is missing, malformed,
    holds NaN/inf or wrong shapes, or ChecksumError when it differs from its record's sha256."""
    from sciml.io import sha256_file

    path = Path(path)
    if not path.is_file():
        raise DataError(path, "operator dataset not found", hint="Generate it with 'sciml pde operator'.")
    record: dict[str, Any] = {}
    rec_path = path.with_suffix(".json")
    if rec_path.is_file():
        try:
            record = json.loads(rec_path.read_text())
        except ValueError as exc:
            raise DataError(rec_path, f"not readable JSON ({exc})") from None
        if record.get("sha256") and record["sha256"] != sha256_file(path):
            raise ChecksumError(path, "sha256 differs from the one in its record " + rec_path.name,
                                hint="The file changed after generation; regenerate it.")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise DataError(path, f"not a readable npz file ({exc})") from None
    check_arrays(arrays, path)
    return arrays, record
