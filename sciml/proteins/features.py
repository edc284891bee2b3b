"""Pair features for the trained contact network.

Channels (C_in = 92) on an (L, L) grid: z-scored Potts and mean-field APC scores
(0 where unknown) and a "scored" mask (3); log separation and separation-range
one-hots <6, 6-11, 12-23, >=24 (5); and for residue i and residue j each, the
one-hot amino acid (20) and the alignment profile + entropy (22) (2 x 42 = 84).

The ``scores`` feature set (C_in = 47, :func:`score_features`) keeps what a single sequence
and one coevolution matrix can give: the z-scored matrix and its "scored" mask (2), the
separation channels (5) and the one-hot amino acids of i and j (2 x 20). A network trained on
it refines an external CCMpred/GREMLIN/plmc matrix without the alignment it came from.
"""

from __future__ import annotations

from typing import Any

N_PAIR_CHANNELS = 92
N_SCORE_CHANNELS = 47
#: Input channels of each feature set (``proteins.network.features``).
FEATURE_CHANNELS = {"alignment": N_PAIR_CHANNELS, "scores": N_SCORE_CHANNELS}


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


def score_features(seq: str, scores: Any) -> Any:
    """(47, L, L) float32 features from one coevolution score matrix and the sequence (see module docstring)."""
    import numpy as np

    L = len(seq)
    onehot = sequence_onehot(seq)  # (L, 20)
    fi = np.broadcast_to(onehot.T[:, :, None], (20, L, L))
    fj = np.broadcast_to(onehot.T[:, None, :], (20, L, L))
    s = np.asarray(scores, dtype=float)
    coev = np.stack([_z(s), np.isfinite(s).astype(np.float32)]).astype(np.float32)
    return np.concatenate([coev, separation_features(L), fi, fj]).astype(np.float32)


def network_features(kind: str, seq: str, scores: Any, profile: Any = None, meanfield: Any = None) -> Any:
    """The input of a contact network of feature set ``kind`` (``alignment``: :func:`pair_features`,
    needs ``profile`` and ``meanfield``; ``scores``: :func:`score_features`)."""
    if kind == "scores":
        return score_features(seq, scores)
    if kind == "alignment":
        return pair_features(seq, profile, scores, meanfield)
    raise ValueError(f"unknown feature set {kind!r}; valid: {', '.join(FEATURE_CHANNELS)}")
