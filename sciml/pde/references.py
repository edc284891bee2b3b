"""Reference solutions on a grid: loading, shape checks and masking.

A :class:`Reference` holds a field on a tensor-product grid with named dimensions, or on
scattered nodes (COMSOL exports of PINNacle: one dimension ``node`` and the node coordinates
in ``nodes``). Points where the field is undefined (outside an L-shaped domain, stored as NaN
in the DeepXDE reference) are *masked*, not treated as bad data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sciml.errors import DataError


@dataclass
class Reference:
    """A scalar field ``values`` on the grid ``coords`` (ordered as ``dims``).

    ``dims`` e.g. ``("x", "t")``; ``values.shape == tuple(len(coords[d]) for d in dims)``.
    ``mask`` is True where the field is defined (inside the domain). ``inputs`` names
    the network input order (DeepXDE puts time last: ``("x", "t")``).
    """

    dims: tuple[str, ...]
    coords: dict[str, np.ndarray]
    values: np.ndarray
    source: str
    inputs: tuple[str, ...] = ("x", "t")
    units: dict[str, str] = field(default_factory=dict)
    #: scattered references only: node coordinates (n, len(inputs)) in network input order
    nodes: np.ndarray | None = None
    #: several fields (declared problems, e.g. u, v, p): field name -> values of shape ``shape``,
    #: the first of them also ``values``; None for a single field
    field_values: dict[str, np.ndarray] | None = None
    #: what loading changed, for the report (e.g. repeated points dropped)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        shape = tuple(len(self.coords[d]) for d in self.dims)
        if self.values.shape != shape:
            raise DataError(self.source, f"reference field has shape {self.values.shape}, grid needs {shape}")
        if self.nodes is not None and self.nodes.shape != (len(self.values.ravel()), len(self.inputs)):
            raise DataError(self.source, f"reference nodes have shape {self.nodes.shape}, "
                                         f"need ({self.values.size}, {len(self.inputs)})")
        for name, v in (self.field_values or {}).items():
            if np.shape(v) != shape:
                raise DataError(self.source, f"reference field '{name}' has shape {np.shape(v)}, grid needs {shape}")

    def field(self, name: str) -> np.ndarray:
        """Values of field ``name`` (the only field's ``values`` for a single-field reference)."""
        if self.field_values is None:
            return self.values
        return self.field_values[name]

    @property
    def mask(self) -> np.ndarray:
        """Boolean array, True inside the domain (finite reference value)."""
        return np.isfinite(self.values)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.values.shape

    def points(self) -> np.ndarray:
        """All grid points as an (n, len(inputs)) array in network input order (C order over ``dims``);
        the nodes themselves for a scattered reference."""
        if self.nodes is not None:
            return self.nodes
        mesh = np.meshgrid(*[self.coords[d] for d in self.dims], indexing="ij")
        by_name = dict(zip(self.dims, mesh))
        return np.stack([by_name[name].ravel() for name in self.inputs], axis=1)


def expect_shape(path: str | Path, name: str, array: np.ndarray, shape: tuple[int | None, ...], problem: str) -> np.ndarray:
    """Check ``array.shape`` against ``shape`` (None = any length); DataError naming the problem."""
    ok = array.ndim == len(shape) and all(s is None or s == a for s, a in zip(shape, array.shape))
    if not ok:
        want = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ")"
        raise DataError(path, f"problem '{problem}': array '{name}' has shape {array.shape}, expected {want}",
                        record=name, hint="Is this the right reference file for this problem?")
    return array


def _load_npz(path: Path, keys: tuple[str, ...], problem: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise DataError(path, f"problem '{problem}': missing arrays {missing} (has {data.files})")
            return {k: np.asarray(data[k], dtype=float) for k in keys}
    except (OSError, ValueError, EOFError, TypeError) as exc:  # EOFError: empty file
        raise DataError(path, f"problem '{problem}': cannot read as .npz ({type(exc).__name__}: {exc})") from None


def expect_finite(path: str | Path, name: str, array: np.ndarray, problem: str) -> np.ndarray:
    """DataError naming the array when it holds NaN/inf (use only where NaN is not a mask)."""
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise DataError(path, f"problem '{problem}': array '{name}' has {bad} non-finite values (NaN/inf)",
                        record=name)
    return array


def load_burgers(path: str | Path, problem: str = "burgers") -> Reference:
    """DeepXDE ``Burgers.npz``: ``x`` (nx,1), ``t`` (nt,1), ``usol`` (nx, nt)."""
    path = Path(path)
    d = _load_npz(path, ("x", "t", "usol"), problem)
    x = expect_shape(path, "x", d["x"], (None, 1), problem).ravel()
    t = expect_shape(path, "t", d["t"], (None, 1), problem).ravel()
    u = expect_shape(path, "usol", d["usol"], (len(x), len(t)), problem)
    for name, arr in (("x", x), ("t", t), ("usol", u)):
        expect_finite(path, name, arr, problem)
    return Reference(("x", "t"), {"x": x, "t": t}, u, str(path), inputs=("x", "t"))


def load_allen_cahn(path: str | Path, problem: str = "allen_cahn") -> Reference:
    """DeepXDE ``Allen_Cahn.mat``: ``x`` (1,nx), ``t`` (1,nt), ``u`` (nt, nx); returned as dims (x, t)."""
    import scipy.io

    path = Path(path)
    try:
        m = scipy.io.loadmat(path)
    except FileNotFoundError:
        raise DataError(path, f"problem '{problem}': reference file not found") from None
    except Exception as exc:  # noqa: BLE001 -- scipy raises MatReadError, IndexError, EOFError, ... on non-.mat bytes
        raise DataError(path, f"problem '{problem}': cannot read as .mat ({type(exc).__name__}: {exc})") from None
    for key in ("x", "t", "u"):
        if key not in m:
            raise DataError(path, f"problem '{problem}': missing variable '{key}'")
    try:
        x = expect_shape(path, "x", np.asarray(m["x"], float), (1, None), problem).ravel()
        t = expect_shape(path, "t", np.asarray(m["t"], float), (1, None), problem).ravel()
        u = expect_shape(path, "u", np.asarray(m["u"], float), (len(t), len(x)), problem)
    except (TypeError, ValueError) as exc:
        raise DataError(path, f"problem '{problem}': variables x, t, u must be numeric arrays ({exc})") from None
    for name, arr in (("x", x), ("t", t), ("u", u)):
        expect_finite(path, name, arr, problem)
    return Reference(("x", "t"), {"x": x, "t": t}, u.T.copy(), str(path), inputs=("x", "t"))


def load_poisson_lshape(path: str | Path, problem: str = "poisson_lshape") -> Reference:
    """DeepXDE ``Poisson_Lshape.npz``: ``X_test`` (n*n, 2) tensor grid (x outer), ``y_ref`` (n*n, 1), NaN outside."""
    path = Path(path)
    d = _load_npz(path, ("X_test", "y_ref"), problem)
    X = expect_finite(path, "X_test", expect_shape(path, "X_test", d["X_test"], (None, 2), problem), problem)
    y = expect_shape(path, "y_ref", d["y_ref"], (len(X), 1), problem).ravel()  # NaN = outside the domain (a mask)
    if np.isinf(y).any():
        raise DataError(path, f"problem '{problem}': array 'y_ref' has inf values", record="y_ref")
    n = int(round(np.sqrt(len(X))))
    if n * n != len(X):
        raise DataError(path, f"problem '{problem}': X_test has {len(X)} points, not a square grid")
    grid = X.reshape(n, n, 2)
    xs, ys = grid[:, 0, 0], grid[0, :, 1]
    if not (np.allclose(grid[..., 0], xs[:, None]) and np.allclose(grid[..., 1], ys[None, :])):
        raise DataError(path, f"problem '{problem}': X_test is not a tensor-product grid with x outer")
    return Reference(("x", "y"), {"x": xs, "y": ys}, y.reshape(n, n), str(path), inputs=("x", "y"))


def load_comsol_dat(path: str | Path, problem: str, columns: tuple[str, ...] = ("x", "y", "u")) -> Reference:
    """COMSOL text export as shipped by PINNacle (e.g. ``poisson_classic.dat``): ``%`` comment
    lines, then one node per line with whitespace-separated ``columns`` (coordinates, then the
    field). Returns a scattered :class:`Reference` (dim ``node``; ``nodes`` = coordinates).

    A line with the wrong number of columns, a non-numeric or non-finite value, or a file
    without data lines raises DataError naming the file and the line number.
    """
    path = Path(path)
    ncol = len(columns)
    rows: list[list[float]] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, start=1):
                text = line.strip()
                if not text or text.startswith("%"):
                    continue
                parts = text.split()
                if len(parts) != ncol:
                    raise DataError(path, f"problem '{problem}': {len(parts)} columns, expected {ncol} "
                                          f"({', '.join(columns)})", record=f"line {lineno}")
                try:
                    vals = [float(p) for p in parts]
                except ValueError:
                    raise DataError(path, f"problem '{problem}': non-numeric value in '{text[:80]}'",
                                    record=f"line {lineno}") from None
                if not all(np.isfinite(vals)):
                    raise DataError(path, f"problem '{problem}': non-finite value (NaN/inf) in '{text[:80]}'",
                                    record=f"line {lineno}")
                rows.append(vals)
    except FileNotFoundError:
        raise DataError(path, f"problem '{problem}': reference file not found") from None
    except OSError as exc:
        raise DataError(path, f"problem '{problem}': cannot read ({exc})") from None
    if not rows:
        raise DataError(path, f"problem '{problem}': no data lines (only comments or empty)",
                        hint="Is this the right COMSOL .dat export?")
    data = np.asarray(rows, dtype=float)
    nodes, values = data[:, :-1].copy(), data[:, -1].copy()
    return Reference(("node",), {"node": np.arange(len(values))}, values, str(path),
                     inputs=tuple(columns[:-1]), nodes=nodes)
