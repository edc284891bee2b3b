"""A user's own reference file for a declared problem (``pde.declared.<name>.reference``).

Formats (``format``, else from the file suffix):

- ``dat``: COMSOL / PINNacle text export: ``%`` header lines, then whitespace-separated columns;
- ``csv``: comma-separated, one header row of column names;
- ``npz``: numpy arrays; a column is ``"key"`` (a 1D array) or ``"key:j"`` (column j of a 2D array);
- ``nc``: netCDF; columns are variable names.

``columns.coords`` lists the columns of the coordinates in network input order (x, y, .., t)
and ``columns.fields`` maps each field to its column: a 0-based index or a name (the csv
header, the npz key, the netCDF variable). Where the file holds no coordinates (DeepXDE's
``stokes.npz``), ``grid: {x: [lo, hi, n], ...}`` gives them: a tensor grid in C order over the
problem's inputs (x, y, .., t), whatever the order of the keys. PINNacle's time-dependent exports (``heat_longtime.dat``: x, y, then one column of
u per time step, the header naming ``u @ t=0.2`` ...) are read with ``layout: time_columns``:
``coords`` are the spatial columns, each field's column is its first time column, and the times
come from the header's ``@ t=`` labels (or ``times: [...]``). ``sha256`` is checked when given
(the package manifest's checksums are for shipped datasets only).

Errors are :class:`~sciml.errors.DataError` naming the file and the line (wrong column count,
non-numeric or non-finite value) or :class:`~sciml.errors.ConfigError` naming the config key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from sciml.errors import ConfigError, DataError
from sciml.pde.references import Reference

FORMATS = {".dat": "dat", ".txt": "dat", ".csv": "csv", ".npz": "npz", ".nc": "nc"}
_TIME_LABEL = re.compile(r"@\s*t\s*=\s*([-+0-9.eE]+)")


def reference_path(spec: dict[str, Any], key: str) -> Path:
    """The reference file's path (ConfigError naming ``key.path`` when missing)."""
    path = spec.get("path")
    if not isinstance(path, str) or not path:
        raise ConfigError(f"{key}.path", "needs the path of the reference file")
    return Path(path)


def _format(spec: dict[str, Any], path: Path, key: str) -> str:
    fmt = spec.get("format") or FORMATS.get(path.suffix.lower())
    if fmt not in ("dat", "csv", "npz", "nc"):
        raise ConfigError(f"{key}.format", f"cannot tell the format of {path} (give format: dat, csv, npz or nc)")
    return fmt


def _check_sha256(spec: dict[str, Any], path: Path, key: str) -> None:
    want = spec.get("sha256")
    if want is None:
        return
    from sciml.io import sha256_file

    got = sha256_file(path)
    if got.lower() != str(want).lower():
        raise DataError(path, f"sha256 {got} differs from {key}.sha256 {want}",
                        hint="Is this the file the config describes? Update or drop the sha256 in the config.")


def _fields(text: str, fmt: str) -> list[str]:
    """The fields of one stripped line: comma-separated (csv) or whitespace-separated (dat)."""
    return [p.strip() for p in text.split(",")] if fmt == "csv" else text.split()


def _unique_header(names: list[str], path: Path, lineno: int) -> list[str]:
    """The csv header ``names``; DataError naming the file and the first name given twice (a column
    chosen by that name would be ambiguous)."""
    seen = set()
    for name in names:
        if name in seen:
            raise DataError(path, f"column name {name!r} appears more than once in the header "
                            f"({', '.join(names)}): rename the columns", record=f"line {lineno}")
        seen.add(name)
    return names


def _read_text(path: Path, fmt: str) -> tuple[list[str] | None, list[str], np.ndarray, np.ndarray]:
    """(csv header names or None, '%' header lines, data (n, ncol), line numbers (n,))."""
    rows, lines, header, comments = [], [], None, []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, start=1):
                text = line.strip()
                if not text:
                    continue
                if fmt == "dat" and text.startswith("%"):
                    comments.append(text)
                    continue
                parts = _fields(text, fmt)
                if fmt == "csv" and header is None:
                    header = _unique_header(parts, path, lineno)
                    continue
                ncol = len(header) if header is not None else (len(rows[0]) if rows else len(parts))
                if len(parts) != ncol:
                    raise DataError(path, f"{len(parts)} columns, expected {ncol}", record=f"line {lineno}")
                try:
                    vals = [float(p) for p in parts]
                except ValueError:
                    raise DataError(path, f"non-numeric value in '{text[:80]}'", record=f"line {lineno}") from None
                if not all(np.isfinite(vals)):
                    raise DataError(path, f"non-finite value (NaN/inf) in '{text[:80]}'", record=f"line {lineno}")
                rows.append(vals)
                lines.append(lineno)
    except FileNotFoundError:
        raise DataError(path, "reference file not found") from None
    except OSError as exc:
        raise DataError(path, f"cannot read ({exc})") from None
    if not rows:
        raise DataError(path, "no data lines")
    return header, comments, np.asarray(rows, dtype=float), np.asarray(lines)


def _column(col: Any, header: list[str] | None, ncol: int, path: Path, key: str) -> int:
    if isinstance(col, int) and not isinstance(col, bool):
        if not 0 <= col < ncol:
            raise ConfigError(key, f"column {col} does not exist in {path} ({ncol} columns, 0-based)")
        return col
    if header is not None and col in header:
        return header.index(col)
    raise ConfigError(key, f"column {col!r} not in {path}" + (f" (columns: {', '.join(header)})" if header else
                                                              " (give 0-based column numbers)"))


def _npz_name(data: Any, col: Any, path: Path, key: str) -> tuple[str, str]:
    """(array key, column j or '') of an npz column ``key`` or ``key:j``; ConfigError when the key is absent."""
    name, _, j = str(col).partition(":")
    if name not in data.files:
        raise ConfigError(key, f"no array '{name}' in {path} (has {', '.join(data.files)})")
    return name, j


def _npz_column(data: Any, col: Any, path: Path, key: str,
                grid: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The values of npz column ``col`` (``key`` or ``key:j``) as a flat array. With ``grid`` (a
    field over a ``grid:`` reference: its coordinates by input, in input order) an N-d array whose
    shape is the grid's is read in C order over the inputs, as a flat one is."""
    name, j = _npz_name(data, col, path, key)
    a = np.asarray(data[name], dtype=float)
    if j:
        if a.ndim != 2 or not j.isdigit() or int(j) >= a.shape[1]:
            raise ConfigError(key, f"'{col}': {path} array '{name}' has shape {a.shape}, no column {j}")
        return a[:, int(j)]
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1 and grid is not None:
        return _grid_array(a, grid, f"'{col}': {path} array '{name}'", key)
    if a.ndim != 1:
        raise ConfigError(key, f"'{col}': {path} array '{name}' has shape {a.shape}; name a column as '{name}:j'")
    return a


def _grid_array(a: np.ndarray, grid: dict[str, np.ndarray], what: str, key: str) -> np.ndarray:
    """An N-d field array over the ``grid`` (coordinates by input, in input order), flattened in
    C order; ConfigError when its shape is not the grid's (saying the axis order expected when
    it is another order of the same axes, e.g. transposed)."""
    shape = tuple(len(v) for v in grid.values())
    if a.shape == shape:
        return a.ravel()
    axes = ", ".join(f"{name} ({len(v)})" for name, v in grid.items())
    order = ("its axes are in another order: " if sorted(a.shape) == sorted(shape) else "")
    raise ConfigError(key, f"{what} has shape {a.shape}; {order}a grid field needs shape {shape}, axes in the "
                           f"order of the inputs: {axes} (or a flat array of {int(np.prod(shape))} values in that "
                           "C order)")


def _grid_points(spec: dict[str, Any], inputs: tuple[str, ...], key: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The grid's coordinates by input and its points in C order over the problem's ``inputs``
    (whatever the order of the ``grid`` keys: the workflow's JSON sorts them)."""
    grid = spec["grid"]
    if set(grid) != set(inputs):
        missing, extra = [i for i in inputs if i not in grid], sorted(set(grid) - set(inputs))
        raise ConfigError(f"{key}.grid", f"needs one [low, high, n] per input {list(inputs)}"
                          + (f"; missing {missing}" if missing else "") + (f"; no input {extra}" if extra else ""))
    coords = {}
    for name in inputs:
        v = grid[name]
        if not (isinstance(v, list) and len(v) == 3 and int(v[2]) == v[2] and v[2] >= 2):
            raise ConfigError(f"{key}.grid.{name}", f"needs [low, high, n] with n >= 2, got {v!r}")
        coords[name] = np.linspace(float(v[0]), float(v[1]), int(v[2]))
    mesh = np.meshgrid(*[coords[n] for n in inputs], indexing="ij")
    return coords, np.stack([m.ravel() for m in mesh], axis=1)


def _nc_var(ds: Any, c: Any, path: Path, key: str) -> Any:
    """Variable ``c`` of an open netCDF dataset; ConfigError naming ``key`` when absent."""
    if c not in ds.variables:
        raise ConfigError(key, f"no variable {c!r} in {path} (has {', '.join(map(str, ds.variables))})")
    return ds[c]


def _first_record(path: Path, fmt: str) -> tuple[list[str] | None, int]:
    """(csv header names or None, number of columns) from the first record of a text file, the
    rest of the file unread; DataError as :func:`_read_text` for an unreadable or empty file."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, start=1):
                text = line.strip()
                if not text or (fmt == "dat" and text.startswith("%")):
                    continue
                parts = _fields(text, fmt)
                return (_unique_header(parts, path, lineno) if fmt == "csv" else None), len(parts)
    except OSError as exc:
        raise DataError(path, f"cannot read ({exc})") from None
    raise DataError(path, "no data lines")


def _checked_spec(spec: dict[str, Any], key: str, inputs: tuple[str, ...], fields: tuple[str, ...]
                  ) -> tuple[Path, str, dict[str, Any], str, tuple[str, ...], Any]:
    """The checks of ``spec`` that need no file contents: (path, format, field columns, layout,
    spatial inputs, coordinate columns); DataError when the file is missing, ConfigError naming
    the key for a bad spec."""
    path = reference_path(spec, key)
    fmt = _format(spec, path, key)
    if not path.is_file():
        raise DataError(path, f"reference file not found ({key}.path)")
    cols = spec.get("columns") or {}
    fcols = cols.get("fields") or {}
    if set(fcols) != set(fields):
        raise ConfigError(f"{key}.columns.fields", f"needs one column per field {list(fields)}, got {list(fcols)}")
    layout = spec.get("layout", "columns")
    spatial = tuple(i for i in inputs if i != "t") if layout == "time_columns" else inputs
    ccols = cols.get("coords")
    if "grid" in spec:
        if ccols:
            raise ConfigError(f"{key}.columns.coords", "give either columns.coords or grid, not both")
        _grid_points(spec, inputs, key)
    elif not isinstance(ccols, list) or len(ccols) != len(spatial):
        raise ConfigError(f"{key}.columns.coords", f"needs one column per input {list(spatial)}, got {ccols!r}")
    return path, fmt, fcols, layout, spatial, ccols


def check_user_reference_columns(spec: dict[str, Any], key: str, inputs: tuple[str, ...],
                                 fields: tuple[str, ...]) -> None:
    """Check, without reading the data, that the reference file declared by ``spec`` exists and
    holds the configured columns: the csv header / the column count of the first record, the npz
    keys, the netCDF variables. Raises the error :func:`load_user_reference` raises for the same
    fault (same message); values, points and ``sha256`` are checked only when the file is loaded."""
    path, fmt, fcols, _, _, ccols = _checked_spec(spec, key, inputs, fields)
    wanted = [] if "grid" in spec else [(c, f"{key}.columns.coords") for c in ccols]
    wanted += [(c, f"{key}.columns.fields.{f}") for f, c in fcols.items()]
    if fmt in ("dat", "csv"):
        header, ncol = _first_record(path, fmt)
        for c, k in wanted:
            _column(c, header, ncol, path, k)
    elif fmt == "npz":
        grid = _grid_points(spec, inputs, key)[0] if "grid" in spec else None
        try:
            with np.load(path, allow_pickle=False) as d:
                for c, k in wanted:  # the arrays' shapes too (the loader's error for an N-d array)
                    _npz_column(d, c, path, k, grid if ".fields." in k else None)
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(path, f"cannot read as .npz ({type(exc).__name__}: {exc})") from None
    else:
        import xarray as xr

        try:
            with xr.open_dataset(path) as ds:
                for c, k in wanted:
                    _nc_var(ds, c, path, k)
        except (OSError, ValueError) as exc:
            raise DataError(path, f"cannot read as netCDF ({type(exc).__name__}: {exc})") from None


def load_user_reference(spec: dict[str, Any], key: str, inputs: tuple[str, ...],
                        fields: tuple[str, ...]) -> tuple[Reference, np.ndarray | None]:
    """The reference declared by ``spec`` for a problem with these inputs and fields, and the
    file line of each point (text formats; None otherwise). ``key`` is the config key of ``spec``."""
    path, fmt, fcols, layout, spatial, ccols = _checked_spec(spec, key, inputs, fields)
    _check_sha256(spec, path, key)
    if "grid" in spec:
        coords, pts = _grid_points(spec, inputs, key)
    lines = None
    if fmt in ("dat", "csv"):
        header, comments, data, lines = _read_text(path, fmt)
        ncol = data.shape[1]
        if layout == "time_columns":
            if "t" not in inputs or "grid" in spec:
                raise ConfigError(f"{key}.layout", "time_columns needs a time interval and columns.coords")
            times = spec.get("times")
            per_field, rest = divmod(ncol - len(spatial), len(fields))
            if times is not None and (rest or len(times) != per_field):
                raise ConfigError(f"{key}.times", f"{len(times)} times given, but {path} has {ncol - len(spatial)} "
                                  f"columns after the {len(spatial)} coordinate column(s) for {len(fields)} field(s): "
                                  "give one time per time column of each field")
            if times is None:
                labels = next((c for c in reversed(comments) if _TIME_LABEL.search(c)), None)
                if labels is None:
                    raise ConfigError(f"{key}.times", f"{path} has no '@ t=' column labels in its header: give times")
                times = [float(t) for t in _TIME_LABEL.findall(labels)] [: (ncol - len(spatial)) // len(fields)]
            times = np.asarray(times, dtype=float)
            nt = len(times)
            xy = data[:, [_column(c, header, ncol, path, f"{key}.columns.coords") for c in ccols]]
            vals = {}
            for f, c in fcols.items():
                j = _column(c, header, ncol, path, f"{key}.columns.fields.{f}")
                if j + nt > ncol:
                    raise DataError(path, f"field '{f}' needs {nt} time columns from column {j}, the file has {ncol}",
                                    record=f"line {lines[0]}")
                vals[f] = data[:, j:j + nt].ravel()  # node-major: node 0 at every time, node 1, ...
            pts = np.concatenate([np.repeat(xy, nt, axis=0), np.tile(times, len(xy))[:, None]], axis=1)
            lines = np.repeat(lines, nt)
        else:
            if "grid" not in spec:
                pts = data[:, [_column(c, header, ncol, path, f"{key}.columns.coords") for c in ccols]]
            vals = {f: data[:, _column(c, header, ncol, path, f"{key}.columns.fields.{f}")] for f, c in fcols.items()}
    elif fmt == "npz":
        try:
            with np.load(path, allow_pickle=False) as d:
                if "grid" not in spec:
                    pts = np.stack([_npz_column(d, c, path, f"{key}.columns.coords") for c in ccols], axis=1)
                vals = {f: _npz_column(d, c, path, f"{key}.columns.fields.{f}", coords if "grid" in spec else None)
                        for f, c in fcols.items()}
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(path, f"cannot read as .npz ({type(exc).__name__}: {exc})") from None
    else:
        import xarray as xr

        try:
            with xr.open_dataset(path) as ds:
                def var(c: Any, k: str) -> np.ndarray:
                    return _nc_var(ds, c, path, k)

                f0, c0 = next(iter(fcols.items()))
                first = var(c0, f"{key}.columns.fields.{f0}")
                grid_dims = "grid" not in spec and set(first.dims) == set(ccols) and len(first.dims) > 1
                if grid_dims:  # a tensor grid over the coordinate variables
                    order = list(ccols)
                    vals = {f: np.asarray(var(c, f"{key}.columns.fields.{f}").transpose(*order).values, float).ravel()
                            for f, c in fcols.items()}
                    mesh = np.meshgrid(*[np.asarray(ds[c].values, float) for c in order], indexing="ij")
                    pts = np.stack([m.ravel() for m in mesh], axis=1)
                else:
                    vals = {f: np.asarray(var(c, f"{key}.columns.fields.{f}").values, float).ravel()
                            for f, c in fcols.items()}
                    if "grid" not in spec:
                        pts = np.stack([np.asarray(var(c, f"{key}.columns.coords").values, float).ravel()
                                        for c in ccols], axis=1)
        except (OSError, ValueError) as exc:
            raise DataError(path, f"cannot read as netCDF ({type(exc).__name__}: {exc})") from None
    n = len(pts)
    for f, v in vals.items():
        if len(v) != n:
            raise DataError(path, f"field '{f}' has {len(v)} values for {n} points ({key}.columns)")
        if not np.all(np.isfinite(v)):
            raise DataError(path, f"field '{f}' has non-finite values (NaN/inf)", record=f"point {int(np.flatnonzero(~np.isfinite(v))[0])}")
    if not np.all(np.isfinite(pts)):
        raise DataError(path, "non-finite coordinates")
    first = vals[fields[0]]
    if "grid" in spec:
        shape = tuple(len(coords[i]) for i in inputs)
        ref = Reference(inputs, coords, first.reshape(shape).copy(), str(path), inputs=inputs,
                        field_values={f: v.reshape(shape).copy() for f, v in vals.items()} if len(fields) > 1 else None)
    else:
        ref = Reference(("node",), {"node": np.arange(n)}, first.copy(), str(path), inputs=inputs, nodes=pts.copy(),
                        field_values={f: v.copy() for f, v in vals.items()} if len(fields) > 1 else None)
    return ref, lines
