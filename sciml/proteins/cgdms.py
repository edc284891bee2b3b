"""Reader for the cgdms per-residue text format (Greener & Jones 2021, psipred/cgdms).

Line 1: sequence; line 2: 3-state predicted secondary structure (C/H/E); then one
line per residue with 12 floats: x, y, z of N, CA, C and the side-chain centroid (A).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sciml.errors import DataError

_AA = set("ACDEFGHIKLMNPQRSTVWY")


@dataclass
class CgdmsChain:
    """``coords`` is (L, 4, 3): N, CA, C, centroid; ``cb`` virtual C-beta (CA for Gly)."""

    name: str
    sequence: str
    ss: str
    coords: Any
    cb: Any


def read_cgdms(path: str | Path) -> CgdmsChain:
    """Parse one cgdms file; :class:`DataError` names the line of the first bad record."""
    import numpy as np

    from sciml.proteins.structures import virtual_cb

    path = Path(path)
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except FileNotFoundError:
        raise DataError(path, "cgdms file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, f"cannot read ({exc})") from None
    lines = [ln.rstrip() for ln in lines]
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) < 3:
        raise DataError(path, "too short: expected sequence, secondary structure and coordinate lines")
    seq, ss = lines[0].strip(), lines[1].strip()
    bad = sorted(set(seq) - _AA)
    if bad:
        raise DataError(path, f"sequence has non-standard letters {''.join(bad)}", record="line 1")
    if len(ss) != len(seq) or set(ss) - set("CHE"):
        raise DataError(path, f"secondary structure line must be {len(seq)} letters of C/H/E", record="line 2")
    rows = lines[2:]
    if len(rows) != len(seq):
        raise DataError(path, f"{len(rows)} coordinate lines for a sequence of {len(seq)} residues",
                        record=f"line {3 + min(len(rows), len(seq))}")
    coords = np.empty((len(seq), 4, 3))
    for k, row in enumerate(rows):
        parts = row.split()
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            raise DataError(path, "coordinate line has a non-numeric field", record=f"line {k + 3}") from None
        if len(vals) != 12:
            raise DataError(path, f"expected 12 numbers (N, CA, C, centroid xyz), found {len(vals)}", record=f"line {k + 3}")
        coords[k] = np.asarray(vals).reshape(4, 3)
    if not np.isfinite(coords).all():
        raise DataError(path, "non-finite coordinate")
    cb = virtual_cb(coords[:, 0], coords[:, 1], coords[:, 2])
    gly = np.array([a == "G" for a in seq])
    cb[gly] = coords[gly, 1]
    return CgdmsChain(path.stem, seq, ss, coords, cb)
