"""The saved PINN (model.pt + model.json): one format, checked on load."""

import json

import numpy as np
import pytest

from sciml.config import domain_section
from sciml.errors import DataError
from sciml.pde import pinn as pinn_mod
from sciml.pde import saved_model
from sciml.pde.problems import get_problem


def _pinn(**pinn):
    cfg = domain_section("pde", json.dumps({"pinn": {"width": 8, "depth": 2, "num_domain": 50, **pinn}}))
    return pinn_mod.build_pinn(get_problem("heat"), cfg["pinn"], seed=0, threads=1)


def test_save_then_load_gives_the_same_network(tmp_path):
    a = _pinn()
    paths = saved_model.save_model(tmp_path, a)
    assert [p.name for p in paths] == ["model.pt", "model.json"]
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["format"] == saved_model.FORMAT and meta["format_version"] == saved_model.FORMAT_VERSION
    assert meta["problem"] == "heat" and meta["architecture"]["width"] == 8
    b = _pinn()
    X = np.array([[0.25, 0.5], [0.75, 0.1]])
    with __import__("torch").no_grad():
        for p in b.net.parameters():
            p.add_(0.1)  # make b differ until it loads a's weights
    assert not np.allclose(a.predict(X), b.predict(X))
    saved_model.load_model(tmp_path, b)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_other_format_version_is_refused(tmp_path):
    saved_model.save_model(tmp_path, _pinn())
    meta = json.loads((tmp_path / "model.json").read_text())
    (tmp_path / "model.json").write_text(json.dumps(meta | {"format_version": saved_model.FORMAT_VERSION + 1}))
    with pytest.raises(DataError, match="format version"):
        saved_model.load_model(tmp_path, _pinn())


def test_missing_model_json_is_a_clean_error(tmp_path):
    with pytest.raises(DataError, match="model.json"):
        saved_model.load_model(tmp_path, _pinn())


def test_config_that_drifted_from_training_is_refused(tmp_path):
    saved_model.save_model(tmp_path, _pinn())
    with pytest.raises(DataError, match="architecture") as info:
        saved_model.load_model(tmp_path, _pinn(width=9))
    assert "architecture.width: saved 8, config 9)" in str(info.value)  # the differing entry, not both dicts
    with pytest.raises(DataError, match="architecture.activation"):
        saved_model.load_model(tmp_path, _pinn(activation="sin"))  # same shapes, other network


def test_a_model_saved_before_the_network_options_existed_still_loads(tmp_path):
    """model.json files written before ``network`` / ``fourier_features`` / ``weight_factorization``
    were architecture keys lack them; they were plain MLPs, so they load under a config that keeps
    those options at their defaults, and are refused under one that turns an option on."""
    a = _pinn()
    saved_model.save_model(tmp_path, a)
    meta = json.loads((tmp_path / "model.json").read_text())
    for key in saved_model.ADDED_ARCHITECTURE_DEFAULTS:
        del meta["architecture"][key]
    (tmp_path / "model.json").write_text(json.dumps(meta))
    b = _pinn()
    saved_model.load_model(tmp_path, b)
    X = np.array([[0.25, 0.5]])
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    with pytest.raises(DataError, match="architecture"):
        saved_model.load_model(tmp_path, _pinn(network="modified_mlp"))


def _declared_pinn(equation: str):
    from sciml.pde.problems.declared import DeclaredProblem

    spec = {"geometry": {"type": "interval", "low": 0, "high": 1}, "fields": ["u"], "equations": [equation],
            "conditions": [{"type": "dirichlet", "value": 0}], "solution": {"u": "sin(pi*x)"}}
    cfg = domain_section("pde", json.dumps({"pinn": {"width": 8, "depth": 2, "num_domain": 50}}))
    return pinn_mod.build_pinn(DeclaredProblem("mine", spec), cfg["pinn"], seed=0, threads=1)


def test_a_model_trained_for_another_equation_is_refused(tmp_path):
    """Same problem name, parameters and architecture, but a changed equation: the fingerprint differs."""
    saved_model.save_model(tmp_path, _declared_pinn("u_xx + pi**2*sin(pi*x)"))
    meta = json.loads((tmp_path / "model.json").read_text())
    assert len(meta["problem_fingerprint"]) == 16 and meta["equation"] == "u_xx + pi**2*sin(pi*x) = 0"
    saved_model.load_model(tmp_path, _declared_pinn("u_xx + pi**2*sin(pi*x)"))  # the same declaration loads
    with pytest.raises(DataError, match=r"does not match the config \(problem_fingerprint: saved .*"
                                        r"equation: saved 'u_xx \+ pi\*\*2\*sin\(pi\*x\) = 0', config 'u_xx - 1 = 0'"):
        saved_model.load_model(tmp_path, _declared_pinn("u_xx - 1"))


def test_a_model_saved_without_a_fingerprint_loads_with_a_warning(tmp_path):
    a = _declared_pinn("u_xx + 1")
    saved_model.save_model(tmp_path, a)
    meta = json.loads((tmp_path / "model.json").read_text())
    for key in saved_model.PHYSICS_META:
        del meta[key]
    (tmp_path / "model.json").write_text(json.dumps(meta))
    b = _declared_pinn("u_xx - 1")
    with pytest.warns(UserWarning, match="records no problem fingerprint"):
        saved_model.load_model(tmp_path, b)
    X = np.array([[0.25], [0.5]])
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_a_corrupt_weight_file_and_points_of_the_wrong_shape_are_named(tmp_path):
    """A truncated model.pt raised a raw UnpicklingError; predict on 1-D points an IndexError, and a point outside
    the domain was extrapolated unsaid (heat at x = 5, t = 9 gave 19)."""
    a = _pinn()
    saved_model.save_model(tmp_path, a)
    data = (tmp_path / "model.pt").read_bytes()
    (tmp_path / "model.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="model.pt.*cannot load the saved PINN's weights"):
        saved_model.load_model(tmp_path, _pinn())
    with pytest.raises(ValueError, match=r"shape \(n, 2\), one column per input \(x, t\)"):
        a.predict(np.array([0.5, 0.5]))
    with pytest.warns(UserWarning, match="1 of 2 points lie outside the domain"):
        a.predict(np.array([[0.5, 0.5], [5.0, 9.0]]))
