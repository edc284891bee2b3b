"""A user's own reference file for a declared problem (``pde.declared.<name>.reference``).

Formats (``format``, else from the file suffix):

- ``dat``: COMSOL / PINNacle text export: ``%`` header lines, then whitespace-separated columns;
- ``csv``: comma-separated, one header row of column names, read with the :mod:`csv` module
  (quoted names as R's ``write.csv`` writes them, a UTF-8 byte-order mark as Excel's "CSV UTF-8"
  writes it, and a header line starting ``# `` as ``np.savetxt(header=...)`` writes it); a file
  whose header is ``;``- or tab-separated is refused, saying so (not guessed: with ``;`` the
  decimal separator is often a comma);
- ``npz``: numpy arrays; a column is ``"key"`` (a 1D array) or ``"key:j"`` (column j of a 2D array);
- ``nc``: netCDF; columns are variable names. A field over several dimensions whose coordinate
  variables are 1-D, one over each of its dimensions (matched by dimension, whatever the names:
  ``u(nt, nx)`` with ``xc(nx)``, ``tc(nt)``), is read as a tensor grid; otherwise every variable
  has the field's dimensions (one value per point).

``columns.coords`` lists the columns of the coordinates in network input order (x, y, .., t)
and ``columns.fields`` maps each field to its column: a 0-based index or a name (the csv
header, the npz key, the netCDF variable). Where the file holds no coordinates (DeepXDE's
``stokes.npz``), ``grid: {x: [lo, hi, n], ...}`` gives them: a tensor grid in C order over the
problem's inputs (x, y, .., t), whatever the order of the keys. PINNacle's time-dependent exports (``heat_longtime.dat``: x, y, then one column of
u per time step, the header naming ``u @ t=0.2`` ...) are read with ``layout: time_columns``:
``coords`` are the spatial columns, each field's column is its first time column, and the times
come from the header's ``@ t=`` labels (or ``times: [...]``): one label per column besides the
coordinates, each field's labels naming one quantity at strictly increasing times, the same for
every field (an interleaved export, ``u @ t=0  v @ t=0  u @ t=0.05 ..``, is refused).
``sha256`` is checked when given (the package manifest's checksums are for shipped datasets only).

Errors are :class:`~sciml.errors.DataError` naming the file and the line (wrong column count,
non-numeric or non-finite value) or :class:`~sciml.errors.ConfigError` naming the config key.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import numpy as np

from sciml.errors import ConfigError, DataError
from sciml.pde.references import Reference

FORMATS = {".dat": "dat", ".txt": "dat", ".csv": "csv", ".npz": "npz", ".nc": "nc"}
#: a time column's label in a PINNacle / COMSOL header: ``u @ t=0.2``, ``u (K) @ t=0.2`` -> (name, time)
_TIME_LABEL = re.compile(r"(\w+)?(?:\s*\([^)]*\))?\s*@\s*t\s*=\s*([-+0-9.eE]+)")
#: the first bytes of a zip archive (an .npz is one; an empty archive starts with the second)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


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


def _records(fh: Any, fmt: str, comments: list[tuple[int, str]]) -> Any:
    """(line number, fields) of each non-blank record of an open text file: csv rows by the
    :mod:`csv` module (quotes removed, names and values stripped), dat lines split on whitespace,
    their ``%`` lines appended to ``comments`` as (line number, text)."""
    if fmt == "csv":
        reader = csv.reader(fh, skipinitialspace=True)
        for row in reader:
            parts = [p.strip() for p in row]
            if any(parts):
                yield reader.line_num, parts
        return
    for lineno, line in enumerate(fh, start=1):
        text = line.strip()
        if not text:
            continue
        if text.startswith("%"):
            comments.append((lineno, text))
            continue
        yield lineno, text.split()


def _csv_header(names: list[str], path: Path, lineno: int) -> list[str]:
    """The csv header ``names`` (a leading ``#``, as ``np.savetxt(header=...)`` writes it, removed);
    DataError naming the file when it is ``;``- or tab-separated (one name holding the separator)
    or names a column twice (a column chosen by that name would be ambiguous)."""
    names = list(names)
    if names and names[0].startswith("#"):
        names[0] = names[0][1:].strip()
    for sep, what in ((";", "';'"), ("\t", "tab")):
        if len(names) == 1 and sep in names[0]:
            raise DataError(path, f"the file looks {what}-separated (header {names[0]!r}); a csv reference needs "
                            "comma-separated columns", record=f"line {lineno}",
                            hint="Save it as comma-separated CSV (with decimal points), or give format: dat "
                                 "for a whitespace-separated file")
    seen = set()
    for name in names:
        if name in seen:
            raise DataError(path, f"column name {name!r} appears more than once in the header "
                            f"({', '.join(names)}): rename the columns", record=f"line {lineno}")
        seen.add(name)
    return names


def _open_text(path: Path) -> Any:
    """The text file opened for :func:`_records` (a UTF-8 byte-order mark dropped); DataError when unreadable."""
    try:
        return open(path, encoding="utf-8-sig", errors="replace", newline="")
    except FileNotFoundError:
        raise DataError(path, "reference file not found") from None
    except OSError as exc:
        raise DataError(path, f"cannot read ({exc})") from None


def _read_text(path: Path, fmt: str) -> tuple[list[str] | None, list[tuple[int, str]], np.ndarray, np.ndarray]:
    """(csv header names or None, '%' header lines as (line number, text), data (n, ncol), line numbers (n,))."""
    rows, lines, header, comments = [], [], None, []
    lineno = 0
    try:
        with _open_text(path) as fh:
            for lineno, parts in _records(fh, fmt, comments):
                if fmt == "csv" and header is None:
                    header = _csv_header(parts, path, lineno)
                    continue
                ncol = len(header) if header is not None else (len(rows[0]) if rows else len(parts))
                if len(parts) != ncol:
                    raise DataError(path, f"{len(parts)} columns, expected {ncol}", record=f"line {lineno}")
                text = ("," if fmt == "csv" else " ").join(parts)[:80]
                try:
                    vals = [float(p) for p in parts]
                except ValueError:
                    first = fmt == "dat" and not rows  # column names without the '%' a dat header needs
                    raise DataError(path, f"non-numeric value in '{text}'", record=f"line {lineno}",
                                    hint="a dat file's header lines start with '%' (COMSOL's export); column "
                                         "names on a plain first line fit format: csv" if first else None) from None
                if not all(np.isfinite(vals)):
                    raise DataError(path, f"non-finite value (NaN/inf) in '{text}'", record=f"line {lineno}")
                rows.append(vals)
                lines.append(lineno)
    except csv.Error as exc:
        raise DataError(path, f"cannot read as csv ({exc})", record=f"line {lineno + 1}") from None
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


def _first_record(path: Path, fmt: str) -> tuple[list[str] | None, list[tuple[int, str]], int, int]:
    """(csv header names or None, '%' header lines, number of columns, its line number) from the
    first record of a text file, the rest of the file unread; DataError as :func:`_read_text` for
    an unreadable or empty file."""
    comments: list[tuple[int, str]] = []
    try:
        with _open_text(path) as fh:
            for lineno, parts in _records(fh, fmt, comments):
                return (_csv_header(parts, path, lineno) if fmt == "csv" else None), comments, len(parts), lineno
    except csv.Error as exc:
        raise DataError(path, f"cannot read as csv ({exc})") from None
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
    elif set(map(str, ccols)) == set(spatial) and list(map(str, ccols)) != list(spatial):
        # coords gives the column of each input in the inputs' order: [y, x] (the file's order) would read the
        # column y as x, a transposed reference on a square domain that no other check sees
        raise ConfigError(f"{key}.columns.coords", f"lists the column of each input in the order of the inputs "
                          f"{list(spatial)}: {ccols!r} would read column {ccols[0]!r} as {spatial[0]}; write "
                          f"{list(spatial)} (the columns are found by name, in any order in the file)")
    return path, fmt, fcols, layout, spatial, ccols


def _open_npz(path: Path) -> Any:
    """The open .npz archive (pickles refused); DataError naming the file when it is not an .npz
    archive (no zip signature: a text or .npy file given as ``format: npz``) or is unreadable."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
    except OSError as exc:
        raise DataError(path, f"cannot read ({exc})") from None
    if not magic.startswith(_ZIP_MAGIC):
        text = magic.removeprefix(b"\xef\xbb\xbf")
        what = ("it holds a single .npy array" if magic.startswith(b"\x93NUMPY") else
                "it begins like a text file" if text and all(32 <= b < 127 or b in b"\t\r\n" for b in text)
                else "no zip signature")
        raise DataError(path, f"not an .npz archive ({what}): format npz reads the zip of arrays np.savez writes",
                        hint="Give the format of the file (format: csv, dat, npz or nc), or save the arrays with "
                             "np.savez")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(path, f"cannot read as .npz ({type(exc).__name__}: {exc})") from None


def _dims(v: Any) -> str:
    """A netCDF variable's dimensions as ``(nt, nx)``."""
    return "(" + ", ".join(map(str, v.dims)) + ")"


def _nc_layout(ds: Any, spec: dict[str, Any], fcols: dict[str, Any], ccols: Any, path: Path, key: str
               ) -> tuple[dict[str, Any], list[Any], list[str] | None]:
    """(field variables, coordinate variables, grid dimension order or None) of an open netCDF
    dataset. A field over several dimensions with 1-D coordinate variables is a tensor grid when
    each coordinate variable is over one of its dimensions, all of them covered (matched by
    dimension, not by name); otherwise every variable must have the first field's dimensions (one
    value per point). DataError naming the variable and the dimension that do not match."""
    fvars = {f: _nc_var(ds, c, path, f"{key}.columns.fields.{f}") for f, c in fcols.items()}
    cvars = [] if "grid" in spec else [_nc_var(ds, c, path, f"{key}.columns.coords") for c in ccols]
    f0 = next(iter(fvars))
    first, name0 = fvars[f0], fcols[f0]
    dims = list(first.dims)
    expected = ("the coordinates must be 1-D variables, one over each dimension of the field (a grid), or "
                "variables with the field's dimensions (one value per point)")
    order = None
    if cvars and len(dims) > 1 and all(len(v.dims) == 1 for v in cvars):
        cdims = [v.dims[0] for v in cvars]
        for c, d in zip(ccols, cdims):
            if d not in dims:
                raise DataError(path, f"coordinate variable {c!r} is over dimension {d!r}, which field variable "
                                f"{name0!r} {_dims(first)} does not have: {expected}")
        missing = [d for d in dims if d not in cdims]
        if missing:
            raise DataError(path, f"no coordinate variable of {list(ccols)} is over dimension {missing[0]!r} of field "
                            f"variable {name0!r} {_dims(first)} (theirs: "
                            f"{', '.join(f'{c} ({d})' for c, d in zip(ccols, cdims))}): {expected}")
        order = cdims
    need = set(dims)
    others = [(f"field variable {fcols[f]!r}", v) for f, v in fvars.items()]
    others += [] if order else [(f"coordinate variable {c!r}", v) for c, v in zip(ccols, cvars)]
    for what, v in others:
        if set(v.dims) != need:
            raise DataError(path, f"{what} has dimensions {_dims(v)}, field variable {name0!r} has {_dims(first)}: "
                            + expected)
    return fvars, cvars, order


def _time_columns(spec: dict[str, Any], key: str, path: Path, header: list[str] | None,
                  comments: list[tuple[int, str]], ncol: int, first_line: int, fields: tuple[str, ...],
                  fcols: dict[str, Any], ccols: list[Any]) -> tuple[list[int], np.ndarray, dict[str, int]]:
    """(coordinate columns, times, first time column of each field) of a ``layout: time_columns``
    file with ``ncol`` columns: the columns besides the coordinates split evenly among the fields,
    each field's side by side, one per time. Times from ``times`` (one per time column of each
    field, strictly increasing) or from the header's ``@ t=`` labels (one per column besides the
    coordinates; each field's naming one quantity, no other field, at strictly increasing times, the
    same for every field). ConfigError naming the key for a bad ``times`` / column, DataError
    naming the file and header line for labels that do not fit the columns."""
    coord_cols = [_column(c, header, ncol, path, f"{key}.columns.coords") for c in ccols]
    value_cols = [j for j in range(ncol) if j not in coord_cols]
    per_field, rest = divmod(len(value_cols), len(fields))
    fnames = list(fcols)
    expected = (f"layout: time_columns expects the coordinate column(s), then each field's columns side by side, "
                f"one per time in increasing order ({fnames[0]} @ t0, {fnames[0]} @ t1, .."
                + (f", {fnames[1]} @ t0, .." if len(fnames) > 1 else "") + ")")
    times = spec.get("times")
    labels = None
    if times is not None:
        if rest or len(times) != per_field:
            raise ConfigError(f"{key}.times", f"{len(times)} times given, but {path} has {len(value_cols)} "
                              f"columns after the {len(coord_cols)} coordinate column(s) for {len(fields)} field(s): "
                              "give one time per time column of each field")
        times = np.asarray(times, dtype=float)
        if not np.all(np.diff(times) > 0):
            raise ConfigError(f"{key}.times", f"must be strictly increasing, got {times.tolist()}")
    else:
        found = next(((n, c) for n, c in reversed(comments) if _TIME_LABEL.search(c)), None)
        if found is None:
            raise ConfigError(f"{key}.times", f"{path} has no '@ t=' column labels in its header: give times")
        label_line, text = found
        labels = _TIME_LABEL.findall(text)
        if len(labels) != len(value_cols):
            raise DataError(path, f"the header labels {len(labels)} time columns ('@ t='), but the file has "
                            f"{len(value_cols)} columns besides the {len(coord_cols)} coordinate column(s) "
                            f"(line {first_line}: {ncol} columns)", record=f"line {label_line}",
                            hint=f"Label every time column, or give {key}.times (one per time column of each field)")
        if rest:
            raise DataError(path, f"{len(value_cols)} time columns do not split evenly among the {len(fields)} "
                            f"fields ({', '.join(fields)}): {expected}", record=f"line {label_line}")
        by_column = {}
        for j, (name, t) in zip(value_cols, labels):
            try:
                by_column[j] = (name, float(t))
            except ValueError:
                raise DataError(path, f"'@ t={t}' is not a time", record=f"line {label_line}") from None
        labels = by_column
    first: dict[str, int] = {}
    for f, c in fcols.items():
        k = f"{key}.columns.fields.{f}"
        j = _column(c, header, ncol, path, k)
        cols = list(range(j, j + per_field))
        if j + per_field > ncol:
            raise DataError(path, f"field '{f}' needs {per_field} time columns from column {j}, the file has {ncol}",
                            record=f"line {first_line}")
        clash = next((g for g, i in first.items() if abs(i - j) < per_field), None)
        if clash is not None or set(cols) & set(coord_cols):
            other = f"those of field '{clash}'" if clash is not None else "the coordinate columns"
            raise ConfigError(k, f"field '{f}''s {per_field} time columns from column {j} overlap {other}: {expected}")
        if labels is not None:
            names = sorted({labels[i][0] for i in cols if labels[i][0]})
            ts = np.array([labels[i][1] for i in cols])
            if len(names) > 1 or set(names) & (set(fields) - {f}):
                raise DataError(path, f"the header labels field '{f}''s columns {j}..{j + per_field - 1} as "
                                f"{' and '.join(names)}: {expected}", record=f"line {label_line}")
            if not np.all(np.diff(ts) > 0):
                raise DataError(path, f"the times of field '{f}''s columns {j}..{j + per_field - 1} are not strictly "
                                f"increasing (t = {', '.join(f'{t:g}' for t in ts[:6])}"
                                f"{', ..' if len(ts) > 6 else ''}): {expected}", record=f"line {label_line}")
            if times is None:
                times = ts
            elif not np.array_equal(times, ts):
                raise DataError(path, f"field '{f}' has other times than field '{fnames[0]}' in the header labels: "
                                + expected, record=f"line {label_line}")
        first[f] = j
    return coord_cols, np.asarray(times, dtype=float), first


def _check_time_layout(spec: dict[str, Any], key: str, inputs: tuple[str, ...]) -> None:
    if "t" not in inputs or "grid" in spec:
        raise ConfigError(f"{key}.layout", "time_columns needs a time interval and columns.coords")


def check_user_reference_columns(spec: dict[str, Any], key: str, inputs: tuple[str, ...],
                                 fields: tuple[str, ...]) -> None:
    """Check, without reading the data, that the reference file declared by ``spec`` exists and
    holds the configured columns: the csv header / the column count of the first record (and a
    ``time_columns`` header's labels), the npz keys, the netCDF variables and their dimensions.
    Raises the error :func:`load_user_reference` raises for the same fault (same message); values,
    points and ``sha256`` are checked only when the file is loaded."""
    path, fmt, fcols, layout, _, ccols = _checked_spec(spec, key, inputs, fields)
    wanted = [] if "grid" in spec else [(c, f"{key}.columns.coords") for c in ccols]
    wanted += [(c, f"{key}.columns.fields.{f}") for f, c in fcols.items()]
    if fmt in ("dat", "csv"):
        header, comments, ncol, lineno = _first_record(path, fmt)
        for c, k in wanted:
            _column(c, header, ncol, path, k)
        if layout == "time_columns":
            _check_time_layout(spec, key, inputs)
            _time_columns(spec, key, path, header, comments, ncol, lineno, fields, fcols, ccols)
    elif fmt == "npz":
        grid = _grid_points(spec, inputs, key)[0] if "grid" in spec else None
        with _open_npz(path) as d:
            try:
                for c, k in wanted:  # the arrays' shapes too (the loader's error for an N-d array)
                    _npz_column(d, c, path, k, grid if ".fields." in k else None)
            except (OSError, ValueError, EOFError) as exc:
                raise DataError(path, f"cannot read as .npz ({type(exc).__name__}: {exc})") from None
    else:
        with _open_nc(path) as ds:
            _nc_layout(ds, spec, fcols, ccols, path, key)


def _open_nc(path: Path) -> Any:
    """The open netCDF dataset (xarray); DataError naming the file when it cannot be opened."""
    import xarray as xr

    try:
        return xr.open_dataset(path)
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
            _check_time_layout(spec, key, inputs)
            coord_cols, times, first_cols = _time_columns(spec, key, path, header, comments, ncol, int(lines[0]),
                                                          fields, fcols, ccols)
            nt = len(times)
            xy = data[:, coord_cols]
            # node-major: node 0 at every time, node 1, ...
            vals = {f: data[:, j:j + nt].ravel() for f, j in first_cols.items()}
            pts = np.concatenate([np.repeat(xy, nt, axis=0), np.tile(times, len(xy))[:, None]], axis=1)
            lines = np.repeat(lines, nt)
        else:
            if "grid" not in spec:
                pts = data[:, [_column(c, header, ncol, path, f"{key}.columns.coords") for c in ccols]]
            vals = {f: data[:, _column(c, header, ncol, path, f"{key}.columns.fields.{f}")] for f, c in fcols.items()}
    elif fmt == "npz":
        with _open_npz(path) as d:
            try:
                if "grid" not in spec:
                    pts = np.stack([_npz_column(d, c, path, f"{key}.columns.coords") for c in ccols], axis=1)
                vals = {f: _npz_column(d, c, path, f"{key}.columns.fields.{f}", coords if "grid" in spec else None)
                        for f, c in fcols.items()}
            except (OSError, ValueError, EOFError) as exc:
                raise DataError(path, f"cannot read as .npz ({type(exc).__name__}: {exc})") from None
    else:
        with _open_nc(path) as ds:
            fvars, cvars, order = _nc_layout(ds, spec, fcols, ccols, path, key)
            try:
                if order is not None:  # a tensor grid over the coordinate variables' dimensions
                    vals = {f: np.asarray(v.transpose(*order).values, float).ravel() for f, v in fvars.items()}
                    mesh = np.meshgrid(*[np.asarray(v.values, float) for v in cvars], indexing="ij")
                    pts = np.stack([m.ravel() for m in mesh], axis=1)
                else:  # one value per point: every variable in the first field's dimension order
                    dims = next(iter(fvars.values())).dims
                    vals = {f: np.asarray(v.transpose(*dims).values, float).ravel() for f, v in fvars.items()}
                    if "grid" not in spec:
                        pts = np.stack([np.asarray(v.transpose(*dims).values, float).ravel() for v in cvars], axis=1)
            except (OSError, ValueError, RuntimeError) as exc:
                raise DataError(path, f"cannot read the values ({type(exc).__name__}: {exc})") from None
    n = len(pts)
    for f, v in vals.items():
        if len(v) != n:
            raise DataError(path, f"field '{f}' has {len(v)} values for {n} points ({key}.columns)")
        if not np.all(np.isfinite(v)):
            raise DataError(path, f"field '{f}' has non-finite values (NaN/inf)", record=f"point {int(np.flatnonzero(~np.isfinite(v))[0])}")
    if not np.all(np.isfinite(pts)):
        raise DataError(path, "non-finite coordinates")
    pts, vals, lines, note = _unique_points(pts, vals, lines, path, grid="grid" in spec)
    first = vals[fields[0]]
    if "grid" in spec:
        shape = tuple(len(coords[i]) for i in inputs)
        ref = Reference(inputs, coords, first.reshape(shape).copy(), str(path), inputs=inputs,
                        field_values={f: v.reshape(shape).copy() for f, v in vals.items()} if len(fields) > 1 else None)
    else:
        ref = Reference(("node",), {"node": np.arange(len(pts))}, first.copy(), str(path), inputs=inputs,
                        nodes=pts.copy(), field_values={f: v.copy() for f, v in vals.items()} if len(fields) > 1 else None)
    if note:
        ref.notes.append(note)
    return ref, lines


#: Values of one field at a repeated point that differ by more than this fraction of the field's
#: largest |value| are a conflict (refused), not a repeat (dropped).
DUPLICATE_RTOL = 1e-6


def _unique_points(pts: np.ndarray, vals: dict[str, np.ndarray], lines: np.ndarray | None, path: Path,
                   grid: bool) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray | None, str | None]:
    """The points of a reference with each repeated point kept once, and a note saying how many were
    dropped. Every point weighs 1 in the relative L2, so a point listed 20 times (two exports
    concatenated) would weigh 20. A point listed with different values (beyond DUPLICATE_RTOL of the
    field's scale) is a DataError naming both records; so is any repeat on a declared grid, whose
    shape fixes the number of points."""
    uniq, first, inverse = np.unique(pts, axis=0, return_index=True, return_inverse=True)
    if len(uniq) == len(pts):
        return pts, vals, lines, None
    inverse = np.ravel(inverse)

    def where(i: int) -> str:
        return f"line {int(lines[i])}" if lines is not None else f"point {i}"

    repeats = np.flatnonzero(np.arange(len(pts)) != first[inverse])
    if grid:
        i = int(repeats[0])
        raise DataError(path, f"{len(repeats)} point(s) repeated on the declared grid (first: {pts[i].tolist()}, "
                        f"also at {where(int(first[inverse[i]]))})", record=where(i))
    for f, v in vals.items():
        scale = max(float(np.max(np.abs(v))), 1e-300)
        bad = repeats[np.abs(v[repeats] - v[first[inverse[repeats]]]) > DUPLICATE_RTOL * scale]
        if bad.size:
            i, j = int(bad[0]), int(first[inverse[bad[0]]])
            raise DataError(path, f"point {pts[i].tolist()} is listed twice with different '{f}' values "
                            f"({v[j]:.6g} at {where(j)}, {v[i]:.6g} here; {bad.size} such point(s))", record=where(i),
                            hint="export one value per point (e.g. nodal values averaged over the elements)")
    keep = np.sort(first)
    note = (f"{len(repeats)} repeated point(s) of {path.name} dropped (same coordinates and values; first at "
            f"{where(int(repeats[0]))}): each point counts once in the relative L2")
    return pts[keep], {f: v[keep] for f, v in vals.items()}, (lines[keep] if lines is not None else None), note
