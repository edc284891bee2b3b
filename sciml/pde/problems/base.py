"""The base class of a PDE problem, in four parts.

A problem subclass (one file per problem in this package) declares

(a) **geometry and physics** for DeepXDE: network inputs and their bounds, the domain
    (``inside``, ``geometry``), the PDE residual, soft initial/boundary conditions, the
    optional hard-constraint output transform, periodic inputs and an odd symmetry. The
    domain, residual and conditions are best given as a ``declaration()``, the same form a
    scientist writes in the config (:mod:`sciml.pde.declaration`), so one path builds them;
    code overrides stay for what a declaration cannot say;
(b) **reference data**: the shipped reference file and the parameters it solves, or an
    analytic solution, and what is known about the file (``reference_caveat``);
(c) the **classical solver**: a ladder of resolutions (``solver_levels``) and ``solve``;
(d) **targets**: the accuracy a PINN must reach against the shipped file
    (``target_rel_l2``) and when that file counts as unreliable
    (:attr:`Problem.UNRELIABLE_REFERENCE_REL_L2`).

The rule "compare with the shipped reference file where it solves these parameters,
else with the analytic solution, else with the finest in-package solve" is
:meth:`Problem.reference`, written once here; the pipeline steps ask the problem and never
check problem names. Config only picks a problem name and numeric parameters; nothing
from config is ever evaluated as code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from sciml.errors import ConfigError
from sciml.pde.references import Reference

if TYPE_CHECKING:
    from sciml.pde.declaration import Declaration

#: How accuracies are matched when the reference is trusted / when it is not (timing.json).
AGAINST_REFERENCE = "reference"
AGAINST_FINEST_SOLVE = "finest in-package solve"


class Problem:
    """Base class of a registered PDE problem. Subclasses set the class attributes and
    implement the methods of parts (a) to (c); see the module docstring."""

    name: ClassVar[str]
    title: ClassVar[str]
    equation: ClassVar[str]
    #: parameter name -> default value
    defaults: ClassVar[dict[str, float]] = {}

    # -- (a) geometry and physics -----------------------------------------------------------
    #: input names in network order (time last)
    inputs: ClassVar[tuple[str, ...]] = ("x", "t")
    #: output fields in network order (one network output each)
    fields: ClassVar[tuple[str, ...]] = ("u",)
    #: named groups of fields whose joint relative L2 is reported too (e.g. velocity: (u, v))
    groups: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: fields fixed only up to an additive constant (a closed flow's pressure): compared with the
    #: reference after removing the mean difference
    up_to_constant: ClassVar[tuple[str, ...]] = ()
    supports_hard_constraints: ClassVar[bool] = True
    #: input index -> period, for inputs in which the solution is periodic (used by the
    #: optional periodic Fourier embedding of the network inputs, ``pinn.periodic_modes``)
    periods: ClassVar[dict[int, float]] = {}
    #: index of an input in which the solution is odd, u(.., -x_i, ..) = -u(.., x_i, ..), or None
    #: (used by the optional exact-symmetry network, ``pinn.symmetry``)
    odd_input: ClassVar[int | None] = None
    #: reference dims that are physical parameters given to the network as inputs (a
    #: parametric surrogate); the evaluation reports the error and timing per value
    parameter_dims: ClassVar[tuple[str, ...]] = ()

    # -- (b) reference data -------------------------------------------------------------------
    #: manifest name of the shipped reference, or None (analytic / solver reference)
    reference_file: ClassVar[str | None] = None
    #: the parameters the shipped file solves (the file is used only for these)
    reference_file_params: ClassVar[dict[str, float]] = {}
    #: absolute tolerance of that parameter match
    reference_file_tolerance: ClassVar[float] = 1e-12
    #: what is known about a shipped reference file that disagrees with the converged solver
    #: (shown in the report beside that disagreement), or None
    reference_caveat: ClassVar[str | None] = None

    # -- (d) targets ----------------------------------------------------------------------------
    #: accuracy target of the PINN: relative L2 against the shipped reference file, or against the
    #: reference of a problem that ships none (a plugin's analytic one); None: none set
    target_rel_l2: ClassVar[float | None] = None
    #: Relative L2 between the finest in-package solve and the reference above which the
    #: reference is taken as not converged (e.g. Poisson_Lshape.npz, 2e-2 off the converged
    #: FEM). A converged solver agrees with a sound reference far below this; above it, errors
    #: against the file are bounded below by the file's own error, so accuracies (the
    #: PINN's and the solver levels') are matched against the finest solve instead.
    UNRELIABLE_REFERENCE_REL_L2: ClassVar[float] = 1e-2

    def __init__(self, params: dict[str, Any]):
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise ConfigError(f"pde.params.{self.name}.{unknown[0]}",
                              f"problem '{self.name}' has no parameter '{unknown[0]}' (valid: {', '.join(sorted(self.defaults))})")
        self.params = {**self.defaults, **params}
        self.validate()

    # -- parameters ---------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise ConfigError for non-physical parameters."""

    def _positive(self, key: str, what: str) -> None:
        value = self.params[key]
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ConfigError(f"pde.params.{self.name}.{key}", f"problem '{self.name}': {what} must be > 0, got {value}")

    def _finite(self, key: str, what: str) -> None:
        value = self.params[key]
        if not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise ConfigError(f"pde.params.{self.name}.{key}", f"problem '{self.name}': {what} must be finite, got {value}")

    def describe(self) -> str:
        """One line: title, equation and parameters."""
        ps = ", ".join(f"{k}={v:g}" for k, v in sorted(self.params.items()))
        return f"{self.title}: {self.equation}" + (f" ({ps})" if ps else "")

    # -- (a) geometry and physics for DeepXDE ---------------------------------------------------
    def bounds(self) -> list[tuple[float, float]]:
        """(low, high) of each network input."""
        raise NotImplementedError

    def inside(self, X: np.ndarray) -> np.ndarray:
        """Boolean mask (n,) of points ``X`` (n, d) inside the domain (default: the whole box)."""
        return np.ones(len(X), dtype=bool)

    def uniform_points(self, n: int, seed: int) -> np.ndarray:
        """``n`` uniform random points (n, d) inside the domain, from a generator seeded with
        ``seed`` alone (so a resumed run draws the same points). Used for RAR candidates and
        for the inference-timing query points."""
        rng = np.random.default_rng(seed)
        lo = np.array([b[0] for b in self.bounds()])
        hi = np.array([b[1] for b in self.bounds()])
        pts = np.empty((0, len(lo)))
        while len(pts) < n:
            X = lo + (hi - lo) * rng.random((2 * n, len(lo)))
            pts = np.concatenate([pts, X[self.inside(X)]])
        return pts[:n]

    def declaration(self) -> dict[str, Any] | None:
        """The physics in the config route's form (:mod:`sciml.pde.declaration`: geometry,
        time, fields, params, equations, conditions), or None for a problem that writes
        :meth:`geometry`, :meth:`pde` and :meth:`conditions` in code. Where given, those three
        are built from it, by the same code as a problem declared in the config."""
        return None

    def physics(self) -> Declaration | None:
        """The parsed :meth:`declaration` (made once per problem), or None."""
        if not hasattr(self, "_physics"):
            from sciml.pde.declaration import Declaration

            spec = self.declaration()
            self._physics = None if spec is None else Declaration(spec, f"problem {self.name}")
        return self._physics

    def _declared(self) -> Declaration:
        physics = self.physics()
        if physics is None:
            raise NotImplementedError(f"problem '{self.name}' has no declaration(); write this method in code")
        return physics

    def n_residuals(self) -> int:
        """Number of PDE residuals (equations) the network is trained on."""
        physics = self.physics()
        return 1 if physics is None else len(physics.equations)

    def geometry(self, dde: Any) -> Any:
        """The DeepXDE geometry (a ``GeometryXTime`` for time-dependent problems)."""
        return self._declared().geometry(dde)

    def pde(self, dde: Any) -> Callable[[Any, Any], Any]:
        """The PDE residual ``(inputs, u) -> r`` as DeepXDE expects it."""
        return self._declared().pde(dde)

    def conditions(self, dde: Any, geom: Any, hard: bool) -> list[Any]:
        """Soft initial/boundary conditions (those not built into the output transform: with
        ``hard``, the transform carries all of them)."""
        return [] if hard else self._declared().conditions(dde, geom)

    def output_transform(self, dde: Any) -> Callable[[Any, Any], Any] | None:
        """Hard-constraint transform ``(inputs, raw) -> u`` or None."""
        return None

    def boundary_samples(self, n: int) -> np.ndarray | None:
        """``n`` points on the boundary to use instead of DeepXDE's boundary sampling, or None
        (DeepXDE samples). Needed where DeepXDE's sampling is biased (nested CSG differences):
        a declared 2D CSG domain gets points even by arc length
        (:meth:`sciml.pde.declaration.Declaration.boundary_samples`)."""
        physics = self.physics()
        if physics is None:
            return None
        from sciml.pde.pinn import import_deepxde

        return physics.boundary_samples(import_deepxde(), n)

    def feature_transform(self, dde: Any) -> Callable[[Any], Any] | None:
        """Map of the network inputs (n, d) to its features (n, d) (e.g. rescaling a parameter
        input), applied before any periodic embedding; None = raw inputs."""
        return None

    # -- (b) reference data ---------------------------------------------------------------------
    def uses_reference_file(self) -> bool:
        """True when the shipped reference file solves exactly these parameters."""
        if self.reference_file is None:
            return False
        tol = self.reference_file_tolerance
        return all(abs(self.params[k] - v) <= tol for k, v in self.reference_file_params.items())

    def reference(self, data_root: str | Path | None = None) -> Reference:
        """The ground truth on its grid: the shipped file where it solves these parameters,
        else the analytic solution where there is one, else the finest in-package solve on
        :meth:`solver_grid`."""
        if self.uses_reference_file():
            from sciml.data import resolve

            return self.load_reference_file(resolve(self.reference_file, data_root))
        analytic = self.analytic_reference()
        if analytic is not None:
            return analytic
        grid = self.solver_grid()
        return Reference(grid.dims, grid.coords, self.solve(grid, self.finest_level()),
                         self.solver_reference_source(), inputs=grid.inputs)

    def reference_inputs(self, data_root: str | Path | None = None) -> list[Path]:
        """The data files :meth:`reference` reads (for provenance): the shipped file or nothing."""
        if not self.uses_reference_file():
            return []
        from sciml.data import resolve

        return [resolve(self.reference_file, data_root)]

    def check_reference(self) -> None:
        """Raise DataError/ConfigError now for a bad user reference file (the train step calls
        this before any training). Shipped files are checked against the manifest when read."""

    def declaration_warnings(self) -> list[str]:
        """What in the problem's own declaration leaves its solution not unique (a second time derivative
        with only the value given at t0: :meth:`DeclaredProblem.declaration_warnings`); none for a built-in."""
        return []

    def reference_warnings(self, ref: Reference) -> list[str]:
        """Where a user's reference ``ref`` disagrees with the problem's own declared conditions
        (:meth:`DeclaredProblem.reference_warnings`); none for a built-in problem."""
        return []

    def load_reference_file(self, path: Path) -> Reference:
        """Read the shipped reference file at ``path``."""
        raise NotImplementedError(f"problem '{self.name}' ships no reference file")

    def analytic_reference(self) -> Reference | None:
        """The analytic solution on its grid, or None where there is none."""
        return None

    def solver_grid(self) -> Reference:
        """The grid (values unused) on which the finest solve is the reference when no file applies."""
        raise NotImplementedError

    def solver_reference_source(self) -> str:
        """How the finest in-package solve is named when it is the reference (``Reference.source``)."""
        return f"in-package solver {self.finest_level()}"

    def _grid(self, dims: tuple[str, ...], coords: dict[str, np.ndarray]) -> Reference:
        """A zero field on ``coords`` (helper for :meth:`solver_grid`)."""
        shape = tuple(len(coords[d]) for d in dims)
        return Reference(dims, coords, np.zeros(shape), "solver", inputs=self.inputs)

    # -- (c) classical solver --------------------------------------------------------------------
    #: False where there is no classical solver (declared and plugin problems may have none):
    #: the ``solve`` step then records an empty ladder and accuracies use the reference only
    has_solver: ClassVar[bool] = True

    def solver_levels(self) -> list[dict[str, int]]:
        """Resolutions of the classical solver, coarse to fine."""
        raise NotImplementedError

    def finest_level(self) -> dict[str, int]:
        """The finest solver resolution (the in-package ground truth)."""
        return self.solver_levels()[-1]

    def solve(self, ref: Reference, level: dict[str, int]) -> np.ndarray:
        """Classical solution at ``level`` on the reference grid (shape ``ref.shape``, NaN outside)."""
        raise NotImplementedError

    # -- (d) targets -------------------------------------------------------------------------------
    def target(self) -> float | None:
        """The PINN's accuracy target (relative L2) for these parameters: ``target_rel_l2`` when
        the shipped file is the reference, else None (no target was set for other parameters). A
        problem without a shipped file (a plugin's analytic reference) keeps its ``target_rel_l2``."""
        if self.reference_file is None:
            return self.target_rel_l2
        return self.target_rel_l2 if self.uses_reference_file() else None

    def reference_is_reliable(self, finest_rel_l2: float) -> bool:
        """False when the finest in-package solve differs from the reference by more than
        :attr:`UNRELIABLE_REFERENCE_REL_L2` (the reference is then not taken as converged)."""
        return not finest_rel_l2 > self.UNRELIABLE_REFERENCE_REL_L2

    def accuracy_yardstick(self, finest_rel_l2: float) -> str:
        """What accuracies are matched against: ``"reference"``, or ``"finest in-package
        solve"`` when the reference is unreliable (see :meth:`reference_is_reliable`)."""
        return AGAINST_REFERENCE if self.reference_is_reliable(finest_rel_l2) else AGAINST_FINEST_SOLVE
