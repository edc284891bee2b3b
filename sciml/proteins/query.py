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
#: N_eff per residue below which an alignment is "very shallow": the usual rule of thumb in the
#: coevolution literature that N_eff/L of about 1 or more is needed before coevolution gives useful
#: contacts. A rough guide, not a sharp cut-off (no measurement of ours sets it).
VERY_SHALLOW_NEFF_PER_L = 1.0


def query_row(ids: list[str], path: str, query: str | None) -> int:
    """Index of the row named ``query`` (its id, or the id's first word), or 0 when ``query`` is None.

    An id that names several rows is a DataError listing them (1-based): which one is the query
    cannot be told."""
    if query is None:
        return 0
    hits = [k for k, rid in enumerate(ids) if rid == query or rid.split()[0] == query]
    if len(hits) > 1:
        rows = ", ".join(str(k + 1) for k in hits[:10]) + (", ..." if len(hits) > 10 else "")
        raise DataError(path, f"the id {query!r} names {len(hits)} alignment rows (rows {rows}): which one is the "
                              "query cannot be told", record=f"row {hits[1] + 1}",
                        hint="give the query row an id of its own")
    if hits:
        return hits[0]
    shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
    raise DataError(path, f"no alignment row named {query!r} (rows: {shown})",
                    hint="give --query (a target's query key) the id of the row that is the protein to predict "
                         "(row<N> for the N-th row of a PSICOV .aln file, which has no ids), or leave it out for row 1")


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
    notes: list[str] = list(aln.notes)
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
        try:
            native, identity, st_notes = _native_on_query(seq, structure, chain, model, min_identity, path)
        except DataError as exc:
            hint = _matching_row_hint(aln, r, structure, chain, model, min_identity)
            if hint is None:
                raise
            raise DataError(exc.path, exc.reason, record=exc.record, hint=hint) from None
        notes += st_notes
        inputs.append(str(structure))
    return Family(name or Path(path).name.split(".")[0], seq, X, np.arange(len(seq)), native, r, identity,
                  aln.n_seqs, notes, inputs, full_sequence, residue_numbers, alignment_columns=cols,
                  alignment_length=aln.length)


def _matching_row_hint(aln: Any, query_row_index: int, structure: str | Path, chain: str | None, model: int,
                       min_identity: float) -> str | None:
    """When the structure does not match the query row: the hint naming the alignment row that does
    (:func:`sciml.proteins.mapping.map_query`, the rows sharing the most 3-mers with the chain in a deep
    alignment), or None when no row matches or it is the query row itself."""
    from sciml.proteins.mapping import map_query
    from sciml.proteins.structures import read_structure

    try:
        found = map_query([s.replace(".", "-") for s in aln.seqs], read_structure(structure, chain=chain, model=model)
                          .sequence, min_identity=min_identity)
    except DataError:
        return None
    if found.row == query_row_index:
        return None
    rid = aln.ids[found.row]
    return (f"alignment row {found.row + 1} ({rid}) matches the structure (identity {found.identity:.2f}): name it "
            f"as the query (--query {rid.split()[0]}, or the target's query key; a PSICOV .aln row is row<N>)")


def _native_on_query(seq: str, structure: str | Path, chain: str | None, model: int, min_identity: float,
                     aln_path: str) -> tuple[Any, float, list[str]]:
    """(L, L) native contacts of the structure on the query's residues, the identity, notes."""
    import numpy as np

    from sciml.proteins.structures import contact_map, read_structure

    st = read_structure(structure, chain=chain, model=model)
    q_to_res, identity, n, break_notes = map_query_to_chain(seq, st.sequence, st.residue_ids, st.ca)
    if identity < min_identity or n < 0.5 * min(len(seq), len(st.sequence)):
        which = f"chain {st.chain}" + ("" if chain else " (the first protein chain)")
        others = f"; the file's other chains: {', '.join(st.other_chains)}" if st.other_chains else ""
        better = None if chain else _matching_chain(seq, structure, st.other_chains, model, min_identity)
        hint = (f"chain {better} matches the query: pass --chain {better} (the target's chain key in a config)"
                if better else "check the chain id and the query row (--query, or the target's query key); for a "
                "homologue's structure lower --min-identity (the target's min_identity key in a config); or leave the "
                "structure out")
        raise DataError(structure, f"the structure's {which} does not match the query of {aln_path}: identity "
                        f"{identity:.2f} over {n} aligned residues of {len(seq)} (need >= {min_identity:.2f} over at "
                        f"least half){others}", hint=hint)
    full = contact_map(st.cb)
    native = np.full((len(seq), len(seq)), np.nan)
    ok = np.nonzero(q_to_res >= 0)[0]
    native[np.ix_(ok, ok)] = full[np.ix_(q_to_res[ok], q_to_res[ok])]
    notes = list(st.notes) + break_notes
    if len(ok) < len(seq):
        notes.append(f"{len(seq) - len(ok)} query residue(s) have no structure partner (not scored)")
    return native, float(identity), notes


def _matching_chain(seq: str, structure: str | Path, chains: tuple[str, ...], model: int,
                    min_identity: float) -> str | None:
    """The first of ``chains`` of ``structure`` whose sequence matches the query ``seq`` as
    :func:`_native_on_query` requires, or None."""
    from sciml.proteins.structures import read_structure

    for chain in chains:
        try:
            st = read_structure(structure, chain=chain, model=model)
        except DataError:  # a chain without amino acids (waters, a ligand's chain)
            continue
        _, identity, n, _ = map_query_to_chain(seq, st.sequence, st.residue_ids, st.ca)
        if identity >= min_identity and n >= 0.5 * min(len(seq), len(st.sequence)):
            return chain
    return None


def residue_number(residue_id: str) -> int | None:
    """The PDB residue number of a residue id such as ``"27"``, ``"27A"`` or ``"-3"`` (None if it has none)."""
    import re

    m = re.match(r"-?\d+", residue_id)
    return int(m.group()) if m else None


def padded_chain(sequence: str, residue_ids: list[str], max_gap: int, bonded: Any = None) -> tuple[str, Any]:
    """The chain's sequence with one ``X`` per residue number missing at each chain break its PDB
    numbering shows (gaps of at most ``max_gap``), and for each letter the chain residue index (-1 at an X).
    ``bonded`` (L,) bool, optional: residue k is bonded to k - 1 (C-alphas within the chain-break distance):
    no padding there whatever the numbers say (39, 39A, 39B, 39C, 43 is five consecutive residues, not a
    gap of three)."""
    import numpy as np

    nums = [residue_number(r) for r in residue_ids]
    letters: list[str] = []
    index: list[int] = []
    for k, letter in enumerate(sequence):
        if bonded is not None and k and bonded[k]:
            pass
        elif k and nums[k] is not None and nums[k - 1] is not None and 0 < nums[k] - nums[k - 1] - 1 <= max_gap:
            letters += ["X"] * (nums[k] - nums[k - 1] - 1)
            index += [-1] * (nums[k] - nums[k - 1] - 1)
        letters.append(letter)
        index.append(k)
    return "".join(letters), np.asarray(index, dtype=np.int64)


def map_query_to_chain(seq: str, chain_seq: str, residue_ids: list[str], ca: Any = None) -> tuple[Any, float, int, list[str]]:
    """Query residue -> chain residue index (-1 for none), identity, aligned residues and notes.

    The pairwise alignment (:func:`sciml.proteins.mapping._map_row`) alone can place a chain break (residues
    missing from the structure) a few residues off where the flanking residues look alike. The chain is also
    aligned with its breaks filled by ``X`` as its PDB residue numbering shows them (:func:`padded_chain`), so
    no query residue is matched across a numbering jump; that mapping is kept unless it aligns fewer residues
    or at lower identity (numbering that does not follow the sequence), which a note then reports."""
    import numpy as np

    from sciml.proteins.mapping import _aligner, _map_row

    aligner = _aligner()
    plain, identity, n = _map_row(aligner, seq, chain_seq)
    bonded = None
    if ca is not None:  # consecutive C-alphas within the chain-break distance: no residue missing between them
        from sciml.proteins.structures import CHAIN_BREAK_CA

        step = np.linalg.norm(np.diff(np.asarray(ca, dtype=float), axis=0), axis=1)
        bonded = np.concatenate([[False], step <= CHAIN_BREAK_CA])
    padded, index = padded_chain(chain_seq, residue_ids, max_gap=len(seq), bonded=bonded)
    if len(padded) == len(chain_seq):
        return plain, identity, n, []
    to_pad, _, _ = _map_row(aligner, seq, padded)
    q_to_res = np.where(to_pad >= 0, index[np.maximum(to_pad, 0)], -1)
    ok = np.nonzero(q_to_res >= 0)[0]
    n_pad = len(ok)
    ident_pad = float(np.mean([seq[q] == chain_seq[q_to_res[q]] for q in ok])) if n_pad else 0.0
    breaks = len(padded) - len(chain_seq)
    if n_pad < n or ident_pad < identity:
        return plain, identity, n, [f"the structure's residue numbering shows {breaks} missing residue(s) at chain "
                                    "break(s) that the query's alignment to the chain does not follow (aligned by "
                                    "sequence alone): check the numbering or the chain"]
    moved = int((q_to_res != plain).sum())
    notes = [f"the query was aligned to the chain with its break(s) ({breaks} missing residue number(s)) placed "
             "by the PDB residue numbering" + (f": {moved} query residue(s) mapped differently than by sequence alone"
                                                if moved else "")]
    return q_to_res, ident_pad, n_pad, notes


def depth_severity(n_eff_per_length: float, nf: float) -> str:
    """``"very shallow"`` (N_eff/L < :data:`VERY_SHALLOW_NEFF_PER_L`), ``"shallow"`` (Nf < :data:`SHALLOW_NF`)
    or ``"deep"``."""
    if n_eff_per_length < VERY_SHALLOW_NEFF_PER_L:
        return "very shallow"
    return "shallow" if nf < SHALLOW_NF else "deep"


def depth_warning(depth: dict[str, Any]) -> str | None:
    """The warning of a target's alignment depth (:func:`alignment_depth`), graded by its severity and
    quoting N_eff, N_eff/L and Nf; None for a deep alignment."""
    numbers = (f"N_eff {depth['n_eff']:g} for L = {depth['length']} residues: N_eff/L = "
               f"{depth['n_eff_per_length']:.2f}, Nf = N_eff/sqrt(L) = {depth['nf']:.1f}")
    if depth["severity"] == "very shallow":
        return (f"very shallow alignment ({numbers}): below about {VERY_SHALLOW_NEFF_PER_L:g} effective sequence per "
                "residue coevolution carries little signal; the predicted map rests mostly on the sequence and "
                "separation, treat it with great caution")
    if depth["severity"] == "shallow":
        return (f"moderately shallow alignment ({numbers}): above {VERY_SHALLOW_NEFF_PER_L:g} per residue, but Nf < "
                f"{SHALLOW_NF:g}, the depth Ovchinnikov et al. 2017 found reliable; expect fewer correct contacts "
                "than from a deep alignment")
    return None


def alignment_depth(fam: Family, n_eff: float | None) -> dict[str, Any]:
    """Depth of a target's alignment: sequences, N_eff, N_eff/L, Nf = N_eff/sqrt(L), mean
    coverage of the query (fraction of its residues each row covers), whether it is shallow
    (Nf < :data:`SHALLOW_NF`) and its severity (:func:`depth_severity`). ``n_eff`` None: the depth
    is unknown (a sequence given with another tool's score matrix): N_eff, Nf and shallow are None."""
    import numpy as np

    from sciml.proteins.alignments import GAP

    L = len(fam.sequence)
    cover = float((np.asarray(fam.X) != GAP).mean())
    if n_eff is None:
        return {"n_seqs": int(fam.n_seqs), "n_eff": None, "length": L, "n_eff_per_length": None, "nf": None,
                "coverage": round(cover, 4), "shallow": None,
                "severity": "unknown (the alignment behind the score matrix was not given)"}
    nf = float(n_eff) / np.sqrt(L)
    return {"n_seqs": int(fam.n_seqs), "n_eff": round(float(n_eff), 2), "length": L,
            "n_eff_per_length": round(float(n_eff) / L, 4), "nf": round(nf, 2),
            "coverage": round(cover, 4), "shallow": bool(nf < SHALLOW_NF),
            "severity": depth_severity(float(n_eff) / L, nf)}
