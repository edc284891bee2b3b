"""PINN training options of issue #17: networks (Fourier features, modified MLP, weight
factorisation), causal weighting, adaptive loss weights, RAR-D and the time curriculum."""

import math

import numpy as np
import pytest

from sciml.errors import ConfigError, DataError
from sciml.pde import pinn as pinn_mod
from sciml.pde.accuracy import relative_l2
from sciml.pde.problems import get_problem
from tests.pde.test_pinn import tiny_cfg


def _quiet(msg: str) -> None:
    pass


def test_plain_config_keeps_deepxde_fnn():
    cfg = tiny_cfg()
    model = pinn_mod.build_pinn(get_problem("heat"), cfg["pinn"], seed=0, threads=1)
    assert type(model.net).__name__ == "FNN"


def test_network_options_shapes_and_buffers():
    import torch

    from sciml.pde.networks import FactorizedLinear, PINNNet

    torch.manual_seed(0)
    net = PINNNet(2, 3, width=16, depth=3, activation="tanh", kind="modified_mlp",
                  fourier={"features": 8, "sigma": 2.0}, rwf={"mean": 1.0, "std": 0.1})
    x = torch.rand(5, 2, dtype=net.fourier_b.dtype)
    assert net(x).shape == (5, 3)
    state = net.state_dict()
    assert state["fourier_b"].shape == (2, 8)  # the random frequencies travel with the weights
    assert "encoder_u.s" in state and "out.v" in state
    # weight factorisation starts from a Glorot-normal product: exp(s) V has Glorot's spread
    layer = FactorizedLinear(200, 300, 1.0, 0.1, torch.float64)
    w = torch.exp(layer.s)[:, None] * layer.v
    assert abs(float(w.detach().std()) - math.sqrt(2.0 / 500)) < 0.003
    assert abs(float(layer.s.detach().mean()) - 1.0) < 0.03
    with pytest.raises(ConfigError, match="unknown network"):
        PINNNet(2, 1, 8, 2, "tanh", kind="resnet")


def test_fourier_modified_mlp_rwf_trains_heat(tmp_path):
    # every architecture option at once must still train: a network that ignores its inputs or
    # breaks the gradients would stay far above 1e-2
    cfg = tiny_cfg(network="modified_mlp", fourier_features={"features": 16, "sigma": 1.0},
                   weight_factorization={"enabled": True}, adam_iterations=300, lbfgs_iterations=200)
    problem = get_problem("heat")
    model = pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1)
    assert type(model.net).__name__ == "PINNNet"
    pinn_mod.train_pinn(model, tmp_path, seed=0, log=_quiet)
    ref = problem.reference()
    assert relative_l2(model.predict(ref.points()), ref) < 1e-2


def test_saved_model_round_trip_with_fourier_features(tmp_path):
    from sciml.pde.saved_model import load_model, save_model

    problem = get_problem("heat")
    cfg = tiny_cfg(fourier_features={"features": 8, "sigma": 1.0}, adam_iterations=20, lbfgs_iterations=0)
    model = pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1)
    pinn_mod.train_pinn(model, tmp_path / "ckpt", seed=0, log=_quiet)
    save_model(tmp_path / "m", model)
    X = problem.uniform_points(50, 3)
    # another seed draws other frequencies: loading must restore the saved ones
    other = pinn_mod.build_pinn(problem, cfg["pinn"], seed=7, threads=1)
    assert not np.allclose(other.predict(X), model.predict(X))
    load_model(tmp_path / "m", other)
    assert np.array_equal(other.predict(X), model.predict(X))
    wrong = pinn_mod.build_pinn(problem, tiny_cfg(fourier_features={"features": 4, "sigma": 1.0})["pinn"],
                                seed=0, threads=1)
    with pytest.raises(DataError, match="does not match the config"):
        load_model(tmp_path / "m", wrong)


def test_causal_chunk_weights_follow_the_cumulative_loss():
    import torch

    from sciml.pde.training_options import CausalWeighting

    cw = CausalWeighting(pde=None, t_col=1, t_bounds=(0.0, 1.0), chunks=3, epsilon=0.5)
    t = torch.tensor([0.1, 0.2, 0.5, 0.9, 0.95], dtype=torch.float64)
    sq = torch.tensor([1.0, 3.0, 4.0, 6.0, 2.0], dtype=torch.float64)  # chunk means 2, 4, 4
    w, idx = cw.chunk_weights(t, sq)
    assert idx.tolist() == [0, 0, 1, 2, 2]
    assert np.allclose(w.numpy(), [1.0, math.exp(-0.5 * 2), math.exp(-0.5 * 6)])


def test_causal_weighting_trains_heat_and_reports_min_weight(tmp_path):
    cfg = tiny_cfg(causal={"enabled": True, "chunks": 8, "epsilon": 1.0})
    problem = get_problem("heat")
    model = pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1)
    report = pinn_mod.train_pinn(model, tmp_path, seed=0, log=_quiet)
    ref = problem.reference()
    assert relative_l2(model.predict(ref.points()), ref) < 1e-2
    assert 0.9 < report.causal_min_weight <= 1.0  # trained: the residual is small at every time
    # the residual reported for validation is the plain one, not the weighted one
    X = problem.uniform_points(64, 1)
    plain = model.model.predict(X.astype(np.float64), operator=problem.pde(model.dde))
    assert np.allclose(model.residual(X), np.abs(np.asarray(plain)).ravel())


def test_causal_needs_time_input():
    cfg = tiny_cfg(causal={"enabled": True})
    with pytest.raises(ConfigError, match="no time input"):
        pinn_mod.build_pinn(get_problem("poisson_lshape"), cfg["pinn"], seed=0, threads=1)


def test_adaptive_weights_balance_gradient_norms(tmp_path):
    cfg = tiny_cfg(hard_constraints=False, adaptive_weights={"enabled": True, "every": 50, "alpha": 0.0},
                   lbfgs_iterations=0, adam_iterations=100)
    model = pinn_mod.build_pinn(get_problem("heat"), cfg["pinn"], seed=0, threads=1)
    assert len(model.loss_weights()) == 3  # residual, boundary, initial condition
    report = pinn_mod.train_pinn(model, tmp_path, seed=0, log=_quiet)
    assert model.adaptive.updates == 2 and report.loss_weights != [1.0, 1.0, 1.0]
    # with alpha = 0 one update makes every weighted term's gradient norm the same
    model.adaptive.update()
    norms = model.adaptive.gradient_norms()
    weighted = [w * n for w, n in zip(model.adaptive.weights, norms)]
    assert np.allclose(weighted, weighted[0], rtol=1e-6)
    assert model.model.loss_weights == model.adaptive.weights
    # a resumed run continues from the checkpoint's weights
    again = pinn_mod.build_pinn(get_problem("heat"), cfg["pinn"], seed=0, threads=1)
    pinn_mod.train_pinn(again, tmp_path, seed=0, log=_quiet)
    assert again.adaptive.weights == report.loss_weights


def test_rar_d_samples_where_the_residual_is_large():
    from sciml.pde.training_options import rar_select

    rng = np.random.default_rng(0)
    X = rng.random((10000, 2))
    res = np.where(X[:, 0] < 0.1, 1.0, 0.01)  # 10 % of the candidates carry the residual
    greedy = rar_select(X, res, 200, "greedy", 2, 0, seed=0)
    assert (X[greedy, 0] < 0.1).all()
    d = rar_select(X, res, 200, "distribution", 2, 0, seed=0)
    assert len(set(d.tolist())) == 200 and (X[d, 0] < 0.1).mean() > 0.95
    # a large c makes it (almost) uniform: about 10 % of the picks in the strip
    u = rar_select(X, res, 2000, "distribution", 2, 1000.0, seed=0)
    assert 0.05 < (X[u, 0] < 0.1).mean() < 0.16
    with pytest.raises(ConfigError, match="unknown method"):
        rar_select(X, res, 10, "best", 2, 0, seed=0)


def test_rar_d_round_in_training(tmp_path):
    rar = {"enabled": True, "rounds": 1, "candidates": 500, "points_per_round": 10, "iterations": 20,
           "optimizer": "adam", "method": "distribution", "k": 1.0, "c": 1.0}
    cfg = tiny_cfg(rar=rar, lbfgs_iterations=0)
    model = pinn_mod.build_pinn(get_problem("heat"), cfg["pinn"], seed=0, threads=1)
    report = pinn_mod.train_pinn(model, tmp_path, seed=0, log=_quiet)
    assert report.anchors == 10 and report.iterations["rar1"] == 20


def test_time_curriculum_trains_early_times_first(tmp_path):
    cfg = tiny_cfg(curriculum={"windows": 2}, lbfgs_iterations=0, checkpoint_every=50)
    problem = get_problem("heat")
    model = pinn_mod.build_pinn(problem, cfg["pinn"], seed=0, threads=1)
    t_end = problem.bounds()[-1][1]
    seen = []

    def watch(msg: str) -> None:
        if msg.startswith("adam:"):
            seen.append((int(msg.split()[1].split("/")[0]), float(model.data.train_x_all[:, -1].max())))

    pinn_mod.train_pinn(model, tmp_path, seed=0, log=watch)
    first = [t for done, t in seen if done <= 100]
    assert first and max(first) <= 0.5 * t_end + 1e-9
    assert seen[-1][0] == 200 and seen[-1][1] > 0.9 * t_end
    assert len(model.data.train_x_all) == 100  # all points again after the Adam stage


@pytest.mark.slow
def test_every_option_works_on_a_declared_problem_through_the_steps(tmp_path):
    # the options are the same for problems declared in the config (issue #15's route)
    from tests.pde.test_declared import HEAT_YAML, cfg_from, run_steps

    cfg = cfg_from(HEAT_YAML, num_domain=200, adam_iterations=400, lbfgs_iterations=300, hard_constraints=False,
                   network="modified_mlp", fourier_features={"features": 8, "sigma": 1.0},
                   weight_factorization={"enabled": True}, causal={"enabled": True, "chunks": 8},
                   adaptive_weights={"enabled": True, "every": 100}, curriculum={"windows": 2},
                   rar={"enabled": True, "rounds": 1, "candidates": 2000, "points_per_round": 50,
                        "iterations": 100, "method": "distribution"})
    m = run_steps(cfg, "heat_decl", tmp_path)
    assert m["rel_l2"] < 0.1, m  # the zero network: 1.0
    assert len(m["loss_weights"]) == 3 and 0.0 < m["causal_min_weight"] <= 1.0
    assert m["rar_anchors"] == 50
