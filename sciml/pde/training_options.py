"""PINN training options of the state of the art that DeepXDE does not ship (issue #17).

- :class:`CausalWeighting` (``pinn.causal``): Wang, Sankaran & Perdikaris (2022), "Respecting
  causality is all you need". Collocation points are binned into M time chunks; the residual
  of chunk i is weighted by w_i = exp(-epsilon * sum_{k<i} L_k), L_k the chunk's mean squared
  residual (weights carry no gradient), so later times train only once earlier ones fit.
- :class:`AdaptiveWeights` (``pinn.adaptive_weights``): learning-rate annealing of the loss
  weights (Wang, Teng & Perdikaris 2021; as in the "expert's guide", Wang et al. 2023):
  lambda_i <- alpha lambda_i + (1 - alpha) sum_j |grad L_j| / |grad L_i|, every ``every``
  Adam iterations; frozen during L-BFGS (a moving objective breaks its line search).
- :func:`rar_select` (``pinn.rar.method: distribution``): RAR-D of Wu et al. (2023), new points
  drawn without replacement with probability proportional to r^k / mean(r^k) + c.
- :func:`curriculum_windows` (``pinn.curriculum``): a time curriculum; the Adam stage is split
  into W windows, window w training on the collocation points with t <= t0 + (t1 - t0) w / W.

None of these uses the solution: each reads only the residual, the losses or the time axis.
This module imports DeepXDE: pinn.py imports it lazily, inside build_pinn and train_pinn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sciml.errors import ConfigError
from sciml.pde.pinn import import_deepxde

dde = import_deepxde()


@dataclass
class CausalWeighting:
    """Wraps a DeepXDE PDE function ``pde(x, y)`` with causal residual weights over time column
    ``t_col`` of the inputs, bounds ``t_bounds``; ``chunks`` bins, ``epsilon`` the causality
    parameter. ``min_weight`` is the smallest chunk weight of the last call (1 = all times train)."""

    pde: Any
    t_col: int
    t_bounds: tuple[float, float]
    chunks: int
    epsilon: float
    min_weight: float = field(default=1.0)

    def chunk_weights(self, t: Any, sq: Any) -> tuple[Any, Any]:
        """Per-chunk weights (chunks,) and each point's chunk index (n,) for times ``t`` (n,)
        and squared residuals ``sq`` (n,) (torch tensors, no gradient)."""
        import torch

        t0, t1 = self.t_bounds
        idx = ((t - t0) / (t1 - t0) * self.chunks).floor().long().clamp(0, self.chunks - 1)
        total = torch.zeros(self.chunks, dtype=sq.dtype, device=sq.device).index_add_(0, idx, sq)
        count = torch.bincount(idx, minlength=self.chunks).to(sq.dtype).clamp(min=1.0)
        loss = total / count
        return torch.exp(-self.epsilon * (torch.cumsum(loss, 0) - loss)), idx

    def __call__(self, x: Any, y: Any) -> Any:
        import torch

        r = self.pde(x, y)
        parts = list(r) if isinstance(r, (list, tuple)) else [r]
        with torch.no_grad():
            sq = sum(p.detach().reshape(-1) ** 2 for p in parts)
            w, idx = self.chunk_weights(x[:, self.t_col].detach(), sq)
            self.min_weight = float(w.min())
            scale = torch.sqrt(w[idx]).reshape(-1, 1)
        out = [p * scale.reshape(p.shape) if p.dim() == 1 else p * scale for p in parts]
        return out if isinstance(r, (list, tuple)) else out[0]


def causal_wrapper(problem: Any, pde: Any, cfg: dict[str, Any]) -> Any:
    """``pde`` wrapped by :class:`CausalWeighting` when ``pinn.causal.enabled``; else ``pde``."""
    causal = cfg.get("causal") or {}
    if not causal.get("enabled", False):
        return pde
    if problem.inputs[-1] != "t":
        raise ConfigError("pde.pinn.causal", f"problem '{problem.name}' has no time input: causal weighting "
                          "needs one (inputs end in 't')")
    lo, hi = problem.bounds()[-1]
    return CausalWeighting(pde, len(problem.inputs) - 1, (float(lo), float(hi)),
                           int(causal["chunks"]), float(causal["epsilon"]))


class AdaptiveWeights(dde.callbacks.Callback):
    """Gradient-norm balancing of DeepXDE's loss terms, a DeepXDE callback.

    ``weights`` starts at ``initial`` (one per loss term) and is written into
    ``model.loss_weights``, which DeepXDE's PyTorch loss reads at every step.
    """

    def __init__(self, initial: list[float], every: int, alpha: float) -> None:
        super().__init__()
        self.weights = [float(w) for w in initial]
        self.every = int(every)
        self.alpha = float(alpha)
        self.calls = 0
        self.updates = 0

    def on_batch_begin(self) -> None:
        if self.calls % self.every == 0:
            self.update()
        self.calls += 1

    def gradient_norms(self) -> list[float]:
        """|d L_i / d theta| for each unweighted loss term at the current training points."""
        import torch

        m = self.model
        saved, m.loss_weights = m.loss_weights, None
        try:
            ts = m.train_state
            _, losses = m.outputs_losses_train(ts.X_train, ts.y_train, ts.train_aux_vars)
        finally:
            m.loss_weights = saved
        params = [p for p in m.net.parameters() if p.requires_grad]
        norms = []
        for i in range(len(losses)):
            grads = torch.autograd.grad(losses[i], params, retain_graph=i < len(losses) - 1, allow_unused=True)
            norms.append(math.sqrt(sum(float((g ** 2).sum()) for g in grads if g is not None)))
        return norms

    def update(self) -> None:
        """One annealing step of the weights (kept when a gradient norm is 0 or not finite)."""
        norms = self.gradient_norms()
        if len(norms) != len(self.weights):
            raise ConfigError("pde.pinn.adaptive_weights", f"{len(norms)} loss terms, {len(self.weights)} weights")
        total = sum(norms)
        if all(math.isfinite(n) and n > 0 for n in norms):
            self.weights = [self.alpha * w + (1.0 - self.alpha) * total / n for w, n in zip(self.weights, norms)]
            self.updates += 1
        self.model.loss_weights = list(self.weights)


def rar_select(X: np.ndarray, residual: np.ndarray, n: int, method: str, k: float, c: float,
               seed: int) -> np.ndarray:
    """Indices of the ``n`` candidates of ``X`` to add: the largest ``residual`` (greedy, Lu et al.
    2021) or drawn with probability r^k / mean(r^k) + c without replacement (RAR-D)."""
    if method == "greedy":
        return np.argsort(-residual, kind="stable")[:n]
    if method != "distribution":
        raise ConfigError("pde.pinn.rar.method", f"unknown method '{method}' (greedy or distribution)")
    rk = np.power(np.abs(residual), k)
    p = rk / rk.mean() + c if rk.mean() > 0 else np.ones_like(rk)
    p = p / p.sum()
    rng = np.random.default_rng(seed)
    n_pos = int(np.count_nonzero(p))
    if n_pos < n:  # fewer candidates with weight than asked for: take them all, then the rest uniformly
        rest = rng.choice(np.flatnonzero(p == 0), n - n_pos, replace=False)
        return np.concatenate([np.flatnonzero(p > 0), rest])
    return rng.choice(len(X), n, replace=False, p=p)


def curriculum_windows(cfg: dict[str, Any], adam_iterations: int) -> list[tuple[int, float]]:
    """[(iteration where the window ends, fraction of the time interval it covers)], or [] when
    ``pinn.curriculum.windows`` is 0 or 1. Window ends are rounded to whole iterations."""
    windows = int((cfg.get("curriculum") or {}).get("windows", 0))
    if windows <= 1 or adam_iterations <= 0:
        return []
    return [(round(adam_iterations * w / windows), w / windows) for w in range(1, windows + 1)]


def window_points(points: np.ndarray, t_col: int, t_bounds: tuple[float, float], fraction: float) -> np.ndarray:
    """The rows of ``points`` with time <= t0 + fraction (t1 - t0) (all of them at fraction 1)."""
    t0, t1 = t_bounds
    if fraction >= 1.0:
        return points
    return points[points[:, t_col] <= t0 + fraction * (t1 - t0) + 1e-12]
