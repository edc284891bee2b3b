"""Coevolution models recover a planted coupling; network forward shape/symmetry."""

from __future__ import annotations

import numpy as np
import torch

from sciml.proteins import meanfield, potts


def _planted(n=600, L=12, seed=0):
    """Random sequences where columns 1 and 9 are perfectly coupled (x9 = f(x1))."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 20, size=(n, L)).astype(np.uint8)
    X[:, 9] = (X[:, 1] * 7 + 3) % 20
    return X


def test_potts_recovers_planted_pair():
    torch.set_num_threads(1)
    X = _planted()
    r = potts.fit(X, potts.PottsSettings(epochs=6, batch_size=128, lr=0.05), seed=0)
    s = r["scores"]
    i, j = np.unravel_index(np.argmax(np.triu(s, 1)), s.shape)
    assert (i, j) == (1, 9)
    assert r["loss"][-1] < r["loss"][0]
    r2 = potts.fit(X, potts.PottsSettings(epochs=6, batch_size=128, lr=0.05), seed=0)
    assert np.array_equal(r["scores"], r2["scores"])  # same seed, same result on CPU


def test_meanfield_recovers_planted_pair():
    X = _planted(seed=1)
    s = meanfield.fit(X)["scores"]
    i, j = np.unravel_index(np.argmax(np.triu(s, 1)), s.shape)
    assert (i, j) == (1, 9)


def test_network_shapes():
    from sciml.proteins.features import N_PAIR_CHANNELS, pair_features
    from sciml.proteins.models.resnet2d import ContactResNet

    L = 15
    f = pair_features("ACDEFGHIKLMNPQR", np.full((L, 22), 0.05), np.random.rand(L, L), np.random.rand(L, L))
    assert f.shape == (N_PAIR_CHANNELS, L, L)
    out = ContactResNet(N_PAIR_CHANNELS, 8, 2)(torch.as_tensor(f)[None])
    assert out.shape == (1, L, L) and torch.allclose(out, out.transpose(-1, -2))
