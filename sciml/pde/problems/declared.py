"""A PDE problem declared in the config (``pde.declared.<name>``), no package code.

The declaration (:mod:`sciml.pde.declaration`, the same form the built-in problems use) names
the domain (DeepXDE geometry, optionally times a time interval), the fields, the equations (one
residual string each, in derivative notation: ``u_t - nu*u_xx``), named parameters, the
boundary/initial conditions; this module adds the ground truth: an analytic
``solution`` per field and/or a user ``reference`` file (:mod:`sciml.pde.user_references`).
Every string goes through the safe parser :mod:`sciml.pde.expressions` (never ``eval``), and
all of it is checked when the problem is built, before any training: an unknown symbol, a
derivative of a field that does not exist, a condition on a field that does not exist (or naming
no field in a problem of several), a field that no equation and no condition constrains, or a
boundary selector that selects none of the sampled boundary points raises
:class:`~sciml.errors.ConfigError` naming the config key. See ``docs/pde_problems.md``.

There is no classical solver for a declared problem (``has_solver = False``): the ``solve``
step records that, and accuracies are measured against the declared reference only.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sciml.errors import ConfigError, DataError
from sciml.pde.declaration import Declaration
from sciml.pde.problems.base import Problem
from sciml.pde.references import Reference

#: Relative L2 between a user reference at t0 and the declared initial condition above which the
#: evaluation warns (a reference and a condition of one problem agree to discretisation error; a
#: point-order mix-up or another problem's file is off by order 1: the walkthrough's t-major file, 1.4).
INITIAL_MISMATCH = 0.05
#: Reference points at most this fraction of the domain's extent outside it count as inside, for every
#: geometry (DeepXDE's own tests differ: a rectangle's is exact, an interval's or a disk's boundary test
#: allows 1e-5 relative): the roundoff of a point written on the boundary, float32 storage (6e-8) or a
#: text file's 7 significant digits included; a point further out is refused.
INSIDE_RTOL = 1e-6


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
        self.target_rel_l2 = spec.get("target_rel_l2")
        self.data_root = data_root
        super().__init__({})

    def declaration(self) -> dict[str, Any]:
        return self.spec

    def validate(self) -> None:
        """Parse the declaration and every expression (ConfigError naming its key); check that every
        field is constrained, the ground truth (analytic solution and/or reference file) and the
        field groups."""
        self._check_condition_fields()
        physics = Declaration(self.spec, self.key, self.params)
        self._physics = physics
        self.dim, self.time, self.inputs, self.fields = physics.dim, physics.time, physics.inputs, physics.fields
        self._check_fields_used(physics)
        self.equation = physics.describe_equations()
        sol = self.spec.get("solution") or {}
        for f in sol:
            if f not in self.fields:
                raise ConfigError(f"{self.key}.solution.{f}", f"no field '{f}' (fields: {', '.join(self.fields)})")
        self.solution = {f: physics.expression(t, f"{self.key}.solution.{f}", allow_derivatives=False)
                         for f, t in sol.items()}
        for f, e in self.solution.items():
            if e.fields_used:
                raise ConfigError(e.key, "an analytic solution may use inputs and parameters only, not fields")
        if self.spec.get("reference") is None and set(self.solution) != set(self.fields):
            missing = sorted(set(self.fields) - set(self.solution))
            raise ConfigError(f"{self.key}.reference", "a declared problem needs a reference file or an analytic "
                              f"solution for every field (missing: {', '.join(missing)}): the PINN is evaluated on "
                              "the reference's points, and the reference-free checks (residual_rms, condition_rms) "
                              "are reported beside its accuracy, not instead of it")
        groups = self.spec.get("groups") or {}
        for g, members in groups.items():
            bad = [m for m in members if m not in self.fields]
            if bad or not members:
                raise ConfigError(f"{self.key}.groups.{g}", f"needs field names of {list(self.fields)}, got {members!r}")
        self.groups = {g: tuple(m) for g, m in groups.items()}
        gauge = self.spec.get("up_to_constant") or []
        bad = [f for f in gauge if f not in self.fields]
        if bad:
            raise ConfigError(f"{self.key}.up_to_constant", f"no field {bad[0]!r} (fields: {', '.join(self.fields)})")
        self.up_to_constant = tuple(gauge)
        self.hard = {}
        for f, pair in (self.spec.get("hard") or {}).items():
            if f not in self.fields:
                raise ConfigError(f"{self.key}.hard.{f}", f"no field {f!r} (fields: {', '.join(self.fields)})")
            self.hard[f] = tuple(physics.expression(pair.get(part), f"{self.key}.hard.{f}.{part}", allow_derivatives=False)
                                 for part in ("lift", "distance"))
            if any(e.fields_used for e in self.hard[f]):
                raise ConfigError(f"{self.key}.hard.{f}", "lift and distance may use inputs and parameters only")
        self.supports_hard_constraints = bool(self.hard)

    def _check_condition_fields(self) -> None:
        """In a problem of several fields every condition names its field (ConfigError naming the
        condition's ``field`` key): the default is the only field, there is none here."""
        fields = self.spec.get("fields")
        if not isinstance(fields, list) or len(fields) < 2:
            return
        for i, c in enumerate(self.spec.get("conditions") or []):
            if isinstance(c, dict) and c.get("field") is None:
                raise ConfigError(f"{self.key}.conditions[{i}].field",
                                  f"the condition must name its field (field: {fields[0]}) when the problem has "
                                  f"several fields ({', '.join(map(str, fields))})")

    def _check_fields_used(self, physics: Declaration) -> None:
        """Refuse a field that appears in no equation and no condition (ConfigError naming the field
        and the problem): nothing would constrain the network's output for it."""
        used = {self.fields[c["component"]] for c in physics.conditions_spec}
        for e in physics.equations:
            used |= e.fields_used
        for c in physics.conditions_spec:
            if "value" in c:  # a robin value may use fields
                used |= c["value"].fields_used
        unused = [f for f in self.fields if f not in used]
        if unused:
            raise ConfigError(f"{self.key}.fields", f"field '{unused[0]}' of problem '{self.name}' appears in no "
                              "equation and no condition, so nothing constrains it (the network's output for it "
                              "would be trained on nothing): use it in an equation or a condition, or drop it "
                              "from fields")

    # -- hard constraints: field = lift + distance * N for the fields in `hard` --------------------------
    def output_transform(self, dde: Any) -> Callable[[Any, Any], Any] | None:
        """The hard transform, after checking that each lift and distance satisfy the Dirichlet and
        initial conditions they replace (:meth:`Declaration.check_hard`: ConfigError otherwise)."""
        if not self.hard:
            return None
        import torch

        for f, (lift, distance) in self.hard.items():
            self._physics.check_hard(dde, self.fields.index(f), lift, distance, f"{self.key}.hard.{f}")
        pairs = [self.hard.get(f) for f in self.fields]

        def transform(X: Any, y: Any) -> Any:
            cols = [y[:, i:i + 1] if pair is None else pair[0].evaluate_torch(X) + pair[1].evaluate_torch(X) * y[:, i:i + 1]
                    for i, pair in enumerate(pairs)]
            return torch.cat(cols, dim=1)

        return transform

    def conditions(self, dde: Any, geom: Any, hard: bool) -> list[Any]:
        """The declared conditions, less those of fields the hard transform satisfies exactly."""
        drop = {self.fields.index(f) for f in self.hard} if hard else set()
        return self._physics.conditions(dde, geom, skip_components=drop)

    # -- geometry: the declaration's --------------------------------------------------------------------
    def bounds(self) -> list[tuple[float, float]]:
        from sciml.pde.pinn import import_deepxde

        return self._physics.bounds(import_deepxde())

    def inside(self, X: np.ndarray) -> np.ndarray:
        from sciml.pde.pinn import import_deepxde

        return self._physics.inside(import_deepxde(), X)

    def near_domain(self, X: np.ndarray) -> np.ndarray:
        """Boolean mask (n,) of points X (n, d) in the domain or within :data:`INSIDE_RTOL` of its extent
        (the bounding box's largest side; in time, the time span) outside it, for every geometry alike:
        DeepXDE's ``inside`` at the point or at the point moved by that distance along an axis or
        diagonal (a box's corner, a hole's rim)."""
        from sciml.pde.pinn import import_deepxde

        X = np.asarray(X, dtype=float)
        geom = self._physics.spatial(import_deepxde())
        lo, hi = (np.atleast_1d(np.asarray(b, dtype=float)) for b in geom.bbox)
        tol = INSIDE_RTOL * float(np.max(hi - lo))
        S = X[:, :self.dim]
        ok = np.asarray(geom.inside(S), dtype=bool)
        for step in itertools.product((-tol, 0.0, tol), repeat=self.dim):
            miss = np.flatnonzero(~ok)
            if not len(miss):
                break
            if any(step):
                ok[miss] = np.asarray(geom.inside(S[miss] + np.asarray(step)), dtype=bool)
        if self.time:
            t0, t1 = self.time
            ttol = INSIDE_RTOL * (t1 - t0)
            ok &= (X[:, self.dim] >= t0 - ttol) & (X[:, self.dim] <= t1 + ttol)
        return ok

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
            inside = self.near_domain(pts)
            if not inside.all():
                bad = int(np.flatnonzero(~inside)[0])
                raise DataError(ref.source, f"{int((~inside).sum())} reference points lie outside the domain of "
                                f"{self.key} by more than {INSIDE_RTOL:g} of its extent (first: {pts[bad].tolist()})",
                                record=f"line {lines[bad]}" if lines is not None else f"point {bad}")
            return ref
        return self.analytic_reference()

    def check_reference(self) -> None:
        """Read the declared reference file (columns, values, points inside the domain)."""
        if self.spec.get("reference") is not None:
            self.reference()

    def declaration_warnings(self) -> list[str]:
        """A field with a second (or higher) time derivative has only its value at t0 declared (an initial
        condition gives the value; u_t(x, t0) cannot be declared) unless a hard constraint (``hard.<field>``)
        may fix the derivative too: the problem then has no unique solution, and the PINN's answer is one
        of many. A field with conditions on part of the boundary only (:meth:`Declaration.boundary_gaps`)."""
        out = []
        for f, k in self._physics.time_orders().items():
            if k >= 2 and f not in self.hard:
                out.append(f"the field {f} has a time derivative of order {k} ({f}_{'t' * k}), but only its value at "
                           f"t0 is declared: {f}_t(x, t0) is left free, so the solution is not unique; write the "
                           f"equation as a first-order system (a field v = {f}_t with its own initial condition) or "
                           f"fix {f}_t with hard.{f} (docs/pde_problems.md)")
        from sciml.pde.backend import import_deepxde

        hard = {self.fields.index(f) for f in self.hard}
        return out + self._physics.boundary_gaps(import_deepxde(), skip_components=hard)

    def reference_warnings(self, ref: Reference) -> list[str]:
        """Where the user's reference file disagrees with a declared initial condition at t0 by more
        than :data:`INITIAL_MISMATCH` (relative L2 over its points there): the sign of points in the
        wrong order (a t-major flat array read as x-major, swapped grid counts), or of a condition or
        reference that describe different problems. Also what loading the file changed (repeated
        points dropped). Empty without a reference file."""
        if self.spec.get("reference") is None:
            return []
        if not self.time:
            return list(ref.notes)
        pts = ref.points()
        t0, span = self.time[0], self.time[1] - self.time[0]
        at0 = np.isclose(pts[:, -1], t0, rtol=0.0, atol=1e-9 * max(1.0, abs(span)))
        out = list(ref.notes)
        for c in self._physics.conditions_spec:
            field_ = self.fields[c["component"]]
            got = ref.field(field_).ravel()[at0] if c["type"] == "initial" else np.zeros(0)
            keep = np.isfinite(got)
            if keep.sum() < 2:
                continue
            want = c["value"].evaluate_numpy(pts[at0][keep])[:, 0]
            rel = float(np.linalg.norm(got[keep] - want) / max(np.linalg.norm(want), np.linalg.norm(got[keep]), 1e-12))
            if rel > INITIAL_MISMATCH:
                out.append(f"the reference ({ref.source}) differs from the declared initial condition of {field_} at "
                           f"t = {t0:g} by {rel:.3g} (relative L2 over its {int(keep.sum())} points there): check "
                           f"its point order (flat arrays: {', '.join(self.inputs)} order, the last varying fastest) "
                           f"and {self.key}.reference.grid, or the condition")
        return out

    def check_reference_columns(self) -> None:
        """Check that the declared reference file exists and holds the configured columns, reading
        only its header / keys (``sciml pde problems``); the errors are those of :meth:`reference`."""
        if self.spec.get("reference") is not None:
            from sciml.pde.user_references import check_user_reference_columns

            check_user_reference_columns(self.spec["reference"], f"{self.key}.reference", self.inputs, self.fields)

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
