"""Restacking descriptors of 2D layers: the geometry of restacked cells, the descriptor bookkeeping,
and (with the shared data and chgnet) that the pretrained potential's binding tracks exfoliation energy."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.materials.stacking import DISPERSION_NAMES, GAPS, NAMES, OFFSETS, descriptors, names, restack, vacuum_axis

# a two-atom layer 3 A thick across c, in a cell with 17 A of vacuum, c tilted off the normal
LATTICE = np.array([[3.0, 0.0, 0.0], [-1.5, 2.6, 0.0], [0.8, 0.4, 20.0]])
FRAC = np.array([[0.0, 0.0, 0.95], [1 / 3, 2 / 3, 0.10]])  # the layer straddles the cell boundary


def _cartesian_layer(lattice, frac, k, start):
    """Cartesian positions with the layer unwrapped to start at fractional ``start`` along k."""
    f = np.mod(frac, 1.0)
    f[:, k] = np.mod(f[:, k] - start, 1.0)
    return f @ lattice


def test_the_vacuum_axis_and_the_layer_are_found_wherever_the_vacuum_lies():
    k, gap, thickness, _ = vacuum_axis(LATTICE, FRAC)
    assert k == 2 and gap == pytest.approx(17.0) and thickness == pytest.approx(3.0)
    perm = [2, 0, 1]  # the same cell with the vacuum along a
    k, gap, thickness, _ = vacuum_axis(LATTICE[perm][:, perm], FRAC[:, perm])
    assert k == 0 and gap == pytest.approx(17.0) and thickness == pytest.approx(3.0)


@pytest.mark.parametrize("gap", [1.5, 3.0, 5.0])
@pytest.mark.parametrize("offset", [(0.0, 0.0), (1 / 3, 2 / 3)])
def test_restack_closes_the_vacuum_to_the_gap_and_keeps_the_layer(gap, offset):
    new_lattice, new_frac = restack(LATTICE, FRAC, gap, offset)
    assert np.allclose(new_lattice[:2], LATTICE[:2])
    shift = offset[0] * LATTICE[0] + offset[1] * LATTICE[1]  # the next layer's in-plane registry
    assert np.allclose(np.cross(new_lattice[2] - shift, LATTICE[2]), 0.0)  # otherwise the same direction, shorter
    normal = np.cross(new_lattice[0], new_lattice[1])
    spacing = abs(new_lattice[2] @ normal) / np.linalg.norm(normal)
    assert spacing == pytest.approx(3.0 + gap)  # the layer's thickness plus the gap to its next image
    old = _cartesian_layer(LATTICE, FRAC, 2, vacuum_axis(LATTICE, FRAC)[3])
    new = new_frac @ new_lattice  # restack starts the layer at 0 along the vacuum axis
    assert np.allclose(new - new[0], old - old[0])  # every atom where it was relative to the others


def test_descriptors_take_the_lowest_restacked_energy_and_survive_failed_cells():
    def energy(items):  # layer at -1 eV/atom; restacked cells bind most at 2.5 A in the AB registry;
        out = []          # one record fails entirely
        assert len(items) == 2 * (1 + len(OFFSETS) * len(GAPS))
        for n, (z, lattice, frac) in enumerate(items):
            record, slot = divmod(n, 1 + len(OFFSETS) * len(GAPS))
            registry, gap = divmod(slot - 1, len(GAPS))
            if record == 1 and slot > 0:
                out.append(float("nan"))
            elif slot == 0:
                out.append(-1.0)
            else:
                depth = 0.2 if OFFSETS[registry] == (1 / 3, 2 / 3) else 0.1
                out.append(-1.0 - depth * np.exp(-(GAPS[gap] - 2.5) ** 2))
        return out

    z = np.array([6, 6])
    d = descriptors(energy, [(z, LATTICE, FRAC), (z, LATTICE, FRAC)])
    assert d.shape == (2, len(NAMES))
    assert d[0] == pytest.approx([0.2, 0.25, 0.3], abs=1e-6)  # eV/atom, nm, nm
    assert d[1] == pytest.approx([0.0, GAPS[-1] / 10, 0.3], abs=1e-6)


def test_dispersion_descriptors_find_the_minimum_of_the_summed_energies():
    """The potential alone binds nothing (a flat curve, as CHGNet for a vdW layer); an attraction growing
    as the gap closes plus a repulsion below 3 A puts the summed minimum at 3 A in the registry it favours."""
    cells = 1 + len(OFFSETS) * len(GAPS)

    def potential(items):  # repulsive below 3 A in every registry, otherwise flat at the layer's energy
        out = []
        for n, _ in enumerate(items):
            slot = n % cells
            gap = GAPS[(slot - 1) % len(GAPS)]
            out.append(-1.0 if slot == 0 else -1.0 + (5.0 * (3.0 - gap) ** 2 if gap < 3.0 else 0.0))
        return out

    def attraction(items):  # -0.02 eV/atom x (1 + registry) x (3 / gap)^4, nothing for the isolated layer
        out = []
        for n, _ in enumerate(items):
            slot = n % cells
            registry, gap = divmod(slot - 1, len(GAPS))
            out.append(0.0 if slot == 0 else -0.02 * (1 + registry) * (3.0 / GAPS[gap]) ** 4)
        return out

    z = np.array([6, 6])
    plain = descriptors(potential, [(z, LATTICE, FRAC)])
    d = descriptors(potential, [(z, LATTICE, FRAC)], dispersion=attraction)
    assert names(True) == NAMES + DISPERSION_NAMES and d.shape == (1, 5)
    assert np.array_equal(d[:, :3], plain)  # the potential's own three are unchanged
    assert plain[0, 0] == pytest.approx(0.0, abs=1e-7)
    assert d[0, 3:] == pytest.approx([0.02 * len(OFFSETS), 0.3], abs=1e-6)  # deepest registry, at 3 A

    def broken(items):
        return [float("nan")] * len(items)

    assert descriptors(potential, [(z, LATTICE, FRAC)], dispersion=broken)[0, 3:] == pytest.approx([0.0, GAPS[-1] / 10])


@pytest.fixture(scope="module")
def real_layers(shared_data):
    """(descriptors (80, 3 or 5), exfoliation energies (80,) meV/atom) of 80 real jdft2d layers from the pretrained
    potential: with D3 (5 columns) when torch-dftd is installed, else without (3). One computation for both tests
    below (~40 s): the first three columns are CHGNet's alone either way."""
    pytest.importorskip("chgnet")
    import importlib.util
    from itertools import islice

    from sciml.materials.chgnet_data import build_table
    from sciml.materials.models import build_model
    from sciml.materials.readers import read_matbench_json
    from tests.materials.conftest import JDFT2D

    table = build_table(islice(read_matbench_json(shared_data / JDFT2D), 80))
    with_d3 = importlib.util.find_spec("torch_dftd") is not None
    model = build_model("chgnet", freeze="head", stacking=True, dispersion=with_d3)
    d = model.stacking_descriptors(table.graphs).numpy()
    assert d.shape == (80, len(names(with_d3)))
    return d, table.y.numpy()


@pytest.mark.slow
def test_pretrained_binding_tracks_exfoliation_energy(real_layers):
    """On 80 real jdft2d layers, CHGNet's restacking binding ranks them like their DFT exfoliation energies
    (Spearman 0.46 measured; the descriptor's point is the large, covalently bound ones)."""
    from scipy.stats import spearmanr

    d, y = real_layers
    d = d[:, :len(NAMES)]
    assert np.isfinite(d).all() and (d[:, 1] >= GAPS[0] / 10).all()
    assert spearmanr(d[:, 0], y).statistic > 0.3


@pytest.mark.slow
def test_binding_with_d3_dispersion_estimates_exfoliation_energy(real_layers):
    """With D3 added, the restacking binding of 80 real jdft2d layers is itself an estimate of their DFT
    exfoliation energy, with no fit: it ranks them far better than the potential alone (Spearman 0.73 vs 0.46
    on fold 0's 508 training rows) and its MAE beats predicting every layer at the median."""
    pytest.importorskip("torch_dftd")
    from scipy.stats import spearmanr

    d, y = real_layers  # meV/atom
    assert np.isfinite(d).all()
    with_d3 = spearmanr(d[:, 3], y).statistic
    assert with_d3 > 0.6 and with_d3 > spearmanr(d[:, 0], y).statistic + 0.15
    assert np.abs(1000 * d[:, 3] - y).mean() < np.abs(np.median(y) - y).mean()
