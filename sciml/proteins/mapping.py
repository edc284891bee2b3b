"""Map alignment columns onto structure residues by pairwise sequence alignment.

The query of an alignment is not always row 1 (and Pfam alignments have no query),
so every row is a candidate: the row whose ungapped sequence aligns best to the
structure's sequence (``Bio.Align.PairwiseAligner``, BLOSUM62, local) defines which
alignment column corresponds to which structure residue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sciml.errors import DataError


@dataclass
class ColumnMap:
    """``col_to_res[k]`` = structure residue index of alignment column k, or -1.

    ``row`` is the alignment row used as the query; ``identity`` the fraction of its
    aligned residues identical to the structure; ``coverage`` the fraction of
    alignment columns that map to a structure residue.
    """

    row: int
    col_to_res: Any
    identity: float
    coverage: float


def _aligner():
    from Bio.Align import PairwiseAligner, substitution_matrices

    al = PairwiseAligner()
    al.mode = "local"
    al.substitution_matrix = substitution_matrices.load("BLOSUM62")
    al.open_gap_score = -10.0
    al.extend_gap_score = -0.5
    return al


def _map_row(aligner: Any, row: str, structure_seq: str) -> tuple[Any, float, int]:
    import numpy as np

    cols = [k for k, c in enumerate(row) if c != "-"]
    ungapped = "".join(row[k] for k in cols)
    col_to_res = np.full(len(row), -1, dtype=np.int64)
    if not ungapped:
        return col_to_res, 0.0, 0
    alignments = aligner.align(ungapped, structure_seq)
    try:
        aln = alignments[0]
    except IndexError:  # no local alignment scores above zero: nothing in common
        return col_to_res, 0.0, 0
    same = n = 0
    for (a0, a1), (b0, b1) in zip(*aln.aligned):
        for off in range(a1 - a0):
            col_to_res[cols[a0 + off]] = b0 + off
            n += 1
            same += ungapped[a0 + off] == structure_seq[b0 + off]
    return col_to_res, same / max(n, 1), n


def _most_similar_rows(seqs: list[str], structure_seq: str, k: int) -> list[int]:
    """Indices (in row order) of the ``k`` rows whose ungapped sequence shares the most distinct 3-mers with
    ``structure_seq``: the candidates worth a pairwise alignment in a deep alignment. A homolog 85 % identical
    to the chain can sit anywhere (PF00076's closest row is row 2339 of 3658); aligning all 15 260 rows of
    PF00072 costs 6.8 s on one core, counting their 3-mers 0.17 s."""
    target = {structure_seq[i:i + 3] for i in range(len(structure_seq) - 2)}
    shared = []
    for row in seqs:
        u = row.replace("-", "")
        shared.append(len(target.intersection(u[i:i + 3] for i in range(len(u) - 2))))
    top = sorted(range(len(seqs)), key=lambda r: (-shared[r], r))[:k]
    return sorted(top)


def map_query(seqs: list[str], structure_seq: str, path: str = "<alignment>", max_rows: int = 2000,
              min_identity: float = 0.9, structure_path: str = "<structure>") -> ColumnMap:
    """Find the alignment row matching ``structure_seq`` and map columns to residues.

    Every row is first tested for an exact ungapped match (a string test, cheap for any depth: the
    query can sit deep in a file, e.g. row 2635 of 3068 in CCMpred's 1atzA.aln); of those, the one
    covering the most structure residues is the query if it covers at least half of them (a fragment
    row can match exactly too). Otherwise every row is aligned pairwise (in a deeper alignment, the
    ``max_rows`` rows sharing the most 3-mers with the chain: :func:`_most_similar_rows`), and the best
    of them and of that shorter exact match is kept.
    Raises :class:`DataError` when the best row's identity is below ``min_identity`` over at least
    half of the shorter sequence (wrong chain/query).
    """
    import numpy as np

    aligner = _aligner()
    best: tuple[float, int, Any, float] | None = None  # (score, row, col_to_res, identity)
    exact: tuple[int, int] | None = None  # (residues it covers, row) of the longest exact match
    for r, row in enumerate(seqs):
        ungapped = row.replace("-", "")
        if ungapped and (ungapped in structure_seq or structure_seq in ungapped):
            # an exact substring; a fragment row can be one too, so the longest wins (a full-length one ends the scan)
            covered = min(len(ungapped), len(structure_seq))
            if exact is None or covered > exact[0]:
                exact = (covered, r)
                if covered == len(structure_seq):
                    break
    if exact is not None:
        covered, r = exact
        c2r, ident, n = _map_row(aligner, seqs[r], structure_seq)  # aligned once, for the columns' offsets
        if ident == 1.0 and n >= 0.5 * covered:
            if n >= 0.5 * len(structure_seq):
                return ColumnMap(r, c2r, 1.0, float((c2r >= 0).mean()))
            best = (1.0, r, c2r, 1.0)  # a shorter exact match (one domain of a longer chain, a fragment) competes below
    for r in (range(len(seqs)) if len(seqs) <= max_rows else _most_similar_rows(seqs, structure_seq, max_rows)):
        row = seqs[r]
        ungapped = row.replace("-", "")
        if not ungapped or (best is not None and r == best[1]):
            continue
        c2r, ident, n = _map_row(aligner, row, structure_seq)
        score = ident * min(1.0, n / max(1, min(len(ungapped), len(structure_seq))))
        if best is None or score > best[0]:
            best = (score, r, c2r, ident)
    if best is None or best[0] < min_identity * 0.5 or best[3] < min_identity:
        got = "no usable row" if best is None else f"best row {best[1] + 1} has identity {best[3]:.2f}"
        if len(seqs) > max_rows:
            got += (f"; no row matches exactly, and only the {max_rows} of {len(seqs)} rows sharing the most 3-mers "
                    "with the chain were aligned")
        raise DataError(structure_path, f"chain sequence does not match any row of {path} ({got}, "
                        f"need >= {min_identity:.2f})", record=f"sequence {structure_seq[:20]}...",
                        hint="check the chain id, or give the structure that belongs to this alignment")
    _, r, c2r, ident = best
    return ColumnMap(r, c2r, float(ident), float((c2r >= 0).mean()))


#: Identity (over at least half the shorter sequence) from which a query counts as one of a model's
#: training proteins: the usual 40 % bar of held-out protein benchmarks.
TRAINING_OVERLAP_IDENTITY = 0.4


def training_overlap(query: str, training: dict[str, str]) -> dict[str, Any] | None:
    """The training sequence most identical to ``query`` (local BLOSUM62 alignment, as the structure
    mapping), when the identity is >= :data:`TRAINING_OVERLAP_IDENTITY` over at least half of the
    shorter sequence: ``{"family", "identity", "aligned"}``; None when no training sequence is that close.
    A prediction for such a query is not a held-out test of the model."""
    aligner = _aligner()
    best = None
    for family, seq in training.items():
        if not seq or not query:
            continue
        _, identity, n = _map_row(aligner, query, seq)
        if n >= 0.5 * min(len(query), len(seq)) and identity >= TRAINING_OVERLAP_IDENTITY:
            if best is None or (identity, n) > (best["identity"], best["aligned"]):
                best = {"family": family, "identity": round(float(identity), 4), "aligned": int(n)}
    return best
