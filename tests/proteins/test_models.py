"""Coevolution models recover a planted coupling; network forward shape/symmetry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciml.proteins import meanfield, potts
from tests.proteins.conftest import planted_alignment


def test_potts_recovers_planted_pair():
    torch.set_num_threads(1)
    X = planted_alignment()
    r = potts.fit(X, potts.PottsSettings(epochs=6, batch_size=128, lr=0.05), seed=0)
    s = r["scores"]
    i, j = np.unravel_index(np.argmax(np.triu(s, 1)), s.shape)
    assert (i, j) == (1, 9)
    assert r["loss"][-1] < r["loss"][0]
    r2 = potts.fit(X, potts.PottsSettings(epochs=6, batch_size=128, lr=0.05), seed=0)
    assert np.array_equal(r["scores"], r2["scores"])  # same seed, same result on CPU


def test_meanfield_recovers_planted_pair():
    X = planted_alignment(seed=1)
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


def test_score_features_carry_the_matrix_and_the_sequence_only():
    """The ``scores`` set: z-scored matrix + mask, 5 separation channels, one-hot of i and of j."""
    from sciml.proteins.features import FEATURE_CHANNELS, network_features, score_features, separation_features

    seq = "ACDEFGHIKLMNPQR"
    L = len(seq)
    s = np.random.default_rng(0).random((L, L))
    s = s + s.T
    s[0, 1] = s[1, 0] = np.nan  # a pair the external tool did not score
    f = score_features(seq, s)
    assert f.shape == (FEATURE_CHANNELS["scores"], L, L) and f.dtype == np.float32
    off = ~np.eye(L, dtype=bool) & np.isfinite(s)
    z = (s[off] - s[off].mean()) / s[off].std()
    assert np.allclose(f[0][off], z, atol=1e-5) and f[0, 0, 1] == 0.0
    assert f[1, 0, 1] == 0.0 and f[1, 2, 3] == 1.0
    assert np.array_equal(f[2:7], separation_features(L))
    # residue i's amino acid along rows, residue j's along columns
    from sciml.proteins.alignments import ALPHABET

    aa = ALPHABET.find(seq[4])
    assert f[7:27, 4, :].argmax(axis=0).tolist() == [aa] * L and f[27:47, :, 4].argmax(axis=0).tolist() == [aa] * L
    assert f[7:27, 5, :].argmax(axis=0).tolist() == [ALPHABET.find(seq[5])] * L
    assert np.array_equal(network_features("scores", seq, s), f)
    with pytest.raises(ValueError, match="unknown feature set 'msa'"):
        network_features("msa", seq, s)
