"""Graph construction against a brute-force periodic distance search, and the graph cache."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from sciml.materials.dataset import load_or_build
from sciml.materials.graphs import GraphSettings, structure_graph


def brute_force_neighbours(structure, cutoff: float) -> list[np.ndarray]:
    """Sorted distances from each site to every periodic image within cutoff (self at 0 excluded)."""
    lat = structure.lattice.matrix
    frac = structure.frac_coords
    # enough translations: cutoff / (interplanar spacing) along each axis, plus one
    inv = np.linalg.inv(lat).T
    spacing = 1.0 / np.linalg.norm(inv, axis=1)
    reps = [int(np.ceil(cutoff / s)) + 1 for s in spacing]
    shifts = np.array(list(itertools.product(*[range(-r, r + 1) for r in reps])), dtype=float)
    cart = frac @ lat
    out = []
    for i in range(len(structure)):
        d = np.linalg.norm((frac[None, :, :] + shifts[:, None, :]) @ lat - cart[i], axis=-1).ravel()
        d = d[(d > 1e-8) & (d <= cutoff)]
        out.append(np.sort(d))
    return out


def structures(jdft2d_records):
    hand = [
        Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        Structure(Lattice.from_parameters(3.1, 4.2, 9.5, 80, 100, 115), ["Si", "O", "O"],
                  [[0, 0, 0], [0.3, 0.2, 0.1], [0.7, 0.6, 0.45]]),
    ]
    return hand + [r.structure for r in jdft2d_records[:6]]


@pytest.mark.parametrize("max_neighbors", [0, 12])
def test_graph_matches_brute_force(jdft2d_records, max_neighbors):
    settings = GraphSettings(cutoff=6.0, max_neighbors=max_neighbors)
    for s in structures(jdft2d_records):
        g = structure_graph(s, settings)
        ref = brute_force_neighbours(s, settings.cutoff)
        src, dst = g.edge_index
        for i in range(len(s)):
            got = np.sort(g.distance[dst == i])
            want = ref[i] if max_neighbors == 0 else ref[i][:max_neighbors]
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        # every edge's length is the true distance from a periodic image of its source
        for j, i, d in zip(src[:50], dst[:50], g.distance[:50]):
            assert s.lattice.get_distance_and_image(s.frac_coords[i], s.frac_coords[j])[0] <= d + 1e-4
        assert g.z.tolist() == [site.specie.Z for site in s]


def test_cache_is_reused_and_keyed_by_settings(tmp_path, repo_root):
    cfg = {"path": "materials/flla_2015_subset1000.csv.gz", "target_column": "formation_energy_per_atom",
           "id_column": "id", "limit": 30}
    s = GraphSettings()
    t1, _, hit1 = load_or_build(cfg, s, repo_root / "data", tmp_path)
    t2, _, hit2 = load_or_build(cfg, s, repo_root / "data", tmp_path)
    assert (hit1, hit2) == (False, True)
    assert t1.ids == t2.ids and bool((t1.distance == t2.distance).all())
    t3, _, hit3 = load_or_build(cfg, GraphSettings(cutoff=6.0), repo_root / "data", tmp_path)
    assert not hit3 and len(list(tmp_path.glob("graphs-*.pt"))) == 2
    assert t3.edge_index.shape[1] <= t1.edge_index.shape[1]
    g = t1.graph(3)
    assert g.z.shape[0] == g.num_nodes and g.edge_index.max() < g.num_nodes


def _edges(g) -> list[tuple[int, int, float]]:
    return sorted((int(j), int(i), round(float(d), 4)) for (j, i), d in zip(g.edge_index.T, g.distance))


@pytest.mark.parametrize("max_neighbors", [0, 12])
def test_unwrapped_coordinates_give_the_same_graph_fast(jdft2d_records, max_neighbors):
    """Sites shifted by whole lattice vectors (unwrapped MD coordinates, up to 1e6 cells away) give the
    graph of the wrapped structure: same edges and distances; the cell list no longer spans 1e6 cells
    (this took 50 s and 17 GB at x=3e6 before the coordinates were wrapped)."""
    import time

    from sciml.materials.chgnet_data import as_structure
    from sciml.materials.readers import CrystalArrays

    settings = GraphSettings(cutoff=6.0, max_neighbors=max_neighbors)
    rng = np.random.default_rng(0)
    for s in structures(jdft2d_records):
        shifts = rng.integers(-3, 4, size=(len(s), 3)).astype(float)
        shifts[0] = [3e6, -2e6, 1e6]
        far = Structure(s.lattice, s.species, s.frac_coords + shifts)
        t0 = time.perf_counter()
        g_far = structure_graph(CrystalArrays.from_structure(far), settings)
        assert time.perf_counter() - t0 < 5
        assert _edges(g_far) == _edges(structure_graph(s, settings))
        # CHGNet / SevenNet get the far-out sites wrapped too; an ordinary structure is passed as it is
        assert np.abs(as_structure(far).frac_coords).max() < 3 and as_structure(s) is s
