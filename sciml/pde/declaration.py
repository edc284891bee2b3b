"""The physics of a PDE problem as a declaration: domain, fields, equations, conditions.

One form serves both routes. A scientist writes it in the config (``pde.declared.<name>``,
:mod:`sciml.pde.problems.declared`); the built-in problems write the same form in their
``declaration()`` (heat, Burgers, Allen-Cahn, the Poisson problems), so every geometry, residual
and soft condition the pipeline trains on is built here, by one path.

A declaration is a dict::

    geometry: {type: interval|rectangle|box|disk|polygon|union|difference|intersection, ...}
    time: [t0, t1]                       # optional: t becomes the last input
    fields: [u] | [u, v, p]              # one network output each
    params: {nu: 0.01}                   # names usable in every expression
    equations: ["u_t + u*u_x - nu*u_xx"] # one residual (= 0) each
    conditions: [{type: dirichlet|neumann|robin|periodic|initial, field, value, on, ...}]

Every string goes through the safe parser :mod:`sciml.pde.expressions` (never ``eval``) when
the :class:`Declaration` is made, so an unknown symbol, a derivative of a missing field or a
condition on a missing field is a :class:`~sciml.errors.ConfigError` naming its key before any
training; a boundary selector that selects no sampled boundary point is refused when the
conditions are built (also before training).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from sciml.config import number_from_text
from sciml.errors import ConfigError
from sciml.pde.expressions import CONSTANTS, Expression, parse_expression

#: spatial input names by geometry dimension
SPATIAL = ("x", "y", "z")
#: named boundary parts: name -> (input index, low (0) or high (1) end of the bounding box)
PARTS = {"left": (0, 0), "right": (0, 1), "bottom": (1, 0), "top": (1, 1), "front": (2, 0), "back": (2, 1)}
CONDITION_TYPES = ("dirichlet", "neumann", "robin", "periodic", "initial")
CONDITION_KEYS = {"type", "field", "value", "on", "input", "derivative_order"}
#: the keys each condition type uses (any other known key is refused on it, not ignored)
CONDITION_TYPE_KEYS = {"dirichlet": {"type", "field", "value", "on"}, "neumann": {"type", "field", "value", "on"},
                       "robin": {"type", "field", "value", "on"}, "initial": {"type", "field", "value"},
                       "periodic": {"type", "field", "on", "input", "derivative_order"}}
CSG_TYPES = ("union", "difference", "intersection")
#: boundary points sampled to check that each selector selects something
SELECTOR_SAMPLES = 2000
#: share of sampled boundary points without a condition above which :meth:`Declaration.boundary_gaps` warns
GAP_SHARE_MIN = 0.005
#: points of each Dirichlet / initial condition a hard constraint's lift and distance are checked on,
#: and the tolerance (relative to the largest |value|, at least 1)
HARD_CHECK_POINTS = 500
HARD_CHECK_RTOL = 1e-5


#: the keys each geometry type uses (any other key is refused, naming it: a typo such as ``lo`` is not ignored)
GEOMETRY_TYPE_KEYS = {"interval": {"type", "low", "high"}, "rectangle": {"type", "low", "high"},
                      "box": {"type", "low", "high"}, "disk": {"type", "center", "radius"},
                      "polygon": {"type", "vertices"}, **{kind: {"type", "of"} for kind in CSG_TYPES}}


def geometry_dim(spec: dict[str, Any], key: str) -> int:
    """Spatial dimension of a geometry declaration (ConfigError naming ``key`` when malformed,
    or naming a key its type does not use)."""
    kind = spec.get("type")
    unknown = sorted(set(spec) - GEOMETRY_TYPE_KEYS.get(kind, set(spec)))
    if unknown:
        valid = ", ".join(sorted(GEOMETRY_TYPE_KEYS[kind] - {"type"}))
        article = "an" if kind[0] in "aeiou" else "a"
        raise ConfigError(f"{key}.{unknown[0]}", f"not a key of {article} {kind} geometry (its keys: type, {valid})")
    if kind == "interval":
        return 1
    if kind in ("rectangle", "disk", "polygon"):
        return 2
    if kind == "box":
        return 3
    if kind in CSG_TYPES:
        parts = spec.get("of")
        if not isinstance(parts, list) or len(parts) < 2:
            raise ConfigError(f"{key}.of", f"a {kind} needs a list of at least two geometries")
        dims = {geometry_dim(p, f"{key}.of[{i}]") for i, p in enumerate(parts)}
        if len(dims) != 1:
            raise ConfigError(f"{key}.of", f"the geometries of a {kind} must have one dimension, got {sorted(dims)}")
        return dims.pop()
    raise ConfigError(f"{key}.type", f"unknown geometry type {kind!r} (valid: interval, rectangle, box, disk, "
                                     "polygon, union, difference, intersection)")


def numbers(spec: dict[str, Any], name: str, n: int, key: str) -> list[float]:
    """``spec[name]`` as ``n`` finite floats (ConfigError naming ``key.name`` otherwise)."""
    v = spec.get(name)
    vals = [number_from_text(a) for a in (v if isinstance(v, list) else [v])]
    if len(vals) != n or not all(isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a)
                                 for a in vals):
        raise ConfigError(f"{key}.{name}", f"needs {n} finite number{'s' if n > 1 else ''}, got {v!r}")
    return [float(a) for a in vals]


#: DeepXDE tells boundary and initial points with ``np.isclose``: a relative tolerance of 1e-5 of the coordinate,
#: at least 1e-6 (float32). Over this share of a domain's extent next to each side, points inside it would take the
#: boundary's conditions: a domain whose band is wider is refused (non-dimensionalise it).
BOUNDARY_BAND_MAX = 1e-3


def check_scale(low: float, high: float, key: str, what: str) -> None:
    """ConfigError naming ``key`` when DeepXDE's boundary tolerance (relative 1e-5 of the coordinate, at least
    1e-6) is wider than :data:`BOUNDARY_BAND_MAX` of the extent ``high - low``: a domain far from the origin
    for its size ([1e5, 1e5 + 1]: every point took the boundary condition) or a tiny one (1e-6 wide in SI units:
    both of a thin rectangle's sides took every boundary point). ``what`` names the coordinate."""
    extent = high - low
    band = max(1e-6, 1e-5 * max(abs(low), abs(high)))
    if extent > 0 and band > BOUNDARY_BAND_MAX * extent:
        raise ConfigError(key, f"{what} spans [{low:g}, {high:g}]: DeepXDE takes points within {band:.2g} of an end "
                               f"for the boundary ({band / extent:.1%} of the extent next to each side), so points "
                               "inside would take its conditions; "
                          "shift and scale the coordinates (non-dimensionalise, e.g. x' = (x - low) / length) "
                               "in the geometry, time, expressions and reference file")


def _corners(spec: dict[str, Any], X: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """(n,) True where points X (n, d) lie within ``tol`` (d,) of a corner of geometry ``spec``'s rectangles and
    boxes (on two faces or more) or of its polygons' vertices (see :meth:`Declaration._at_corner`)."""
    kind = spec["type"]
    if kind in ("rectangle", "box"):
        n = X.shape[1]
        lo, hi = (np.asarray(numbers(spec, k, n, "geometry"), dtype=float) for k in ("low", "high"))
        return ((np.abs(X - lo) <= tol) | (np.abs(X - hi) <= tol)).sum(axis=1) >= 2
    if kind == "polygon":
        V = np.asarray([numbers({"v": v}, "v", 2, "geometry") for v in spec["vertices"]], dtype=float)
        return (np.abs(X[:, None, :] - V[None, :, :]) <= tol).all(axis=2).any(axis=1)
    if kind in CSG_TYPES:
        return np.logical_or.reduce([_corners(part, X, tol) for part in spec["of"]])
    return np.zeros(len(X), dtype=bool)


def build_geometry(dde: Any, spec: dict[str, Any], key: str) -> Any:
    """The DeepXDE geometry of a declaration (spatial part only)."""
    kind = spec["type"]
    g = dde.geometry
    if kind == "interval":
        lo, hi = numbers(spec, "low", 1, key)[0], numbers(spec, "high", 1, key)[0]
        if not lo < hi:
            raise ConfigError(f"{key}.high", f"must be > low ({lo}), got {hi}")
        return g.Interval(lo, hi)
    if kind in ("rectangle", "box"):
        n = 2 if kind == "rectangle" else 3
        lo, hi = numbers(spec, "low", n, key), numbers(spec, "high", n, key)
        if not all(a < b for a, b in zip(lo, hi)):
            raise ConfigError(f"{key}.high", f"must exceed low {lo} in every coordinate, got {hi}")
        return (g.Rectangle if n == 2 else g.Cuboid)(lo, hi)
    if kind == "disk":
        c, r = numbers(spec, "center", 2, key), numbers(spec, "radius", 1, key)[0]
        if r <= 0:
            raise ConfigError(f"{key}.radius", f"must be > 0, got {r}")
        return g.Disk(c, r)
    if kind == "polygon":
        v = spec.get("vertices")
        if not (isinstance(v, list) and len(v) >= 3):
            raise ConfigError(f"{key}.vertices", "a polygon needs a list of at least 3 [x, y] vertices")
        pts = [numbers({"v": p}, "v", 2, f"{key}.vertices[{i}]") for i, p in enumerate(v)]
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


def _leaves(dde: Any, spec: dict[str, Any], key: str) -> list[Any]:
    """The primitive DeepXDE geometries of a (CSG) declaration."""
    if spec["type"] in CSG_TYPES:
        return [leaf for i, p in enumerate(spec["of"]) for leaf in _leaves(dde, p, f"{key}.of[{i}]")]
    return [build_geometry(dde, spec, key)]


def _perimeter(geom: Any) -> float:
    """Boundary length of a 2D DeepXDE primitive (rectangle, polygon, triangle, disk)."""
    if hasattr(geom, "radius"):
        return 2 * math.pi * float(geom.radius)
    if hasattr(geom, "perimeter"):
        return float(geom.perimeter)
    v = np.asarray(geom.vertices if hasattr(geom, "vertices") else [geom.x1, geom.x2, geom.x3], dtype=float)
    return float(np.linalg.norm(v - np.roll(v, -1, axis=0), axis=1).sum())


class Declaration:
    """A parsed, checked declaration (see the module docstring).

    ``key`` is the config key the declaration lives under (errors name it); ``params`` the
    values of its named parameters.
    """

    def __init__(self, spec: dict[str, Any], key: str, params: dict[str, float] | None = None):
        self.spec, self.key = spec, key
        self.params = dict(spec.get("params", {}) if params is None else params)
        for name in self.params:
            if name in CONSTANTS:  # pi and e, usable in every expression
                raise ConfigError(f"{key}.params.{name}", f"a parameter may not be named '{name}': it would hide "
                                  f"the constant {name} in every expression (rename it)")
        self.dim = geometry_dim(spec.get("geometry") or {}, f"{key}.geometry")
        time = spec.get("time")
        self.time = None if time is None else tuple(numbers({"time": time}, "time", 2, key))
        if self.time is not None and not self.time[0] < self.time[1]:
            raise ConfigError(f"{key}.time", f"needs [t0, t1] with t0 < t1, got {time}")
        if self.time is not None:
            check_scale(*self.time, f"{key}.time", "the time interval")
        self.inputs = SPATIAL[:self.dim] + (("t",) if self.time else ())
        fields = spec.get("fields") or []
        if not fields or len(set(fields)) != len(fields) or not all(isinstance(f, str) and f.isidentifier() for f in fields):
            raise ConfigError(f"{key}.fields", f"needs distinct field names (e.g. [u] or [u, v, p]), got {fields!r}")
        self.fields = tuple(fields)
        self._refuse_derivative_names()
        eqs = spec.get("equations") or []
        if not eqs:
            raise ConfigError(f"{key}.equations", "needs at least one residual expression")
        self.equations = [self.expression(t, f"{key}.equations[{i}]") for i, t in enumerate(eqs)]
        for e in self.equations:
            if not e.fields_used:
                raise ConfigError(e.key, f"'{e.text}' does not involve any field ({', '.join(self.fields)})")
        self.conditions_spec = [self._condition(c, f"{key}.conditions[{i}]")
                                for i, c in enumerate(spec.get("conditions") or [])]
        if not self.conditions_spec:
            raise ConfigError(f"{key}.conditions", "needs at least one boundary or initial condition")

    def _refuse_derivative_names(self) -> None:
        """ConfigError for a field or parameter named like a derivative of a field (``u_x``, ``u_t`` beside
        ``u``): in an expression the name would be read as the field or parameter, never as the derivative
        (``u_x - 1`` with fields [u, u_x] was no equation about du/dx)."""
        from sciml.pde.expressions import _split_suffix

        for where, names in (("fields", self.fields), ("params", tuple(self.params))):
            for n in names:
                base = next((f for f in self.fields if n != f and n.startswith(f + "_")), None)
                if base is not None and _split_suffix(n[len(base) + 1:], self.inputs) is not None:
                    raise ConfigError(f"{self.key}.{where}", f"'{n}' reads as a derivative of the field '{base}': "
                                      f"in an expression it would mean the {where[:-1]}, never the derivative; "
                                      "rename it to a name that is not <field>_<inputs> (e.g. v)")

    def time_orders(self) -> dict[str, int]:
        """Field -> the highest order of its time derivatives in the equations (fields without one left out)."""
        if self.time is None:
            return {}
        t = self.inputs.index("t")
        order: dict[str, int] = {}
        for e in self.equations:
            for comp, idx in e.derivative_spec.values():
                k = sum(1 for i in idx if i == t)
                if k:
                    order[self.fields[comp]] = max(order.get(self.fields[comp], 0), k)
        return order

    def expression(self, text: Any, key: str, **kw: Any) -> Expression:
        """Parse ``text`` over this declaration's inputs, fields and parameters."""
        return parse_expression(text, inputs=self.inputs, fields=self.fields, params=self.params, key=key, **kw)

    def describe_equations(self) -> str:
        """The equations as one line: ``r1 = 0; r2 = 0``."""
        return "; ".join(f"{e.text} = 0" for e in self.equations)

    def _condition(self, c: dict[str, Any], key: str) -> dict[str, Any]:
        # YAML 1.1 (PyYAML, Snakemake) reads the key `on` as True, JSON then writes it "true"
        c = {("on" if k is True or k == "true" else k): v for k, v in c.items()}
        unknown = sorted(str(k) for k in set(c) - CONDITION_KEYS)
        if unknown:
            raise ConfigError(f"{key}.{unknown[0]}", f"unknown key (known keys here: {', '.join(sorted(CONDITION_KEYS))})")
        kind = c.get("type")
        if kind not in CONDITION_TYPES:
            raise ConfigError(f"{key}.type", f"unknown condition {kind!r} (valid: {', '.join(CONDITION_TYPES)})")
        # the schema fills derivative_order: 0 into every condition, so only another value is the user's
        given = {k for k, v in c.items() if not (k == "derivative_order" and v == 0)}
        unused = sorted(str(k) for k in given - CONDITION_TYPE_KEYS[kind])
        if unused:
            raise ConfigError(f"{key}.{unused[0]}", f"a {kind} condition does not use this key (its keys: "
                              f"{', '.join(sorted(CONDITION_TYPE_KEYS[kind]))})"
                              + ("; an initial condition holds on the whole t = t0 slice" if kind == "initial" else ""))
        field_ = c.get("field", self.fields[0] if len(self.fields) == 1 else None)
        if field_ is None:  # a condition written in code (a plugin) reaches here without the declared path's check
            raise ConfigError(f"{key}.field", f"a condition in a problem of several fields names its field "
                                              f"(one of: {', '.join(self.fields)})")
        if field_ not in self.fields:
            raise ConfigError(f"{key}.field", f"no field {field_!r} (fields: {', '.join(self.fields)})")
        out = {"type": kind, "key": key, "component": self.fields.index(field_)}
        if kind == "initial" and self.time is None:
            raise ConfigError(f"{key}.type", "an initial condition needs a time interval (pde.declared.<name>.time)")
        if kind in ("dirichlet", "neumann", "robin", "initial"):
            if "value" not in c:
                raise ConfigError(f"{key}.value", f"a {kind} condition needs a value expression")
            out["value"] = self.expression(c["value"], f"{key}.value", allow_derivatives=False)
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
        elif isinstance(on, str) and on.strip().isidentifier():  # a bare name selects nothing: a misspelt part
            parts = ["boundary", *(p for p, (axis, _) in PARTS.items() if axis < self.dim)]
            raise ConfigError(f"{key}.on", f"unknown boundary part '{on}' (valid: {', '.join(parts)}, or a comparison "
                                           "such as 'x < 0')")
        else:
            sel = parse_expression(on, inputs=self.inputs, params=self.params, key=f"{key}.on",
                                   allow_derivatives=False, allow_comparisons=True)
            if not sel.is_boolean:
                raise ConfigError(f"{key}.on", f"'{on}' is not a boundary part ({', '.join(['boundary', *PARTS])}) "
                                               "nor a comparison selecting boundary points")
            out["on"] = ("expr", sel)
        return out

    # -- geometry ----------------------------------------------------------------------------------
    def spatial(self, dde: Any) -> Any:
        """The spatial DeepXDE geometry (built once: ``inside`` and ``bounds`` are called per batch of
        points, e.g. in the rejection loop of ``Problem.uniform_points``)."""
        if getattr(self, "_spatial", None) is None:
            geom = build_geometry(dde, self.spec["geometry"], f"{self.key}.geometry")
            lo, hi = (np.atleast_1d(np.asarray(b, dtype=float)) for b in geom.bbox)
            for axis, (a, z) in enumerate(zip(lo, hi)):
                check_scale(float(a), float(z), f"{self.key}.geometry", f"the domain's {SPATIAL[axis]}")
            self._spatial = geom
        return self._spatial

    def geometry(self, dde: Any) -> Any:
        """The DeepXDE geometry (a ``GeometryXTime`` when there is a time interval)."""
        geom = self.spatial(dde)
        if self.time is None:
            return geom
        return dde.geometry.GeometryXTime(geom, dde.geometry.TimeDomain(*self.time))

    def bounds(self, dde: Any) -> list[tuple[float, float]]:
        """(low, high) of each input: the spatial bounding box, then the time interval."""
        lo, hi = self.spatial(dde).bbox
        b = [(float(a), float(z)) for a, z in zip(np.atleast_1d(lo), np.atleast_1d(hi))]
        return b + ([self.time] if self.time else [])

    def inside(self, dde: Any, X: np.ndarray) -> np.ndarray:
        """Boolean mask (n,) of points X (n, d) in the spatial domain, its boundary included."""
        X = np.asarray(X, dtype=float)[:, :self.dim]
        geom = self.spatial(dde)
        # boundary points count as inside (a CSG difference's inside() excludes the hole's rim)
        return np.asarray(geom.inside(X), dtype=bool) | np.asarray(geom.on_boundary(X), dtype=bool)

    def boundary_samples(self, dde: Any, n: int) -> np.ndarray | None:
        """About ``n`` points spread evenly by arc length over the boundary of a 2D CSG domain,
        or None (DeepXDE's own sampling is unbiased for a single primitive).

        Written here because DeepXDE's ``CSGDifference``/``CSGUnion`` boundary sampling draws a
        fixed share from each operand: every nested difference halves the outer boundary's share
        (a box minus four disks got 6 of 100 points on the box, BENCHMARKS.md). Each primitive's
        boundary is sampled uniformly in proportion to its length and only the points on the
        composite's boundary are kept, which is uniform by arc length for any CSG tree.
        """
        spec = self.spec["geometry"]
        if spec["type"] not in CSG_TYPES or self.dim != 2 or n <= 0:
            return None
        geom = self.spatial(dde)
        leaves = _leaves(dde, spec, f"{self.key}.geometry")
        lengths = np.array([_perimeter(leaf) for leaf in leaves])

        def sample(total: int) -> np.ndarray:
            counts = np.maximum(3, np.round(total * lengths / lengths.sum()).astype(int))
            pts = np.concatenate([np.asarray(leaf.uniform_boundary_points(int(k)), dtype=float)
                                  for leaf, k in zip(leaves, counts)])
            return pts[np.asarray(geom.on_boundary(pts), dtype=bool)]

        kept = sample(n)
        if len(kept) == 0:
            raise ConfigError(f"{self.key}.geometry", "no point of its parts' boundaries lies on the domain's boundary "
                              "(an empty CSG result?)")
        return sample(int(math.ceil(n * n / len(kept)))) if len(kept) < 0.9 * n else kept

    # -- physics ---------------------------------------------------------------------------------------
    def pde(self, dde: Any) -> Callable[[Any, Any], Any]:
        """The residual function ``(inputs, outputs) -> r`` (a list for several equations)."""
        eqs = self.equations
        if len(eqs) == 1:
            return lambda x, y: eqs[0].evaluate_torch(x, y, dde)
        return lambda x, y: [e.evaluate_torch(x, y, dde) for e in eqs]

    def _selector(self, cond: dict[str, Any], bbox: tuple[np.ndarray, np.ndarray]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """Vectorised mask (X (n, d), on_boundary (n,)) -> (n,) of the points a condition holds on."""
        how, what = cond["on"]
        if how == "part":
            axis, end = what
            v = float(np.atleast_1d(bbox[end])[axis])
            return lambda X, on: np.asarray(on, dtype=bool) & np.isclose(X[:, axis], v, rtol=0, atol=1e-6 * max(1, abs(v)))
        return lambda X, on: np.asarray(on, dtype=bool) & what.evaluate_numpy(X)

    def _at_corner(self, X: np.ndarray, bbox: tuple[Any, Any]) -> np.ndarray:
        """(n,) True where the spatial part of points X (n, d) is a corner of a rectangle or box (on two of its
        faces or more: a box's edges too) or a vertex of a polygon, also as parts of a union, difference or
        intersection: there the outward normal is not defined (DeepXDE averages the sides' normals, so a
        Neumann value for one side was imposed on a diagonal derivative). Tolerance: 1e-6 of the domain's
        bounding box (``bbox``)."""
        Xs = np.asarray(X, dtype=float)[:, :self.dim]
        lo, hi = (np.atleast_1d(np.asarray(b, dtype=float)) for b in bbox)
        return _corners(self.spec["geometry"], Xs, 1e-6 * np.maximum(hi - lo, 1e-12))

    def _refuse_point_sides(self, cond: dict[str, Any], chosen: np.ndarray, bbox: tuple[Any, Any]) -> None:
        """ConfigError when a named side (``left``, ``top``, ...) of a geometry that is no box touches its boundary
        at a point only: the side is the bounding box's, and on a disk ``left`` is its leftmost point (the
        condition then held at 1 of 2000 sampled points, unsaid). ``chosen``: the sampled points it selects."""
        how, what = cond["on"]
        if how != "part" or self.dim < 2 or self.spec["geometry"]["type"] in ("rectangle", "box"):
            return
        lo, hi = (np.atleast_1d(np.asarray(b, dtype=float)) for b in bbox)
        axis, end = what
        others = [a for a in range(self.dim) if a != axis]
        span = np.ptp(chosen[:, others], axis=0) if len(chosen) else np.zeros(len(others))
        if (span < 0.01 * (hi - lo)[others]).all():
            name = next(p for p, v in PARTS.items() if v == tuple(what))
            mid = 0.5 * (lo[axis] + hi[axis])
            raise ConfigError(f"{cond['key']}.on", f"'{name}' is the side {SPATIAL[axis]} = {(lo, hi)[end][axis]:g} of "
                              f"the bounding box, which this {self.spec['geometry']['type']} touches at a point only "
                              f"({len(chosen)} of {SELECTOR_SAMPLES} sampled boundary points); "
                              f"select the part of the boundary with a comparison, e.g. "
                                   f"'{SPATIAL[axis]} {'<' if end == 0 else '>'} {mid:g}'")

    def _time_selector_note(self, cond: dict[str, Any]) -> str:
        """For a time-dependent problem whose ``on`` uses ``t``: what ``on`` selects among (the spatial
        boundary at every time) and where a condition at the initial time goes; else ''."""
        how, what = cond["on"]
        if self.time is None or how != "expr" or "t" not in what.inputs_used:
            return ""
        return ("; `on` selects points of the spatial boundary only (at every time), not of the initial time "
                "slice: an initial condition uses type: initial (an initial derivative such as u_t(x, 0) cannot "
                "be declared: see docs/pde_problems.md for the workarounds)")

    def conditions(self, dde: Any, geom: Any, skip_components: set[int] = frozenset()) -> list[Any]:
        """The DeepXDE conditions, in declaration order, less those on the fields (output
        components) in ``skip_components``; a selector that selects none of
        :data:`SELECTOR_SAMPLES` sampled boundary points raises ConfigError."""
        import torch

        spatial = geom.geometry if self.time else geom
        bbox = spatial.bbox
        kept = [c for c in self.conditions_spec if c["component"] not in skip_components]
        checked = [c for c in kept if c["on"] is not None and c["on"][0] != "all"]
        if checked:  # (sampling draws from numpy's global generator: only where there is something to check)
            sample = np.asarray(geom.random_boundary_points(SELECTOR_SAMPLES, random="Hammersley"), dtype=float)
            on_sample = np.asarray(geom.on_boundary(sample), dtype=bool)
        out = []
        for c in kept:
            comp = c["component"]
            if c["type"] == "initial":
                out.append(dde.icbc.IC(geom, (lambda v: lambda X: v.evaluate_numpy(X))(c["value"]),
                                       lambda _, on_initial: on_initial, component=comp))
                continue
            corners = c["type"] in ("neumann", "robin")  # no normal at a corner: DeepXDE averages the sides'
            if c["on"][0] == "all" and not corners:
                mask = None  # DeepXDE's own flag, point by point
            elif c["on"][0] == "all":
                mask = lambda X, on_b: np.asarray(on_b, dtype=bool)  # noqa: E731
            else:
                mask = self._selector(c, bbox)
                if not mask(sample, on_sample).any():
                    raise ConfigError(f"{c['key']}.on", f"selects none of {len(sample)} sampled boundary points "
                                      f"(bounding box {np.atleast_1d(bbox[0]).tolist()} to {np.atleast_1d(bbox[1]).tolist()})"
                                      + self._time_selector_note(c))
                self._refuse_point_sides(c, sample[mask(sample, on_sample)], bbox)
            if corners:
                mask = (lambda m: lambda X, on_b: m(X, on_b) & ~self._at_corner(X, bbox))(mask)
            if mask is None:
                on = lambda _, on_b: on_b  # noqa: E731
            else:  # DeepXDE calls the selector point by point: x (d,), on (bool)
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

    def boundary_gaps(self, dde: Any, skip_components: set[int] = frozenset()) -> list[str]:
        """A warning per field that has boundary conditions on part of the boundary only: the points no
        condition of it selects get none (a free boundary, not zero flux as in finite elements), which is
        right for a first-order equation's outflow side and a forgotten wall otherwise. Measured on
        :data:`SELECTOR_SAMPLES` Hammersley boundary points; gaps under :data:`GAP_SHARE_MIN` of them
        (corners, rounding) are not reported. Fields in ``skip_components`` (hard constraints) are left out."""
        by_field: dict[int, list[dict[str, Any]]] = {}
        for c in self.conditions_spec:
            if c["type"] != "initial" and c["component"] not in skip_components:
                by_field.setdefault(c["component"], []).append(c)
        partial = {comp: cs for comp, cs in by_field.items() if not any(c["on"][0] == "all" for c in cs)}
        if not partial:
            return []
        geom = self.geometry(dde)
        bbox = (geom.geometry if self.time else geom).bbox
        state = np.random.get_state()  # DeepXDE samples from numpy's global generator
        try:
            sample = np.asarray(geom.random_boundary_points(SELECTOR_SAMPLES, random="Hammersley"), dtype=float)
        finally:
            np.random.set_state(state)
        on = np.asarray(geom.on_boundary(sample), dtype=bool)
        out = []
        for comp, conds in sorted(partial.items()):
            covered = np.zeros(len(sample), dtype=bool)
            for c in conds:
                covered |= self._selector(c, bbox)(sample, on)
                if c["type"] == "periodic":  # its partner side is constrained too: the other end of its input
                    how, what = c["on"]
                    ends = (1 - what[1],) if how == "part" and what[0] == c["input"] else (0, 1)
                    for end in ends:
                        covered |= self._selector({"on": ("part", (c["input"], end))}, bbox)(sample, on)
            free = on & ~covered
            if free.sum() > GAP_SHARE_MIN * max(1, on.sum()):
                first = sample[free][0]
                where = ", ".join(f"{n} = {v:.4g}" for n, v in zip(self.inputs, first))
                out.append(f"{int(free.sum())} of {int(on.sum())} sampled boundary points (e.g. {where}) get no "
                           f"condition on the field {self.fields[comp]}: that part of the boundary is left free, not "
                           f"zero flux; declare it (a neumann condition with value 0 for an insulated wall), unless it "
                           f"is the outflow side of a first-order equation")
        return out

    def _value_points(self, dde: Any, n: int, seed: int) -> list[tuple[dict[str, Any], np.ndarray]]:
        """(condition, points) of each Dirichlet and initial condition: the points its selector keeps
        of ``n`` fresh boundary points (``n`` initial points), drawn with ``seed`` (numpy's global
        generator, which DeepXDE samples from, is restored)."""
        kinds = [c for c in self.conditions_spec if c["type"] in ("dirichlet", "initial")]
        if not kinds or n <= 0:
            return []
        geom = self.geometry(dde)
        bbox = (geom.geometry if self.time else geom).bbox
        state = np.random.get_state()  # DeepXDE samples from numpy's global generator
        np.random.seed(seed)
        try:
            boundary = np.asarray(geom.random_boundary_points(n), dtype=float)
            initial = np.asarray(geom.random_initial_points(n), dtype=float) if self.time else None
        finally:
            np.random.set_state(state)
        on = np.asarray(geom.on_boundary(boundary), dtype=bool)
        return [(c, initial if c["type"] == "initial" else
                 boundary[on if c["on"][0] == "all" else self._selector(c, bbox)(boundary, on)]) for c in kinds]

    def condition_misfit(self, dde: Any, predict: Callable[[np.ndarray], np.ndarray], n: int, seed: int) -> float | None:
        """RMS of (prediction - value) over ``n`` fresh points of each Dirichlet and initial
        condition (the points their selectors keep), or None where there is no such condition.
        ``predict`` maps points (m, d) to outputs (m, n_fields). Reference-free: a check of the
        trained network that needs no solution, used to choose settings (BENCHMARKS.md)."""
        errs = []
        for c, X in self._value_points(dde, n, seed):
            if len(X):
                y = np.asarray(predict(X), dtype=float).reshape(len(X), -1)[:, c["component"]]
                errs.append(y - c["value"].evaluate_numpy(X)[:, 0])
        if not errs:
            return None
        e = np.concatenate(errs)
        return float(np.sqrt(np.mean(e * e)))

    def check_hard(self, dde: Any, component: int, lift: Expression, distance: Expression, key: str) -> None:
        """Refuse (ConfigError naming ``key.lift`` / ``key.distance`` and the condition) a hard
        constraint ``field = lift + distance * N`` that does not satisfy the field's Dirichlet and
        initial conditions, which it replaces: on :data:`HARD_CHECK_POINTS` points of each, the
        lift must reproduce the value (within :data:`HARD_CHECK_RTOL` of its scale) and the
        distance must vanish."""
        for c, X in self._value_points(dde, HARD_CHECK_POINTS, seed=0):
            if c["component"] != component or not len(X):
                continue
            want = c["value"].evaluate_numpy(X)[:, 0]
            tol = HARD_CHECK_RTOL * max(1.0, float(np.max(np.abs(want))))
            for part, expr, target in (("lift", lift, want), ("distance", distance, np.zeros_like(want))):
                got = expr.evaluate_numpy(X)[:, 0].astype(float)
                k = int(np.argmax(np.abs(got - target)))
                if abs(got[k] - target[k]) > tol:
                    what = "reproduce its value" if part == "lift" else "vanish"
                    raise ConfigError(f"{key}.{part}", f"'{expr.text}' does not {what} on the points of {c['key']} "
                                      f"({c['type']}, value '{c['value'].text}'): {got[k]:.6g} instead of "
                                      f"{target[k]:.6g} at {X[k].tolist()}; the hard constraint replaces that "
                                      "condition, so the field = lift + distance * network must satisfy it")
