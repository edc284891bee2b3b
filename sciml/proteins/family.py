"""One protein family: read its alignment and structure, map them, score coevolution.

The one-family API the ``coevolution`` step (:mod:`sciml.proteins.steps.coevolution`),
the benchmarks and the notebook call. Scores live on the residues of the structure
chain (NaN where no alignment column maps). Precision counts L and sequence separations
along the chain, from its first observed residue to its last, residues missing from the
model in between included (``Family.positions``), as CASP counts along the sequence.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sciml.errors import DataError


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
    #: Families whose structure misses residues between observed ones: each chain residue's 0-based position
    #: along the sequence (:func:`sciml.proteins.structures.sequence_positions`), for the CASP separations
    #: and L. None when the chain has no such gap (positions = 0..L-1).
    positions: Any = None


def _with_matching_chain(exc: Any, aln: Any, st: Any, st_path: Path, spec: dict[str, Any],
                         min_identity: float) -> Any:
    """``exc`` (no alignment row matches the chain read) saying which chain was read and, where another chain
    of the model does match a row, to set the family's ``chain`` to it (a two-chain file read its first chain)."""
    from sciml.proteins.mapping import map_query
    from sciml.proteins.structures import read_structure

    for other in st.other_chains:
        try:
            alt = read_structure(st_path, chain=other, model=spec.get("model", 0))
            map_query(aln.seqs, alt.sequence, path="", min_identity=min_identity, structure_path="")
        except DataError:
            continue
        return DataError(exc.path, f"{exc.reason}; chain {st.chain} was read, and chain {other} "
                                   "matches", record=exc.record, hint=f"set the family's chain: {other}")
    chains = f"chain {st.chain} was read" + (f" (other chains: {', '.join(st.other_chains)}, none matches)"
                                              if st.other_chains else "")
    return DataError(exc.path, f"{exc.reason}; {chains}", record=exc.record, hint=exc.hint)


def load_family(spec: dict[str, Any], data_root: str | Path | None = None, min_identity: float = 0.9) -> Family:
    """Read the alignment and structure of ``spec`` (a config family entry) and map them.

    ``min_identity`` is the structure-to-row identity required for the mapping; the family's
    own ``min_identity`` (when set) overrides it."""
    import numpy as np

    from sciml.proteins.alignments import read_alignment
    from sciml.proteins.inputs import entry_path
    from sciml.proteins.mapping import map_query
    from sciml.proteins.structures import contact_map, read_structure, sequence_positions

    if spec.get("min_identity") is not None:
        min_identity = float(spec["min_identity"])
    aln_path = entry_path(spec["alignment"], data_root)  # an absolute path as it is, as for a target
    st_path = entry_path(spec["structure"], data_root)
    aln = read_alignment(aln_path, spec.get("format"))
    st = read_structure(st_path, chain=spec.get("chain"), model=spec.get("model", 0))
    try:
        cm = map_query(aln.seqs, st.sequence, path=str(aln_path), min_identity=min_identity,
                       structure_path=str(st_path))
    except DataError as exc:
        raise _with_matching_chain(exc, aln, st, st_path, spec, min_identity) from None
    cols = np.nonzero(cm.col_to_res >= 0)[0]
    X = aln.encode()[:, cols]
    notes = list(st.notes)
    positions, gap_notes = sequence_positions(st)
    notes += gap_notes
    if cm.row != 0:
        notes.append(f"query is alignment row {cm.row + 1} (not row 1)")
    unmapped = aln.length - len(cols)
    if unmapped:
        notes.append(f"{unmapped} alignment column(s) do not map to the structure and were dropped")
    uncovered = st.length - len(cols)
    if uncovered:
        notes.append(f"{uncovered} structure residue(s) have no alignment column (no prediction)")
    gapped = int(positions[-1]) + 1 != st.length
    return Family(spec["name"], st.sequence, X, cm.col_to_res[cols], contact_map(st.cb), cm.row, cm.identity,
                  aln.n_seqs, notes, [str(aln_path), str(st_path)], positions=positions if gapped else None)


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
            extra = {} if fam.positions is None else {"positions": np.asarray(fam.positions, dtype=np.int64)}
            np.savez_compressed(fh, name=np.array(fam.name), sequence=np.array(fam.sequence), native=fam.native,
                                potts=potts, meanfield=meanfield, profile=profile, **extra)
    return Path(path)


def write_skipped_scores(path: str | Path, name: str, reason: str) -> Path:
    """Write the ``scores.npz`` of a family that was skipped, holding its name and the reason (atomic)."""
    import numpy as np

    from sciml.io import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, skipped=np.array(str(reason)), name=np.array(name))
    return Path(path)


#: What the section and cross-validation say when a family folder lacks a file.
COEVOLUTION_HINT = "did 'sciml proteins coevolution' finish for this family?"


def _is_precision(v: Any) -> bool:
    """A CASP precision value of a metrics.json: a number or null."""
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def check_precisions(path: str | Path, value: Any, where: str) -> None:
    """Raise a DataError naming ``path`` unless ``value`` (the entry ``where``) holds the 9 CASP
    precisions (:func:`sciml.proteins.metrics.casp_precision`), each a number or null."""
    from sciml.errors import DataError
    from sciml.proteins.metrics import RANGES, TOPS

    if not isinstance(value, dict):
        raise DataError(path, f"'{where}' must be an object of CASP precisions, got {type(value).__name__}")
    keys = [f"{r}_{t}" for r in RANGES for t in TOPS]
    missing = [k for k in keys if k not in value]
    if missing:
        raise DataError(path, f"'{where}' lacks the precision(s) {', '.join(missing)}")
    bad = [k for k in keys if not _is_precision(value[k])]
    if bad:
        raise DataError(path, f"'{where}' precision(s) {', '.join(bad)} are not numbers or null")


def read_family_metrics(family_dir: str | Path) -> dict[str, Any]:
    """The ``metrics.json`` of a family folder (``{"name", "skipped"}`` for a skipped family).

    Raises :class:`~sciml.errors.DataError` naming the file when it is missing, unreadable, not
    JSON, or not a family record (a ``name``; ``skipped`` text, or ``length`` and the ``potts``
    and ``meanfield`` precisions)."""
    from sciml.errors import DataError
    from sciml.io import read_json_object

    path = Path(family_dir) / METRICS_FILE
    m = read_json_object(path, "family metrics", COEVOLUTION_HINT)
    if not isinstance(m.get("name"), str) or not m["name"]:
        raise DataError(path, "family metrics lack a 'name' (text)", hint=COEVOLUTION_HINT)
    if "skipped" in m:
        if not isinstance(m["skipped"], str):
            raise DataError(path, f"'skipped' must be the reason (text), got {type(m['skipped']).__name__}")
        if not isinstance(m.get("inputs", {}), dict):
            raise DataError(path, f"'inputs' must be an object, got {type(m['inputs']).__name__}")
        return m
    length = m.get("length")
    if not isinstance(length, int) or isinstance(length, bool) or length < 1:
        raise DataError(path, f"family metrics need 'length' (a positive integer), got {length!r}",
                        hint=COEVOLUTION_HINT)
    for method in ("potts", "meanfield"):
        check_precisions(path, m.get(method), method)
    notes = m.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise DataError(path, "'notes' must be a list of text")
    return m


def read_scored_family(family_dir: str | Path) -> dict[str, Any] | None:
    """A scored family folder as one dict (None if the family was skipped).

    Keys: ``name``, ``sequence``, the arrays of ``scores.npz`` (``native``, ``potts``,
    ``meanfield`` (L, L); ``profile`` (L, 22); ``positions`` (L,) or None, see :class:`Family`) and ``metrics`` (its ``metrics.json``, whose
    ``potts``/``meanfield`` entries are the CASP precisions of those scores). Raises
    :class:`~sciml.errors.DataError` naming the file when ``scores.npz`` is missing, unreadable,
    lacks an array or has arrays of the wrong shape, or ``metrics.json`` is bad.
    """
    import zipfile

    import numpy as np

    from sciml.errors import DataError

    path = Path(family_dir) / SCORES_FILE
    try:
        z = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        where = "" if path.parent.is_dir() else f"; its folder {path.parent} does not exist"
        raise DataError(path, f"family scores missing{where} ({COEVOLUTION_HINT})") from None
    except IsADirectoryError:
        raise DataError(path, "family scores path is a folder, not an .npz file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(path, f"not a readable scores file ({exc})", hint=COEVOLUTION_HINT) from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise DataError(path, "not an .npz archive (a single .npy array)", hint=COEVOLUTION_HINT)
    try:
        with z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise DataError(path, f"not a readable scores file ({exc})", hint=COEVOLUTION_HINT) from None
    if "skipped" in data:
        return None
    missing = [k for k in ("name", "sequence", "native", "potts", "meanfield", "profile") if k not in data]
    if missing:
        raise DataError(path, f"family scores lack the array(s) {', '.join(missing)}", hint=COEVOLUTION_HINT)
    for k in ("name", "sequence"):
        if data[k].ndim != 0 or data[k].dtype.kind != "U":
            raise DataError(path, f"'{k}' must be one text value, got a {data[k].dtype} array of shape {data[k].shape}")
    data["name"] = str(data["name"])
    data["sequence"] = str(data["sequence"])
    L = len(data["sequence"])
    for k in ("native", "potts", "meanfield"):
        if data[k].shape != (L, L) or data[k].dtype.kind not in "fiub":
            raise DataError(path, f"'{k}' must be a numeric ({L}, {L}) matrix (L = sequence length), "
                            f"got {data[k].dtype} of shape {data[k].shape}")
    pos = data.get("positions")  # only for a structure with missing residues (Family.positions)
    if pos is not None and (pos.shape != (L,) or pos.dtype.kind not in "iu" or (L > 1 and (np.diff(pos) < 1).any())):
        raise DataError(path, f"'positions' must be ({L},) increasing integers, got {pos.dtype} of shape {pos.shape}")
    data["positions"] = pos
    if data["profile"].ndim != 2 or data["profile"].shape[0] != L or data["profile"].dtype.kind not in "fiub":
        raise DataError(path, f"'profile' must be a numeric ({L}, features) matrix, got {data['profile'].dtype} "
                        f"of shape {data['profile'].shape}")
    data["metrics"] = read_family_metrics(family_dir)
    if "skipped" in data["metrics"]:
        raise DataError(Path(family_dir) / METRICS_FILE, "says the family was skipped but its scores.npz holds "
                        "scores (files of two different runs)", hint="re-run 'sciml proteins coevolution' for it")
    return data
