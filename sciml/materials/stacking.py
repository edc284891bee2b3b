"""Restacking descriptors of a 2D layer, computed with the pretrained CHGNet potential.

A record of a 2D-materials dataset (JARVIS-DFT 2D, Matbench ``matbench_jdft2d``) is one layer in a
cell with a vacuum gap along one lattice vector. Its exfoliation energy is the energy per atom of
the layer minus that of its bulk, which the dataset does not give. :func:`restack` closes the
vacuum to a chosen gap and shifts the next layer in plane by a chosen registry (the layer's own
geometry unchanged, stacked on its periodic image), so the pretrained potential can estimate how
strongly the layers bind in the best of a few stackings. CHGNet (trained on PBE/PBE+U energies) has
no van der Waals term, so the estimate is near zero for vdW-bound layers and large for layers cut
from covalently or ionically bonded crystals, whose exfoliation energies are the largest in the
dataset and dominate its MAE.

Descriptors (:data:`NAMES`), from the energies at the gaps :data:`GAPS` (Angstrom) and the in-plane
registries :data:`OFFSETS`: ``restack_binding`` = E(layer) - min over gaps and registries of
E(restacked), eV/atom; ``restack_gap`` = the gap of that minimum, nm; ``layer_thickness`` = the
layer's extent across the vacuum, nm. With a dispersion correction (:mod:`sciml.materials.dispersion`),
two more (:data:`DISPERSION_NAMES`): the same binding and gap with the D3 energy added to the potential's
at every cell, an estimate of the PBE-D3 exfoliation energy (eV/atom) that vdW-bound layers also get.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

#: Gaps (Angstrom) between a layer and its periodic image at which the restacked energy is evaluated.
GAPS = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0)
#: In-plane shifts of the next layer (fractions of the two in-plane lattice vectors): AA, the three
#: half-cell shifts, and the two third-cell shifts of hexagonal AB stacking.
OFFSETS = ((0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.5, 0.5), (1 / 3, 2 / 3), (2 / 3, 1 / 3))
NAMES = ("restack_binding", "restack_gap", "layer_thickness")
DISPERSION_NAMES = ("restack_binding_d3", "restack_gap_d3")


def names(dispersion: bool = False) -> tuple[str, ...]:
    """The descriptor columns :func:`descriptors` returns, with or without the dispersion pair."""
    return NAMES + DISPERSION_NAMES if dispersion else NAMES


def _plane_spacing(lattice: np.ndarray, k: int) -> float:
    """Distance (Angstrom) between the lattice planes spanned by the two vectors other than ``k``."""
    i, j = [x for x in range(3) if x != k]
    normal = np.cross(lattice[i], lattice[j])
    return abs(float(lattice[k] @ normal)) / float(np.linalg.norm(normal))


def vacuum_axis(lattice: np.ndarray, frac: np.ndarray) -> tuple[int, float, float, float]:
    """(axis k, widest empty gap across it in Angstrom, layer thickness in Angstrom, fractional
    coordinate along k where the layer starts) for the lattice vector whose planes leave the widest
    empty slab between atoms. ``lattice`` (3, 3) rows are vectors; ``frac`` (n, 3)."""
    frac = np.mod(frac, 1.0)
    best = None
    for k in range(3):
        spacing = _plane_spacing(lattice, k)
        z = np.sort(frac[:, k])
        gaps = np.diff(np.concatenate([z, [z[0] + 1.0]])) * spacing
        g = int(np.argmax(gaps))
        if best is None or gaps[g] > best[1]:
            best = (k, float(gaps[g]), spacing - float(gaps[g]), float(z[(g + 1) % len(z)]))
    return best


def restack(lattice: np.ndarray, frac: np.ndarray, gap: float,
            offset: tuple[float, float] = (0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """(lattice, frac) of the layer with its vacuum closed to ``gap`` Angstrom and its next periodic
    image shifted in plane by ``offset`` (fractions of the two other lattice vectors): the vacuum
    lattice vector is shortened along its own direction, the shift added to it, and every atom
    keeps its Cartesian position relative to the layer's start, so the layer itself is unchanged."""
    k, _, thickness, start = vacuum_axis(lattice, frac)
    i, j = [x for x in range(3) if x != k]
    scale = (thickness + gap) / _plane_spacing(lattice, k)
    new_lattice = np.array(lattice, dtype=float)
    new_lattice[k] *= scale
    new_frac = np.mod(np.array(frac, dtype=float), 1.0)
    new_frac[:, k] = np.mod(new_frac[:, k] - start, 1.0) / scale
    if offset == (0.0, 0.0):
        return new_lattice, new_frac
    cartesian = new_frac @ new_lattice
    new_lattice[k] += offset[0] * lattice[i] + offset[1] * lattice[j]
    return new_lattice, np.linalg.solve(new_lattice.T, cartesian.T).T


def _binding(e: np.ndarray) -> tuple[float, float] | None:
    """(binding eV/atom, gap nm) from one record's energies [layer, restacked cells...]; None if none evaluate."""
    stacked = e[1:]
    if not (np.isfinite(e[0]) and np.isfinite(stacked).any()):
        return None
    best = int(np.nanargmin(stacked))
    return float(e[0] - stacked[best]), GAPS[best % len(GAPS)] / 10.0


def descriptors(energy_per_atom: Any, structures: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                dispersion: Any = None) -> np.ndarray:
    """(n, 3) descriptors (:data:`NAMES`) of ``structures`` [(atomic numbers (n_i,), lattice (3, 3),
    frac (n_i, 3))]. ``energy_per_atom(items)`` returns the potential's energy (eV/atom) of each
    (z, lattice, frac) item, NaN where it cannot evaluate one; a record whose layer or none of whose
    restacked cells evaluate gets binding 0 at the widest gap, and a :class:`StackingFallbackWarning`
    says how many records of the call got it (their formulas). With ``dispersion`` (a function like
    ``energy_per_atom`` giving a dispersion energy, e.g. :func:`sciml.materials.dispersion.d3_energies`),
    (n, 5): the binding and gap are found again on the sum of the two energies (:data:`DISPERSION_NAMES`)."""
    items, meta = [], []
    for z, lattice, frac in structures:
        _, _, thickness, _ = vacuum_axis(lattice, frac)
        meta.append(thickness)
        items.append((z, lattice, frac))
        for offset in OFFSETS:
            for gap in GAPS:
                new_lattice, new_frac = restack(lattice, frac, gap, offset)
                items.append((z, new_lattice, new_frac))
    shape = (len(structures), 1 + len(OFFSETS) * len(GAPS))
    energies = [np.asarray(energy_per_atom(items), dtype=float).reshape(shape)]
    if dispersion is not None:
        energies.append(energies[0] + np.asarray(dispersion(items), dtype=float).reshape(shape))
    out = np.zeros((len(structures), len(names(dispersion is not None))), dtype=np.float32)
    fallback = []
    for r, thickness in enumerate(meta):
        found = [_binding(e[r]) for e in energies]
        if None in found:
            fallback.append(_formula(structures[r][0]))
        found = [f or (0.0, GAPS[-1] / 10.0) for f in found]
        out[r, :3] = (*found[0], thickness / 10.0)
        if dispersion is not None:
            out[r, 3:] = found[1]
    if fallback:
        shown = ", ".join(fallback[:5]) + (f" and {len(fallback) - 5} more" if len(fallback) > 5 else "")
        warnings.warn(f"restacking descriptors: {len(fallback)} of {len(structures)} record(s) got the fallback "
                      f"(binding 0 at the widest gap: the potential{' or D3' if dispersion is not None else ''} "
                      f"evaluated neither the layer nor any restacked cell): {shown}", StackingFallbackWarning,
                      stacklevel=2)
    return out


class StackingFallbackWarning(UserWarning):
    """Some records got the restacking descriptors' fallback value (no energy could be evaluated)."""


def _formula(z: np.ndarray) -> str:
    """pymatgen's formula of atomic numbers ``z`` (e.g. "Mo1 S2"), to name a record."""
    from pymatgen.core import Composition, Element

    values, counts = np.unique(np.asarray(z, dtype=int), return_counts=True)
    return Composition({Element.from_Z(int(v)): int(c) for v, c in zip(values, counts)}).formula
