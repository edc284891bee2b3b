"""Operator surrogate (DeepONet): data against the solvers, refused data, the query guard,
save/load, and a small trained operator against the mean-solution baseline."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from sciml.errors import ChecksumError, DataError
from sciml.pde.operator.datasets import read_dataset, write_dataset
from sciml.pde.operator.families import BurgersGRF, PoissonLShape, split_rng


def small_poisson() -> PoissonLShape:
    return PoissonLShape(modes=4, sensors_per_side=9, query_refine=2, reference=(3, 2), ladder=[(1, 1), (2, 1)])


def make_arrays(family, counts=(("train", 120), ("validation", 30), ("test", 30)), seed=0):
    sensors = family.sensors()
    arrays = {"sensors": sensors, "points": family.points()}
    for split, n in counts:
        c = family.sample(split_rng(seed, split), n)
        arrays[f"coeffs_{split}"] = c
        arrays[f"inputs_{split}"] = family.input_function(c, sensors[:, 0] if sensors.shape[1] == 1 else sensors)
        arrays[f"outputs_{split}"] = family.solve_many(c)
    return arrays


MODEL = {"width": 32, "depth": 2, "latent": 32, "activation": "tanh", "branch_activation": None, "lr": 0.003,
         "iterations": 1500, "batch_size": None, "seed": 0, "accelerator": "cpu"}


@pytest.fixture(scope="module")
def poisson_arrays():
    return make_arrays(small_poisson())


@pytest.fixture(scope="module")
def trained(poisson_arrays):
    from sciml.pde.operator import deeponet

    sur, info = deeponet.train(poisson_arrays, MODEL, data_sha256="x", family_spec=small_poisson().spec(),
                               threads=1, log=lambda m: None)
    return sur, info


def test_splits_are_disjoint_streams() -> None:
    fam = small_poisson()
    a, b = (fam.sample(split_rng(0, s), 3) for s in ("train", "test"))
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(a, fam.sample(split_rng(0, "train"), 3))


def test_poisson_data_matches_an_independent_fem_solve(poisson_arrays) -> None:
    """The superposed mode solutions equal a from-scratch FEM solve of the whole source."""
    fam = small_poisson()
    c = poisson_arrays["coeffs_test"][3]
    direct = fam.solve(c)  # new mesh, assembly with f at the quadrature points, factorisation
    np.testing.assert_allclose(poisson_arrays["outputs_test"][3], direct, rtol=1e-9, atol=1e-12)
    # and the package's constant-source solver agrees with this assembly for f = 1
    from sciml.pde.solvers.poisson_fem import solve_poisson_lshape

    fem = fam.fem((3, 2))
    ours = fem.solve_load(fem.load(lambda x, y: np.ones_like(x)))
    np.testing.assert_allclose(ours, solve_poisson_lshape(1.0, fam.points(), refine=3, order=2), atol=1e-12)


def test_burgers_data_matches_the_package_burgers_solver() -> None:
    """u0 = -sin(pi x) (b_1 = -1) gives the package's sciml.pde.solvers.spectral.solve_burgers."""
    from sciml.pde.solvers.spectral import solve_burgers

    fam = BurgersGRF(nu=0.05, nx=32, nt=6, modes=8, t_final=0.5, reference=(64, 10))
    c = np.zeros(2 * fam.modes)
    c[fam.modes] = -1.0
    ref = solve_burgers(0.05, fam.x, fam.t, 64, 10)
    np.testing.assert_allclose(fam.solve_many(c[None])[0], ref.ravel(), atol=1e-12)
    np.testing.assert_allclose(fam.input_function(c, fam.x), -np.sin(np.pi * fam.x), atol=1e-12)


def test_dataset_round_trip_and_refusals(tmp_path, poisson_arrays) -> None:
    path = tmp_path / "d.npz"
    rec = write_dataset(path, poisson_arrays, {"seed": 0})
    arrays, record = read_dataset(path)
    assert record["sha256"] == rec["sha256"] and record["counts"]["train"] == 120
    np.testing.assert_array_equal(arrays["outputs_test"], poisson_arrays["outputs_test"])

    bad = dict(poisson_arrays)
    bad["outputs_train"] = bad["outputs_train"].copy()
    bad["outputs_train"][2, 5] = np.nan
    with pytest.raises(DataError, match=r"bad\.npz.*outputs_train.*NaN/inf"):
        write_dataset(tmp_path / "bad.npz", bad, {})
    np.savez(tmp_path / "nan.npz", **bad)  # written around the check
    with pytest.raises(DataError, match=r"nan\.npz.*outputs_train.*NaN/inf"):
        read_dataset(tmp_path / "nan.npz")

    short = dict(poisson_arrays)
    short["inputs_validation"] = short["inputs_validation"][:, :-1]
    np.savez(tmp_path / "shape.npz", **short)
    with pytest.raises(DataError, match=r"shape\.npz.*inputs_validation.*expected"):
        read_dataset(tmp_path / "shape.npz")

    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")  # changed after generation
    with pytest.raises(ChecksumError, match=r"d\.npz.*sha256"):
        read_dataset(path)


def test_query_guard_flags_out_of_range_and_rejects_wrong_shape(trained, poisson_arrays) -> None:
    from sciml.pde.operator.deeponet import OutOfRangeWarning

    sur, _ = trained
    inside = poisson_arrays["inputs_test"][:5]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, flags = sur.predict(poisson_arrays["inputs_train"][:5])  # training inputs: in range by definition
    assert not flags.any()
    queries = np.concatenate([inside[:2], 5.0 * inside[2:3], 0.0 * inside[3:4]])
    with pytest.warns(OutOfRangeWarning, match="outside the training range"):
        u, flags = sur.predict(queries)
    assert u.shape == (4, len(poisson_arrays["points"]))
    assert flags[2] and flags[3]  # 5x amplitude, zero function: outside the RMS range
    with pytest.raises(ValueError, match=r"shape \(n, \d+\)"):
        sur.predict(inside[:, :-3])
    with pytest.raises(ValueError, match="NaN"):
        sur.predict(np.full_like(inside, np.nan))


def test_save_load_gives_identical_predictions_and_query_cli(tmp_path, trained, poisson_arrays) -> None:
    from sciml.pde.operator import deeponet
    from sciml.pde.steps.operator import operator_query

    sur, _ = trained
    deeponet.save(tmp_path / "model", sur)
    meta = json.loads((tmp_path / "model" / "operator.json").read_text())
    assert meta["format_version"] == deeponet.FORMAT_VERSION and meta["family"]["kind"] == "poisson_lshape"
    back = deeponet.load(tmp_path / "model", accelerator="cpu", threads=1)
    x = poisson_arrays["inputs_test"]
    np.testing.assert_array_equal(back.predict_raw(x), sur.predict_raw(x))

    np.save(tmp_path / "q.npy", np.concatenate([x[:3], 10.0 * x[:1]]))
    with pytest.warns(UserWarning):
        out = operator_query(tmp_path / "model", tmp_path / "q.npy", tmp_path / "pred.npz", accelerator="cpu")
    assert out == {"queries": 4, "out_of_range": 1, "out": str(tmp_path / "pred.npz")}
    with np.load(tmp_path / "pred.npz") as z:
        assert z["out_of_range"].tolist() == [False, False, False, True] and z["u"].shape == (4, len(sur.points))
    np.save(tmp_path / "wrong.npy", x[:, :5])
    with pytest.raises(DataError, match=r"wrong\.npy.*shape"):
        operator_query(tmp_path / "model", tmp_path / "wrong.npy", tmp_path / "p2.npz", accelerator="cpu")


def test_small_operator_beats_the_mean_solution_on_held_out_inputs(trained, poisson_arrays) -> None:
    """A broken model (untrained, ignoring its input, mis-normalised) scores >= the baseline (~1)."""
    from sciml.pde.operator.evaluate import accuracy

    sur, info = trained
    acc = accuracy(sur, poisson_arrays, "test")
    base = acc["baseline_mean_solution"]["median"]
    assert base > 0.8
    assert acc["surrogate"]["median"] < 0.3 * base, acc
    assert info["history"][-1]["validation_loss"] < info["history"][0]["validation_loss"]


def test_pod_basis_keeps_the_fewest_modes_that_meet_the_tolerance() -> None:
    from sciml.pde.operator.deeponet import pod_basis

    rng = np.random.default_rng(0)
    modes = np.linalg.qr(rng.standard_normal((50, 3)))[0].T  # 3 orthonormal rows
    y = rng.standard_normal((200, 3)) * [10.0, 1.0, 0.01] @ modes
    y -= y.mean(axis=0)
    for tol, k in ((0.1, 1), (1e-3, 2), (1e-9, 3)):
        b = pod_basis(y, tol)
        assert b.shape == (50, k), (tol, b.shape)
    # float32 solutions (what training passes) with a long spectrum: a float32 SVD kept all 300 modes
    wide = (rng.standard_normal((400, 60)) * np.logspace(0, -6, 60)) @ np.linalg.qr(rng.standard_normal((300, 60)))[0].T
    wide -= wide.mean(axis=0)
    assert pod_basis(wide.astype(np.float32), 1e-8).shape == pod_basis(wide, 1e-8).shape == (300, 39)
    b = pod_basis(y, 1e-9)
    gram = b.T @ b
    np.testing.assert_allclose(gram / gram[0, 0], np.eye(3), atol=1e-5)  # orthogonal, one common scale


def test_pod_deeponet_learns_burgers_and_round_trips(tmp_path) -> None:
    """The POD trunk (``pod_tol``) trained on a small Burgers family: beats the mean solution by far
    on held-out inputs, and a saved model (basis inside operator.pt) predicts identically."""
    from sciml.pde.operator import deeponet
    from sciml.pde.operator.evaluate import accuracy

    family = BurgersGRF(nx=32, nt=6, modes=6, reference=(64, 10))
    arrays = make_arrays(family, (("train", 150), ("validation", 20), ("test", 30)))
    cfg = {**MODEL, "pod_tol": 1e-6}
    sur, _ = deeponet.train(arrays, cfg, data_sha256="x", family_spec=family.spec(), threads=1, log=lambda m: None)
    assert sur.meta["architecture"]["pod_modes"] < 32 * 6
    acc = accuracy(sur, arrays, "test")
    # 0.105 here; the trained-trunk DeepONet of MODEL scores 0.27 on the same data
    assert acc["surrogate"]["median"] < 0.15 * acc["baseline_mean_solution"]["median"], acc
    deeponet.save(tmp_path / "pod", sur)
    back = deeponet.load(tmp_path / "pod", accelerator="cpu", threads=1)
    x = arrays["inputs_test"]
    np.testing.assert_array_equal(back.predict_raw(x), sur.predict_raw(x))


def test_ladder_matching_and_break_even() -> None:
    from sciml.pde.operator.evaluate import break_even_table, matched_level

    ladder = [{"level": [1, 1], "median_rel_l2": 0.3, "seconds": 0.001},
              {"level": [2, 1], "median_rel_l2": 0.05, "seconds": 0.004},
              {"level": [3, 1], "median_rel_l2": 0.01, "seconds": 0.02}]
    assert matched_level(ladder, 0.06)["level"] == [2, 1]
    assert matched_level(ladder, 0.001) is None
    rows = break_even_table(100.0, [{"inputs": 1, "seconds_per_query": 0.002}], ladder[1])
    assert rows[0]["break_even_queries"] == 50000
    assert break_even_table(1.0, [{"inputs": 1, "seconds_per_query": 0.01}], ladder[1])[0]["break_even_queries"] is None


@pytest.mark.slow
def test_operator_step_end_to_end(tmp_path) -> None:
    """The CLI step on a tiny config: every output, settings chosen on validation, dataset reused."""
    from sciml.cli import main

    cfg = tmp_path / "op.yaml"
    cfg.write_text("family: {kind: poisson_lshape, poisson: {modes: 4, sensors_per_side: 9, query_refine: 2, "
                   "reference: [3, 2], ladder: [[1, 1], [2, 1]]}}\n"
                   "data: {train: 30, validation: 10, test: 10}\n"
                   "model: {width: 16, latent: 16, iterations: 100, select_iterations: 30, "
                   "candidates: [{width: 8}, {width: 16}]}\n"
                   "accelerator: cpu\n"
                   "evaluation: {batch_sizes: [1, 50], timing_repeats: 1, ladder_functions: 2}\n")
    out = tmp_path / "out"
    assert main(["pde", "operator", "--config", str(cfg), "--out-dir", str(out), "--threads", "1"]) == 0
    for name in ("dataset.npz", "dataset.json", "model/operator.pt", "model/operator.json", "selection.json",
                 "metrics.json", "timing.json", "report.txt", "provenance.json"):
        assert (out / name).is_file(), name
    sel = json.loads((out / "selection.json").read_text())
    assert len(sel["candidates"]) == 2 and sel["chosen"]["iterations"] == 100
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["surrogate"]["n"] == 10 and "validation" in metrics
    timing = json.loads((out / "timing.json").read_text())
    assert [r["inputs"] for r in timing["speed"]] == [1, 50] and len(timing["ladder"]) == 2
    sha = json.loads((out / "dataset.json").read_text())["sha256"]
    assert main(["pde", "operator", "--config", str(cfg), "--out-dir", str(out), "--threads", "1"]) == 0
    assert json.loads((out / "dataset.json").read_text())["sha256"] == sha


PLUGIN_FAMILY = '''
import numpy as np
from sciml.pde.operator.families import OperatorFamily


class Poisson1D(OperatorFamily):
    """-u'' = f on [0, 1], u(0) = u(1) = 0; f a random sine series; second-order finite differences."""

    kind = "poisson_1d"

    def __init__(self, modes=4, n_sensors=33, n_points=65, reference=1024, ladder=(8, 16, 32, 64)):
        self.modes, self.n_sensors, self.n_points = modes, n_sensors, n_points
        self.reference, self.ladder = reference, list(ladder)

    def spec(self):
        return {"kind": self.kind, "modes": self.modes, "n_sensors": self.n_sensors, "n_points": self.n_points,
                "reference": self.reference, "ladder": self.ladder}

    def sample(self, rng, n):
        return rng.standard_normal((n, self.modes)) / np.arange(1, self.modes + 1)

    def sensors(self):
        return np.linspace(0.0, 1.0, self.n_sensors)[:, None]

    def input_function(self, coeffs, x):
        return np.atleast_2d(coeffs) @ np.sin(np.pi * np.outer(np.arange(1, self.modes + 1), x))

    def points(self):
        return np.linspace(0.0, 1.0, self.n_points)[:, None]

    def solve(self, coeffs, level=None):
        n = level or self.reference
        x = np.linspace(0.0, 1.0, n + 1)
        A = (np.diag(np.full(n - 1, 2.0)) - np.diag(np.ones(n - 2), 1) - np.diag(np.ones(n - 2), -1)) * n * n
        u = np.zeros(n + 1)
        u[1:-1] = np.linalg.solve(A, self.input_function(coeffs, x[1:-1])[0])
        return np.interp(self.points()[:, 0], x, u)
'''


def _plugin_config(tmp_path, body: str, options: str = "{modes: 3}") -> Path:
    plugin = tmp_path / "my_family.py"
    plugin.write_text(body)
    cfg = tmp_path / "op.yaml"
    cfg.write_text(f"family: {{kind: plugin, plugin: {plugin}, options: {options}}}\n"
                   "data: {train: 60, validation: 10, test: 10}\n"
                   "model: {width: 32, latent: 32, iterations: 600, select_iterations: 50, "
                   "candidates: [{lr: 0.002}]}\n"
                   "accelerator: cpu\n"
                   "evaluation: {batch_sizes: [1, 20], timing_repeats: 1, ladder_functions: 3}\n")
    return cfg


@pytest.mark.slow
def test_a_plugin_family_runs_the_whole_operator_step(tmp_path) -> None:
    """A family the package has never seen (1D Poisson, in a file of the test) is trained, scored on
    held-out inputs against its own solver, and timed against its own ladder."""
    from sciml.cli import main

    cfg = _plugin_config(tmp_path, PLUGIN_FAMILY)
    out = tmp_path / "out"
    assert main(["pde", "operator", "--config", str(cfg), "--out-dir", str(out), "--threads", "1"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["family"]["kind"] == "poisson_1d" and metrics["family"]["modes"] == 3
    test = metrics["test"]
    assert test["surrogate"]["n"] == 10 and test["surrogate"]["median"] < 0.3 * test["baseline_mean_solution"]["median"], test
    record = json.loads((out / "dataset.json").read_text())
    assert len(record["plugin_sha256"]) == 64
    timing = json.loads((out / "timing.json").read_text())
    assert [r["level"] for r in timing["ladder"]] == [8, 16, 32, 64]
    # the finite-difference ladder converges: the finest level is closer to the reference than the coarsest
    assert timing["ladder"][-1]["median_rel_l2"] < timing["ladder"][0]["median_rel_l2"]
    prov = json.loads((out / "provenance.json").read_text())
    assert any(p.endswith("my_family.py") for p in prov["inputs_sha256"])
    # the operator YAML itself is an input with its checksum, not only its parsed values
    import hashlib

    assert prov["inputs_sha256"][str(cfg)] == hashlib.sha256(cfg.read_bytes()).hexdigest()


@pytest.mark.parametrize("body, options, key, words", [
    ("x = 1\n", "{}", "family.plugin", "exactly one"),
    (PLUGIN_FAMILY.replace("return np.interp(self.points()[:, 0], x, u)", "return u"), "{modes: 3}",
     "family.plugin", "one value per query point"),
    (PLUGIN_FAMILY, "{colour: red}", "family.options", "colour"),
    ("raise RuntimeError('broken')\n", "{}", "family.plugin", "failed to import"),
])
def test_bad_plugin_families_are_refused_before_any_data(tmp_path, body, options, key, words) -> None:
    from sciml.errors import ConfigError
    from sciml.pde.steps.operator import family_of, load_operator_config

    cfg = load_operator_config(_plugin_config(tmp_path, body, options))
    with pytest.raises(ConfigError) as err:
        family_of(cfg)
    assert err.value.key == key and words in str(err.value), str(err.value)
    assert not (tmp_path / "out").exists()


def test_candidates_are_checked_as_the_models_they_make_before_any_data(tmp_path) -> None:
    """lr: 1e-3 in a candidate stayed the string '1e-3'; a misspelt candidate key was refused only inside the
    selection loop, after the dataset was generated and earlier candidates trained, naming no file."""
    from sciml.errors import ConfigError
    from sciml.pde.steps.operator import load_operator_config

    path = tmp_path / "op.yaml"
    path.write_text("family: {kind: poisson_lshape}\nmodel: {candidates: [{lr: 1e-3, width: 16.0}, {width: 8}]}\n")
    cands = load_operator_config(path)["model"]["candidates"]
    assert cands == [{"lr": 0.001, "width": 16}, {"width": 8}] and isinstance(cands[0]["width"], int)
    path.write_text("family: {kind: poisson_lshape}\nmodel: {candidates: [{width: 8}, {widht: 16}]}\n")
    with pytest.raises(ConfigError, match=r"model\.candidates\[1\]\.widht.*unknown key") as err:
        load_operator_config(path)
    assert str(path) in str(err.value)
