"""Mean-field DCA baseline: couplings from the inverse of the regularised covariance.

Weighted single/pair frequencies with a pseudocount (fraction ``pseudocount`` of
uniform), covariance over the 20 amino-acid states (gap dropped as the reference
state), J = -C^{-1}, Frobenius norm per pair, APC. Weights at 80% identity (computed on
the whole alignment); large alignments are then subsampled like the Potts model (the pair
counts cost N*(20L)^2).
"""

from __future__ import annotations

from typing import Any

from sciml.proteins.alignments import GAP, Q


def fit(X: Any, pseudocount: float = 0.5, shrinkage: float = 0.0, max_sequences: int = 3000,
        identity_threshold: float = 0.8, seed: int = 0) -> dict[str, Any]:
    """Return ``{"scores": (L, L) APC-corrected, "n_eff": float}`` for encoded ``X`` (N, L)."""
    import numpy as np

    from sciml.proteins.metrics import symmetrize_apc
    from sciml.proteins.potts import PottsSettings, prepare

    st = PottsSettings(max_sequences=max_sequences, identity_threshold=identity_threshold)
    Xu, wu, n_eff = prepare(np.asarray(X), st, seed)
    Jb = couplings(Xu, wu, pseudocount, shrinkage).numpy()
    Jb = Jb - Jb.mean(axis=1, keepdims=True) - Jb.mean(axis=3, keepdims=True) + Jb.mean(axis=(1, 3), keepdims=True)
    Fm = np.sqrt((Jb ** 2).sum(axis=(1, 3)))
    np.fill_diagonal(Fm, 0.0)
    return {"scores": symmetrize_apc(Fm), "n_eff": n_eff, "n_used": int(Xu.shape[0])}


def couplings(Xu: Any, wu: Any, pseudocount: float = 0.5, shrinkage: float = 0.0) -> Any:
    """Mean-field couplings J = -C^-1, (L, q-1, L, q-1) float64 tensor over the 20 amino-acid states (gap is the
    reference state), of rows ``Xu`` (M, L) int64 with weights ``wu`` (M,)."""
    import torch
    import torch.nn.functional as F

    M, L = Xu.shape
    keep = torch.tensor([a for a in range(Q) if a != GAP])
    oh = F.one_hot(Xu, Q)[:, :, keep].reshape(M, L * (Q - 1)).double()
    wn = (wu / wu.sum()).double()
    fi = (wn[:, None] * oh).sum(0)
    fij = (oh * wn[:, None]).T @ oh
    lam = pseudocount
    fi_p = (1 - lam) * fi + lam / Q
    fij_p = (1 - lam) * fij + lam / Q ** 2
    # within-position blocks: exact single-site terms
    idx = torch.arange(L * (Q - 1))
    same = (idx[:, None] // (Q - 1)) == (idx[None, :] // (Q - 1))
    fij_p = torch.where(same, torch.zeros_like(fij_p), fij_p)
    fij_p = fij_p + torch.diag(fi_p)
    C = fij_p - fi_p[:, None] * fi_p[None, :]
    C = C + shrinkage * torch.eye(C.shape[0], dtype=C.dtype)
    return (-torch.linalg.inv(C)).reshape(L, Q - 1, L, Q - 1)
