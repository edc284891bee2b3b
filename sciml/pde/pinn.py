"""Build and train PINNs with DeepXDE (PyTorch backend).

Training runs as stages: Adam, optional residual-based adaptive refinement (RAR)
rounds (each adds the points of largest PDE residual, then more Adam), then L-BFGS;
or, with ``rar.optimizer: lbfgs``, Adam, L-BFGS, then RAR rounds trained with L-BFGS.
Every stage runs in chunks; after each chunk the state (weights, optimizer, RAR
anchors, loss history, elapsed time) is checked for finiteness and saved atomically
to ``ckpt_dir/last.pt``, so a killed run resumes where it stopped and a NaN stops
the run while keeping the last good checkpoint. L-BFGS keeps its optimizer (curvature
memory) across chunks and saves it in the checkpoint; it is rebuilt only on its own schedule
(``lbfgs_reset_every``) or after a stall, so neither the checkpoint interval nor a kill and
resume changes its trajectory. Checkpoints are loaded with
``torch.load(weights_only=True)`` (we do not use DeepXDE's ``restore``).

DeepXDE keeps global state (backend, default float, seeds, L-BFGS options): each run
sets all of them explicitly through :func:`setup_deepxde`. The trained network is saved and
loaded by :mod:`sciml.pde.saved_model` (the one owner of that format).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sciml.errors import ConfigError, TrainingError
from sciml.pde.backend import import_deepxde, pin_default_device, set_float_quietly
from sciml.pde.problems import Problem
from sciml.pde.plugins import checked_residual

CHECKPOINT_NAME = "last.pt"


def setup_deepxde(precision: str, seed: int, threads: int | None = None, accelerator: str = "auto") -> Any:
    """Set DeepXDE's float precision, all seeds and the device (``accelerator``: auto, cpu or cuda)
    for this run; returns the module."""
    dde = import_deepxde()
    import torch

    if precision not in ("float32", "float64"):
        raise ConfigError("pde.pinn.precision", f"must be float32 or float64, got '{precision}'")
    if threads:
        torch.set_num_threads(int(threads))
    set_float_quietly(dde, precision)
    dde.config.set_random_seed(int(seed))
    pin_default_device(accelerator, "pde.pinn.accelerator")
    return dde


@contextmanager
def torch_precision(precision: str) -> Iterator[None]:
    """Make ``precision`` torch's default dtype inside the block, and restore the old one after.

    DeepXDE sets the default dtype process-wide (``set_default_float``); without this, a float64
    PINN would leave every later torch model in the same process (another domain, a notebook
    cell, a test) building float64 tensors.
    """
    import torch

    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64 if precision == "float64" else torch.float32)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


@dataclass
class PINN:
    """A DeepXDE model and the pieces it was built from."""

    problem: Problem
    cfg: dict[str, Any]
    dde: Any
    model: Any
    data: Any
    net: Any
    hard: bool
    #: the problem's symmetry is built into the network (``pinn.symmetry``, :class:`OddMirror`)
    symmetric: bool = False
    #: gradient-norm loss balancing (``pinn.adaptive_weights``), a DeepXDE callback, or None
    adaptive: Any = None

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Network output at points ``X`` (n, d) as float64: (n,) for one field, (n, n_fields) for several.
        ``X``'s columns are the problem's inputs in order (``problem.inputs``, e.g. x, t); a ValueError names
        them when the shape differs. Outside the domain the network extrapolates: a point there is said (a
        warning with the count), not refused."""
        X = np.asarray(X, dtype=self.dde.config.real(np))
        inputs = tuple(self.problem.inputs)
        if X.ndim != 2 or X.shape[1] != len(inputs):
            raise ValueError(f"predict takes points of shape (n, {len(inputs)}), one column per input "
                             f"({', '.join(inputs)}); got shape {X.shape}")
        lo, hi = (np.array(b, dtype=float) for b in zip(*self.problem.bounds()))
        outside = int(((X < lo - 1e-9 * (hi - lo)) | (X > hi + 1e-9 * (hi - lo))).any(axis=1).sum())
        if outside:
            import warnings

            warnings.warn(f"{outside} of {len(X)} points lie outside the domain's bounds {lo.tolist()} to "
                          f"{hi.tolist()}: the network extrapolates there", UserWarning, stacklevel=2)
        with torch_precision(self.cfg["precision"]):
            out = np.asarray(self.model.predict(X), dtype=float)
        return out.ravel() if len(self.problem.fields) == 1 else out.reshape(len(X), len(self.problem.fields))

    def loss_weights(self) -> list[float] | None:
        """DeepXDE loss weights: 1 for the PDE residual, ``cfg["bc_weight"]`` for every soft
        IC/BC term; None (DeepXDE's unweighted sum) when ``bc_weight`` is 1. With
        ``adaptive_weights`` on, the current adaptive weights."""
        if self.adaptive is not None:
            return list(self.adaptive.weights)
        w = float(self.cfg.get("bc_weight", 1.0))
        n_bc = len(self.data.bcs)
        if w == 1.0 or n_bc == 0:
            return None
        return [1.0] * self.problem.n_residuals() + [w] * n_bc

    def residuals(self, X: np.ndarray) -> np.ndarray:
        """Signed residual of each PDE equation at ``X`` (n, d): (n_equations, n), float64."""
        X = np.asarray(X, dtype=self.dde.config.real(np))
        with torch_precision(self.cfg["precision"]):
            out = self.model.predict(X, operator=checked_residual(self.problem, self.dde))
        out = out if isinstance(out, (list, tuple)) else [out]
        return np.stack([np.asarray(o, dtype=float).ravel() for o in out])

    def residual(self, X: np.ndarray) -> np.ndarray:
        """|PDE residual| at ``X`` (n,): for several equations the sum of their |residuals|."""
        return np.abs(self.residuals(X)).sum(axis=0)

    def reference_free_checks(self, X: np.ndarray, n: int, seed: int) -> tuple[float, float | None]:
        """(RMS of :meth:`residual` at ``X`` (m, d), RMS misfit of the declared Dirichlet and initial
        conditions on ``n`` fresh points drawn with ``seed``, or None where the problem declares none):
        checks of the current weights that need no reference solution."""
        r = self.residual(X)
        physics = self.problem.physics()
        misfit = None if physics is None else physics.condition_misfit(self.dde, self.predict, n, seed)
        return float(np.sqrt(np.mean(r * r))), misfit


def build_pinn(problem: Problem, cfg: dict[str, Any], seed: int, threads: int | None = None) -> PINN:
    """Geometry, data (collocation points), network and model for ``problem``.

    ``cfg`` is the ``pinn`` config section. Hard constraints are used when asked for
    and the problem supports them; otherwise IC/BC enter the loss (soft).
    """
    import torch

    old_dtype = torch.get_default_dtype()
    try:
        return _build_pinn(problem, cfg, seed, threads)
    finally:
        torch.set_default_dtype(old_dtype)  # setup_deepxde changed it process-wide


def _build_pinn(problem: Problem, cfg: dict[str, Any], seed: int, threads: int | None) -> PINN:
    dde = setup_deepxde(cfg["precision"], seed, threads, cfg.get("accelerator", "auto"))
    hard = bool(cfg["hard_constraints"]) and problem.supports_hard_constraints
    geom = problem.geometry(dde)
    conditions = problem.conditions(dde, geom, hard)
    pde = checked_residual(problem, dde)
    if (cfg.get("causal") or {}).get("enabled", False):
        from sciml.pde.training_options import causal_wrapper

        pde = causal_wrapper(problem, pde, cfg)
    if problem.inputs[-1] == "t":
        data = dde.data.TimePDE(
            geom, pde, conditions,
            num_domain=cfg["num_domain"],
            num_boundary=0 if hard and not conditions else cfg["num_boundary"],
            num_initial=0 if hard and not conditions else cfg["num_initial"],
            num_test=cfg["num_test"],
        )
    else:
        own = problem.boundary_samples(cfg["num_boundary"]) if cfg["num_boundary"] else None
        # Boundary points of the problem's own (unbiased) sampler enter as anchors: DeepXDE's
        # BCs pick their points on the boundary from all training points, anchors included.
        data = dde.data.PDE(geom, pde, conditions, num_domain=cfg["num_domain"],
                            num_boundary=0 if own is not None else cfg["num_boundary"],
                            anchors=own, num_test=cfg["num_test"])
    check_condition_points(problem, data, cfg)
    embedding = periodic_embedding(problem, int(cfg.get("periodic_modes", 0)))
    mirror = odd_mirror(problem) if cfg.get("symmetry", False) else None
    n_in = len(problem.inputs) if embedding is None else embedding.n_features
    from sciml.pde.networks import build_network

    net = build_network(cfg, n_in, len(problem.fields))
    # inputs -> [mirrored copy] -> problem features -> periodic embedding -> layers
    scaling = input_scaling(problem, embedding) if cfg.get("normalize_inputs", False) else None
    if scaling is not None and problem.feature_transform(dde) is not None:
        raise ConfigError("pde.pinn.normalize_inputs", f"problem '{problem.name}' maps its inputs itself "
                          "(a parametric problem): leave normalize_inputs false")
    inputs = _compose([mirror.inputs if mirror else None, problem.feature_transform(dde), scaling, embedding])
    if inputs is not None:
        net.apply_feature_transform(inputs)
    # raw output -> [half difference of the mirrored pair] -> hard IC/BC transform
    outputs = [f for f in (mirror.outputs if mirror else None, problem.output_transform(dde) if hard else None)
               if f is not None]
    if outputs:
        net.apply_output_transform(lambda X, y: functools.reduce(lambda acc, f: f(X, acc), outputs, y))
    model = dde.Model(data, net)
    pinn = PINN(problem, cfg, dde, model, data, net, hard, symmetric=mirror is not None)
    adaptive = cfg.get("adaptive_weights") or {}
    if adaptive.get("enabled", False):
        from sciml.pde.training_options import AdaptiveWeights

        initial = pinn.loss_weights() or [1.0] * (problem.n_residuals() + len(data.bcs))
        pinn.adaptive = AdaptiveWeights(initial, int(adaptive["every"]), float(adaptive["alpha"]))
    model.compile("adam", lr=cfg["lr"], loss_weights=pinn.loss_weights(), verbose=0)
    return pinn


def _problem_key(problem: Problem) -> str:
    """The config key that defines ``problem``: ``pde.declared.<name>.conditions``, the plugin's
    ``pde.plugins[i]``, else ``pde.problems``."""
    if getattr(problem, "key", None):
        return f"{problem.key}.conditions"
    from sciml.pde.plugins import config_key_of

    return config_key_of(problem)


def check_condition_points(problem: Problem, data: Any, cfg: dict[str, Any]) -> None:
    """Refuse (ConfigError) a condition that holds on none of the training points: its loss term,
    a mean over no points, would be NaN from the first step (a plugin's selector for u_t(x, 0)
    given the points of the spatial boundary, which have no t = 0)."""
    counts = list(getattr(data, "num_bcs", None) or [])
    empty = [i for i, k in enumerate(counts) if k == 0]
    if not empty:
        return
    i = empty[0]
    raise ConfigError(_problem_key(problem), f"problem '{problem.name}': condition {i} "
                      f"({type(data.bcs[i]).__name__}, in the order the conditions are given) holds on none of "
                      f"the training points (pinn.num_boundary = {cfg['num_boundary']}"
                      + (f", pinn.num_initial = {cfg['num_initial']}" if problem.inputs[-1] == "t" else "")
                      + "), so its loss term would be NaN. Its selector gets the points of the spatial boundary "
                        "(at every time) for a boundary condition, the t = t0 slice for an initial one: check it, "
                        "or raise num_boundary for a small part of the boundary")


def _compose(maps: list[Callable[[Any], Any] | None]) -> Callable[[Any], Any] | None:
    """The maps that are not None applied left to right, or None when all are None."""
    active = [m for m in maps if m is not None]
    if not active:
        return None
    if len(active) == 1:
        return active[0]

    def composed(X: Any) -> Any:
        for m in active:
            X = m(X)
        return X

    return composed


@dataclass
class OddMirror:
    """Makes the network exactly odd in input ``column``: u = (N(x) - N(m(x))) / 2, where m flips
    the sign of that input. ``inputs`` (the first feature transform) stacks the points and their
    mirror images, (n, d) -> (2n, d); ``outputs`` (the first output transform) takes the half
    difference, (2n, 1) -> (n, 1). One forward pass of twice the points, through DeepXDE's own
    transform hooks, so autograd derivatives, checkpoints and the hard IC/BC transform are
    unchanged. Used where the problem's solution is known to be odd (Burgers: -sin(pi x) and
    the equation keep u(-x, t) = -u(x, t), so the shock stays at x = 0).
    """

    column: int
    n_inputs: int

    def inputs(self, X: Any) -> Any:
        import torch

        sign = torch.ones(self.n_inputs, dtype=X.dtype, device=X.device)
        sign[self.column] = -1.0
        return torch.cat([X, X * sign], dim=0)

    @staticmethod
    def outputs(X: Any, y: Any) -> Any:
        n = X.shape[0]
        return 0.5 * (y[:n] - y[n:])


def odd_mirror(problem: Problem) -> OddMirror | None:
    """The exact-symmetry wrapper for ``problem``, or None where no symmetry is declared."""
    if problem.odd_input is None:
        return None
    return OddMirror(problem.odd_input, len(problem.inputs))


@dataclass
class PeriodicEmbedding:
    """Network input features: cos/sin(2 pi k x_i / P_i), k = 1..modes, for each periodic input
    i (period P_i), other inputs unchanged. Called by DeepXDE on (n, d) tensors -> (n, n_features).

    DeepXDE's own ``PeriodicBC`` only penalises the mismatch at the two ends; the embedding makes
    every network function exactly periodic and gives it the high frequencies a sharp front needs.
    """

    periods: dict[int, float]
    n_inputs: int
    modes: int

    @property
    def n_features(self) -> int:
        return self.n_inputs + len(self.periods) * (2 * self.modes - 1)

    def __call__(self, X: Any) -> Any:
        import torch

        cols = []
        for i in range(self.n_inputs):
            xi = X[:, i:i + 1]
            if i in self.periods:
                k = torch.arange(1, self.modes + 1, dtype=X.dtype, device=X.device) * (2 * math.pi / self.periods[i])
                cols += [torch.cos(k * xi), torch.sin(k * xi)]
            else:
                cols.append(xi)
        return torch.cat(cols, dim=1)


def input_scaling(problem: Problem, embedding: PeriodicEmbedding | None) -> Callable[[Any], Any] | None:
    """Linear map of each input from its bounds to [-1, 1] (``pinn.normalize_inputs``), so a
    long time interval (PINNacle's Heat2D, t in [0, 100]) does not saturate the first tanh layer.
    Inputs the periodic embedding takes stay raw (their period is in raw units)."""
    keep = set(embedding.periods) if embedding is not None else set()
    lo, hi = (list(ends) for ends in zip(*problem.bounds()))
    cols = [i for i in range(len(lo)) if i not in keep]

    def scale(X: Any) -> Any:
        import torch

        out = [X[:, i:i + 1] if i in keep else (2.0 * X[:, i:i + 1] - (lo[i] + hi[i])) / (hi[i] - lo[i])
               for i in range(X.shape[1])]
        return torch.cat(out, dim=1)

    return scale if cols else None


def periodic_embedding(problem: Problem, modes: int) -> PeriodicEmbedding | None:
    """The embedding for ``problem`` with ``modes`` Fourier modes, or None (``modes`` 0 or no periodic input)."""
    if modes <= 0 or not problem.periods:
        return None
    return PeriodicEmbedding(dict(problem.periods), len(problem.inputs), modes)


@dataclass
class TrainReport:
    """What a training run did: per-stage iterations, loss history, time, L-BFGS behaviour."""

    history: list[list[Any]] = field(default_factory=list)  # [iteration, stage, train loss]
    train_seconds: float = 0.0
    stages_done: int = 0
    iterations: dict[str, int] = field(default_factory=dict)
    lbfgs_restarts: int = 0
    lbfgs_stopped_early: bool = False
    anchors: int = 0
    resumed_from: str | None = None
    #: final loss weights of ``adaptive_weights`` (None when off)
    loss_weights: list[float] | None = None
    #: smallest causal chunk weight at the end (None when ``causal`` is off; 1 = every time trains)
    causal_min_weight: float | None = None
    #: training stopped because ``max_train_seconds`` was spent (before all stages' iterations)
    stopped_by_time_budget: bool = False
    #: ``quasi_newton.keep_best`` ended the dense-BFGS stage on weights kept before a redraw:
    #: {"kept_score", "last_score"} (validation scores; None when the last weights were kept).
    #: The loss history (and ``final_train_loss``) stays the optimiser's, i.e. of the last weights.
    kept_best: dict[str, float] | None = None


def _stages(cfg: dict[str, Any]) -> list[tuple[str, int]]:
    """(name, iterations) in order. RAR rounds train with Adam between Adam and L-BFGS, or,
    with ``rar.optimizer: lbfgs``, with L-BFGS after the main L-BFGS stage (the points then
    go where the converged network's residual is largest, e.g. Burgers' shock)."""
    rar = cfg["rar"]
    rounds = [(f"rar{i + 1}", int(rar["iterations"])) for i in range(int(rar["rounds"]))] if rar["enabled"] else []
    lbfgs = [(_quasi_newton_name(cfg), int(cfg["lbfgs_iterations"]))] if cfg["lbfgs_iterations"] > 0 else []
    after = rar["optimizer"] == "lbfgs"
    stages = [("adam", int(cfg["adam_iterations"]))] + (lbfgs + rounds if after else rounds + lbfgs)
    return [s for s in stages if s[1] > 0]


def _quasi_newton_name(cfg: dict[str, Any]) -> str:
    """Name of the stage after Adam: ``lbfgs``, or ``bfgs`` / ``ssbfgs`` (``pinn.quasi_newton.method``)."""
    return str((cfg.get("quasi_newton") or {}).get("method", "lbfgs"))


def _uses_lbfgs(name: str, cfg: dict[str, Any]) -> bool:
    """The stage is trained by the quasi-Newton optimizer (the main stage, or a RAR round after it)."""
    return name == _quasi_newton_name(cfg) or (name.startswith("rar") and cfg["rar"]["optimizer"] == "lbfgs")


def _state_finite(pinn: PINN, loss: float) -> bool:
    if not math.isfinite(loss):
        return False
    return all(bool(p.detach().isfinite().all()) for p in pinn.net.parameters())


def check_finite(pinn: PINN, loss: float, stage: str, iteration: int, ckpt_path: Path) -> None:
    if not _state_finite(pinn, loss):
        raise TrainingError(
            f"problem '{pinn.problem.name}': training loss became {loss} in stage {stage} "
            f"(iteration {iteration}); stopped, the last good checkpoint is kept in {ckpt_path}. "
            + nan_advice(pinn.cfg["precision"]))


def nan_advice(precision: str) -> str:
    """What to try after a non-finite loss: float64 only where the run is not already in it."""
    return ("Lower pinn.lr" + (" or use float64 (pinn.precision)" if precision != "float64" else "")
            + ", and check the problem for a term that is not finite at some points (a square root or log of "
              "a negative value, a division by zero in an equation or condition)")


#: L-BFGS curvature memory (``maxcor`` pairs of parameter-sized vectors) is saved in checkpoints up to
#: this size, so that a resumed run continues the same optimisation; above it a resume restarts the memory.
LBFGS_STATE_MAX_BYTES = 256 * 2**20


def _optimizer_state(opt: Any) -> dict[str, Any] | None:
    """The optimizer's state for a checkpoint (None when there is none, or L-BFGS memory over the cap)."""
    import torch

    if opt is None:
        return None
    state = opt.state_dict()
    if isinstance(opt, torch.optim.LBFGS):
        n_params = sum(p.numel() for group in opt.param_groups for p in group["params"])
        itemsize = next(p for group in opt.param_groups for p in group["params"]).element_size()
        if 2 * LBFGS_MEMORY * n_params * itemsize > LBFGS_STATE_MAX_BYTES:
            return None
    return state


def save_checkpoint(path: Path, pinn: PINN, stage: int, done: int, report: TrainReport, anchors: np.ndarray | None,
                    lbfgs_cycle_start: int = 0, opt_state: dict[str, Any] | None = None) -> None:
    """Write the training state atomically; ``opt_state`` replaces the DeepXDE optimizer's state
    (the dense-BFGS stage's own)."""
    import torch

    from sciml.io import save_torch_atomic

    if opt_state is None and done > 0:
        opt_state = _optimizer_state(pinn.model.opt)
    state = {
        "stage": stage, "done": done, "net": pinn.net.state_dict(),
        "opt": opt_state if done > 0 else None,
        "anchors": torch.as_tensor(anchors) if anchors is not None else None,
        "history": report.history, "train_seconds": report.train_seconds,
        "iterations": report.iterations, "lbfgs_restarts": report.lbfgs_restarts,
        "lbfgs_stopped_early": report.lbfgs_stopped_early, "kept_best": report.kept_best,
        "loss_weights": list(pinn.adaptive.weights) if pinn.adaptive is not None else None,
        "lbfgs_cycle_start": lbfgs_cycle_start,
    }
    save_torch_atomic(state, path)


def load_state(path: str | Path) -> dict[str, Any]:
    """A training checkpoint or weights file, loaded with ``weights_only=True``."""
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def _current_loss(model: Any) -> float:
    loss = model.train_state.loss_train
    return float(np.sum(loss)) if loss is not None else float("nan")


def train_pinn(pinn: PINN, ckpt_dir: str | Path, seed: int,
               log: Callable[[str], None] = print) -> TrainReport:
    """Run all stages (resuming from ``ckpt_dir/last.pt``); returns the report.

    Raises TrainingError when the loss or weights become non-finite; the checkpoint
    of the last good chunk stays in ``ckpt_dir``.
    """
    with torch_precision(pinn.cfg["precision"]):
        return _train_pinn(pinn, ckpt_dir, seed, log)


def _train_pinn(pinn: PINN, ckpt_dir: str | Path, seed: int, log: Callable[[str], None]) -> TrainReport:
    model, cfg = pinn.model, pinn.cfg
    ckpt_dir = Path(ckpt_dir)
    ckpt_path = ckpt_dir / CHECKPOINT_NAME
    stages = _stages(cfg)
    chunk = int(cfg["checkpoint_every"])
    report = TrainReport()
    anchors: np.ndarray | None = None
    start_stage, start_done = 0, 0
    opt_state, cycle_start = None, 0
    # DeepXDE counts iterations from 0 in every new process: a resumed run's loss-history steps
    # are shifted by the iterations done before the checkpoint, so the history reads as one run.
    step_offset = 0
    if ckpt_path.is_file():
        state = load_state(ckpt_path)
        pinn.net.load_state_dict(state["net"])
        start_stage, start_done = int(state["stage"]), int(state["done"])
        report.history = [list(h) for h in state["history"]]
        report.train_seconds = float(state["train_seconds"])
        report.iterations = dict(state["iterations"])
        report.lbfgs_restarts = int(state["lbfgs_restarts"])
        report.lbfgs_stopped_early = bool(state["lbfgs_stopped_early"])
        kept = state.get("kept_best")
        report.kept_best = dict(kept) if isinstance(kept, dict) else None
        report.resumed_from = str(ckpt_path)
        if state["anchors"] is not None:
            anchors = state["anchors"].numpy()
            pinn.data.add_anchors(anchors)
        opt_state = state["opt"]
        cycle_start = int(state.get("lbfgs_cycle_start", start_done))
        if pinn.adaptive is not None and state.get("loss_weights") is not None:
            pinn.adaptive.weights = [float(w) for w in state["loss_weights"]]
        step_offset = sum(report.iterations.values())
        log(f"resuming from {ckpt_path}: stage {start_stage}, {start_done} iterations done")

    curriculum = _Curriculum(pinn, cfg)
    budget = cfg.get("max_train_seconds")
    for si in range(start_stage, len(stages)):
        if budget is not None and report.train_seconds >= budget:
            report.stopped_by_time_budget = True
            break
        name, total = stages[si]
        done = start_done if si == start_stage else 0
        if name.startswith("rar") and done == 0:
            rar = cfg["rar"]
            X = pinn.problem.uniform_points(int(rar["candidates"]), seed + si)
            res = pinn.residual(X)
            new = X[_rar_indices(X, res, rar, seed + si)]
            anchors = new if anchors is None else np.concatenate([anchors, new])
            pinn.data.add_anchors(new)
            log(f"{name}: mean |residual| {res.mean():.3e}, added {len(new)} points (total anchors {len(anchors)})")
        if _uses_lbfgs(name, cfg):
            resuming = si == start_stage and done > 0 and opt_state is not None
            if _quasi_newton_name(cfg) != "lbfgs":
                from sciml.pde.bfgs_stage import BFGSStage

                BFGSStage(pinn, name, si, total, ckpt_path, report, anchors, seed, log).run(
                    done, opt_state if resuming else None, budget)
                opt_state = None
                continue
            resume = (opt_state, cycle_start) if resuming else None
            opt_state = None
            _LBFGSStage(pinn, name, si, total, ckpt_path, report, anchors, log).run(done, resume, budget)
            continue
        model.compile("adam", lr=cfg["lr"], loss_weights=pinn.loss_weights(), verbose=0)
        if opt_state is not None and si == start_stage and done > 0:
            model.opt.load_state_dict(opt_state)
        opt_state = None
        while done < total:
            if budget is not None and report.train_seconds >= budget:  # checked per chunk: resumes stop here too
                report.stopped_by_time_budget = True
                log(f"{name}: time budget of {budget:g} s spent after {done} iterations; training stops")
                break
            n = min(chunk, total - done)
            if name == "adam":
                n = min(n, curriculum.enter(done) - done)
            it0 = model.train_state.iteration
            t0 = time.perf_counter()
            callbacks = [pinn.adaptive] if pinn.adaptive is not None else None
            model.train(iterations=n, display_every=max(1, n // 5), verbose=0, callbacks=callbacks)
            report.train_seconds += time.perf_counter() - t0
            ran = model.train_state.iteration - it0
            loss = _current_loss(model)
            check_finite(pinn, loss, name, done + ran, ckpt_path)
            lh = model.losshistory
            for step, lt in zip(lh.steps, lh.loss_train):
                step = int(step) + step_offset
                if not report.history or step > report.history[-1][0]:
                    report.history.append([step, name, float(np.sum(lt))])
            done += ran
            report.iterations[name] = report.iterations.get(name, 0) + ran
            save_checkpoint(ckpt_path, pinn, si if done < total else si + 1, done if done < total else 0, report, anchors)
            log(f"{name}: {done}/{total} iterations, loss {loss:.4e}, {report.train_seconds:.1f} s")
        if name == "adam":
            curriculum.finish()
        if report.stopped_by_time_budget:
            break
    report.stages_done = len(stages)
    report.anchors = 0 if anchors is None else len(anchors)
    if pinn.adaptive is not None:
        report.loss_weights = list(pinn.adaptive.weights)
    causal = getattr(pinn.data, "pde", None)
    if hasattr(causal, "min_weight"):
        report.causal_min_weight = float(causal.min_weight)
    return report


#: L-BFGS history size (DeepXDE's ``maxcor``): curvature pairs kept by the optimizer.
LBFGS_MEMORY = 100


def _lbfgs_count(opt: Any) -> int:
    """Iterations a torch L-BFGS optimizer has run (its cumulative ``n_iter``; 0 before the first)."""
    state = opt.state_dict()["state"]
    return int(state[0]["n_iter"]) if state else 0


class _LBFGSStage:
    """One L-BFGS stage, whose optimizer (curvature memory) survives checkpoints.

    DeepXDE's ``model.train`` runs L-BFGS in steps of up to 100 iterations on one optimizer. A
    callback does the per-chunk work at the first step past every ``checkpoint_every`` iterations
    (finiteness check, loss history, checkpoint with the optimizer state, time budget), so the
    trajectory does not depend on the checkpoint interval, and a resumed run restores the optimizer
    (and where it is in its reset cycle) and continues the same optimisation. The optimizer is
    rebuilt every ``lbfgs_reset_every`` iterations (periodic restarts; the default 500 is what
    rebuilding it at every default checkpoint did before 2026-12-05) and when L-BFGS stops before
    its iterations (``lbfgs_restarts``), since a fresh memory can get a stalled line search moving.
    """

    def __init__(self, pinn: PINN, name: str, stage: int, total: int, ckpt_path: Path, report: TrainReport,
                 anchors: np.ndarray | None, log: Callable[[str], None]) -> None:
        self.pinn, self.name, self.stage, self.total = pinn, name, stage, total
        self.ckpt_path, self.report, self.anchors, self.log = ckpt_path, report, anchors, log
        self.chunk = int(pinn.cfg["checkpoint_every"])
        self.cycle_start = 0  # iterations done when the current optimizer was built

    def run(self, done: int, resume: tuple[dict[str, Any], int] | None, budget: float | None) -> None:
        """Train from ``done`` iterations to the stage's total (or a stall / the time budget);
        ``resume``: the checkpoint's optimizer state and the iteration its optimizer was built at."""
        stalls = 0
        resume_opt, self.cycle_start = resume if resume is not None else (None, done)
        reset_every = self.pinn.cfg.get("lbfgs_reset_every")
        if reset_every is not None and done >= self.cycle_start + int(reset_every):
            resume_opt, self.cycle_start = None, done  # the checkpoint closed its optimizer's cycle
        while done < self.total:
            if budget is not None and self.report.train_seconds >= budget:
                self.report.stopped_by_time_budget = True
                self.log(f"{self.name}: time budget of {budget:g} s spent after {done} iterations; training stops")
                return
            start_done = done
            asked = self.total - done
            if reset_every is not None:
                asked = min(asked, max(1, self.cycle_start + int(reset_every) - done))
            done = self._optimize(done, asked, resume_opt, budget)
            resume_opt = None
            if done >= self.total or self.report.stopped_by_time_budget:
                return
            self.cycle_start = done
            if done - start_done >= asked:  # a scheduled reset (lbfgs_reset_every), not a stall
                continue
            # L-BFGS stopped before its iterations (typical in float32: the line search can no longer
            # decrease the loss). Restart with fresh curvature memory a few times.
            stalls += 1
            self.report.lbfgs_stopped_early = True
            loss = _current_loss(self.pinn.model)
            if done == start_done or stalls > int(self.pinn.cfg["lbfgs_restarts"]):
                self.log(f"{self.name}: L-BFGS stopped early after {done} iterations (loss {loss:.3e}); not restarting further")
                save_checkpoint(self.ckpt_path, self.pinn, self.stage + 1, 0, self.report, self.anchors)
                return
            self.report.lbfgs_restarts += 1
            self.log(f"{self.name}: L-BFGS stopped early at {done} iterations (loss {loss:.3e}); restart {self.report.lbfgs_restarts}")

    def _optimize(self, done: int, remaining: int, resume_opt: dict[str, Any] | None, budget: float | None) -> int:
        """Up to ``remaining`` iterations with one optimizer (restored from ``resume_opt``); the new ``done``."""
        import deepxde.optimizers.config as optcfg

        dde, model, cfg = self.pinn.dde, self.pinn.model, self.pinn.cfg
        dde.optimizers.set_LBFGS_options(maxcor=LBFGS_MEMORY, ftol=0, maxiter=remaining,
                                         gtol=1e-12 if cfg["precision"] == "float64" else 1e-9)
        # DeepXDE fixes iter_per_step at import (min(1000, maxiter)); steps of 100 record the loss
        # every 100 iterations and are the granularity of checkpoints.
        optcfg.LBFGS_options["iter_per_step"] = min(100, remaining)
        optcfg.LBFGS_options["fun_per_step"] = int(1.25 * min(100, remaining))
        model.compile("L-BFGS", loss_weights=self.pinn.loss_weights(), verbose=0)
        if resume_opt is not None:
            model.opt.load_state_dict(resume_opt)  # also restores the saved steps' caps: set them anew
            for group in model.opt.param_groups:
                group["max_iter"] = optcfg.LBFGS_options["iter_per_step"]
                group["max_eval"] = optcfg.LBFGS_options["fun_per_step"]
        start = _lbfgs_count(model.opt)
        # DeepXDE's loop compares the optimizer's cumulative count with maxiter
        optcfg.LBFGS_options["maxiter"] = start + remaining
        progress = {"k": 0, "t": time.perf_counter()}

        def account(force: bool) -> None:
            k = _lbfgs_count(model.opt) - start
            loss = _current_loss(model)
            step = sum(self.report.iterations.values()) + k - progress["k"]
            if k > progress["k"] and (not self.report.history or step > self.report.history[-1][0]):
                self.report.history.append([step, self.name, loss])
            if k == progress["k"] or (not force and k - progress["k"] < self.chunk):
                return
            self.report.train_seconds += time.perf_counter() - progress["t"]
            check_finite(self.pinn, loss, self.name, done + k, self.ckpt_path)
            self.report.iterations[self.name] = self.report.iterations.get(self.name, 0) + k - progress["k"]
            progress["k"] = k
            now = done + k
            finished = now >= self.total
            save_checkpoint(self.ckpt_path, self.pinn, self.stage + finished, 0 if finished else now,
                             self.report, self.anchors, lbfgs_cycle_start=self.cycle_start)
            self.log(f"{self.name}: {now}/{self.total} iterations, loss {loss:.4e}, {self.report.train_seconds:.1f} s")
            if budget is not None and self.report.train_seconds >= budget and not finished:
                self.report.stopped_by_time_budget = True
                self.log(f"{self.name}: time budget of {budget:g} s spent after {now} iterations; training stops")
                model.stop_training = True
            progress["t"] = time.perf_counter()

        def cap_next_step() -> None:
            # DeepXDE checks maxiter only between steps, and a step runs up to iter_per_step iterations
            # (fewer when its evaluations run out), so steps of 99 + 100 + ... overran the stage by up
            # to 99 iterations (e.g. 399 for 300). The next step is capped at what is left.
            left = start + remaining - _lbfgs_count(model.opt)
            if left > 0:
                for group in model.opt.param_groups:
                    group["max_iter"] = min(group["max_iter"], left)
                    group["max_eval"] = min(group["max_eval"], int(1.25 * left) + 1)

        class _EveryStep(dde.callbacks.Callback):
            def on_epoch_end(self) -> None:
                account(force=False)
                cap_next_step()

        model.train(display_every=100, verbose=0, callbacks=[_EveryStep()])
        account(force=True)
        return done + progress["k"]


def _rar_indices(X: np.ndarray, res: np.ndarray, rar: dict[str, Any], seed: int) -> np.ndarray:
    """Which RAR candidates join the collocation points (greedy, or RAR-D by ``rar.method``)."""
    from sciml.pde.training_options import rar_select

    return rar_select(X, res, int(rar["points_per_round"]), rar.get("method", "greedy"), float(rar.get("k", 2.0)),
                      float(rar.get("c", 0.0)), seed)


class _Curriculum:
    """The time curriculum of the Adam stage (``pinn.curriculum``): which collocation points
    train at each iteration. Inactive (every call a no-op) when off or without a time input."""

    def __init__(self, pinn: PINN, cfg: dict[str, Any]) -> None:
        self.pinn = pinn
        self.windows: list[tuple[int, float]] = []
        if int((cfg.get("curriculum") or {}).get("windows", 0)) > 1:
            if pinn.problem.inputs[-1] != "t":
                raise ConfigError("pde.pinn.curriculum", f"problem '{pinn.problem.name}' has no time input")
            from sciml.pde.training_options import curriculum_windows

            self.windows = curriculum_windows(cfg, int(cfg["adam_iterations"]))
            self.points = np.array(pinn.data.train_x_all, copy=True)
            self.t_bounds = tuple(float(b) for b in pinn.problem.bounds()[-1])
        self.current: float | None = None

    def enter(self, done: int) -> int:
        """Switch to the window that contains iteration ``done``; return the iteration where it ends."""
        for end, fraction in self.windows:
            if done < end:
                self._use(fraction)
                return end
        self.finish()
        return 1 << 62

    def finish(self) -> None:
        """Train on every collocation point again."""
        if self.windows:
            self._use(1.0)

    def _use(self, fraction: float) -> None:
        if fraction == self.current:
            return
        from sciml.pde.training_options import window_points

        t_col = len(self.pinn.problem.inputs) - 1
        self.pinn.data.replace_with_anchors(window_points(self.points, t_col, self.t_bounds, fraction))
        self.current = fraction
