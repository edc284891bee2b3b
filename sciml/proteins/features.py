"""Pair features for the trained contact network.

Channels (C_in = 92) on an (L, L) grid: z-scored Potts and mean-field APC scores
(0 where unknown) and a "scored" mask (3); log separation and separation-range
one-hots <6, 6-11, 12-23, >=24 (5); and for residue i and residue j each, the
one-hot amino acid (20) and the alignment profile + entropy (22) (2 x 42 = 84).
"""

from __future__ import annotations

from typing import Any

N_PAIR_CHANNELS = 92


def _z(scores: Any) -> Any:
    import numpy as np

    s = np.asarray(scores, dtype=np.float64)
    ok = np.isfinite(s)
    off = ok & ~np.eye(len(s), dtype=bool)
    if off.sum() < 2:
        return np.zeros_like(s)
    mu, sd = s[off].mean(), s[off].std() + 1e-8
    return np.where(ok, (s - mu) / sd, 0.0)


def sequence_onehot(seq: str) -> Any:
    """(L, 20) one-hot of the 20 amino acids (ALPHABET order without the gap)."""
    import numpy as np

    from sciml.proteins.alignments import ALPHABET

    out = np.zeros((len(seq), 20), dtype=np.float32)
    for k, a in enumerate(seq):
        idx = ALPHABET.find(a)
        if 0 <= idx < 20:
            out[k, idx] = 1.0
    return out


def separation_features(L: int) -> Any:
    """(5, L, L): log(1+|i-j|)/log(L) and one-hots of |i-j| in <6, 6-11, 12-23, >=24."""
    import numpy as np

    sep = np.abs(np.arange(L)[:, None] - np.arange(L)[None, :])
    feats = [np.log1p(sep) / np.log(max(L, 2))]
    for lo, hi in ((0, 5), (6, 11), (12, 23), (24, 10 ** 9)):
        feats.append(((sep >= lo) & (sep <= hi)).astype(float))
    return np.stack(feats).astype(np.float32)


def pair_features(seq: str, profile: Any, potts: Any, meanfield: Any) -> Any:
    """(92, L, L) float32 feature tensor of one protein (see module docstring)."""
    import numpy as np

    L = len(seq)
    per_res = np.concatenate([sequence_onehot(seq), np.asarray(profile, dtype=np.float32)], axis=1)  # (L, 42)
    fi = np.broadcast_to(per_res.T[:, :, None], (42, L, L))
    fj = np.broadcast_to(per_res.T[:, None, :], (42, L, L))
    scored = np.isfinite(np.asarray(potts, dtype=float)).astype(np.float32)
    coev = np.stack([_z(potts), _z(meanfield), scored]).astype(np.float32)
    return np.concatenate([coev, separation_features(L), fi, fj]).astype(np.float32)
