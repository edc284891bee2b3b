"""One protein family: read its alignment and structure, map them, score coevolution.

The one-family API the ``coevolution`` step (:mod:`sciml.proteins.steps.coevolution`),
the benchmarks and the notebook call. Scores live on the residues of the structure
chain (L = chain length, NaN where no alignment column maps), so precision uses the
CASP L of the native.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Family:
    """A family ready for prediction: ``X`` (N, C) encoded columns that map to the chain,
    ``res`` (C,) their residue indices, ``native`` (L, L) contacts of the chain."""

    name: str
    sequence: str
    X: Any
    res: Any
    native: Any
    query_row: int
    identity: float
    n_seqs: int
    notes: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    #: Prediction targets whose query row has residues in insert states (A3M/A2M/Stockholm lower
    #: case), dropped from ``sequence``: the query's full sequence and, for each residue of
    #: ``sequence``, its 1-based number in it. None when no query residue was dropped.
    full_sequence: str | None = None
    residue_numbers: Any = None
    #: Prediction targets: the alignment's columns (0-based) of the query's residues, and how many
    #: columns the alignment has (to read an external score matrix over every column). None otherwise.
    alignment_columns: Any = None
    alignment_length: int | None = None


def load_family(spec: dict[str, Any], data_root: str | Path | None = None, min_identity: float = 0.9) -> Family:
    """Read the alignment and structure of ``spec`` (a config family entry) and map them.

    ``min_identity`` is the structure-to-row identity required for the mapping; the family's
    own ``min_identity`` (when set) overrides it."""
    import numpy as np

    from sciml.data import resolve
    from sciml.proteins.alignments import read_alignment
    from sciml.proteins.mapping import map_query
    from sciml.proteins.structures import contact_map, read_structure

    if spec.get("min_identity") is not None:
        min_identity = float(spec["min_identity"])
    aln_path = resolve(spec["alignment"], data_root)
    st_path = resolve(spec["structure"], data_root)
    aln = read_alignment(aln_path, spec.get("format"))
    st = read_structure(st_path, chain=spec.get("chain"), model=spec.get("model", 0))
    cm = map_query(aln.seqs, st.sequence, path=str(aln_path), min_identity=min_identity, structure_path=str(st_path))
    cols = np.nonzero(cm.col_to_res >= 0)[0]
    X = aln.encode()[:, cols]
    notes = list(st.notes)
    if cm.row != 0:
        notes.append(f"query is alignment row {cm.row + 1} (not row 1)")
    unmapped = aln.length - len(cols)
    if unmapped:
        notes.append(f"{unmapped} alignment column(s) do not map to the structure and were dropped")
    uncovered = st.length - len(cols)
    if uncovered:
        notes.append(f"{uncovered} structure residue(s) have no alignment column (no prediction)")
    return Family(spec["name"], st.sequence, X, cm.col_to_res[cols], contact_map(st.cb), cm.row, cm.identity,
                  aln.n_seqs, notes, [str(aln_path), str(st_path)])


def to_chain(scores: Any, res: Any, L: int) -> Any:
    """Scatter (C, C) column scores onto (L, L) chain residues (NaN elsewhere)."""
    import numpy as np

    full = np.full((L, L), np.nan)
    full[np.ix_(res, res)] = scores
    return full


def coevolution(fam: Family, cfg: dict[str, Any], log: Any = None) -> dict[str, Any]:
    """Potts (plm) and mean-field scores on the chain, with timings (s) and N_eff."""
    from sciml.proteins import meanfield, potts

    st = potts.PottsSettings(**cfg.get("potts", {}))
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    r = potts.fit(fam.X, st, seed=cfg.get("seed", 0), log=log)
    out["potts"] = to_chain(r["scores"], fam.res, len(fam.sequence))
    out["potts_time_s"] = time.perf_counter() - t0
    out["n_eff"] = r["n_eff"]
    out["n_used"] = r["n_used"]
    out["potts_loss"] = r["loss"]
    out["potts_objective"] = r["objective"]
    out["potts_iterations"] = r["iterations"]
    out["potts_converged"] = r["converged"]
    out["potts_optimizer"] = r["optimizer"] + (f"-{r['lbfgs_backend']}" if r["lbfgs_backend"] else "")
    out["potts_weights_s"] = r["weights_s"]
    out["potts_fit_s"] = r["fit_s"]
    mf_cfg = cfg.get("meanfield", {})
    t0 = time.perf_counter()
    m = meanfield.fit(fam.X, pseudocount=mf_cfg.get("pseudocount", 0.5),
                      max_sequences=mf_cfg.get("max_sequences", 2000), seed=cfg.get("seed", 0))
    out["meanfield"] = to_chain(m["scores"], fam.res, len(fam.sequence))
    out["meanfield_time_s"] = time.perf_counter() - t0
    return out


def profile_features(fam: Family) -> Any:
    """(L, 22) per-residue features: weighted column frequencies (21) and entropy; zeros where unmapped."""
    import numpy as np

    from sciml.proteins.alignments import Q

    L = len(fam.sequence)
    out = np.zeros((L, Q + 1), dtype=np.float32)
    X = np.asarray(fam.X)
    for c, r in enumerate(fam.res):
        f = np.bincount(X[:, c], minlength=Q).astype(np.float64) / X.shape[0]
        out[r, :Q] = f
        nz = f[f > 0]
        out[r, Q] = float(-(nz * np.log(nz)).sum() / np.log(Q))
    return out


# --------------------------------------------------------------------------- a family's scores on disk
#
# The coevolution step writes, per family folder, ``scores.npz`` (chain-level score
# matrices, native, profile) and ``metrics.json`` (its CASP precisions); a family that
# could not be read leaves both with a ``skipped`` reason instead. The functions below are
# the one reader and writer of that format: cross-validation and the section read the
# scores and *reuse* the precisions (each metric is computed once, in the coevolution step).

#: File names inside a family folder.
SCORES_FILE = "scores.npz"
METRICS_FILE = "metrics.json"


def write_scores(path: str | Path, fam: Family, potts: Any, meanfield: Any, profile: Any) -> Path:
    """Write ``scores.npz`` of a scored family (atomic): potts/meanfield (L, L), native (L, L), profile (L, 22)."""
    import numpy as np

    from sciml.io import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, name=np.array(fam.name), sequence=np.array(fam.sequence), native=fam.native,
                                potts=potts, meanfield=meanfield, profile=profile)
    return Path(path)


def write_skipped_scores(path: str | Path, name: str, reason: str) -> Path:
    """Write the ``scores.npz`` of a family that was skipped, holding its name and the reason (atomic)."""
    import numpy as np

    from sciml.io import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, skipped=np.array(str(reason)), name=np.array(name))
    return Path(path)


def read_family_metrics(family_dir: str | Path) -> dict[str, Any]:
    """The ``metrics.json`` of a family folder (``{"name", "skipped"}`` for a skipped family)."""
    import json

    return json.loads((Path(family_dir) / METRICS_FILE).read_text())


def read_scored_family(family_dir: str | Path) -> dict[str, Any] | None:
    """A scored family folder as one dict (None if the family was skipped).

    Keys: ``name``, ``sequence``, the arrays of ``scores.npz`` (``native``, ``potts``,
    ``meanfield`` (L, L); ``profile`` (L, 22)) and ``metrics`` (its ``metrics.json``, whose
    ``potts``/``meanfield`` entries are the CASP precisions of those scores).
    """
    import numpy as np

    with np.load(Path(family_dir) / SCORES_FILE, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    if "skipped" in data:
        return None
    data["name"] = str(data["name"])
    data["sequence"] = str(data["sequence"])
    data["metrics"] = read_family_metrics(family_dir)
    return data
