"""D3 dispersion energies for the restacking descriptors: the right size and sign on graphite, NaN for an
element D3 has no parameters for, and a clear error without torch-dftd."""

from __future__ import annotations

import builtins

import numpy as np
import pytest

from sciml.materials.stacking import restack

# graphene (a = 2.46 A) in a cell with 20 A along c
GRAPHENE = (np.array([6, 6]), np.array([[2.46, 0.0, 0.0], [-1.23, 2.1304, 0.0], [0.0, 0.0, 20.0]]),
            np.array([[0.0, 0.0, 0.5], [1 / 3, 2 / 3, 0.5]]))


def test_graphene_restacked_binds_by_graphites_exfoliation_energy():
    """The D3 attraction between graphene layers restacked in the AB registry grows as the gap closes, and at
    graphite's 3.35 A it is of the size of graphite's measured exfoliation energy (~52 meV/atom, Zacharia et al.
    2004): per atom, in eV, not per cell or in hartree."""
    pytest.importorskip("torch_dftd")
    from sciml.materials.dispersion import d3_energies

    z, lattice, frac = GRAPHENE
    gaps = (3.35, 4.0, 6.0)
    e = d3_energies([GRAPHENE] + [(z, *restack(lattice, frac, g, (1 / 3, 2 / 3))) for g in gaps])
    binding = 1000 * (e[0] - np.array(e[1:]))  # meV/atom
    assert e[0] < 0 and np.all(np.diff(binding) < 0) and binding[-1] > 0
    assert 35 < binding[0] < 90


def test_an_element_without_d3_parameters_gives_nan_not_a_crash():
    pytest.importorskip("torch_dftd")
    from sciml.materials.dispersion import d3_energies

    _, lattice, frac = GRAPHENE
    e = d3_energies([(np.array([100, 6]), lattice, frac), GRAPHENE])
    assert np.isnan(e[0]) and np.isfinite(e[1])


def test_a_failing_d3_calculator_is_raised_not_turned_into_a_descriptor(monkeypatch):
    """Only a missing parameter table gives NaN: an out-of-memory error or a changed torch-dftd API must stop the
    run, not become binding 0 at the widest gap for that record, which nothing would count."""
    from ase.calculators.calculator import Calculator

    from sciml.materials import dispersion

    class Failing(Calculator):
        implemented_properties = ["energy"]

        def calculate(self, atoms=None, properties=("energy",), system_changes=()):
            raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(dispersion, "calculator", lambda cutoff, device: Failing())
    with pytest.raises(RuntimeError, match="out of memory"):
        dispersion.d3_energies([GRAPHENE])
    _, lattice, frac = GRAPHENE  # an element beyond the table is known before the calculator is asked
    assert np.isnan(dispersion.d3_energies([(np.array([95, 6]), lattice, frac)])[0])


def test_missing_torch_dftd_is_a_config_error_naming_the_option(monkeypatch):
    from sciml.errors import ConfigError
    from sciml.materials import dispersion

    real_import = builtins.__import__

    def no_dftd(name, *args, **kwargs):
        if name.startswith("torch_dftd"):
            raise ImportError("No module named 'torch_dftd'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dftd)
    with pytest.raises(ConfigError, match="dispersion.*torch-dftd"):
        dispersion.d3_energies([GRAPHENE])


def test_the_d3_energies_run_on_the_pretrained_potentials_device(monkeypatch):
    """The model hands its potential's device to the D3 calculator (so `predict --device cuda` computes D3 on the
    GPU too), and the calculator is built on the device it is given."""
    pytest.importorskip("chgnet")
    pytest.importorskip("torch_dftd")
    from pymatgen.core import Lattice, Structure

    from sciml.materials import dispersion
    from sciml.materials.chgnet_data import converter
    from sciml.materials.models import build_model

    assert str(dispersion.calculator(device="cpu").device) == "cpu"
    seen, original = [], dispersion.d3_energies

    def recording(items, device="unset"):
        seen.append(device)
        return original(items, device=device)

    monkeypatch.setattr(dispersion, "d3_energies", recording)
    z, lattice, frac = GRAPHENE
    graph = converter()(Structure(Lattice(lattice), [int(v) for v in z], frac), graph_id="graphene")
    model = build_model("chgnet", freeze="head", stacking=True, dispersion=True)
    d = model.stacking_descriptors([graph]).numpy()
    assert seen == ["cpu"] and d.shape == (1, 5) and np.isfinite(d).all()
    assert 0.035 < d[0, 3] < 0.09  # eV/atom: graphite-like binding once D3 is added (CHGNet alone sees ~none)


def test_the_potential_energies_skip_only_cells_with_isolated_atoms(monkeypatch):
    """CHGNet's converter refuses a cell with isolated atoms (ValueError): that cell gets no energy. Any other
    failure (the converter's RuntimeError for a failed bond graph, a changed API) is raised, not turned into a
    restacking descriptor that nothing counts."""
    import types

    import torch

    from sciml.materials import chgnet_data
    from sciml.materials.models.chgnet import CHGNetRegressor

    class Converter:
        def __init__(self, error):
            self.error = error

        def __call__(self, structure, graph_id=None):
            raise self.error

    stub = types.SimpleNamespace(_potential=[torch.nn.Linear(1, 1)])
    cell = GRAPHENE
    monkeypatch.setattr(chgnet_data, "converter", lambda: Converter(ValueError("1 isolated atom(s)")))
    assert np.isnan(CHGNetRegressor._potential_energies(stub, [cell], 8)).all()
    monkeypatch.setattr(chgnet_data, "converter", lambda: Converter(RuntimeError("Failed creating bond graph")))
    with pytest.raises(RuntimeError, match="bond graph"):
        CHGNetRegressor._potential_energies(stub, [cell], 8)


def test_a_record_that_gets_the_restacking_fallback_is_said_not_silent():
    """A record whose restacked cells all lack an energy (isolated atoms everywhere, or no D3 parameters)
    gets binding 0 at the widest gap: the call warns with the count and the record's formula, and the
    other records keep their values."""
    from sciml.materials import stacking

    z, lattice, frac = GRAPHENE
    n_cells = 1 + len(stacking.OFFSETS) * len(stacking.GAPS)

    def energies(items):  # the first record evaluates (binding 0.1 eV/atom at 3 A); the second never
        first = [0.0] + [-0.1 if i == 3 else -0.05 for i in range(n_cells - 1)]
        return first + [float("nan")] * n_cells

    with pytest.warns(stacking.StackingFallbackWarning, match=r"1 of 2 record\(s\).*: C2"):
        d = stacking.descriptors(energies, [(z, lattice, frac), (z, lattice, frac)])
    assert d[0, 0] == pytest.approx(0.1) and d[0, 1] == pytest.approx(0.3) and d[1, 0] == 0.0 and d[1, 1] == pytest.approx(stacking.GAPS[-1] / 10)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", stacking.StackingFallbackWarning)
        stacking.descriptors(lambda items: [-0.1] * len(items), [(z, lattice, frac)])  # no fallback: silent
