"""A PDE problem declared in the config (``pde.declared.<name>``), no package code.

The declaration names the domain (DeepXDE geometry, optionally times a time interval), the
fields, the equations (one residual string each, in derivative notation: ``u_t - nu*u_xx``),
named parameters, the boundary/initial conditions and the ground truth: an analytic
``solution`` per field and/or a user ``reference`` file (:mod:`sciml.pde.user_references`).
Every string goes through the safe parser :mod:`sciml.pde.expressions` (never ``eval``), and
all of it is checked when the problem is built, before any training: an unknown symbol, a
derivative of a field that does not exist, a condition on a field that does not exist, or a
boundary selector that selects none of the sampled boundary points raises
:class:`~sciml.errors.ConfigError` naming the config key. See ``docs/pde_problems.md``.

There is no classical solver for a declared problem (``has_solver = False``): the ``solve``
step records that, and accuracies are measured against the declared reference only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sciml.errors import ConfigError, DataError
from sciml.pde.expressions import Expression, parse_expression
from sciml.pde.problems.base import Problem
from sciml.pde.references import Reference

#: spatial input names by geometry dimension
SPATIAL = ("x", "y", "z")
#: named boundary parts: name -> (input index, low (0) or high (1) end of the bounding box)
PARTS = {"left": (0, 0), "right": (0, 1), "bottom": (1, 0), "top": (1, 1), "front": (2, 0), "back": (2, 1)}
CONDITION_TYPES = ("dirichlet", "neumann", "robin", "periodic", "initial")
CONDITION_KEYS = {"type", "field", "value", "on", "input", "derivative_order"}
#: boundary points sampled to check that each selector selects something
SELECTOR_SAMPLES = 2000


def geometry_dim(spec: dict[str, Any], key: str) -> int:
    """Spatial dimension of a geometry declaration (ConfigError naming ``key`` when malformed)."""
    kind = spec.get("type")
    if kind == "interval":
        return 1
    if kind in ("rectangle", "disk", "polygon"):
        return 2
    if kind == "box":
        return 3
    if kind in ("union", "difference", "intersection"):
        parts = spec.get("of")
        if not isinstance(parts, list) or len(parts) < 2:
            raise ConfigError(f"{key}.of", f"a {kind} needs a list of at least two geometries")
        dims = {geometry_dim(p, f"{key}.of[{i}]") for i, p in enumerate(parts)}
        if len(dims) != 1:
            raise ConfigError(f"{key}.of", f"the geometries of a {kind} must have one dimension, got {sorted(dims)}")
        return dims.pop()
    raise ConfigError(f"{key}.type", f"unknown geometry type {kind!r} (valid: interval, rectangle, box, disk, "
                                     "polygon, union, difference, intersection)")


def _numbers(spec: dict[str, Any], name: str, n: int, key: str) -> list[float]:
    v = spec.get(name)
    vals = v if isinstance(v, list) else [v]
    if len(vals) != n or not all(isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a)
                                 for a in vals):
        raise ConfigError(f"{key}.{name}", f"needs {n} finite number{'s' if n > 1 else ''}, got {v!r}")
    return [float(a) for a in vals]


def build_geometry(dde: Any, spec: dict[str, Any], key: str) -> Any:
    """The DeepXDE geometry of a declaration (spatial part only)."""
    kind = spec["type"]
    g = dde.geometry
    if kind == "interval":
        lo, hi = _numbers(spec, "low", 1, key)[0], _numbers(spec, "high", 1, key)[0]
        if not lo < hi:
            raise ConfigError(f"{key}.high", f"must be > low ({lo}), got {hi}")
        return g.Interval(lo, hi)
    if kind in ("rectangle", "box"):
        n = 2 if kind == "rectangle" else 3
        lo, hi = _numbers(spec, "low", n, key), _numbers(spec, "high", n, key)
        if not all(a < b for a, b in zip(lo, hi)):
            raise ConfigError(f"{key}.high", f"must exceed low {lo} in every coordinate, got {hi}")
        return (g.Rectangle if n == 2 else g.Cuboid)(lo, hi)
    if kind == "disk":
        c, r = _numbers(spec, "center", 2, key), _numbers(spec, "radius", 1, key)[0]
        if r <= 0:
            raise ConfigError(f"{key}.radius", f"must be > 0, got {r}")
        return g.Disk(c, r)
    if kind == "polygon":
        v = spec.get("vertices")
        if not (isinstance(v, list) and len(v) >= 3):
            raise ConfigError(f"{key}.vertices", "a polygon needs a list of at least 3 [x, y] vertices")
        pts = [_numbers({"v": p}, "v", 2, f"{key}.vertices[{i}]") for i, p in enumerate(v)]
        try:
            return g.Triangle(*pts) if len(pts) == 3 else g.Polygon(pts)
        except (ValueError, ZeroDivisionError) as exc:  # DeepXDE refuses degenerate polygons
            raise ConfigError(f"{key}.vertices", f"not a valid polygon ({exc})") from None
    parts = [build_geometry(dde, p, f"{key}.of[{i}]") for i, p in enumerate(spec["of"])]
    op = {"union": g.CSGUnion, "difference": g.CSGDifference, "intersection": g.CSGIntersection}[kind]
    out = parts[0]
    for p in parts[1:]:
        out = op(out, p)
    return out


class DeclaredProblem(Problem):
    """A problem built from ``pde.declared.<name>`` (see the module docstring)."""

    supports_hard_constraints = False
    has_solver = False

    def __init__(self, name: str, spec: dict[str, Any], data_root: str | Path | None = None):
        self.name = name
        self.key = f"pde.declared.{name}"
        self.spec = spec
        self.title = spec.get("title") or f"declared problem {name}"
        self.defaults = dict(spec.get("params", {}))
        self.dim = geometry_dim(spec.get("geometry") or {}, f"{self.key}.geometry")
        time = spec.get("time")
        self.time = None if time is None else tuple(_numbers({"time": time}, "time", 2, self.key))
        if self.time is not None and not self.time[0] < self.time[1]:
            raise ConfigError(f"{self.key}.time", f"needs [t0, t1] with t0 < t1, got {time}")
        self.inputs = SPATIAL[:self.dim] + (("t",) if self.time else ())
        fields = spec.get("fields") or []
        if not fields or len(set(fields)) != len(fields) or not all(isinstance(f, str) and f.isidentifier() for f in fields):
            raise ConfigError(f"{self.key}.fields", f"needs distinct field names (e.g. [u] or [u, v, p]), got {fields!r}")
        self.fields = tuple(fields)
        self.equation = "; ".join(f"{e} = 0" for e in spec.get("equations", []))
        self.target_rel_l2 = spec.get("target_rel_l2")
        self.data_root = data_root
        super().__init__({})

    # -- checks and parsed expressions --------------------------------------------------------------
    def _expr(self, text: Any, key: str, **kw: Any) -> Expression:
        return parse_expression(text, inputs=self.inputs, fields=self.fields, params=self.params, key=key, **kw)

    def validate(self) -> None:
        """Parse every expression (ConfigError naming its key) and check the condition declarations."""
        eqs = self.spec.get("equations") or []
        if not eqs:
            raise ConfigError(f"{self.key}.equations", "needs at least one residual expression")
        self.equations = [self._expr(t, f"{self.key}.equations[{i}]") for i, t in enumerate(eqs)]
        for e in self.equations:
            if not e.fields_used:
                raise ConfigError(e.key, f"'{e.text}' does not involve any field ({', '.join(self.fields)})")
        self._conditions = [self._condition(c, f"{self.key}.conditions[{i}]")
                            for i, c in enumerate(self.spec.get("conditions") or [])]
        if not self._conditions:
            raise ConfigError(f"{self.key}.conditions", "needs at least one boundary or initial condition")
        sol = self.spec.get("solution") or {}
        for f in sol:
            if f not in self.fields:
                raise ConfigError(f"{self.key}.solution.{f}", f"no field '{f}' (fields: {', '.join(self.fields)})")
        self.solution = {f: self._expr(t, f"{self.key}.solution.{f}", allow_derivatives=False)
                         for f, t in sol.items()}
        for f, e in self.solution.items():
            if e.fields_used:
                raise ConfigError(e.key, f"an analytic solution may use inputs and parameters only, not fields")
        if self.spec.get("reference") is None and set(self.solution) != set(self.fields):
            missing = sorted(set(self.fields) - set(self.solution))
            raise ConfigError(f"{self.key}.reference", "a declared problem needs a reference file or an analytic "
                              f"solution for every field (missing: {', '.join(missing)})")
        groups = self.spec.get("groups") or {}
        for g, members in groups.items():
            bad = [m for m in members if m not in self.fields]
            if bad or not members:
                raise ConfigError(f"{self.key}.groups.{g}", f"needs field names of {list(self.fields)}, got {members!r}")
        self.groups = {g: tuple(m) for g, m in groups.items()}

    def _condition(self, c: dict[str, Any], key: str) -> dict[str, Any]:
        # YAML 1.1 (PyYAML, Snakemake) reads the key `on` as True, JSON then writes it "true"
        c = {("on" if k is True or k == "true" else k): v for k, v in c.items()}
        unknown = sorted(str(k) for k in set(c) - CONDITION_KEYS)
        if unknown:
            raise ConfigError(f"{key}.{unknown[0]}", f"unknown key (known keys here: {', '.join(sorted(CONDITION_KEYS))})")
        kind = c.get("type")
        if kind not in CONDITION_TYPES:
            raise ConfigError(f"{key}.type", f"unknown condition {kind!r} (valid: {', '.join(CONDITION_TYPES)})")
        field_ = c.get("field", self.fields[0] if len(self.fields) == 1 else None)
        if field_ not in self.fields:
            raise ConfigError(f"{key}.field", f"no field {field_!r} (fields: {', '.join(self.fields)})")
        out = {"type": kind, "key": key, "component": self.fields.index(field_)}
        if kind == "initial" and self.time is None:
            raise ConfigError(f"{key}.type", "an initial condition needs a time interval (pde.declared.<name>.time)")
        if kind in ("dirichlet", "neumann", "robin", "initial"):
            if "value" not in c:
                raise ConfigError(f"{key}.value", f"a {kind} condition needs a value expression")
            out["value"] = self._expr(c["value"], f"{key}.value", allow_derivatives=False)
            if out["value"].fields_used and kind != "robin":
                raise ConfigError(f"{key}.value", f"a {kind} value may not use fields (a robin value may: du/dn = g(x, u))")
        if kind == "periodic":
            inp = c.get("input", "x")
            if inp not in self.inputs[:self.dim]:
                raise ConfigError(f"{key}.input", f"no spatial input {inp!r} (inputs: {', '.join(self.inputs[:self.dim])})")
            out["input"] = self.inputs.index(inp)
            out["derivative_order"] = int(c.get("derivative_order", 0))
            on = c.get("on", {0: "left", 1: "bottom", 2: "front"}[out["input"]])
        else:
            on = c.get("on", "boundary")
        if kind == "initial":
            out["on"] = None
        elif on == "boundary":
            out["on"] = ("all", None)
        elif on in PARTS:
            axis = PARTS[on][0]
            if axis >= self.dim:
                raise ConfigError(f"{key}.on", f"boundary part '{on}' needs a {axis + 1}D domain, this one is {self.dim}D")
            out["on"] = ("part", PARTS[on])
        else:
            sel = parse_expression(on, inputs=self.inputs, params=self.params, key=f"{key}.on",
                                   allow_derivatives=False, allow_comparisons=True)
            if not sel.is_boolean:
                raise ConfigError(f"{key}.on", f"'{on}' is not a boundary part ({', '.join(['boundary', *PARTS])}) "
                                               "nor a comparison selecting boundary points")
            out["on"] = ("expr", sel)
        return out

    # -- geometry and physics ------------------------------------------------------------------------
    def _spatial(self, dde: Any) -> Any:
        return build_geometry(dde, self.spec["geometry"], f"{self.key}.geometry")

    def geometry(self, dde: Any) -> Any:
        geom = self._spatial(dde)
        if self.time is None:
            return geom
        return dde.geometry.GeometryXTime(geom, dde.geometry.TimeDomain(*self.time))

    def bounds(self) -> list[tuple[float, float]]:
        from sciml.pde.pinn import import_deepxde

        lo, hi = self._spatial(import_deepxde()).bbox
        b = [(float(a), float(z)) for a, z in zip(np.atleast_1d(lo), np.atleast_1d(hi))]
        return b + ([self.time] if self.time else [])

    def inside(self, X: np.ndarray) -> np.ndarray:
        from sciml.pde.pinn import import_deepxde

        X = np.asarray(X, dtype=float)[:, :self.dim]
        geom = self._spatial(import_deepxde())
        # boundary points count as inside (a CSG difference's inside() excludes the hole's rim)
        return np.asarray(geom.inside(X), dtype=bool) | np.asarray(geom.on_boundary(X), dtype=bool)

    def pde(self, dde: Any) -> Callable[[Any, Any], Any]:
        eqs = self.equations
        if len(eqs) == 1:
            return lambda x, y: eqs[0].evaluate_torch(x, y, dde)
        return lambda x, y: [e.evaluate_torch(x, y, dde) for e in eqs]

    def _selector(self, cond: dict[str, Any], bbox: tuple[np.ndarray, np.ndarray]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """Vectorised mask (X (n, d), on_boundary (n,)) -> (n,) of the points a condition holds on."""
        how, what = cond["on"]
        if how == "all":
            return lambda X, on: np.asarray(on, dtype=bool)
        if how == "part":
            axis, end = what
            v = float(np.atleast_1d(bbox[end])[axis])
            return lambda X, on: np.asarray(on, dtype=bool) & np.isclose(X[:, axis], v, rtol=0, atol=1e-6 * max(1, abs(v)))
        return lambda X, on: np.asarray(on, dtype=bool) & what.evaluate_numpy(X)

    def _boundary_sample(self, geom: Any) -> np.ndarray:
        pts = np.asarray(geom.random_boundary_points(SELECTOR_SAMPLES, random="Hammersley"), dtype=float)
        # + the corners of the bounding box where they lie on the boundary (parts of a box are its faces)
        return pts

    def conditions(self, dde: Any, geom: Any, hard: bool) -> list[Any]:
        """DeepXDE conditions; a selector that selects no sampled boundary point raises ConfigError."""
        import torch

        spatial = geom.geometry if self.time else geom
        bbox = spatial.bbox
        sample = self._boundary_sample(geom)
        on_sample = np.asarray(geom.on_boundary(sample), dtype=bool)
        out = []
        for c in self._conditions:
            comp = c["component"]
            if c["type"] == "initial":
                v = c["value"]
                out.append(dde.icbc.IC(geom, (lambda v: lambda X: v.evaluate_numpy(X))(v),
                                       lambda _, on_initial: on_initial, component=comp))
                continue
            mask = self._selector(c, bbox)
            if not mask(sample, on_sample).any():
                raise ConfigError(f"{c['key']}.on", f"selects none of {len(sample)} sampled boundary points "
                                  f"(bounding box {np.atleast_1d(bbox[0]).tolist()} to {np.atleast_1d(bbox[1]).tolist()})")
            # DeepXDE calls the selector point by point: x (d,), on (bool)
            on = (lambda m: lambda x, on_b: bool(m(np.asarray(x, dtype=float)[None, :], np.array([on_b]))[0]))(mask)
            if c["type"] == "periodic":
                out.append(dde.icbc.PeriodicBC(geom, c["input"], on, derivative_order=c["derivative_order"],
                                               component=comp))
                continue
            v = c["value"]
            if c["type"] == "robin":
                func = (lambda v: lambda X, y: v.evaluate_torch(torch.as_tensor(X, dtype=y.dtype), y))(v)
                out.append(dde.icbc.RobinBC(geom, func, on, component=comp))
            else:
                cls = dde.icbc.DirichletBC if c["type"] == "dirichlet" else dde.icbc.NeumannBC
                out.append(cls(geom, (lambda v: lambda X: v.evaluate_numpy(X))(v), on, component=comp))
        return out

    # -- reference ------------------------------------------------------------------------------------
    def reference_inputs(self, data_root: str | Path | None = None) -> list[Path]:
        from sciml.pde.user_references import reference_path

        ref = self.spec.get("reference")
        return [] if ref is None else [reference_path(ref, f"{self.key}.reference")]

    def reference(self, data_root: str | Path | None = None) -> Reference:
        """The user reference file when declared, else the analytic solution on a grid."""
        if self.spec.get("reference") is not None:
            from sciml.pde.user_references import load_user_reference

            ref, lines = load_user_reference(self.spec["reference"], f"{self.key}.reference", self.inputs, self.fields)
            pts = ref.points()
            inside = self.inside(pts)
            if self.time:
                inside &= (pts[:, -1] >= self.time[0] - 1e-9) & (pts[:, -1] <= self.time[1] + 1e-9)
            if not inside.all():
                bad = int(np.flatnonzero(~inside)[0])
                raise DataError(ref.source, f"{int((~inside).sum())} reference points lie outside the domain of "
                                f"{self.key} (first: {pts[bad].tolist()})",
                                record=f"line {lines[bad]}" if lines is not None else f"point {bad}")
            return ref
        return self.analytic_reference()

    def analytic_reference(self) -> Reference | None:
        if set(self.solution) != set(self.fields):
            return None
        n = int(self.spec.get("grid_points", 101 if self.dim + bool(self.time) <= 2 else 31))
        b = self.bounds()
        coords = {name: np.linspace(lo, hi, n) for name, (lo, hi) in zip(self.inputs, b)}
        grid = Reference(self.inputs, coords, np.zeros((n,) * len(self.inputs)), "analytic", inputs=self.inputs)
        X = grid.points()
        inside = self.inside(X)
        vals = {}
        for f in self.fields:
            v = self.solution[f].evaluate_numpy(X).ravel().astype(float)
            v[~inside] = np.nan
            vals[f] = v.reshape(grid.shape)
        return Reference(self.inputs, coords, vals[self.fields[0]], "analytic", inputs=self.inputs,
                         field_values=vals if len(self.fields) > 1 else None)

    def target(self) -> float | None:
        """The declared ``target_rel_l2`` (relative L2 over all fields), or None."""
        return self.target_rel_l2

    def describe(self) -> str:
        ps = ", ".join(f"{k}={v:g}" for k, v in sorted(self.params.items()))
        return f"{self.title}: {self.equation}" + (f" ({ps})" if ps else "")
