"""Run FreeContact (Kaján et al. 2014; Debian package ``freecontact``) as a peer baseline.

Only used by the benchmark; nothing else needs the binary. The alignment is written
as PSICOV .aln with the structure-matching query row first (FreeContact treats row 1
as the query) and only the columns that map to the chain, so FreeContact's column
indices are our chain-mapped columns.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any


def available() -> bool:
    """True when the ``freecontact`` binary is on PATH."""
    return shutil.which("freecontact") is not None


def run(fam: Any, parprof: str = "evfold", threads: int = 2, timeout: float | None = None) -> dict[str, Any]:
    """FreeContact scores on the chain (L, L) for a :class:`~sciml.proteins.family.Family`, and wall time (s).

    Raises ``subprocess.TimeoutExpired`` when ``timeout`` (s) is given and exceeded.
    """
    import numpy as np

    from sciml.proteins.alignments import ALPHABET
    from sciml.proteins.family import to_chain

    X = np.asarray(fam.X)
    order = [fam.query_row] + [k for k in range(X.shape[0]) if k != fam.query_row]
    lut = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)
    text = "\n".join(lut[X[k]].tobytes().decode() for k in order) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        aln = Path(tmp) / "in.aln"
        aln.write_text(text)
        t0 = time.perf_counter()
        with open(aln) as fh:
            proc = subprocess.run(["freecontact", "--parprof", parprof, "-a", str(threads)], stdin=fh,
                                  capture_output=True, text=True, check=True, timeout=timeout)
        wall = time.perf_counter() - t0
    C = X.shape[1]
    s = np.full((C, C), np.nan)
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 6:  # evfold/default: i aa_i j aa_j MI score
            i, j, score = int(parts[0]) - 1, int(parts[2]) - 1, float(parts[5])
        elif len(parts) == 5:  # psicov mode: RR-like "i j 0 8 score"
            i, j, score = int(parts[0]) - 1, int(parts[1]) - 1, float(parts[4])
        else:
            continue
        s[i, j] = s[j, i] = score
    return {"scores": to_chain(s, fam.res, len(fam.sequence)), "time_s": wall}
