"""Record validation and the quarantine file.

A record is rejected (and written with its reason to the quarantine CSV, never silently
dropped) when: the structure did not parse, or its lattice or coordinates are not finite, or
the cell has (nearly) no volume; the target is NaN/inf; a site is disordered
or an element lies outside the model's embedding (Z > ``max_z``); two atoms are closer
than ``min_distance`` (A); an atom has no neighbour inside the graph cutoff.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sciml.io import write_csv_atomic
from sciml.materials.graphs import CrystalGraph, GraphSettings, site_elements, structure_graph
from sciml.materials.readers import RawRecord

#: Largest atomic number the models embed (H..Fm); heavier elements are quarantined.
DEFAULT_MAX_Z = 100
QUARANTINE_COLUMNS = ["id", "line", "reason"]


@dataclass
class Rejection:
    """A quarantined record: its id, position in the source file and the reason."""

    id: str
    line: int | None
    reason: str

    @property
    def category(self) -> str:
        return self.reason.split(":", 1)[0]


@dataclass
class Quarantine:
    """Collects rejections; ``write`` stores them as CSV (id, line, reason)."""

    items: list[Rejection] = field(default_factory=list)

    def add(self, record: RawRecord, reason: str) -> None:
        self.items.append(Rejection(record.id, record.line, reason))

    def __len__(self) -> int:
        return len(self.items)

    def counts(self) -> dict[str, int]:
        """Number of rejections per reason category."""
        return dict(sorted(Counter(r.category for r in self.items).items()))

    def rows(self) -> list[list]:
        """``[id, line ('' when unknown), reason]`` per rejection (the CSV rows)."""
        return [[r.id, "" if r.line is None else r.line, r.reason] for r in self.items]

    def write(self, path: str | Path) -> Path:
        """Write the quarantine CSV (``id,line,reason``) atomically."""
        return write_csv_atomic(path, QUARANTINE_COLUMNS, self.rows())


#: Smallest cell volume (A^3) taken as a lattice; below it the lattice vectors are (nearly) coplanar.
MIN_CELL_VOLUME = 1e-3


def _geometry_problem(structure: Any) -> str | None:
    """Why the lattice or coordinates of ``structure`` (pymatgen ``Structure`` or
    :class:`~sciml.materials.readers.CrystalArrays`) cannot make a graph, or None: non-finite
    numbers (pymatgen accepts NaN, and the neighbour search then finds no neighbours) or a
    flat cell (the neighbour search divides by its volume)."""
    from sciml.materials.readers import CrystalArrays

    if isinstance(structure, CrystalArrays):
        matrix, frac = structure.lattice_matrix, structure.frac_coords
    else:
        matrix, frac = structure.lattice.matrix, structure.frac_coords
    matrix, frac = np.asarray(matrix, dtype=np.float64), np.asarray(frac, dtype=np.float64)
    if not np.isfinite(matrix).all():
        return "non-finite lattice (NaN or inf in the lattice vectors)"
    if not np.isfinite(frac).all():
        return "non-finite coordinates (NaN or inf in the site coordinates)"
    volume = abs(float(np.linalg.det(matrix)))
    if volume < MIN_CELL_VOLUME:
        return f"degenerate lattice: cell volume {volume:.3g} A^3 (the lattice vectors are (nearly) coplanar)"
    return None


def check_record(record: RawRecord, settings: GraphSettings, max_z: int = DEFAULT_MAX_Z,
                 min_distance: float = 0.5, need_target: bool = True) -> tuple[CrystalGraph | None, str | None]:
    """Validate one record and build its graph.

    Returns ``(graph, None)`` for a good record, ``(None, reason)`` otherwise; reasons
    start with a category (``unparsable``, ``bad_target``, ``element``, ``too_close``,
    ``isolated_atom``) followed by ``:`` and details.
    """
    if record.structure is None:
        return None, f"unparsable: {record.error or 'no structure'}"
    geometry = _geometry_problem(record.structure)
    if geometry is not None:
        return None, f"unparsable: {geometry}"
    if need_target and (record.target is None or not math.isfinite(record.target)):
        if record.target_note and (record.target is None or math.isnan(record.target)):
            return None, f"bad_target: {record.target_note} (must be a finite number)"
        return None, f"bad_target: target is {record.target!r} (must be a finite number)"
    try:
        zs = site_elements(record.structure)
    except ValueError as exc:
        return None, f"element: {exc}"
    bad = sorted({z for z in zs if z < 1 or z > max_z})
    if bad:
        return None, f"element: atomic number(s) {bad} outside the model embedding 1..{max_z}"
    try:
        graph = structure_graph(record.structure, settings, z=zs)
    except Exception as exc:  # pymatgen neighbour search on a degenerate lattice
        return None, f"unparsable: neighbour search failed ({type(exc).__name__}: {str(exc)[:120]})"
    if graph.min_distance < min_distance:
        return None, f"too_close: atoms {graph.min_distance:.3f} A apart (< {min_distance} A)"
    if graph.isolated:
        return None, f"isolated_atom: {graph.isolated} atom(s) with no neighbour within {settings.cutoff} A"
    return graph, None
