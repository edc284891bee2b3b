"""Pseudo-likelihood Potts model (plmDCA / GREMLIN style) in PyTorch, with APC.

Energy: E(x) = sum_i h_i(x_i) + sum_{i<j} J_ij(x_i, x_j) over q = 21 states.
Loss: weighted negative pseudo-log-likelihood sum_n w_n sum_i -log P(x_ni | x_n,-i)
(normalised by N_eff) + L2 on h and J (GREMLIN's lambda_J scaled by (L-1)(q-1)/2).

Speed on CPU (why it is written this way): the conditional logits of every position
are ``onehot(x) @ J`` with a (Lq x Lq) coupling matrix; on CPU this is computed as an
``embedding_bag`` sum over the L observed states of each sequence instead of a dense
one-hot matmul (which is ~2*N*(Lq)^2 flops), on GPU as the dense matmul. Identical rows
are merged with summed weights; alignments larger than ``max_sequences`` are
uniformly subsampled (seeded) with weights still counted against the whole alignment.
Optimisation is mini-batch Adam over a fixed number of epochs (GREMLIN uses Adam).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sciml.proteins.alignments import GAP, Q


@dataclass(frozen=True)
class PottsSettings:
    """Hyper-parameters; defaults follow GREMLIN (lambda_h 0.01, lambda_J 0.01*(L-1)(q-1)/2... per N_eff)."""

    lambda_h: float = 0.01
    lambda_j: float = 0.01
    epochs: int = 8
    batch_size: int = 256
    lr: float = 0.05
    max_sequences: int = 3000
    identity_threshold: float = 0.8
    device: str = "auto"


def prepare(X: Any, settings: PottsSettings, seed: int, device: str = "cpu") -> tuple[Any, Any, float]:
    """Subsample (seeded), weight at the identity threshold, merge identical rows.

    Returns (X_unique (M, L) int64 tensor, weights (M,) float32 tensor, N_eff of the used rows).
    """
    import numpy as np
    import torch

    from sciml.proteins.alignments import sequence_weights

    N = X.shape[0]
    rng = np.random.default_rng(seed)
    if N > settings.max_sequences:
        rows = np.sort(np.concatenate([[0], rng.choice(np.arange(1, N), settings.max_sequences - 1, replace=False)]))
    else:
        rows = np.arange(N)
    sub = X[rows]
    # weights within the used rows (the subsample is the alignment the model sees)
    w = sequence_weights(sub, settings.identity_threshold, device=device).cpu().numpy()
    n_eff_full = float(w.sum())
    uniq, inverse = np.unique(sub, axis=0, return_inverse=True)
    wu = np.zeros(len(uniq), dtype=np.float64)
    np.add.at(wu, inverse.reshape(-1), w)
    return torch.as_tensor(uniq.astype(np.int64)), torch.as_tensor(wu, dtype=torch.float32), n_eff_full


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


def fit(X: Any, settings: PottsSettings = PottsSettings(), seed: int = 0, log: Any = None) -> dict[str, Any]:
    """Fit the Potts model to an encoded alignment ``X`` (N, L) uint8.

    Returns ``{"scores": (L, L) APC scores, "W": (Lq, Lq) couplings, "h": (L, q),
    "n_eff": float, "n_used": int, "loss": [per-epoch mean loss], "device": str}``.
    """
    import numpy as np
    import torch
    import torch.nn.functional as F

    device = settings.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    Xu, wu, n_eff = prepare(np.asarray(X), settings, seed, device=device)
    M, L = Xu.shape
    Lq = L * Q
    Xu, wu = Xu.to(device), wu.to(device)
    # field init from log frequencies (weighted, pseudocount) as GREMLIN does
    counts = torch.zeros(L, Q, device=device)
    counts.scatter_add_(1, Xu.T.contiguous(), wu[None, :].expand(L, -1).contiguous())
    freq = (counts + 0.01 * wu.sum() / Q) / (wu.sum() * 1.01)
    h = torch.log(freq)
    # Asymmetric plm (Ekeberg et al. 2014): W[j*q+b, i*q+a] couples x_j=b to position i's
    # conditional; symmetrised at the end. Gradients are written by hand (two BLAS
    # matmuls per batch) because autograd through a symmetrised (Lq x Lq) matrix costs
    # several extra passes over ~L^2 q^2 floats per step on CPU.
    W = torch.zeros(Lq, Lq, device=device)
    h.requires_grad_(False)
    opt = torch.optim.Adam([torch.nn.Parameter(h), torch.nn.Parameter(W)], lr=settings.lr)
    ph, pW = opt.param_groups[0]["params"]
    ar = torch.arange(L, device=device)
    w_total = float(wu.sum())
    lam_j = settings.lambda_j * (L - 1) * (Q - 1) / 2.0
    losses = []
    for epoch in range(settings.epochs):
        perm = torch.randperm(M, generator=gen).to(device)
        tot = 0.0
        for s in range(0, M, settings.batch_size):
            b = perm[s:s + settings.batch_size]
            xb, wb = Xu[b], wu[b]
            scale = 1.0 / max(float(wb.sum()), 1e-12)  # batch estimate of the per-N_eff mean
            with torch.no_grad():
                oh = F.one_hot(xb, Q).reshape(len(b), Lq).to(pW.dtype)
                logits = (oh @ pW).reshape(len(b), L, Q) + ph[None]
                logp = torch.log_softmax(logits, -1)
                nll = -(logp.gather(2, xb[..., None]).squeeze(-1).sum(1) * wb).sum() * scale
                G = (logp.exp().reshape(len(b), Lq) - oh) * (wb * scale)[:, None]  # dNLL/dlogits
                gW = oh.T @ G
                gW += (2.0 * lam_j / w_total) * pW
                gh = G.reshape(len(b), L, Q).sum(0) + (2.0 * settings.lambda_h / w_total) * ph
                pW.grad, ph.grad = gW, gh
            opt.step()
            with torch.no_grad():
                pW.view(L, Q, L, Q)[ar, :, ar, :] = 0.0  # no self-coupling
            loss_val = float(nll)  # data term only (regulariser adds a constant-ish offset)
            tot += loss_val * len(b)
        losses.append(round(tot / M, 6))
        if log:
            log(f"potts epoch {epoch + 1}/{settings.epochs} loss {losses[-1]:.4f}")
    h = ph.detach()
    W = pW.detach()
    with torch.no_grad():
        Wsym = (0.5 * (W + W.T)).cpu().numpy()
    return {"scores": coupling_scores(Wsym, L), "W": Wsym, "h": h.detach().cpu().numpy(), "n_eff": n_eff,
            "n_used": int(M), "loss": losses, "device": device}
