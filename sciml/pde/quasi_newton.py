"""Dense self-scaled BFGS for small networks (``pde.pinn.quasi_newton: ssbfgs``).

Why it is written here: PINN studies that reach relative errors far below L-BFGS's
(Urbán, Stefanou & Pons, J. Comput. Phys. 2025, arXiv:2405.04230; Kiyani et al., CMAME
2025, arXiv:2501.16371) train compact networks (a few thousand weights) with *full* BFGS
in float64, self-scaled (Al-Baali's factor), under a Wolfe line search. Neither torch nor
DeepXDE has a dense BFGS; SciPy's ``minimize(method="BFGS")`` has no self-scaling and
updates its inverse Hessian with two dense n x n matrix products per iteration (O(n^3):
at n = 3297, the Burgers network, 3.28 s per update against 0.019 s for the rank-two
update below, while one loss-and-gradient evaluation there takes ~0.07 s; measured on the
2-core AMD EPYC box, 1 thread, 2026-12-05, with ``benchmarks/pde/bfgs_update_cost.py``). So the update is written here, O(n^2) in place,
and the line search is SciPy's (``scipy.optimize.line_search``, strong Wolfe).

The objective is any ``fg(x) -> (f, g)`` on float64 numpy vectors; :class:`DenseBFGS`
keeps x, f, g and the inverse-Hessian approximation H (torch float64, on the device of
the network) between :meth:`DenseBFGS.step` calls, so a training loop can checkpoint
and time-box it between steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: the update formulas offered: plain BFGS, and BFGS with Al-Baali's self-scaling factor
METHODS = ("bfgs", "ssbfgs")


class LineSearchFailed(RuntimeError):
    """The Wolfe line search found no acceptable step (typically: the loss is flat to rounding)."""


class _Cached:
    """``fg`` wrapped so the line search's separate f and f' calls at one x cost one evaluation."""

    def __init__(self, fg: Callable[[np.ndarray], tuple[float, np.ndarray]]) -> None:
        self.fg = fg
        self.x: np.ndarray | None = None
        self.value: tuple[float, np.ndarray] | None = None
        self.evaluations = 0

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        if self.x is None or not np.array_equal(x, self.x):
            self.value = self.fg(x)
            self.x = np.array(x, copy=True)
            self.evaluations += 1
        assert self.value is not None
        return self.value

    def f(self, x: np.ndarray) -> float:
        return self(x)[0]

    def g(self, x: np.ndarray) -> np.ndarray:
        return self(x)[1]


class DenseBFGS:
    """Full-memory (self-scaled) BFGS on ``fg``, one iteration per :meth:`step`.

    ``method``: ``"bfgs"`` (the standard inverse update) or ``"ssbfgs"`` (H divided by
    tau = min(1, 1/b) before the update, b = s'Bs / s'y with B = H^-1, Al-Baali's
    self-scaling as in Urbán et al. 2025, eq. 11). The first update scales H0 = I to
    (s'y / y'y) I (Nocedal & Wright, eq. 6.20). A pair with s'y <= 0 is skipped (H kept).
    ``H``: a saved inverse Hessian (n, n) to continue from, or None for the identity.
    """

    def __init__(self, fg: Callable[[np.ndarray], tuple[float, np.ndarray]], x0: np.ndarray, method: str = "ssbfgs",
                 H: Any = None, c1: float = 1e-4, c2: float = 0.9, device: Any = None) -> None:
        import torch

        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got '{method}'")
        self.fun = _Cached(fg)
        self.method, self.c1, self.c2 = method, c1, c2
        self.x = np.asarray(x0, dtype=np.float64).copy()
        self.f, g = self.fun(self.x)
        self.g = np.asarray(g, dtype=np.float64)
        self.f_previous: float | None = None
        self.iterations = 0
        self.skipped_updates = 0
        n = self.x.size
        self.device = device if device is not None else "cpu"
        if H is None:
            self.H = None  # identity until the first update
        else:
            self.H = torch.as_tensor(H, dtype=torch.float64, device=self.device).clone()
            if self.H.shape != (n, n):
                raise ValueError(f"saved inverse Hessian has shape {tuple(self.H.shape)}, expected ({n}, {n})")

    def refresh(self) -> float:
        """Re-evaluate f and g at the current x after the objective changed (new collocation
        points); H is kept, as the resampling PINN studies do. Returns the new loss."""
        self.fun.x = None
        self.f, g = self.fun(self.x)
        self.g = np.asarray(g, dtype=np.float64)
        self.f_previous = None
        return self.f

    def _times_H(self, v: np.ndarray) -> np.ndarray:
        import torch

        if self.H is None:
            return v.copy()
        return (self.H @ torch.as_tensor(v, device=self.device)).cpu().numpy()

    def step(self) -> float:
        """One iteration: direction -H g, strong-Wolfe step, inverse-Hessian update. Returns the new loss.

        Raises :class:`LineSearchFailed` when no step satisfies the Wolfe conditions (x, f, g unchanged).
        """
        from scipy.optimize import line_search

        p = -self._times_H(self.g)
        if not np.dot(p, self.g) < 0:  # lost positive definiteness in rounding: restart from -g
            self.H = None
            p = -self.g.copy()
        # First trial step: as SciPy's BFGS, a step of ~1 in x on the first iteration.
        previous = self.f_previous if self.f_previous is not None else self.f + float(np.linalg.norm(self.g)) / 2
        alpha, _, _, f_new, _, g_new = line_search(self.fun.f, self.fun.g, self.x, p, self.g, self.f, previous,
                                                   c1=self.c1, c2=self.c2, amax=1e100)
        if alpha is None or f_new is None or not np.isfinite(f_new):
            raise LineSearchFailed(f"no Wolfe step after {self.iterations} iterations (loss {self.f:.6e})")
        if g_new is None:
            g_new = self.fun.g(self.x + alpha * p)
        s = alpha * p
        y = np.asarray(g_new, dtype=np.float64) - self.g
        g_old = self.g
        self.x = self.x + s
        self.f_previous, self.f, self.g = self.f, float(f_new), np.asarray(g_new, dtype=np.float64)
        self.iterations += 1
        self._update(s, y, alpha, g_old)
        return self.f

    def _update(self, s: np.ndarray, y: np.ndarray, alpha: float, g_old: np.ndarray) -> None:
        import torch

        sy = float(np.dot(s, y))
        if not sy > 0:
            self.skipped_updates += 1
            return
        rho = 1.0 / sy
        if self.H is None:
            self.H = torch.eye(s.size, dtype=torch.float64, device=self.device) * (sy / float(np.dot(y, y)))
        elif self.method == "ssbfgs":
            b = -alpha * rho * float(np.dot(s, g_old))  # s'Bs / s'y, since B s = -alpha g_old
            tau = min(1.0, 1.0 / b) if b > 0 else 1.0
            if tau != 1.0:
                self.H.div_(tau)
        st = torch.as_tensor(s, device=self.device)
        Hy = self.H @ torch.as_tensor(y, device=self.device)
        yHy = float(torch.dot(Hy, torch.as_tensor(y, device=self.device)))
        # H <- (I - rho s y') H (I - rho y s') + rho s s', expanded to three rank-one updates
        self.H.addr_(Hy, st, alpha=-rho)
        self.H.addr_(st, Hy, alpha=-rho)
        self.H.addr_(st, st, alpha=rho * (1.0 + rho * yHy))
