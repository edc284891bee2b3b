"""Grimme D3 dispersion energies of crystal cells, by torch-dftd (PyPI ``torch-dftd``, pure PyTorch).

The restacking descriptors (:mod:`sciml.materials.stacking`) ask how strongly a 2D layer binds to its
periodic image. The pretrained CHGNet potential was trained on PBE/PBE+U energies, which have no van der
Waals attraction, so for the vdW-bound layers that make up most of a 2D dataset it sees no binding at all.
Adding the D3 correction with Becke-Johnson damping and PBE's parameters (Grimme et al. 2010, 2011) is
the usual way to give a PBE-level potential its dispersion; the sum estimates a PBE-D3 exfoliation energy.

Settings (:data:`XC`, :data:`DAMPING`, :data:`CUTOFF_BOHR`): the pair cutoff is 40 bohr (21 A) instead of
D3's usual 95 bohr, because it is 6x cheaper (0.011 vs 0.063 s per cell of a jdft2d layer, one core) and
changes the binding at a 3 A gap by at most 1.5 meV/atom (median 1 %) on 30 jdft2d training layers
(measured 2026-12-06, AMD EPYC, with another job on the other core; ``benchmarks/materials/d3_cutoff.py``).
"""

from __future__ import annotations

from typing import Any, Iterable

XC = "pbe"
DAMPING = "bj"
#: Pair cutoff of the two-body term, bohr (see the module docstring for why not 95).
CUTOFF_BOHR = 40.0


def spec() -> tuple[str, str, float]:
    """What the dispersion energies depend on (functional parameters, damping, cutoff), for cache keys."""
    return (XC, DAMPING, CUTOFF_BOHR)


def calculator(cutoff_bohr: float = CUTOFF_BOHR, device: str = "cpu") -> Any:
    """torch-dftd's D3 calculator on ``device`` ("cpu", "cuda", "cuda:1"), with a clear error if the package is
    missing."""
    try:
        from ase.units import Bohr
        from torch_dftd.torch_dftd3_calculator import TorchDFTD3Calculator
    except ImportError as exc:
        from sciml.errors import ConfigError

        raise ConfigError("materials.model.chgnet.dispersion",
                          f"needs the torch-dftd package (pip install 'sciml[pretrained]'): {exc}") from exc
    return TorchDFTD3Calculator(device=device, xc=XC, damping=DAMPING, cutoff=cutoff_bohr * Bohr)


#: The heaviest element torch-dftd's D3 tables cover (Pu; measured: Z = 95 indexes past its 95-row table).
D3_MAX_Z = 94


def d3_energies(items: Iterable[tuple[Any, Any, Any]], cutoff_bohr: float = CUTOFF_BOHR,
                device: str = "cpu") -> list[float]:
    """D3(BJ, PBE) dispersion energy per atom (eV) of each (atomic numbers (n,), lattice (3, 3) rows in
    Angstrom, fractional coordinates (n, 3)) cell, periodic in all three directions; NaN for a cell with an
    element D3 has no parameters for (Z > :data:`D3_MAX_Z`), any other failure raised. ``device``: where torch-dftd computes
    (the pretrained potential's device, so GPU screening does not wait on the CPU for it)."""
    import warnings

    import numpy as np
    from ase import Atoms

    calc = calculator(cutoff_bohr, device)
    out = []
    for z, lattice, frac in items:
        z = np.asarray(z, dtype=int)
        if z.size and int(z.max()) > D3_MAX_Z:  # no D3 parameters: the descriptor skips this cell
            out.append(float("nan"))
            continue
        atoms = Atoms(numbers=z, cell=np.asarray(lattice, dtype=float),
                      scaled_positions=np.asarray(frac, dtype=float), pbc=True)
        atoms.calc = calc
        # any other failure (out of memory, a changed torch-dftd API) is raised: caught here it would become
        # a made-up descriptor that nothing counts
        with warnings.catch_warnings():  # torch-dftd builds its cell tensor from a list (a speed warning)
            warnings.simplefilter("ignore", UserWarning)
            out.append(float(atoms.get_potential_energy()) / len(atoms))
    return out
