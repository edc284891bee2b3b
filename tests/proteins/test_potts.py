"""Fast Potts path: objective/gradient against the dense and autograd formulations, exact fast
sequence weights, L-BFGS fit recovering a planted contact, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sciml.errors import ConfigError
from sciml.proteins import alignments, potts
from sciml.proteins.alignments import Q
from tests.proteins.conftest import planted_alignment


def _autograd_objective(X, w, h, W, lam_h, lam_j):
    """Reference: the plm objective written densely in float64 and differentiated by autograd."""
    N, L = X.shape
    hh = h.double().clone().requires_grad_()
    WW = W.double().clone().requires_grad_()
    oh = F.one_hot(X, Q).reshape(N, L * Q).double()
    logp = torch.log_softmax((oh @ WW).view(N, L, Q) + hh, -1)
    nll = -(logp.gather(2, X[..., None]).squeeze(-1).sum(1) * w.double()).sum()
    f = (nll + lam_h * (hh ** 2).sum() + lam_j * (L - 1) * (Q - 1) / 2 * (WW ** 2).sum()) / w.double().sum()
    f.backward()
    gW = WW.grad.clone()
    gW.view(L, Q, L, Q)[torch.arange(L), :, torch.arange(L), :] = 0.0
    return float(f.detach()), hh.grad, gW


@pytest.mark.parametrize("dense,centered", [(False, False), (True, False), (False, True), (True, True)])
def test_objective_and_gradient_match_autograd(dense, centered, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.setattr(potts, "_ROWS", 37)  # several row chunks
    monkeypatch.setattr(potts, "_BLOCK_POS", 4)  # several (and a ragged) column blocks
    rng = np.random.default_rng(0)
    N, L = 120, 6
    X = torch.as_tensor(rng.integers(0, Q, (N, L)), dtype=torch.long)
    w = torch.as_tensor(rng.random(N) + 0.1, dtype=torch.float32)
    h = torch.randn(L, Q, generator=torch.Generator().manual_seed(1)) * 0.3
    W = torch.randn(L * Q, L * Q, generator=torch.Generator().manual_seed(2)) * 0.1
    W.view(L, Q, L, Q)[torch.arange(L), :, torch.arange(L), :] = 0.0
    obj = potts.PLObjective(X, w, 0.02, 0.03, dense=dense, centered=centered)
    theta = obj.to_theta(h, W)
    h_back, W_back = obj.from_theta(theta)  # layout round trip
    assert torch.allclose(h_back, h, atol=1e-6) and torch.equal(W_back, W)
    before = theta.clone()
    grad = torch.full_like(theta, float("nan"))  # overwritten, not accumulated
    f = obj.value_and_grad(theta, grad)
    assert torch.equal(theta, before)  # the centered evaluation restores its fields
    gh = grad[:L * Q].view(L, Q)
    gW = obj.from_theta(grad)[1]  # the coupling part of the layout is the same in both coordinates
    f_ref, gh_ref, gW_ref = _autograd_objective(X, w, h, W, 0.02, 0.03)
    if centered:
        # theta holds h' = h + f @ W (f: weighted one-hot frequencies), so dF/dW|h' = dF/dW|h - f (x) dF/dh
        freq = (F.one_hot(X, Q).reshape(N, L * Q).double() * w.double()[:, None]).sum(0) / w.double().sum()
        assert not torch.allclose(theta[:L * Q], h.reshape(-1))
        gW_ref = gW_ref - torch.outer(freq, gh_ref.reshape(-1))
        gW_ref.view(L, Q, L, Q)[torch.arange(L), :, torch.arange(L), :] = 0.0
    assert f == pytest.approx(f_ref, rel=1e-5)
    assert torch.allclose(gh.double(), gh_ref, atol=1e-6)
    assert torch.allclose(gW.double(), gW_ref, atol=1e-6)
    assert float(gW.view(L, Q, L, Q)[torch.arange(L), :, torch.arange(L), :].abs().max()) == 0.0
    assert obj.value_and_grad(theta) == f  # value only


def _brute_weights(X, thr):
    Xt = torch.as_tensor(X).long()
    N, L = Xt.shape
    oh = F.one_hot(Xt, Q).reshape(N, -1).float()
    return 1.0 / ((oh @ oh.T) >= thr * L - 1e-3).sum(1).float()


def test_fast_weights_are_exact():
    rng = np.random.default_rng(3)
    for _ in range(25):
        n, L = int(rng.integers(2, 200)), int(rng.integers(1, 30))
        base = rng.integers(0, Q, size=(3, L))
        X = base[rng.integers(0, 3, n)].copy()
        mut = rng.random((n, L)) < rng.random() * 0.6
        X[mut] = rng.integers(0, Q, int(mut.sum()))
        X = X.astype(np.uint8)
        thr = float(rng.choice([0.0, 0.35, 0.62, 0.8, 1.0]))
        chunk = int(rng.integers(1, 50))
        assert torch.equal(alignments.sequence_weights(X, thr, chunk=chunk), _brute_weights(X, thr))
    # all rows identical: every block takes the dense fallback
    X = np.tile(np.arange(10, dtype=np.uint8), (40, 1))
    assert torch.equal(alignments.sequence_weights(X, 0.8, chunk=16), torch.full((40,), 1 / 40))


def test_prepare_weights_whole_alignment_then_subsamples():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 20, (50, 8)).astype(np.uint8)
    X[10] = X[11] = X[12]  # three identical rows: weight 1/3 each, merged into one row of weight 1
    st = potts.PottsSettings(max_sequences=1000)
    Xu, wu, n_eff = potts.prepare(X, st, seed=0)
    assert len(Xu) == 48 and n_eff == pytest.approx(float(wu.sum()), rel=1e-6)
    assert float(wu.max()) == pytest.approx(1.0)
    Xs, ws, n_eff_s = potts.prepare(X, potts.PottsSettings(max_sequences=20), seed=0)
    assert n_eff_s == pytest.approx(n_eff)  # N_eff counted on the whole alignment
    assert len(Xs) <= 20 and any(np.array_equal(r, X[0]) for r in Xs.numpy())  # query row kept


@pytest.mark.parametrize("settings", [potts.PottsSettings(),
                                      potts.PottsSettings(optimizer="adam", epochs=6, batch_size=128)])
def test_fit_recovers_planted_pair_deterministically(settings):
    torch.set_num_threads(1)
    X = planted_alignment()
    r = potts.fit(X, settings, seed=0)
    s = r["scores"]
    i, j = np.unravel_index(np.argmax(np.triu(s, 1)), s.shape)
    assert (i, j) == (1, 9)
    assert r["loss"][-1] < r["loss"][0]
    if settings.optimizer == "lbfgs":
        assert all(b <= a for a, b in zip(r["loss"], r["loss"][1:]))  # Armijo steps only go down
    r2 = potts.fit(X, settings, seed=0)
    assert np.array_equal(r["scores"], r2["scores"])  # same seed, same result on CPU


def test_lbfgs_reaches_a_lower_objective_than_minibatch_adam():
    torch.set_num_threads(1)
    X = planted_alignment(n=300, L=10, seed=2)
    lb = potts.fit(X, potts.PottsSettings(max_iter=200, tolerance=1e-7), seed=0)
    ad = potts.fit(X, potts.PottsSettings(optimizer="adam", epochs=4, batch_size=64), seed=0)
    assert lb["iterations"] < 200  # stopped by the tolerance, not the iteration cap
    assert lb["objective"] < ad["objective"]


def test_auto_optimizer_switches_on_row_count():
    torch.set_num_threads(1)
    X = planted_alignment(n=300, L=12, seed=4)
    assert potts.fit(X, potts.PottsSettings(max_iter=3), seed=0)["optimizer"] == "lbfgs"
    assert potts.fit(X, potts.PottsSettings(optimizer="auto", max_iter=3), seed=0)["optimizer"] == "lbfgs"
    r = potts.fit(X, potts.PottsSettings(optimizer="auto", lbfgs_max_rows=100, epochs=1, batch_size=100), seed=0)
    assert r["optimizer"] == "adam" and r["evaluations"] == 3  # one epoch of 3 batches over all 300 rows


def test_unknown_optimizer_is_a_config_error():
    with pytest.raises(ConfigError, match="optimizer"):
        potts.fit(planted_alignment(n=20), potts.PottsSettings(optimizer="sgd"))


def test_own_lbfgs_optimum_matches_scipy_lbfgsb():
    """The hand-written L-BFGS (CPU default) and SciPy's L-BFGS-B, both run to convergence on
    the same objective, reach the same optimum: objective and APC scores agree."""
    torch.set_num_threads(1)
    X = planted_alignment(n=200, L=10, seed=5)
    tight = {"max_iter": 2000, "tolerance": 1e-12, "gtol": 1e-7}
    own = potts.fit(X, potts.PottsSettings(lbfgs_backend="own", **tight), seed=0)
    ref = potts.fit(X, potts.PottsSettings(lbfgs_backend="scipy", **tight), seed=0)
    assert own["lbfgs_backend"] == "own" and ref["lbfgs_backend"] == "scipy"
    assert own["iterations"] < 2000 and ref["iterations"] < 2000  # stopped by convergence
    # The objective is float32: where SciPy's line search gives up within its noise depends on the CPU
    # (on an AMD EPYC box it stopped 1.05e-5 above the hand-written optimum, on Intel within 5e-6). So the
    # hand-written one must be no worse than SciPy's, and both within 2e-5 of each other.
    assert own["objective"] <= ref["objective"] * (1 + 5e-6)
    assert own["objective"] == pytest.approx(ref["objective"], rel=2e-5)
    assert np.allclose(own["scores"], ref["scores"], atol=1e-3 * np.abs(ref["scores"]).max())
    tl = potts.fit(X, potts.PottsSettings(lbfgs_backend="torch", **tight), seed=0)
    assert tl["objective"] == pytest.approx(ref["objective"], rel=1e-5)


@pytest.mark.parametrize("option,seed", [("centered", 7), ("preconditioned", 9)])
def test_optimiser_options_reach_the_same_optimum(option, seed):
    """Centering the fields, or the L-BFGS diagonal start, changes the optimiser's path, not the objective:
    run to convergence, with and without the option the fit reaches the same objective and APC scores, and
    reports the same true (uncentered) fields."""
    torch.set_num_threads(1)
    X = planted_alignment(n=200, L=10, seed=seed)
    tight = {"max_iter": 2000, "tolerance": 1e-12, "gtol": 1e-7}
    off = potts.fit(X, potts.PottsSettings(**{option: False}, **tight), seed=0)
    on = potts.fit(X, potts.PottsSettings(**{option: True}, **tight), seed=0)
    assert off["iterations"] < 2000 and on["iterations"] < 2000
    assert on["objective"] == pytest.approx(off["objective"], rel=1e-5)
    assert np.allclose(on["scores"], off["scores"], atol=1e-3 * np.abs(off["scores"]).max())
    # fields of the observed states up to a constant per column (the softmax is blind to it, only the weak
    # field penalty fixes it; the planted rows have no gaps, so the gap field is as loosely determined)
    def gauge(h):
        return h[:, :20] - h[:, :20].mean(1, keepdims=True)
    assert np.allclose(gauge(on["h"]), gauge(off["h"]), atol=1e-2 * np.abs(gauge(off["h"])).max())


def test_compact_lbfgs_direction_equals_the_two_loop_recursion():
    """The compact form and the two-loop recursion give the same direction (float64, random pairs of a
    convex quadratic, ring buffer wrapped so the slots are out of order)."""
    torch.manual_seed(0)
    n, m = 300, 4
    A = torch.randn(n, n, dtype=torch.float64)
    H = A @ A.T / n + torch.eye(n, dtype=torch.float64)
    SY = torch.zeros(2 * m, n, dtype=torch.float64)
    STY = torch.zeros(m, m, dtype=torch.float64)
    YY = torch.zeros(m, m, dtype=torch.float64)
    order = [2, 3, 0, 1]  # oldest first
    for slot in order:
        SY[slot] = torch.randn(n, dtype=torch.float64)
        SY[m + slot] = H @ SY[slot]
        prods = SY @ SY[m + slot]
        STY[:, slot], YY[:, slot], YY[slot, :] = prods[:m], prods[m:], prods[m:]
    gamma = float(STY[1, 1] / YY[1, 1])
    g = torch.randn(n, dtype=torch.float64)
    d1, d2 = torch.empty_like(g), torch.empty_like(g)
    potts._compact_direction(SY, STY, YY, order, gamma, g, d1)
    potts._two_loop_direction(SY, STY, YY, order, gamma, g, d2)
    assert float(torch.dot(g, d1)) < 0
    assert torch.allclose(d1, d2, rtol=1e-10, atol=1e-12)


def test_preconditioned_directions_equal_the_bfgs_matrix_from_a_diagonal_start():
    """With a diagonal P, the compact form and the two-loop recursion both give d = -H g, where H is the
    BFGS inverse-Hessian update of the pairs (oldest first) applied to H0 = gamma P, built here densely."""
    torch.manual_seed(1)
    n, m = 200, 3
    A = torch.randn(n, n, dtype=torch.float64)
    H_true = A @ A.T / n + torch.diag(torch.logspace(-2, 2, n, dtype=torch.float64))  # badly scaled
    P = 1.0 / torch.diag(H_true)
    SY = torch.zeros(2 * m, n, dtype=torch.float64)
    STY = torch.zeros(m, m, dtype=torch.float64)
    YPY = torch.zeros(m, m, dtype=torch.float64)
    order = [1, 2, 0]
    for slot in order:
        SY[slot] = torch.randn(n, dtype=torch.float64)
        SY[m + slot] = H_true @ SY[slot]
        STY[:, slot] = SY[:m] @ SY[m + slot]
        YPY[:, slot] = YPY[slot, :] = SY[m:] @ (P * SY[m + slot])
    newest = order[-1]
    gamma = float(STY[newest, newest] / YPY[newest, newest])
    H = gamma * torch.diag(P)
    eye = torch.eye(n, dtype=torch.float64)
    for k in order:
        s_, y_ = SY[k], SY[m + k]
        rho = 1.0 / float(s_ @ y_)
        H = (eye - rho * torch.outer(s_, y_)) @ H @ (eye - rho * torch.outer(y_, s_)) + rho * torch.outer(s_, s_)
    g = torch.randn(n, dtype=torch.float64)
    scale = lambda v: v.mul_(P)  # noqa: E731  (the in-place diagonal, as PLObjective.precondition_)
    d1, d2 = torch.empty_like(g), torch.empty_like(g)
    potts._compact_direction(SY, STY, YPY, order, gamma, g, d1, scale)
    potts._two_loop_direction(SY, STY, YPY, order, gamma, g, d2, scale)
    assert torch.allclose(d1, -H @ g, rtol=1e-9, atol=1e-11)
    assert torch.allclose(d2, -H @ g, rtol=1e-9, atol=1e-11)
    d0 = torch.empty_like(g)
    potts._compact_direction(SY, STY, YPY, order, gamma, g, d0)  # without P: a different direction
    assert not torch.allclose(d0, d1, rtol=1e-3)


@pytest.mark.parametrize("centered", [False, True])
def test_preconditioner_is_the_hessian_diagonal_at_the_frequency_start(centered):
    """At W = 0 with fields log f, every conditional is P(x_i = a) = f_ia, where the curvature estimate of
    ``precondition_`` is exact: compare it with the diagonal of the autograd Hessian (float64), off the
    (i, i) blocks. Each column holds every state, with counts 1..21, and the rows carry random weights."""
    from torch.func import hessian

    rng = np.random.default_rng(4)
    L = 3
    col = np.repeat(np.arange(Q), np.arange(1, Q + 1))
    X = torch.as_tensor(np.stack([rng.permutation(col) for _ in range(L)], 1), dtype=torch.long)
    N = X.shape[0]
    w = torch.as_tensor(rng.random(N) + 0.2, dtype=torch.float64)
    lam_h = 0.0 if centered else 0.02  # centered: the h penalty also reaches W through h = h' - f W (not estimated)
    obj = potts.PLObjective(X, w, lam_h, 0.03, centered=centered)
    oh = F.one_hot(X, Q).reshape(N, L * Q).double()
    f = (oh * w[:, None]).sum(0) / w.sum()
    Lq = L * Q

    def objective(z):
        hp, W = z[:Lq], z[Lq:].view(Lq, Lq)
        h = hp - f @ W if centered else hp
        logp = torch.log_softmax((oh @ W).view(N, L, Q) + h.view(L, Q), -1)
        nll = -(logp.gather(2, X[..., None]).squeeze(-1).sum(1) * w).sum()
        return (nll + lam_h * (h ** 2).sum() + obj.lam_j * (W ** 2).sum()) / w.sum()

    z0 = torch.cat([torch.log(f), torch.zeros(Lq * Lq, dtype=torch.float64)])  # centered: h' = h + f W = h
    diag = torch.diagonal(hessian(objective)(z0))
    est = obj.precondition_(torch.ones(obj.n, dtype=torch.float64)).reciprocal()
    est_h, est_blocks = obj._views(est)
    est_W = torch.cat(est_blocks, 1)
    assert torch.allclose(est_h.reshape(-1), diag[:Lq], rtol=1e-9)
    off = torch.ones(L, Q, L, Q, dtype=torch.bool)
    off[torch.arange(L), :, torch.arange(L), :] = False
    ref_W = diag[Lq:].view(Lq, Lq)
    assert torch.allclose(est_W.view(L, Q, L, Q)[off], ref_W.view(L, Q, L, Q)[off], rtol=1e-9)
    assert float(diag[:Lq].max() / diag[:Lq].min()) > 10  # a spread a multiple of the identity cannot follow


def test_compact_and_two_loop_lbfgs_reach_the_same_optimum():
    torch.set_num_threads(1)
    X = planted_alignment(n=200, L=10, seed=8)
    Xu, wu, _ = potts.prepare(X, potts.PottsSettings(), seed=0)
    obj = potts.PLObjective(Xu, wu, 0.01, 0.01, centered=True)
    start = obj.to_theta(potts._init_fields(Xu, wu), torch.zeros(10 * Q, 10 * Q))
    runs = {way: potts.lbfgs(obj.value_and_grad, start.clone(), 2000, 5, 1e-12, gtol=1e-7, direction=way)
            for way in ("compact", "two-loop")}
    assert all(r[2] < 2000 for r in runs.values())
    assert runs["compact"][1][-1] == pytest.approx(runs["two-loop"][1][-1], rel=1e-5)


def test_default_fit_stops_by_convergence_not_the_cap():
    torch.set_num_threads(1)
    r = potts.fit(planted_alignment(n=300, L=12, seed=6), potts.PottsSettings(), seed=0)
    assert r["iterations"] < potts.PottsSettings().max_iter and r["converged"]


def test_unknown_lbfgs_backend_is_a_config_error():
    with pytest.raises(ConfigError, match="lbfgs_backend"):
        potts.fit(planted_alignment(n=20), potts.PottsSettings(lbfgs_backend="newton"))


def test_auto_backend_is_the_hand_written_lbfgs_on_cpu_and_torch_on_gpu():
    # the CPU default follows the side-by-side benchmark (BENCHMARKS.md, #16)
    assert potts.lbfgs_backend("auto", "cpu") == "own"
    assert potts.lbfgs_backend("auto", "cuda") == "torch"
    assert potts.lbfgs_backend("scipy", "cpu") == "scipy"


@pytest.mark.parametrize("preconditioned", [False, True])
def test_carried_lbfgs_products_follow_the_recomputed_path(preconditioned):
    """S g and Y P g carried from one iteration to the next (the default) give the iterates of recomputing them
    from g: the same objectives along the path and the same optimum (float64, so rounding cannot hide a wrong
    update)."""
    torch.set_num_threads(1)
    X = planted_alignment(n=200, L=10, seed=8)
    Xu, wu, _ = potts.prepare(X, potts.PottsSettings(), seed=0)
    obj = potts.PLObjective(Xu, wu.double(), 0.01, 0.01, centered=True)
    start = obj.to_theta(potts._init_fields(Xu, wu).double(), torch.zeros(10 * Q, 10 * Q, dtype=torch.float64))
    pre = obj.precondition_ if preconditioned else None
    runs = {way: potts.lbfgs(obj.value_and_grad, start.clone(), 2000, 5, 1e-12, gtol=1e-9, precondition=pre,
                             products=way) for way in ("updated", "direct")}
    path_u, path_d = runs["updated"][1], runs["direct"][1]
    k = min(len(path_u), len(path_d), 60)
    assert k > 30  # the ring buffer wraps many times within the compared stretch
    assert np.allclose(path_u[:k], path_d[:k], rtol=1e-9, atol=1e-6)
    assert path_u[-1] == pytest.approx(path_d[-1], rel=1e-7)
    with pytest.raises(ValueError, match="products"):
        potts.lbfgs(obj.value_and_grad, start.clone(), 5, 5, 1e-6, products="cached")


def test_carried_lbfgs_products_survive_a_rejected_curvature_pair():
    """When a step's curvature s.y is ~0 the pair is dropped, and the carried S g and Y P g are recomputed at the new
    gradient for the pairs kept. A convex function whose curved part converges while the rest is still on linear
    (Huber) pieces makes that happen (y = 0 there, s = 0 in the curved coordinate); the carried and the recomputed
    products must still give the same path."""

    def fg(x, g):
        r = x[1:]
        g[0] = 3.0 * (x[0] - 1.0)
        g[1:] = torch.where(r.abs() <= 1.0, r, r.sign())
        return float(1.5 * (x[0] - 1.0) ** 2 + torch.where(r.abs() <= 1.0, 0.5 * r ** 2, r.abs() - 0.5).sum())

    x0 = torch.tensor([0.0, 50.0, 80.0], dtype=torch.float64)
    evaluated = []

    def recording(x, g):
        f = fg(x, g)
        evaluated.append((x.clone(), g.clone()))
        return f

    runs = {way: potts.lbfgs(recording if way == "updated" else fg, x0.clone(), 200, 5, 1e-14, gtol=1e-10,
                             products=way) for way in ("updated", "direct")}
    # the situation occurs: two successive evaluations at distinct points with no curvature between them
    # (removing the recomputation for dropped pairs makes the paths below differ: checked by hand)
    assert any(float((x1 - x0_) @ (x1 - x0_)) > 0 and float((x1 - x0_) @ (g1 - g0)) <= 1e-10
               for (x0_, g0), (x1, g1) in zip(evaluated, evaluated[1:]))
    (xu, path_u, it_u, _), (xd, path_d, it_d, _) = runs["updated"], runs["direct"]
    assert it_u == it_d and np.allclose(path_u, path_d, rtol=1e-12, atol=1e-12)
    assert torch.allclose(xu, xd, atol=1e-12) and abs(float(xu[0]) - 1.0) < 1e-8
