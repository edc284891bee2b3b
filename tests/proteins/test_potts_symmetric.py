"""Symmetric-coupling Potts objective: the same objective as the asymmetric code at symmetric couplings, its
folded gradient against finite differences, its diagonal start, and fits that reach SciPy's optimum."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciml.proteins import potts
from sciml.proteins.alignments import Q
from sciml.proteins.potts_symmetric import SymmetricPLObjective
from tests.proteins.conftest import planted_alignment


def _problem(dense, centered, monkeypatch, N=80, L=7):
    monkeypatch.setattr(potts, "_BLOCK_POS", 4)  # several (and a ragged) column blocks
    rng = np.random.default_rng(0)
    X = torch.as_tensor(rng.integers(0, Q, (N, L)), dtype=torch.long)
    w = torch.as_tensor(rng.random(N) + 0.1, dtype=torch.float64)
    inner = potts.PLObjective(X, w, 0.02, 0.03, dense=dense, centered=centered)
    sym = SymmetricPLObjective(inner)
    sym._full, sym._gfull = sym._full.double(), sym._gfull.double()  # float64 for the finite differences
    gen = torch.Generator().manual_seed(1)
    h = torch.randn(L, Q, generator=gen, dtype=torch.float64) * 0.3
    W = torch.randn(L * Q, L * Q, generator=gen, dtype=torch.float64) * 0.1
    W = 0.5 * (W + W.T)
    W.view(L, Q, L, Q)[torch.arange(L), :, torch.arange(L), :] = 0.0
    return inner, sym, h, W


@pytest.mark.parametrize("dense,centered", [(False, False), (False, True), (True, True)])
def test_symmetric_objective_is_the_asymmetric_one_at_symmetric_couplings(dense, centered, monkeypatch):
    inner, sym, h, W = _problem(dense, centered, monkeypatch)
    L = h.shape[0]
    theta = sym.to_theta(h, W)
    assert theta.numel() == L * Q + L * (L - 1) // 2 * Q * Q  # one q x q block per pair i < j
    h_back, W_back = sym.from_theta(theta)
    assert torch.allclose(h_back, h) and torch.equal(W_back, W)  # layout round trip
    grad = torch.full_like(theta, float("nan"))  # overwritten, not accumulated
    f = sym.value_and_grad(theta, grad)
    assert f == pytest.approx(inner.value_and_grad(inner.to_theta(h, W)), rel=1e-12)
    # the folded gradient is the derivative of the packed objective: central differences along random directions
    gen = torch.Generator().manual_seed(3)
    for _ in range(4):
        v = torch.randn(theta.shape, generator=gen, dtype=torch.float64)
        eps = 1e-5
        fd = (sym.value_and_grad(theta + eps * v) - sym.value_and_grad(theta - eps * v)) / (2 * eps)
        assert fd == pytest.approx(float(grad @ v), rel=1e-6)


def test_symmetric_diagonal_start_sums_the_two_asymmetric_curvatures(monkeypatch):
    """Each U entry sets W_ij(a, b) and W_ji(b, a); its curvature estimate is the sum of those two entries'."""
    inner, sym, h, W = _problem(False, True, monkeypatch)
    L = h.shape[0]
    one_full = inner.precondition_(torch.ones(inner.n, dtype=torch.float64))  # 1 / D_full
    D_full = inner.from_theta(1.0 / one_full)[1]  # (Lq, Lq) curvatures
    D_full.view(L, Q, L, Q)[torch.arange(L), :, torch.arange(L), :] = 0.0
    v = sym.precondition_(torch.ones(sym.n, dtype=torch.float64))
    iu, ju = sym.pairs
    D4 = D_full.view(L, Q, L, Q)
    expected = D4[iu, :, ju, :] + D4[ju, :, iu, :].transpose(1, 2)
    assert torch.allclose(1.0 / v[L * Q:].view(-1, Q, Q), expected, rtol=1e-12)
    assert torch.allclose(1.0 / v[:L * Q], 1.0 / one_full[:L * Q])


def test_symmetric_fit_reaches_scipys_optimum_and_finds_the_planted_pair():
    """The hand-written L-BFGS (diagonal start) and SciPy's L-BFGS-B on the symmetric objective reach the same
    optimum. It lies above the asymmetric fit's (the symmetric model is that model constrained), its couplings
    are symmetric, and the planted pair scores highest."""
    torch.set_num_threads(1)
    X = planted_alignment(n=200, L=10, seed=11)
    tight = {"max_iter": 2000, "tolerance": 1e-12, "gtol": 1e-7}
    own = potts.fit(X, potts.PottsSettings(symmetric=True, **tight), seed=0)
    ref = potts.fit(X, potts.PottsSettings(symmetric=True, lbfgs_backend="scipy", **tight), seed=0)
    asym = potts.fit(X, potts.PottsSettings(**tight), seed=0)
    assert own["symmetric"] and ref["symmetric"] and not asym["symmetric"]
    assert own["iterations"] < 2000 and ref["iterations"] < 2000  # stopped by convergence
    assert own["objective"] <= ref["objective"] * (1 + 5e-6)  # float32: see test_potts' SciPy comparison
    assert own["objective"] == pytest.approx(ref["objective"], rel=2e-5)
    assert np.allclose(own["scores"], ref["scores"], atol=1e-3 * np.abs(ref["scores"]).max())
    assert asym["objective"] < own["objective"] * (1 - 1e-4)  # the constraint costs objective here
    L = X.shape[1]
    W4 = own["W"].reshape(L, Q, L, Q)
    assert np.abs(W4 - W4.transpose(2, 3, 0, 1)).max() < 1e-6
    s = own["scores"]
    assert np.unravel_index(np.argmax(np.triu(s, 1)), s.shape) == (1, 9)


def test_symmetric_fit_falls_back_to_asymmetric_for_adam_and_says_so():
    X = planted_alignment(n=120, L=10, seed=11)
    logs: list[str] = []
    r = potts.fit(X, potts.PottsSettings(symmetric=True, optimizer="adam", epochs=1), seed=0, log=logs.append)
    assert r["symmetric"] is False
    assert any("symmetric couplings need L-BFGS" in m for m in logs)
