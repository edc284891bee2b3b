"""Pseudo-likelihood Potts model (plmDCA / GREMLIN style) in PyTorch, with APC.

Energy: E(x) = sum_i h_i(x_i) + sum_{i != j} W_ij(x_i, x_j) over q = 21 states.
Objective (asymmetric plm, Ekeberg et al. 2014; symmetrised at the end):
``f = [sum_n w_n sum_i -log P(x_ni | x_n,-i) + lambda_h |h|^2 + lambda_J' |W|^2] / sum_n w_n``
with 80%-identity sequence weights w_n and GREMLIN's lambda_J' = lambda_J (L-1)(q-1)/2.

Speed (why it is written this way): the conditional logits need
``sum_j W[j*q + x_nj, :]`` for every sequence n, i.e. a (N x Lq) one-hot times the
(Lq x Lq) coupling matrix. On CPU the product is computed as an ``embedding_bag`` sum
over the L observed states of each row (N*L*Lq adds instead of the dense matmul's
2*N*(Lq)^2 flops), and its transpose for the gradient as another ``embedding_bag``
over the rows of the logit gradient with fixed, precomputed "bags" (the rows having
state b at column j). Both are done in column blocks of ``_BLOCK_POS`` positions so the table
being gathered stays in cache (3x faster than whole rows). On GPU the dense matmul is
used. Gradients are written by hand (no autograd graph over the Lq x Lq matrix).

Coordinates (``centered``, default for L-BFGS): theta holds h' = h + f @ W instead of h, with f the
weighted one-hot frequencies of the fitted rows, i.e. the couplings act on centered one-hot features
(the centering trick of Boltzmann-machine training). The objective and its optimum are the same; a
shift of W[(j, *), (i, a)] no longer drags the (i, a) logit of every row with it, which is the
ill-conditioned field-coupling direction of plain one-hot coordinates. On the optimiser benchmark
families the centered fit reaches the plain default's final objective 1.2-2.0x sooner, and the same
tolerance stops it 2-76x closer to the optimum (within 1e-4 of it on all four, where the plain fit stopped
up to 0.39 % above it; ``benchmarks/proteins/potts_centered.py``, BENCHMARKS.md).

Diagonal start (``preconditioned``, default for the hand-written L-BFGS): every L-BFGS direction starts
from gamma P instead of gamma I, with P the inverse of the Hessian's diagonal at the frequency start
(:meth:`PLObjective.precondition_`). The curvature of a field or coupling scales with the frequencies of
its states (f (1 - f) for a field), so it spans orders of magnitude between rare and frequent residues,
which a multiple of the identity cannot follow. Same objective and optimum; measured time to convergence
in BENCHMARKS.md (``benchmarks/proteins/potts_preconditioned.py``).

Symmetric couplings (``symmetric``, option): the same objective restricted to W_ji = W_ij^T with one block
per pair, half the parameters (:mod:`sciml.proteins.potts_symmetric`, as GREMLIN/CCMpred/plmc fit it).

Fitting: full-batch L-BFGS run to convergence, as plmDCA/CCMpred do (default): on CPU the
hand-written :func:`lbfgs` (backtracking line search, float32 buffers allocated once), which
reaches the same objective as SciPy's L-BFGS-B (:func:`scipy_lbfgs`, ``lbfgs_backend: scipy``)
2.1-5.0x faster on the msa_pairs families (``benchmarks/proteins/potts_lbfgs_backends.py``,
BENCHMARKS.md: SciPy spends 4x the objective's own time in its float64 bookkeeping over 10-30M
parameters); on GPU ``torch.optim.LBFGS`` (:func:`torch_lbfgs`). Or mini-batch Adam (GREMLIN's optimiser), or ``auto``: L-BFGS
up to ``lbfgs_max_rows`` unique rows, Adam over all rows above (with ``max_sequences`` raised,
the faster and, on 5ptpA, more precise but less converged choice; BENCHMARKS.md). Identical rows are merged with
summed weights, and alignments above ``max_sequences`` rows are uniformly subsampled
(seeded, query row kept) with weights computed on the WHOLE alignment (so each kept row
has its true weight, not one recomputed inside the subsample).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sciml.proteins.alignments import GAP, Q

#: Positions per column block of the cache-blocked embedding_bag products (6 * q = 126 columns; 64-128 measured best).
_BLOCK_POS = 6
#: Rows per chunk of the objective (bounds the (rows x Lq) logit buffer).
_ROWS = 1024
#: Rows per slice of the curvature temporary in :meth:`PLObjective.precondition_`.
_PRECONDITION_ROWS = 8192
#: Iterations over which the hand-written L-BFGS measures the objective's decrease for its stopping test.
CONVERGENCE_WINDOW = 5


@dataclass(frozen=True)
class PottsSettings:
    """Hyper-parameters (see ``sciml/schemas/proteins.schema.yaml`` for the documented defaults)."""

    lambda_h: float = 0.01
    lambda_j: float = 0.01
    optimizer: str = "lbfgs"
    lbfgs_max_rows: int = 3000
    lbfgs_backend: str = "auto"
    centered: bool = True
    preconditioned: bool = True
    symmetric: bool = False
    max_iter: int = 1000
    history: int = 5
    tolerance: float = 1e-6
    gtol: float = 0.0
    epochs: int = 2
    batch_size: int = 512
    lr: float = 0.05
    max_sequences: int = 3000
    identity_threshold: float = 0.8
    device: str = "auto"


def prepare(X: Any, settings: PottsSettings, seed: int, device: str = "cpu") -> tuple[Any, Any, float]:
    """Weight at the identity threshold (whole alignment), subsample (seeded), merge identical rows.

    Returns (X_unique (M, L) int64 tensor, weights (M,) float32 tensor, N_eff of the whole alignment).
    """
    import numpy as np
    import torch

    from sciml.proteins.alignments import sequence_weights

    X = np.asarray(X)
    N = X.shape[0]
    w = sequence_weights(X, settings.identity_threshold, device=device).cpu().numpy().astype(np.float64)
    n_eff = float(w.sum())
    if N > settings.max_sequences:
        rng = np.random.default_rng(seed)
        rows = np.sort(np.concatenate([[0], rng.choice(np.arange(1, N), settings.max_sequences - 1, replace=False)]))
    else:
        rows = np.arange(N)
    uniq, inverse = np.unique(X[rows], axis=0, return_inverse=True)
    wu = np.zeros(len(uniq), dtype=np.float64)
    np.add.at(wu, inverse.reshape(-1), w[rows])
    return torch.as_tensor(uniq.astype(np.int64)), torch.as_tensor(wu, dtype=torch.float32), n_eff


def coupling_scores(W: Any, L: int, apc: bool = True) -> Any:
    """(L, L) Frobenius norms of the 20x20 (gap excluded) coupling blocks, APC-corrected."""
    import numpy as np

    from sciml.proteins.metrics import symmetrize_apc

    J = np.asarray(W, dtype=np.float64).reshape(L, Q, L, Q)
    keep = [a for a in range(Q) if a != GAP]
    J = J[:, keep][:, :, :, keep]
    # zero-sum gauge on the 20x20 block before the norm, as plmDCA/CCMpred do
    J = J - J.mean(axis=1, keepdims=True) - J.mean(axis=3, keepdims=True) + J.mean(axis=(1, 3), keepdims=True)
    F = np.sqrt((J ** 2).sum(axis=(1, 3)))
    F = 0.5 * (F + F.T)
    np.fill_diagonal(F, 0.0)
    return symmetrize_apc(F) if apc else F


class PLObjective:
    """Weighted negative pseudo-log-likelihood (+ L2) of ``X`` (M, L) int64 and its exact gradient.

    Parameters are one flat vector ``theta = [h (L*q), W]``. On CPU, W is stored in column
    blocks of ``_BLOCK_POS`` positions (block b = columns [s_b, e_b) of the (Lq, Lq) matrix,
    a contiguous (Lq, e_b - s_b) slice of theta), so the embedding_bag gathers read
    contiguous, cache-sized tables without a copy per evaluation. ``dense=True`` (GPU path,
    and the reference the tests compare with) stores W row-major and uses one-hot matmuls.
    ``to_theta``/``from_theta`` convert between (h, W matrix) and theta. The gradient of
    the diagonal (i, i) blocks is zero (no self-coupling).
    """

    def __init__(self, X: Any, w: Any, lambda_h: float, lambda_j: float, norm: float | None = None,
                 dense: bool = False, centered: bool = False) -> None:
        import torch

        self.device = X.device
        self.M, self.L = X.shape
        L = self.L
        self.Lq = Lq = L * Q
        self.nh = L * Q
        self.n = self.nh + Lq * Lq
        self.norm = float(w.sum()) if norm is None else float(norm)
        self.lam_h = lambda_h
        self.lam_j = lambda_j * (L - 1) * (Q - 1) / 2.0
        self.dense = dense
        self.centered = centered
        # weighted one-hot frequencies f (Lq,) of the fitted rows (centered: theta holds h' = h + f @ W)
        counts = torch.zeros(L, Q, device=self.device, dtype=w.dtype)
        counts.scatter_add_(1, X.T.contiguous(), w[None, :].expand(L, -1).contiguous())
        self.freq = (counts / w.sum()).reshape(-1)
        step = Lq if dense else _BLOCK_POS * Q
        self.blocks = [(c, min(c + step, Lq)) for c in range(0, Lq, step)]
        offs = torch.arange(L, device=self.device) * Q
        self.chunks = []
        for s in range(0, self.M, _ROWS):
            x = X[s:s + _ROWS]
            idx = x + offs  # (R, L) row of W gathered for each observed state
            ch = {"x": x, "idx": idx, "w": w[s:s + _ROWS]}
            if not dense:
                # bags for the transposed product: for key k = j*q + b, the chunk rows with x_j = b
                key = idx.T.reshape(-1)
                rows = torch.arange(len(x), device=self.device).repeat(L)
                order = torch.argsort(key, stable=True)
                counts = torch.bincount(key, minlength=Lq)
                ch["bag_rows"] = rows[order].contiguous()
                ch["bag_offsets"] = torch.cat([counts.new_zeros(1), counts.cumsum(0)[:-1]])
            self.chunks.append(ch)

    def precondition_(self, v: Any) -> Any:
        """Divide ``v`` (a parameter-shaped vector) in place by a diagonal estimate of the objective's Hessian.

        The estimate is the Hessian's diagonal at the start (fields only, so P(x_i = a) = f_ia): a field
        (i, a) has curvature f_ia (1 - f_ia) + 2 lambda_h / norm and a coupling from state (j, b) to (i, a)
        has E[u_jb^2] f_ia (1 - f_ia) + 2 lambda_J' / norm, with u_jb the one-hot feature (centered: x - f,
        so E[u^2] = f (1 - f); plain: x, so E[u^2] = f). These curvatures span orders of magnitude between
        rare and frequent states, which a multiple of the identity (L-BFGS's usual start) cannot follow.
        Computed block by block from the two (Lq,) vectors, so no parameter-sized copy is kept.
        """
        import torch

        row, col = self.curvature_factors()
        h, vb = self._views(v)
        self.precondition_fields_(h.view(-1))
        with torch.no_grad():
            R = _PRECONDITION_ROWS  # row slices bound the (rows x width) temporary: dense W is one block
            for (s, e), blk in zip(self.blocks, vb):
                for r in range(0, self.Lq, R):
                    blk[r:r + R].div_(torch.outer(row[r:r + R], col[s:e]).add_(2.0 * self.lam_j / self.norm))
        return v

    def curvature_factors(self) -> tuple[Any, Any]:
        """(row, col) (Lq,) of the coupling curvature estimate row[(j, b)] col[(i, a)] (+ penalty) of
        :meth:`precondition_`: col = f (1 - f); row = E[u^2] of the one-hot feature (f (1 - f) centered, f plain)."""
        f = self.freq
        col = f * (1.0 - f)
        return (col if self.centered else f), col

    def precondition_fields_(self, vh: Any) -> Any:
        """The field part of :meth:`precondition_`: divide ``vh`` (L*q,) in place by f (1 - f) + 2 lambda_h / norm."""
        import torch

        with torch.no_grad():
            return vh.div_(self.freq * (1.0 - self.freq) + 2.0 * self.lam_h / self.norm)

    def _views(self, theta: Any) -> tuple[Any, list[Any]]:
        """(h (L, q), [W column blocks (Lq, width)]) as views of ``theta``."""
        Lq = self.Lq
        return theta[:self.nh].view(self.L, Q), [theta[self.nh + Lq * s:self.nh + Lq * e].view(Lq, e - s)
                                                 for s, e in self.blocks]

    def to_theta(self, h: Any, W: Any) -> Any:
        """Flat parameter vector from h (L, q) and the (Lq, Lq) coupling matrix."""
        import torch

        theta = torch.cat([h.reshape(-1)] + [W[:, s:e].reshape(-1) for s, e in self.blocks])
        if self.centered:
            theta[:self.nh].add_(self._mean_coupling(theta))
        return theta

    def from_theta(self, theta: Any) -> tuple[Any, Any]:
        """(h (L, q), W (Lq, Lq)) copies from a flat parameter vector."""
        import torch

        h, Wb = self._views(theta)
        h = h.clone()
        if self.centered:
            h.view(-1).sub_(self._mean_coupling(theta))
        return h, torch.cat(Wb, 1)

    def _mean_coupling(self, theta: Any) -> Any:
        """f @ W (Lq,): the coupling each (i, a) receives on average over the fitted rows."""
        import torch

        _, Wb = self._views(theta)
        return torch.cat([self.freq @ wb for wb in Wb])

    def value_and_grad(self, theta: Any, grad: Any | None = None) -> float:
        """Objective at ``theta``; when ``grad`` (same shape) is given it is overwritten with the gradient."""
        if self.centered:
            # evaluate at the true fields h = h' - f @ W, in place (only the L*q field entries change)
            h_centered = theta[:self.nh].clone()
            theta[:self.nh].sub_(self._mean_coupling(theta))
            try:
                return self._value_and_grad(theta, grad)
            finally:
                theta[:self.nh].copy_(h_centered)
        return self._value_and_grad(theta, grad)

    def _value_and_grad(self, theta: Any, grad: Any | None) -> float:
        """Objective and gradient with respect to (h, W) at a theta holding the true fields; with
        ``centered`` the W gradient is returned with respect to (h', W) (chain rule through h = h' - f @ W)."""
        import torch
        import torch.nn.functional as F

        L, Lq = self.L, self.Lq
        h, Wb = self._views(theta)
        with torch.no_grad():
            if grad is not None:
                gh, gWb = self._views(grad)
                if not self.chunks:
                    grad.zero_()
            nll = 0.0
            # the first row chunk writes every gradient entry (assigned, not added to a zeroed buffer), and the
            # gradient is scaled by 1 / norm on the (rows x Lq) chunk, not on the parameter-sized vector: fewer
            # passes over the 10-30 M entries. Timed alone at L = 256 (1a0tP, one core) the zeroing, the extra read
            # of the accumulation and the division took 5 + 7 + 5 ms of an evaluation's ~145 ms; the whole
            # evaluation's A/B difference was within the box's run-to-run noise (+-10 ms)
            for k, ch in enumerate(self.chunks):
                x, w = ch["x"], ch["w"]
                R = len(x)
                if self.dense:
                    oh = F.one_hot(x, Q).reshape(R, Lq).to(theta.dtype)
                    logits = oh @ Wb[0]
                else:
                    logits = torch.cat([F.embedding_bag(ch["idx"], b, mode="sum") for b in Wb], 1)
                logp = torch.log_softmax(logits.view(R, L, Q) + h, -1)
                nll -= float((logp.gather(2, x[..., None]).squeeze(-1).sum(1) * w).sum())
                if grad is None:
                    continue
                G = logp.exp_()  # dNLL/dlogits = w_n (P - onehot)
                G.scatter_add_(2, x[..., None], torch.full((R, L, 1), -1.0, device=self.device, dtype=G.dtype))
                G.mul_((w / self.norm)[:, None, None])
                if k == 0:
                    gh.copy_(G.sum(0))
                else:
                    gh += G.sum(0)
                G = G.view(R, Lq)
                if self.dense:
                    if k == 0:
                        torch.mm(oh.T, G, out=gWb[0])
                    else:
                        gWb[0].addmm_(oh.T, G)
                else:
                    for (s, e), gb in zip(self.blocks, gWb):
                        part = F.embedding_bag(ch["bag_rows"], G[:, s:e].contiguous(), ch["bag_offsets"], mode="sum")
                        if k == 0:
                            gb.copy_(part)
                        else:
                            gb += part
            Wflat = theta[self.nh:]
            reg = self.lam_h * float(torch.dot(h.reshape(-1), h.reshape(-1))) + self.lam_j * float(torch.dot(Wflat, Wflat))
            f = (nll + reg) / self.norm
            if grad is not None:
                grad[:self.nh].add_(theta[:self.nh], alpha=2.0 * self.lam_h / self.norm)
                grad[self.nh:].add_(Wflat, alpha=2.0 * self.lam_j / self.norm)
                if self.centered:  # dF/dW|h' = dF/dW|h - f (x) dF/dh
                    gh_flat = gh.reshape(-1)
                    for (s, e), gb in zip(self.blocks, gWb):
                        gb.addr_(self.freq, gh_flat[s:e], alpha=-1.0)
                for (s, e), gb in zip(self.blocks, gWb):  # no self-coupling: zero the (i, i) blocks
                    pos = torch.arange(s // Q, e // Q, device=self.device)
                    gb.view(L, Q, len(pos), Q)[pos, :, pos - s // Q, :] = 0.0
        return f


def _init_fields(Xu: Any, wu: Any) -> Any:
    """Fields from weighted log frequencies with a small pseudocount, as GREMLIN initialises them."""
    import torch

    L = Xu.shape[1]
    counts = torch.zeros(L, Q, device=Xu.device)
    counts.scatter_add_(1, Xu.T.contiguous(), wu[None, :].expand(L, -1).contiguous())
    freq = (counts + 0.01 * wu.sum() / Q) / (wu.sum() * 1.01)
    return torch.log(freq)


def fit(X: Any, settings: PottsSettings = PottsSettings(), seed: int = 0, log: Callable[[str], Any] | None = None
        ) -> dict[str, Any]:
    """Fit the Potts model to an encoded alignment ``X`` (N, L) uint8.

    Returns ``{"scores": (L, L) APC scores, "W": (Lq, Lq) symmetrised couplings, "h": (L, q),
    "n_eff": float (whole alignment), "n_used": int (unique rows fitted), "loss": [objective at the start
    and after each L-BFGS iteration, or mean batch objective per Adam epoch], "objective": final
    full-batch objective on the fitted rows,
    "iterations": int, "evaluations": int, "weights_s"/"fit_s": wall seconds, "device": str}``.
    """
    import time

    import numpy as np
    import torch

    from sciml.errors import ConfigError

    if settings.optimizer not in ("auto", "lbfgs", "adam"):
        raise ConfigError("proteins.potts.optimizer", f"unknown optimizer {settings.optimizer!r}; valid: auto, lbfgs, adam")
    device = settings.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    Xu, wu, n_eff = prepare(np.asarray(X), settings, seed, device=device)
    Xu, wu = Xu.to(device), wu.to(device)
    t_w = time.perf_counter() - t0
    M, L = Xu.shape
    Lq = L * Q
    dense = device != "cpu"
    # Penalties are per used weight (GREMLIN's normalisation on the fitted rows). Tried: scaling them by
    # (used weight / N_eff) so a subsample estimates the whole-alignment objective; on 5ptpA (3000 of
    # 15,567 rows) that left L/5 unchanged (0.864), lowered long L from 0.614 to 0.583 and converged slower.
    lam_h, lam_j = settings.lambda_h, settings.lambda_j
    h = _init_fields(Xu, wu)
    W = torch.zeros(Lq, Lq, device=device)
    # auto: full-batch L-BFGS converges in ~50 iterations on small alignments; on large ones a full pass
    # is too expensive to repeat that often, so Adam over all rows (5ptpA, 15,567 rows, 2 epochs: L/5
    # 0.932 in 36 s, whole-alignment objective 385.1) instead of L-BFGS on a 3000-row subsample
    # (L/5 0.864 in 48 s, objective 341.7: lower, hence the default).
    method = settings.optimizer if settings.optimizer != "auto" else ("lbfgs" if M <= settings.lbfgs_max_rows else "adam")
    # centered fields (L-BFGS only: Adam's batches have their own frequencies): the same objective in better
    # conditioned coordinates, so L-BFGS needs fewer iterations to a given objective (BENCHMARKS.md)
    obj = PLObjective(Xu, wu, lam_h, lam_j, dense=dense, centered=settings.centered and method == "lbfgs")
    symmetric = settings.symmetric and method == "lbfgs"
    if settings.symmetric and not symmetric and log:
        log(f"potts: symmetric couplings need L-BFGS; {M} unique rows are fitted by Adam with asymmetric couplings")
    if symmetric:  # W_ji = W_ij^T, one block per pair: half the parameters (sciml/proteins/potts_symmetric.py)
        from sciml.proteins.potts_symmetric import SymmetricPLObjective

        obj = SymmetricPLObjective(obj)
    backend = None
    if method == "lbfgs":
        backend = lbfgs_backend(settings.lbfgs_backend, device)
        minimise = {"scipy": scipy_lbfgs, "torch": torch_lbfgs, "own": lbfgs}[backend]
        # the diagonal start of the hand-written L-BFGS (SciPy's and torch's have none)
        extra = {"precondition": obj.precondition_} if backend == "own" and settings.preconditioned else {}
        theta, losses, iterations, n_eval = minimise(obj.value_and_grad, obj.to_theta(h, W), settings.max_iter,
                                                     settings.history, settings.tolerance, log, gtol=settings.gtol,
                                                     **extra)
    else:
        theta, losses, n_eval = _fit_adam(Xu, wu, obj.to_theta(h, W), settings, lam_h, lam_j, seed, dense, log)
        iterations = len(losses)
    final = losses[-1] if method == "lbfgs" else obj.value_and_grad(theta)
    h, W = obj.from_theta(theta)
    t_fit = time.perf_counter() - t0 - t_w
    if log:
        log(f"potts {method}{'-' + backend if backend else ''}: {M} unique rows, N_eff {n_eff:.1f}, objective {final:.5f}, "
            f"{iterations} iterations / {n_eval} evaluations, weights {t_w:.1f} s, fit {t_fit:.1f} s")
    with torch.no_grad():
        Wsym = (0.5 * (W + W.T)).cpu().numpy()
    return {"scores": coupling_scores(Wsym, L), "W": Wsym, "h": h.detach().cpu().numpy(), "n_eff": n_eff,
            "n_used": int(M), "loss": losses, "objective": round(final, 6), "iterations": iterations,
            "evaluations": n_eval, "optimizer": method, "lbfgs_backend": backend, "symmetric": symmetric,
            # L-BFGS stopped by its tolerance before the iteration cap (Adam runs its epochs: no test)
            "converged": bool(method == "lbfgs" and iterations < settings.max_iter),
            "weights_s": t_w, "fit_s": t_fit, "device": device}


def _fit_adam(Xu: Any, wu: Any, theta: Any, settings: PottsSettings, lam_h: float, lam_j: float, seed: int, dense: bool,
              log: Callable[[str], Any] | None) -> tuple[Any, list[float], int]:
    """Mini-batch Adam over ``settings.epochs`` epochs (seeded shuffles); returns (theta, per-epoch loss, steps)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    M = Xu.shape[0]
    total = float(wu.sum())
    param = torch.nn.Parameter(theta)
    param.grad = torch.empty_like(theta)
    opt = torch.optim.Adam([param], lr=settings.lr)
    losses, steps = [], 0
    for epoch in range(settings.epochs):
        perm = torch.randperm(M, generator=gen).to(Xu.device)
        tot = 0.0
        for s in range(0, M, settings.batch_size):
            b = perm[s:s + settings.batch_size]
            # batch objective normalised by the batch weight, regulariser scaled to the whole set
            wb = wu[b]
            scale = float(wb.sum()) / total
            obj = PLObjective(Xu[b], wb, lam_h * scale, lam_j * scale, dense=dense)
            tot += obj.value_and_grad(param.data, param.grad) * len(b)
            opt.step()
            steps += 1
        losses.append(round(tot / M, 6))
        if log:
            log(f"potts Adam epoch {epoch + 1}/{settings.epochs} loss {losses[-1]:.4f}")
    return param.detach(), losses, steps


def lbfgs(fg: Callable[[Any, Any], float], x: Any, max_iter: int, history: int, tolerance: float,
          log: Callable[[str], Any] | None = None, gtol: float = 0.0, direction: str = "compact",
          precondition: Callable[[Any], Any] | None = None, products: str = "updated"
          ) -> tuple[Any, list[float], int, int]:
    """Minimise a smooth function of the flat tensor ``x`` with L-BFGS and a backtracking (Armijo) line search.

    ``fg(x, g)`` returns f(x) and writes the gradient into ``g``. Stops when the mean decrease of f per
    iteration over the last :data:`CONVERGENCE_WINDOW` iterations is below ``tolerance * max(|f|, 1)``,
    when the largest gradient entry is at most ``gtol`` (if > 0), when no step along the direction
    lowers f, or after ``max_iter`` iterations (the safety cap). Returns (x, objective per iteration
    (first = start), iterations, evaluations). ``direction``: "compact" (default) or "two-loop" (the
    textbook recursion, kept as the reference the tests and the benchmark compare with).
    ``precondition(v)``, if given, multiplies ``v`` in place by a fixed positive diagonal P (an estimate of
    the inverse Hessian's diagonal, e.g. :meth:`PLObjective.precondition_`): the initial inverse Hessian
    of every direction is then gamma P instead of gamma I, with gamma = s.y / y.P y from the newest pair.
    This is L-BFGS in the variables P^-1/2 x, without a copy of x in them.
    ``products``: how the compact direction gets S g and Y P g (one number per stored pair). "updated" (default)
    carries them from the last iteration: with y = g_new - g, s_i . g_new = s_i . g + s_i . y and
    y_i . P g_new = y_i . P g + y_i . P y, where s_i . y and y_i . P y are the products the new pair needs anyway,
    and for the new pair s . g = t g.d; that saves the direction two matrix-vector products over the stored
    pairs and one application of P (about 15 of the ~60 passes over n-long vectors of an iteration). "direct"
    recomputes them from g (the reference the tests compare with). A pair lives ``history`` iterations, so each
    carried product is at most that many additions old.

    Hand-written instead of ``torch.optim.LBFGS`` because that allocates ~8 new parameter-sized tensors
    per iteration (cat/clone/abs/sub of 22M floats for L = 222): on CPU the page faults of those
    allocations cost more than the objective itself; and instead of SciPy's L-BFGS-B, which reaches the
    same objective 2.1-5.0x slower here (measured, see the module docstring), and has no diagonal start.
    Here every buffer (history included) is allocated once, and the direction comes from the compact
    representation (:func:`_compact_direction`: matrix-vector products over the stored pairs instead of the
    two-loop recursion's 4 m separate vector passes; on these problems most of an iteration's time is
    such passes over 10-30 M parameters). The plm objective is convex, so the curvature pairs are positive.
    """
    import torch

    directions = {"compact": _compact_direction, "two-loop": _two_loop_direction}
    if direction not in directions:
        raise ValueError(f"unknown L-BFGS direction {direction!r}; valid: {', '.join(directions)}")
    if products not in ("updated", "direct"):
        raise ValueError(f"unknown L-BFGS products {products!r}; valid: updated, direct")
    carry = direction == "compact" and products == "updated"
    n = x.numel()
    g, x_new, g_new, d = (torch.empty_like(x) for _ in range(4))
    # the curvature pairs as the rows of one (2 m, n) matrix [S; Y], so that the direction takes
    # matrix-vector products over it (compact form) instead of the two-loop's 4 m dot/axpy passes
    SY = torch.zeros(2 * history, n, dtype=x.dtype, device=x.device)
    S, Y = SY[:history], SY[history:]
    STY = torch.zeros(history, history, dtype=torch.float64)  # STY[i, j] = s_i . y_j (slot indices)
    YPY = torch.zeros(history, history, dtype=torch.float64)  # YPY[i, j] = y_i . P y_j
    order: list[int] = []  # ring-buffer slots, oldest first
    gamma = 1.0
    # S g and Y P g at the current gradient, per slot (valid for the slots in order), when carried over
    SG = torch.zeros(history, dtype=torch.float64)
    YPG = torch.zeros(history, dtype=torch.float64)

    def steepest() -> None:  # d = -P g / sqrt(g.P g): a unit step in the variables P^-1/2 x
        d.copy_(g)
        if precondition is not None:
            precondition(d)
        d.mul_(-1.0 / max(float(torch.dot(g, d)), 1e-24) ** 0.5)

    f = fg(x, g)
    n_eval = 1
    losses = [round(f, 6)]
    fs = [f]
    it = 0
    for it in range(1, max_iter + 1):
        if order:
            carried = (SG, YPG) if carry else ()
            directions[direction](SY, STY, YPY, order, gamma, g, d, precondition, *carried)
        else:
            steepest()
        gtd = float(torch.dot(g, d))
        if gtd >= 0:  # not a descent direction (numerical noise): restart from steepest descent
            order.clear()
            steepest()
            gtd = float(torch.dot(g, d))
        t, accepted = 1.0, False
        for _ in range(30):
            torch.add(x, d, alpha=t, out=x_new)
            f_new = fg(x_new, g_new)
            n_eval += 1
            if f_new <= f + 1e-4 * t * gtd:
                accepted = True
                break
            # quadratic interpolation of the step, kept within [0.1 t, 0.5 t]
            t_q = -gtd * t * t / (2.0 * (f_new - f - gtd * t))
            t = min(max(t_q, 0.1 * t), 0.5 * t)
        if not accepted:
            break
        free = [k for k in range(history) if k not in order]
        slot = free[0] if free else order.pop(0)  # overwrite the oldest pair when the memory is full
        torch.sub(x_new, x, out=S[slot])
        torch.sub(g_new, g, out=Y[slot])
        sty = torch.mv(S, Y[slot]).double().cpu()  # s_i . y_new for every slot (s_new . y_new among them)
        sy = float(sty[slot])
        if sy > 1e-10:
            STY[:, slot] = sty
            # P y_new, in d (free until the next direction)
            py = Y[slot] if precondition is None else precondition(d.copy_(Y[slot]))
            ypy = torch.mv(Y, py).double().cpu()  # y_i . P y_new for every slot
            YPY[:, slot] = ypy
            YPY[slot, :] = ypy
            gamma = sy / float(ypy[slot])
            if carry:  # the products at g_new = g + y_new, from those at g (see the docstring)
                SG.add_(sty)
                YPG.add_(ypy)
                SG[slot] = t * gtd + sy  # s_new . g = t d . g
                YPG[slot] = float(torch.dot(py, g)) + float(ypy[slot])
            order.append(slot)
        elif carry and order:  # the pair is dropped: S g, Y P g at g_new directly for the pairs kept
            SG.copy_(torch.mv(S, g_new).double().cpu())
            YPG.copy_(torch.mv(Y, g_new if precondition is None else precondition(d.copy_(g_new))).double().cpu())
        x, x_new = x_new, x
        g, g_new = g_new, g
        f = f_new
        losses.append(round(f, 6))
        if log and it % 10 == 0:
            log(f"potts L-BFGS iteration {it}: objective {f:.5f} ({n_eval} evaluations)")
        fs.append(f)
        # convergence: the mean relative decrease per iteration over the last CONVERGENCE_WINDOW iterations
        # (so one stalled iteration, e.g. float32 noise near the optimum, does not end the fit), or the
        # largest gradient entry below gtol
        if decrease_stalled(fs, tolerance) or (gtol > 0 and float(g.abs().max()) <= gtol):
            break
    return x, losses, it, n_eval


def decrease_stalled(fs: list[float], tolerance: float) -> bool:
    """The decrease test of :func:`lbfgs` on the objectives so far (start first): the mean decrease per iteration
    over the last :data:`CONVERGENCE_WINDOW` iterations is at most ``tolerance * max(|f|, 1)``."""
    k = min(CONVERGENCE_WINDOW, len(fs) - 1)
    return fs[-1 - k] - fs[-1] <= k * tolerance * max(abs(fs[-1]), 1.0)


def _compact_direction(SY: Any, STY: Any, YPY: Any, order: list[int], gamma: float, g: Any, d: Any,
                       precondition: Callable[[Any], Any] | None = None, sg: Any | None = None,
                       ypg: Any | None = None) -> None:
    """Write the L-BFGS direction d = -H g into ``d`` by the compact representation of H
    (Byrd, Nocedal & Schnabel 1994, eq. 3.1) with initial matrix H0 = gamma P (P diagonal, applied in place
    by ``precondition``; identity when None): H = H0 + [S H0Y] M [S H0Y]^T with
    M = [[R^-T (D + gamma Y^T P Y) R^-1, -R^-T], [-R^-1, 0]], R the upper triangle of S^T Y and D its
    diagonal, pairs oldest first. So
    d = -gamma P (g - Y^T R^-1 S g) - S^T p with p = R^-T ((D + gamma Y^T P Y) R^-1 S g - gamma Y P g):
    the same direction as the two-loop recursion, from products of S and Y with two n-long vectors and
    of their transposes with two m-long ones; the rest is m x m algebra in float64. ``sg``, ``ypg``: S g and
    Y P g per slot (float64, length m) when the caller already has them; else they are computed here."""
    import torch

    m = SY.shape[0] // 2
    S, Y = SY[:m], SY[m:]
    o = torch.tensor(order)
    if sg is None or ypg is None:
        sg = torch.mv(S, g).double().cpu()
        ypg = torch.mv(Y, g if precondition is None else precondition(d.copy_(g))).double().cpu()  # Y P g
    a, b = sg[o], ypg[o]
    sty = STY[o][:, o]
    R = torch.triu(sty)
    Ra = torch.linalg.solve_triangular(R, a[:, None], upper=True)[:, 0]
    rhs = (torch.diag(torch.diag(sty)) + gamma * YPY[o][:, o]) @ Ra - gamma * b
    p = torch.linalg.solve_triangular(R.T, rhs[:, None], upper=False)[:, 0]
    cy = torch.zeros(m, dtype=torch.float64)
    cy[o] = Ra
    cs = torch.zeros(m, dtype=torch.float64)
    cs[o] = p
    torch.addmv(g, Y.t(), cy.to(dtype=g.dtype, device=g.device), alpha=-1.0, out=d)
    if precondition is not None:
        precondition(d)
    d.mul_(-gamma).addmv_(S.t(), cs.to(dtype=g.dtype, device=g.device), alpha=-1.0)


def _two_loop_direction(SY: Any, STY: Any, YPY: Any, order: list[int], gamma: float, g: Any, d: Any,
                        precondition: Callable[[Any], Any] | None = None) -> None:
    """The same direction as :func:`_compact_direction` by the two-loop recursion (Nocedal & Wright, alg. 7.4),
    with H0 = gamma P."""
    import torch

    m = SY.shape[0] // 2
    d.copy_(g).neg_()
    alpha = {}
    for k in reversed(order):
        alpha[k] = float(torch.dot(SY[k], d)) / float(STY[k, k])
        d.add_(SY[m + k], alpha=-alpha[k])
    if precondition is not None:
        precondition(d)
    d.mul_(gamma)
    for k in order:
        beta = float(torch.dot(SY[m + k], d)) / float(STY[k, k])
        d.add_(SY[k], alpha=alpha[k] - beta)


LBFGS_BACKENDS = ("auto", "scipy", "torch", "own")


def lbfgs_backend(name: str, device: str) -> str:
    """The L-BFGS implementation for ``name`` on ``device``: auto = the hand-written :func:`lbfgs` on CPU
    (2.1-5.0x faster than SciPy's L-BFGS-B to the same objective, BENCHMARKS.md), torch's LBFGS on GPU."""
    from sciml.errors import ConfigError

    if name not in LBFGS_BACKENDS:
        raise ConfigError("proteins.potts.lbfgs_backend", f"unknown L-BFGS backend {name!r}; valid: {', '.join(LBFGS_BACKENDS)}")
    if name == "auto":
        return "own" if device == "cpu" else "torch"
    return name


def scipy_lbfgs(fg: Callable[[Any, Any], float], x: Any, max_iter: int, history: int, tolerance: float,
                log: Callable[[str], Any] | None = None, gtol: float = 0.0) -> tuple[Any, list[float], int, int]:
    """Minimise with ``scipy.optimize.minimize(method="L-BFGS-B", jac=True)``; same contract as :func:`lbfgs`.

    SciPy works on float64 arrays; the objective reads them through zero-copy ``torch.from_numpy`` views
    (cast into the float32 parameter buffer) and writes its gradient back the same way. Stops by SciPy's
    tests: relative decrease ``(f_k - f_k+1) / max(|f_k|, |f_k+1|, 1) <= tolerance`` or the largest gradient
    component ``<= gtol``, with ``max_iter`` as a safety cap. ``x`` must live on the CPU.
    """
    import numpy as np
    import torch
    from scipy.optimize import minimize

    theta = x.detach().clone()
    grad = torch.empty_like(theta)
    n_eval = 0

    def fun(z: Any) -> tuple[float, Any]:
        nonlocal n_eval
        theta.copy_(torch.from_numpy(z))
        f = fg(theta, grad)
        n_eval += 1
        g = np.empty(z.shape, dtype=np.float64)
        torch.from_numpy(g).copy_(grad)
        return f, g

    losses: list[float] = []

    def record(intermediate_result: Any) -> None:
        losses.append(round(float(intermediate_result.fun), 6))
        if log and len(losses) % 10 == 0:
            log(f"potts L-BFGS-B iteration {len(losses)}: objective {losses[-1]:.5f} ({n_eval} evaluations)")

    x0 = x.detach().cpu().double().numpy()
    f0, _ = fun(x0)
    res = minimize(fun, x0, jac=True, method="L-BFGS-B", callback=record,
                   options={"maxiter": max_iter, "maxcor": history, "ftol": tolerance, "gtol": gtol,
                            "maxls": 30, "maxfun": 10 * max_iter})
    theta.copy_(torch.from_numpy(res.x))
    return theta, [round(f0, 6)] + losses, int(res.nit), n_eval


def torch_lbfgs(fg: Callable[[Any, Any], float], x: Any, max_iter: int, history: int, tolerance: float,
                log: Callable[[str], Any] | None = None, gtol: float = 0.0) -> tuple[Any, list[float], int, int]:
    """Minimise with ``torch.optim.LBFGS`` (strong-Wolfe line search; the GPU path); same contract as :func:`lbfgs`.

    The relative-decrease tolerance is turned into torch's absolute ``tolerance_change`` with the
    starting objective's scale.
    """
    import torch

    param = torch.nn.Parameter(x.detach().clone())
    param.grad = torch.empty_like(param)
    n_eval = 0
    losses: list[float] = []

    def closure() -> Any:
        nonlocal n_eval
        f = fg(param.data, param.grad)
        n_eval += 1
        return torch.tensor(f, dtype=param.dtype)

    f0 = fg(param.data, param.grad)
    losses.append(round(f0, 6))
    opt = torch.optim.LBFGS([param], lr=1.0, max_iter=max_iter, max_eval=10 * max_iter, history_size=history,
                            tolerance_grad=gtol, tolerance_change=tolerance * max(abs(f0), 1.0),
                            line_search_fn="strong_wolfe")
    opt.step(closure)
    state = opt.state[param]
    f = fg(param.data, param.grad)
    losses.append(round(f, 6))
    if log:
        log(f"potts torch LBFGS: {state.get('n_iter', 0)} iterations, objective {f:.5f}")
    return param.detach(), losses, int(state.get("n_iter", 0)), n_eval + 1
