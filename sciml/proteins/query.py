"""A prediction target: an alignment whose query row is the protein, and optionally its structure.

Unlike a scored family (:mod:`sciml.proteins.family`), a target needs no structure: its
residues are those of the query row (the first row, or the row named by ``query``), and
the alignment columns where the query has a gap are dropped, as contact predictors do.
When a structure is given, the query's residues are aligned to the chain (Biopython's
``PairwiseAligner``, :mod:`sciml.proteins.mapping`) and the native contacts are carried
onto the query's residues (NaN where a residue has no structure partner), so the CASP
precisions are those of the query, L = query length.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sciml.errors import DataError
from sciml.proteins.family import Family

#: Alignment depth below which predictions are flagged as not to be trusted: N_eff / sqrt(L) < 64
#: (the "Nf" criterion of Ovchinnikov et al. 2017, Science 355:294, for reliable coevolution contacts).
SHALLOW_NF = 64.0


def query_row(ids: list[str], path: str, query: str | None) -> int:
    """Index of the row named ``query`` (its id, or the id's first word), or 0 when ``query`` is None."""
    if query is None:
        return 0
    for k, rid in enumerate(ids):
        if rid == query or rid.split()[0] == query:
            return k
    shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
    raise DataError(path, f"no alignment row named {query!r} (rows: {shown})",
                    hint="give --query the id of the row that is the protein to predict, or leave it out for row 1")


def load_query(alignment: str | Path, fmt: str | None = None, query: str | None = None,
               structure: str | Path | None = None, chain: str | None = None, model: int = 0,
               min_identity: float = 0.9, name: str | None = None, min_rows: int = 2) -> Family:
    """Read a prediction target; ``Family.native`` is None without a structure.

    ``X`` (N, L) holds the alignment's columns where the query has a residue (the query
    row moved first, so it is row 0), ``res`` = 0..L-1. Raises :class:`DataError` naming
    the file when the query is missing or empty, when the structure does not match the
    query (with the identity found), or when the file has fewer than ``min_rows`` rows.
    """
    import numpy as np

    from sciml.proteins.alignments import read_alignment

    aln = read_alignment(alignment, fmt, min_rows=min_rows)
    path = str(alignment)
    r = query_row(aln.ids, path, query)
    row = aln.seqs[r]
    cols = np.array([k for k, c in enumerate(row) if c not in "-."], dtype=np.int64)
    if len(cols) == 0:
        raise DataError(path, "the query row has no residues (all gaps)", record=f"row {r + 1}")
    order = [r] + [k for k in range(aln.n_seqs) if k != r]
    X = aln.encode()[order][:, cols]
    seq = "".join(row[k] for k in cols)
    notes: list[str] = []
    if r != 0:
        notes.append(f"query is alignment row {r + 1} ({aln.ids[r]})")
    dropped = aln.length - len(cols)
    if dropped:
        notes.append(f"{dropped} alignment column(s) where the query has a gap were dropped")
    numbers, inserts = aln.residue_numbers(r)
    full_sequence, residue_numbers = None, None
    if inserts:  # query residues in insert states (lower case) have no match column: not predicted
        full_sequence = "".join(c for c in (aln.raw[r] if aln.raw else row) if c.isalpha()).upper()
        residue_numbers = np.asarray(numbers, dtype=np.int64)[cols]
        notes.append(f"{inserts} query residue(s) in insert states (lower case in the alignment) were dropped: "
                     f"{len(cols)} of the query's {len(full_sequence)} residues are predicted; the RR file "
                     f"numbers them in the query's own sequence (1..{len(full_sequence)}), the .npz arrays "
                     f"and figure follow the {len(cols)} match residues (residue_numbers in the .npz maps them)")
    inputs = [path]
    native = None
    identity = 1.0
    if structure is not None:
        native, identity, st_notes = _native_on_query(seq, structure, chain, model, min_identity, path)
        notes += st_notes
        inputs.append(str(structure))
    return Family(name or Path(path).name.split(".")[0], seq, X, np.arange(len(seq)), native, r, identity,
                  aln.n_seqs, notes, inputs, full_sequence, residue_numbers, alignment_columns=cols,
                  alignment_length=aln.length)


def _native_on_query(seq: str, structure: str | Path, chain: str | None, model: int, min_identity: float,
                     aln_path: str) -> tuple[Any, float, list[str]]:
    """(L, L) native contacts of the structure on the query's residues, the identity, notes."""
    import numpy as np

    from sciml.proteins.mapping import _aligner, _map_row
    from sciml.proteins.structures import contact_map, read_structure

    st = read_structure(structure, chain=chain, model=model)
    q_to_res, identity, n = _map_row(_aligner(), seq, st.sequence)
    if identity < min_identity or n < 0.5 * min(len(seq), len(st.sequence)):
        raise DataError(structure, f"the structure's chain does not match the query of {aln_path}: identity "
                        f"{identity:.2f} over {n} aligned residues of {len(seq)} (need >= {min_identity:.2f} "
                        f"over at least half)", hint="check the chain id and --query, or leave the structure out")
    full = contact_map(st.cb)
    native = np.full((len(seq), len(seq)), np.nan)
    ok = np.nonzero(q_to_res >= 0)[0]
    native[np.ix_(ok, ok)] = full[np.ix_(q_to_res[ok], q_to_res[ok])]
    notes = list(st.notes)
    if len(ok) < len(seq):
        notes.append(f"{len(seq) - len(ok)} query residue(s) have no structure partner (not scored)")
    return native, float(identity), notes


def alignment_depth(fam: Family, n_eff: float) -> dict[str, Any]:
    """Depth of a target's alignment: sequences, N_eff, N_eff/L, Nf = N_eff/sqrt(L), mean
    coverage of the query (fraction of its residues each row covers), and whether it is shallow."""
    import numpy as np

    from sciml.proteins.alignments import GAP

    L = len(fam.sequence)
    cover = float((np.asarray(fam.X) != GAP).mean())
    nf = float(n_eff) / np.sqrt(L)
    return {"n_seqs": int(fam.n_seqs), "n_eff": round(float(n_eff), 2), "length": L,
            "n_eff_per_length": round(float(n_eff) / L, 4), "nf": round(nf, 2),
            "coverage": round(cover, 4), "shallow": bool(nf < SHALLOW_NF)}
