"""The quasi-Newton stage trained by dense (self-scaled) BFGS (``pinn.quasi_newton.method``
``bfgs`` / ``ssbfgs``), in place of DeepXDE's L-BFGS.

The network's weights are one float64 vector for :class:`sciml.pde.quasi_newton.DenseBFGS`;
the loss is DeepXDE's own weighted training loss (``model.outputs_losses_train``) on the
current collocation points, which are redrawn by RAD every ``resample_every`` iterations.
Like the L-BFGS stage it checkpoints every ``checkpoint_every`` iterations (weights,
inverse Hessian, the current points, so a killed run resumes the same optimisation),
checks finiteness, honours ``max_train_seconds`` and restarts from a fresh inverse Hessian
when the line search fails (up to ``lbfgs_restarts`` times).

With ``keep_best`` the stage scores the weights just before every redraw, and at its end, by a
reference-free validation score (:func:`selection_score`: RMS of the PDE residual on fixed fresh
points plus the RMS misfit of the declared Dirichlet/initial conditions) and ends on the best of
them. A redraw makes the loss jump (new points where the network is worst), and a run stopped by
its time budget shortly after one would otherwise end on weights still recovering from it
(BENCHMARKS.md, Stokes fourth round: seed 2 ended 54 iterations after a redraw).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sciml.errors import ConfigError
from sciml.pde.pinn import PINN, TrainReport, check_finite, save_checkpoint
from sciml.rounding import round_sig

#: the inverse Hessian is saved in checkpoints up to this size; above it a resume restarts it
HESSIAN_STATE_MAX_BYTES = 512 * 2**20
#: seed offset of the points that score weights for ``keep_best`` (distinct from the evaluation's
#: validation points, :data:`sciml.pde.steps.evaluate.VALIDATION_SEED_OFFSET`)
SELECTION_SEED_OFFSET = 3000


def selection_score(pinn: PINN, X: np.ndarray, n: int, seed: int) -> float:
    """Reference-free score of the network's current weights (lower is better): RMS of the
    PDE residual at ``X`` (m, d), plus the RMS misfit of the declared Dirichlet and initial
    conditions on ``n`` fresh points drawn with ``seed`` (0 where the problem declares none): the
    sum of the evaluation's two reference-free checks (:meth:`PINN.reference_free_checks`)."""
    rms, misfit = pinn.reference_free_checks(X, n, seed)
    return rms + (misfit or 0.0)


def check_bfgs_settings(pinn: PINN) -> int:
    """The network's weight count, after checking that dense BFGS can train it (float64, size cap)."""
    cfg = pinn.cfg
    qn = cfg["quasi_newton"]
    if cfg["precision"] != "float64":
        raise ConfigError("pde.pinn.quasi_newton.method",
                          f"'{qn['method']}' needs pde.pinn.precision float64 (its line search fails on float32 rounding)")
    n = sum(p.numel() for p in pinn.net.parameters() if p.requires_grad)
    if n > int(qn["max_weights"]):
        raise ConfigError("pde.pinn.quasi_newton.method",
                          f"dense BFGS stores an n x n matrix; this network has n = {n} weights "
                          f"({8 * n * n / 2**30:.1f} GiB), above quasi_newton.max_weights = {qn['max_weights']}: "
                          "use a smaller network or method lbfgs")
    if qn["keep_best"] and qn["resample_every"] is None:
        raise ConfigError("pde.pinn.quasi_newton.keep_best",
                          "keep_best scores the weights before each redraw: it needs resample_every")
    return n


class BFGSStage:
    """One stage of ``total`` dense-BFGS iterations (see the module docstring)."""

    def __init__(self, pinn: PINN, name: str, stage: int, total: int, ckpt_path: Path, report: TrainReport,
                 anchors: np.ndarray | None, seed: int, log: Callable[[str], None]) -> None:
        self.pinn, self.name, self.stage, self.total = pinn, name, stage, total
        self.ckpt_path, self.report, self.anchors, self.seed, self.log = ckpt_path, report, anchors, seed, log
        self.qn = pinn.cfg["quasi_newton"]
        self.chunk = int(pinn.cfg["checkpoint_every"])
        self.params = [p for p in pinn.net.parameters() if p.requires_grad]
        self.redraws = 0
        # keep_best: the best-scored weights so far (before a redraw) and their score
        self.best_x: np.ndarray | None = None
        self.best_score = float("inf")
        self._selection_points: np.ndarray | None = None

    # -- the objective -------------------------------------------------------------------------
    def _set_weights(self, x: np.ndarray) -> None:
        import torch

        with torch.no_grad():
            torch.nn.utils.vector_to_parameters(torch.as_tensor(x, dtype=self.params[0].dtype,
                                                                device=self.params[0].device), self.params)

    def _weights(self) -> np.ndarray:
        import torch

        return torch.nn.utils.parameters_to_vector(self.params).detach().cpu().double().numpy()

    def _load_points(self) -> None:
        model = self.pinn.model
        model.train_state.set_data_train(*model.data.train_next_batch(model.batch_size))

    def _fg(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        import torch

        self._set_weights(x)
        ts = self.pinn.model.train_state
        losses = self.pinn.model.outputs_losses_train(ts.X_train, ts.y_train, ts.train_aux_vars)[1]
        loss = torch.sum(losses)
        grads = torch.autograd.grad(loss, self.params)
        return float(loss.detach()), torch.cat([g.reshape(-1) for g in grads]).detach().cpu().double().numpy()

    def _redraw(self) -> None:
        """New collocation points by RAD from fresh uniform candidates (seeded by stage and redraw)."""
        from sciml.pde.training_options import rar_select

        self.redraws += 1
        data = self.pinn.data
        n = len(data.train_x_all)
        draw_seed = self.seed + 7919 * (self.stage + 1) + self.redraws
        X = self.pinn.problem.uniform_points(int(self.qn["resample_candidates"]), draw_seed)
        res = self.pinn.residual(X)
        idx = rar_select(X, res, min(n, len(X)), "distribution", float(self.qn["resample_k"]),
                         float(self.qn["resample_c"]), draw_seed)
        data.replace_with_anchors(X[idx])
        self._load_points()

    # -- keep_best ------------------------------------------------------------------------------
    def _score(self, x: np.ndarray) -> float:
        """:func:`selection_score` of the weights ``x`` on the stage's fixed selection points."""
        n = int(self.qn["selection_points"])
        seed = self.seed + SELECTION_SEED_OFFSET
        if self._selection_points is None:
            self._selection_points = self.pinn.problem.uniform_points(n, seed)
        self._set_weights(x)
        return selection_score(self.pinn, self._selection_points, n, seed)

    def _remember(self, x: np.ndarray) -> None:
        """Score ``x`` (the weights before a redraw) and keep it if it is the best so far."""
        score = self._score(x)
        if score < self.best_score:
            self.best_x, self.best_score = np.array(x, copy=True), score

    def _final_weights(self, x: np.ndarray) -> np.ndarray:
        """The weights the stage ends on: ``x``, or with ``keep_best`` the best-scored of ``x``
        and the weights kept before the redraws."""
        if not self.qn["keep_best"] or self.best_x is None:
            return x
        score = self._score(x)
        if self.best_score < score:
            self.log(f"{self.name}: ending on the weights kept before a redraw (validation score "
                     f"{self.best_score:.4e}) instead of the last ones ({score:.4e})")
            self.report.kept_best = {"kept_score": round_sig(self.best_score), "last_score": round_sig(score)}
            return self.best_x
        return x

    # -- the loop ------------------------------------------------------------------------------
    def _state(self, opt: Any) -> dict[str, Any]:
        import torch

        H = opt.H
        keep = H is not None and H.numel() * H.element_size() <= HESSIAN_STATE_MAX_BYTES
        return {"kind": "bfgs", "H": H.detach().cpu().clone() if keep else None,
                "points": torch.as_tensor(np.asarray(self.pinn.data.train_x_all)), "redraws": self.redraws,
                "f_previous": opt.f_previous, "x": torch.as_tensor(opt.x),
                "best_x": None if self.best_x is None else torch.as_tensor(self.best_x),
                "best_score": self.best_score}

    def run(self, done: int, resume: dict[str, Any] | None, budget: float | None) -> None:
        """Train from ``done`` iterations to the stage's total, a final line-search failure or the budget."""
        from sciml.pde.quasi_newton import DenseBFGS, LineSearchFailed

        check_bfgs_settings(self.pinn)
        model = self.pinn.model
        model.compile("adam", lr=self.pinn.cfg["lr"], loss_weights=self.pinn.loss_weights(), verbose=0)  # builds the loss only
        resumed = resume is not None and resume.get("kind") == "bfgs"
        if resumed:
            self.redraws = int(resume["redraws"])
            self.pinn.data.replace_with_anchors(resume["points"].numpy())
            if resume.get("best_x") is not None:
                self.best_x, self.best_score = resume["best_x"].numpy(), float(resume["best_score"])
            if resume.get("x") is not None:  # the optimiser's own weights (the net may hold the kept ones)
                self._set_weights(resume["x"].numpy())
            if resume["H"] is None:
                self.log(f"{self.name}: the checkpoint holds no inverse Hessian (over the size cap); restarting it")
        self._load_points()
        opt = DenseBFGS(self._fg, self._weights(), method=self.qn["method"], H=resume["H"] if resumed else None,
                        device=self.params[0].device)
        if resumed:
            opt.f_previous = resume["f_previous"]
        every = self.qn["resample_every"]
        failures = 0
        t = time.perf_counter()
        last_saved = done
        while done < self.total:
            try:
                opt.step()
                done += 1
            except LineSearchFailed as err:
                failures += 1
                self.report.lbfgs_stopped_early = True
                if failures > int(self.pinn.cfg["lbfgs_restarts"]):
                    self.log(f"{self.name}: {err}; not restarting further")
                    break
                self.report.lbfgs_restarts += 1
                self.log(f"{self.name}: {err}; restart {self.report.lbfgs_restarts} from a fresh inverse Hessian")
                opt.H, opt.f_previous = None, None
                continue
            if every is not None and done % int(every) == 0 and done < self.total:
                # redrawn here, before a checkpoint at the same iteration, so the checkpoint holds the new points
                if self.qn["keep_best"]:
                    self._remember(opt.x)
                self._set_weights(opt.x)
                self._redraw()
                opt.refresh()
            if done % 100 == 0:
                step = sum(self.report.iterations.values()) + done - last_saved
                self.report.history.append([step, self.name, opt.f])
            # the budget is checked after every iteration (one costs well under a second), not only at
            # checkpoints, so a budgeted run stops within an iteration of it and checkpoints there
            spent = budget is not None and self.report.train_seconds + time.perf_counter() - t >= budget
            if done - last_saved >= self.chunk or done >= self.total or spent:
                t = self._checkpoint(opt, done, last_saved, t, last=bool(spent))
                last_saved = done
                if spent and done < self.total:
                    self.report.stopped_by_time_budget = True
                    self.log(f"{self.name}: time budget of {budget:g} s spent after {done} iterations; training stops")
                    return
        if done < self.total:  # the line search failed for good: the stage ends here
            self._checkpoint(opt, done, last_saved, t, finished=True)

    def _checkpoint(self, opt: Any, done: int, last_saved: int, t: float, finished: bool = False,
                    last: bool = False) -> float:
        """Save weights, report and (unless the stage ended) the optimiser state. ``last``: the
        stage stops here (budget spent, or the line search failed for good), so the weights saved
        are :meth:`_final_weights`; the optimiser state keeps its own weights for a resume."""
        ended = finished or done >= self.total
        self._set_weights(self._final_weights(opt.x) if (ended or last) else opt.x)
        self.report.train_seconds += time.perf_counter() - t
        check_finite(self.pinn, opt.f, self.name, done, self.ckpt_path)
        self.report.iterations[self.name] = self.report.iterations.get(self.name, 0) + done - last_saved
        save_checkpoint(self.ckpt_path, self.pinn, self.stage + ended, 0 if ended else done, self.report, self.anchors,
                        opt_state=None if ended else self._state(opt))
        self.log(f"{self.name}: {done}/{self.total} iterations, loss {opt.f:.4e}, {self.report.train_seconds:.1f} s")
        return time.perf_counter()
