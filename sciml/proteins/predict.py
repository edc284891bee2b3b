"""Contact probabilities of a prediction target from a saved network.

The coevolution channels are made exactly as for the training families (the Potts and
mean-field settings recorded in ``model.json``), or the Potts channel comes from an
external L x L score matrix (CCMpred/GREMLIN/plmc output); the network's sigmoid output,
averaged over the ensemble members, is the contact probability (not rescaled).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sciml.errors import DataError

#: Longest query predicted by default. Raise ``max_length`` to go further; memory is checked too.
MAX_LENGTH = 1000
#: Memory a prediction may plan to use by default, GiB (``proteins.max_memory_gb``).
MAX_MEMORY_GB = 8.0


#: First words of the header and trailer lines of a CASP RR file.
RR_KEYWORDS = ("PFRMAT", "TARGET", "AUTHOR", "REMARK", "METHOD", "MODEL", "END")
#: Relative asymmetry of a score matrix, max |S - S^T| / max |S|, above which it is reported as
#: asymmetric (below it: rounding in the file).
ASYMMETRY_TOLERANCE = 1e-5


def read_score_matrix(path: str | Path, length: int, sequence: str | None = None,
                      alignment_columns: Any = None, alignment_length: int | None = None,
                      notes: list[str] | None = None, report: dict[str, Any] | None = None,
                      residue_numbers: Any = None, full_sequence: str | None = None) -> Any:
    """An (L, L) coupling-score matrix written by another tool, NaN on the diagonal and at unscored pairs.

    Formats, told apart by their rows: a plain-text L x L matrix (CCMpred ``.mat``, GREMLIN;
    commas accepted as separators), 3 columns ``i j score`` (1-based), plmc's 6 columns
    ``i A_i j A_j 0 score``, or a CASP RR contact list (``i j d1 d2 p``, e.g. DeepCov's ``.con`` or
    sciml's own RR; the probability ``p`` is the score, :func:`_rr_scores`); ``#`` comments and a
    UTF-8 byte-order mark are skipped; a ``.gz`` name is gunzipped.

    - A square matrix over all ``alignment_length`` columns of the alignment (CCMpred run on the
      whole alignment, query-gap columns included) is cut to the query's ``alignment_columns``; one
      over the query's ``full_sequence`` (insert residues included) to its predicted residues.
    - Lists number the query's own sequence from 1. For a query with insert residues (lower case in
      an A3M, not predicted) that is ``full_sequence``, and ``residue_numbers`` gives the number of
      each predicted residue (as in sciml's RR): pairs with an insert residue are left out, counted.
    - plmc numbers residues from the focus sequence's start (``>ID/start-end``): with ``sequence``
      given, its residue letters are checked against the query, and a constant offset that makes
      them all agree is applied. Without a focus sequence (``i - j - 0 score``) it numbers the
      alignment's columns, mapped through ``alignment_columns``.
    - Pairs a list leaves out, and non-finite (NaN/inf) scores, stay unscored (NaN); an asymmetric
      matrix is symmetrised (:func:`_symmetrise`). Both are said in ``notes`` and counted in ``report``.

    What was adapted is appended to ``notes``; ``report`` (when given) receives the counts
    (:func:`_symmetrise`). Raises :class:`DataError` naming the file and line.
    """
    import numpy as np

    notes = [] if notes is None else notes
    lines = _score_file_lines(path)
    widths = {len(p) for _, p in lines}
    n = len(lines)
    numbering = _Numbering.of(length, sequence, residue_numbers, full_sequence)
    full_length = numbering.span if numbering.full else None
    if widths == {n} and n in (length, alignment_length, full_length):
        out = np.array([_numbers(path, k, p) for k, p in lines])
        if n != length:
            if n == alignment_length:  # over the whole alignment: the columns where the query has a residue
                keep = np.asarray(alignment_columns, dtype=np.int64)
                what = f"all {n} alignment columns: the {length} columns where the query has a residue were taken"
            else:  # over the query's own sequence, insert residues included: the predicted ones
                keep = np.asarray(residue_numbers, dtype=np.int64) - 1
                what = f"the query's own {n} residues: the {length} predicted ones (not in insert states) were taken"
            out = out[np.ix_(keep, keep)]
            notes.append(f"the score matrix covers {what}")
        kind = "matrix"
    elif _is_rr(lines) or widths == {3} or (widths == {6} and all(p[1].isalpha() and p[3].isalpha()
                                                                   for _, p in lines)):
        kind = "CASP RR contact list" if _is_rr(lines) else "pair list"
        out = _read_list(path, lines, kind, numbering, _Numbering.of(length, sequence, None, None), notes)
    elif widths == {6} and alignment_columns is not None and all(p[1] == "-" == p[3] for _, p in lines):
        kind = "pair list"
        out = _plmc_alignment_columns(path, lines, length, alignment_columns, alignment_length, notes)
    else:
        _not_a_score_file(path, lines, length, alignment_length)
    if not np.isfinite(out[~np.eye(length, dtype=bool)]).any():
        raise DataError(path, "no finite score")
    return _symmetrise(path, out, kind, notes, {} if report is None else report)


def _read_list(path: str | Path, lines: list[tuple[int, list[str]]], kind: str, numbering: "_Numbering",
               match_numbering: "_Numbering", notes: list[str]) -> Any:
    """A contact list's (L, L) scores in ``numbering``; for a query with insert residues, a list whose
    residue letters (plmc) or sequence lines (RR) show it numbers the predicted residues only
    (``match_numbering``) is read that way, said in ``notes``."""
    reader = _rr_scores if kind.startswith("CASP") else _score_list
    try:
        return reader(path, lines, numbering, notes)
    except DataError as first:
        lettered = any(len(p) == 1 and p[0].isalpha() and p[0].upper() not in RR_KEYWORDS for _, p in lines) or \
            all(len(p) == 6 for _, p in lines)
        if not numbering.full or not lettered:
            raise
        try:
            out = reader(path, lines, match_numbering, notes)
        except DataError:
            raise first from None
    notes.append(f"{Path(path).name} numbers only the query's {len(match_numbering.position)} predicted residues "
                 "(its letters agree with those, not with the query's own sequence): read that way")
    return out


def _score_file_lines(path: str | Path) -> list[tuple[int, list[str]]]:
    """The non-blank, non-comment lines of a score file as (1-based line number, values)."""
    from sciml.proteins.alignments import open_text

    try:
        with open_text(path) as fh:
            text = fh.read()
    except FileNotFoundError:
        raise DataError(path, "score file not found") from None
    except (UnicodeDecodeError, OSError, EOFError, zlib.error) as exc:  # EOFError: truncated gzip
        raise DataError(path, f"cannot read as UTF-8 text ({type(exc).__name__})",
                        hint="a plain-text matrix or contact list (gzipped only with a .gz name)") from None
    lines = [(k, ln.replace(",", " ").split()) for k, ln in enumerate(text.splitlines(), start=1)
             if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise DataError(path, "empty score file")
    return lines


def _numbers(path: str | Path, line: int, values: list[str]) -> list[float]:
    """``values`` of file line ``line`` as floats (DataError naming the line and the value)."""
    out = []
    for v in values:
        try:
            out.append(float(v))
        except ValueError:
            raise DataError(path, f"not a number: {v!r}", record=f"line {line}") from None
    return out


def _plmc_alignment_columns(path: str | Path, lines: list[tuple[int, list[str]]], length: int, alignment_columns: Any,
                            alignment_length: int | None, notes: list[str]) -> Any:
    """The (L, L) scores of plmc run without a focus sequence (``-f``): lines ``i - j - 0 score`` number the
    alignment's columns from 1, so they are mapped through the columns where the query has a residue
    (``alignment_columns``, 0-based); pairs with another column are left out, counted in ``notes``. The
    alignment must be the one plmc ran on: an index beyond its columns is a DataError naming the line."""
    import numpy as np

    residue = {int(c) + 1: k for k, c in enumerate(alignment_columns)}
    n_columns = alignment_length or (max(residue) if residue else 0)
    out = np.full((length, length), np.nan)
    outside = 0
    for k, p in lines:
        try:
            i, j, score = int(p[0]), int(p[2]), float(p[5])
        except ValueError:
            raise DataError(path, f"not a plmc 'i - j - 0 score' line ({' '.join(p)!r})", record=f"line {k}") from None
        if not (1 <= i <= n_columns and 1 <= j <= n_columns):
            raise DataError(path, f"column {max(i, j) if max(i, j) > n_columns else min(i, j)} outside the alignment's "
                                  f"1..{n_columns} (plmc without a focus sequence numbers the alignment's columns)",
                            record=f"line {k}", hint="give the alignment plmc ran on")
        a, b = residue.get(i), residue.get(j)
        if a is None or b is None:
            outside += 1
            continue
        out[a, b] = score if np.isfinite(score) else np.inf
    notes.append(f"plmc without a focus sequence numbers the alignment's {n_columns} columns: mapped onto the query's "
                 f"{length} residues through this alignment (it must be the one plmc ran on)"
                 + (f"; {outside} pair(s) with a column where the query has a gap left out" if outside else ""))
    return out


def _not_a_score_file(path: str | Path, lines: list[tuple[int, list[str]]], length: int,
                      alignment_length: int | None) -> None:
    """Raise the DataError for a file that is no known score format, naming the first line whose number
    of values differs from the most common one (a ragged matrix), else the first line."""
    from collections import Counter

    common = Counter(len(p) for _, p in lines).most_common(1)[0][0]
    k, p = next(((k, p) for k, p in lines if len(p) != common), lines[0])
    sizes = f"{length} x {length} (the query's residues)" + (
        f" or {alignment_length} x {alignment_length} (every alignment column)"
        if alignment_length not in (None, length) else "")
    shape = (f"line {k} has {len(p)} values where {sum(len(q) == common for _, q in lines)} other lines have {common}"
             if len(p) != common else f"{len(lines)} lines of {common} values")
    raise DataError(path, f"not a {sizes} matrix, an 'i j score' list nor a CASP RR contact list ('i j d1 d2 p'): "
                          f"{shape}", record=f"line {k}",
                    hint="the matrix must be for the query's residues (the alignment columns where it has no gap)")


@dataclass(frozen=True)
class _Numbering:
    """How a contact list numbers the query: ``position[n]`` is the 0-based predicted residue of file
    number ``n`` (1-based, in ``sequence``, ``span`` residues long); numbers of insert residues have none."""

    position: dict[int, int]
    span: int
    sequence: str | None
    full: bool

    @classmethod
    def of(cls, length: int, sequence: str | None, residue_numbers: Any, full_sequence: str | None) -> "_Numbering":
        if residue_numbers is None or full_sequence is None:
            return cls({n: n - 1 for n in range(1, length + 1)}, length, sequence, False)
        return cls({int(n): k for k, n in enumerate(residue_numbers)}, len(full_sequence), full_sequence, True)

    def where(self) -> str:
        return (f"the query's own sequence, {self.span} residues with its insert residues" if self.full
                else f"the query's {self.span} residues")


def _place(out: Any, numbering: _Numbering, pairs: list[tuple[int, int, float]], name: str, notes: list[str]) -> None:
    """Write each (i, j, score) of file numbers into ``out``; a listed non-finite score becomes inf (kept apart
    from NaN: not listed, :func:`_symmetrise`); pairs with an insert residue are counted into ``notes``."""
    import numpy as np

    dropped = 0
    for i, j, score in pairs:
        a, b = numbering.position.get(i), numbering.position.get(j)
        if a is None or b is None:
            dropped += 1
            continue
        out[a, b] = score if np.isfinite(score) else np.inf
    if dropped:
        notes.append(f"{dropped} pair(s) of {name} involve the query's insert residues (lower case in the "
                     "alignment, not predicted): left out")


def _symmetrise(path: str | Path, out: Any, kind: str, notes: list[str], report: dict[str, Any]) -> Any:
    """The symmetric score matrix of ``out`` (a file's (L, L) scores, NaN where a list gives no score):
    a pair with both entries finite gets their mean, with one finite entry that entry; none stays NaN
    (unscored: the network reads it as the mean score with its 'scored' channel at 0, and it is not
    ranked). Fills ``report`` with ``format``, ``pairs`` (i < j), ``unscored``, ``not_listed`` (pairs a
    list leaves out), ``non_finite`` (NaN/inf in the file), ``one_sided``, ``asymmetry`` (max |S - S^T| /
    max |S|) and ``symmetrised``; says what was done in ``notes``."""
    import numpy as np

    S = np.array(out, dtype=float)
    L = len(S)
    name = Path(path).name
    mirrored = kind == "matrix" and _one_triangle(S, name, notes)
    listed = ~np.isnan(S) | ~np.isnan(S.T)  # NaN = not in the list (a matrix lists every pair; a list's NaN: inf)
    S[~np.isfinite(S)] = np.nan
    both = np.isfinite(S) & np.isfinite(S.T)
    off = ~np.eye(L, dtype=bool)
    diff = np.abs(S - S.T)[both & off]
    scale = float(np.nanmax(np.abs(S[off]))) if np.isfinite(S[off]).any() else 0.0
    asym = float(diff.max() / scale) if len(diff) and scale > 0 else 0.0
    sym = np.where(both, 0.5 * (S + S.T), np.where(np.isfinite(S), S, S.T))
    np.fill_diagonal(sym, np.nan)
    iu = np.triu_indices(L, k=1)
    pairs, unscored = len(iu[0]), int(np.isnan(sym[iu]).sum())
    not_listed = 0 if kind == "matrix" else int((~listed[iu]).sum())
    one_sided = int((np.isfinite(S) ^ np.isfinite(S.T))[iu].sum()) if kind == "matrix" else 0
    report.update({"format": kind, "pairs": pairs, "unscored": unscored, "not_listed": not_listed,
                   "non_finite": unscored - not_listed, "one_sided": one_sided, "asymmetry": round(asym, 6),
                   "symmetrised": asym > ASYMMETRY_TOLERANCE})
    notes += _score_input_notes(name, report, 0 if mirrored else one_sided, diff.max() if len(diff) else 0.0, scale)
    return sym


def _score_input_notes(name: str, report: dict[str, Any], one_sided: int, max_diff: float, scale: float) -> list[str]:
    """What :func:`_symmetrise` did to the scores of file ``name``, for the warnings: unscored pairs,
    ``one_sided`` pairs (0 when the whole other triangle was mirrored, already said), asymmetry."""
    notes = []
    unscored, not_listed, pairs = report["unscored"], report["not_listed"], report["pairs"]
    if unscored:
        notes.append(f"{unscored} of the {pairs} residue pairs have no score in {name} ({not_listed} not listed, "
                     f"{unscored - not_listed} non-finite: NaN/inf): left unscored, the network reads them as the "
                     "mean score (0 after z-scoring) with its 'scored' channel at 0, and the coevolution precision "
                     "does not rank them")
    if one_sided:
        notes.append(f"{one_sided} residue pair(s) of {name} have a finite score on one side of the diagonal only: "
                     "that score was used for both")
    if report["symmetrised"]:
        notes.append(f"the scores of {name} are asymmetric (max |S - S^T| = {max_diff:.4g}, "
                     f"{report['asymmetry']:.1%} of the largest |score| {scale:.4g}): symmetrised, each pair given "
                     "the mean of S_ij and S_ji")
    return notes


def _one_triangle(S: Any, name: str, notes: list[str]) -> bool:
    """A matrix that fills one triangle only (the other all zero, as some tools write it) gets the zero
    triangle set to NaN in place, so :func:`_symmetrise` mirrors the scores instead of halving them;
    returns True when it did (and says so in ``notes``)."""
    import numpy as np

    lower, upper = np.tril_indices(len(S), k=-1), np.triu_indices(len(S), k=1)
    for empty, full, which in ((lower, upper, "upper"), (upper, lower, "lower")):
        if len(empty[0]) and np.all(S[empty] == 0) and np.any(S[full] != 0):
            S[empty] = np.nan
            notes.append(f"{name} fills its {which} triangle only (the other is all zero): mirrored")
            return True
    return False


def _is_rr(lines: list[tuple[int, list[str]]]) -> bool:
    """True for a CASP RR file: RR header keywords, or every row 5 values ``i j d1 d2 p`` with residue
    numbers from 1 (DeepCov's ``.con`` has no header)."""
    if any(p[0].upper() in RR_KEYWORDS for _, p in lines):
        return True
    return all(len(p) == 5 and p[0].isdigit() and p[1].isdigit() and int(p[0]) >= 1 and int(p[1]) >= 1
               for _, p in lines)


def _rr_scores(path: str | Path, lines: list[tuple[int, list[str]]], numbering: _Numbering,
               notes: list[str]) -> Any:
    """The (L, L) scores (NaN where no pair is listed) of a CASP RR contact list: contact lines
    ``i j d1 d2 p`` (or ``i j p``; 1-based in the query's own sequence, :class:`_Numbering`), ``p`` the
    score; header keywords (:data:`RR_KEYWORDS`) are skipped, the first ``MODEL`` only is read, and the
    sequence lines, when present, must be the query's."""
    import numpy as np

    length = len(numbering.position)
    out = np.full((length, length), np.nan)
    seq, seq_line, models = "", None, 0
    pairs: list[tuple[int, int, float]] = []
    for k, p in lines:
        word = p[0].upper()
        if word == "MODEL":
            models += 1
            if models > 1:
                notes.append(f"{Path(path).name} holds several RR models: only the first was read (line {k} on "
                             "was not)")
                break
        elif word == "END":
            break
        elif word in RR_KEYWORDS:
            continue
        elif len(p) == 1 and p[0].isalpha():
            seq, seq_line = seq + p[0].upper(), seq_line or k
        elif len(p) in (3, 5) and p[0].isdigit() and p[1].isdigit():
            i, j = int(p[0]), int(p[1])
            if not (1 <= i <= numbering.span and 1 <= j <= numbering.span):
                raise DataError(path, f"residue index {i if not 1 <= i <= numbering.span else j} outside "
                                      f"1..{numbering.span} ({numbering.where()})", record=f"line {k}",
                                hint="the RR must number the query's residues from 1")
            pairs.append((i, j, _numbers(path, k, p[-1:])[0]))
        else:
            raise DataError(path, f"not an RR contact line 'i j d1 d2 p' ({len(p)} values)", record=f"line {k}")
    if seq and numbering.sequence is not None and seq != numbering.sequence:
        want = numbering.sequence
        diff = next((x for x, (a, b) in enumerate(zip(seq, want)) if a != b), min(len(seq), len(want)))
        own = " with its insert residues" if numbering.full else ""
        raise DataError(path, f"the RR's sequence ({len(seq)} residues) is not the query's ({len(want)}{own}): "
                              f"they first differ at residue {diff + 1}",
                        record=f"line {seq_line}", hint="the RR must be a prediction for this query")
    _place(out, numbering, pairs, Path(path).name, notes)
    return out


def _score_list(path: str | Path, lines: list[tuple[int, list[str]]], numbering: _Numbering,
                notes: list[str]) -> Any:
    """The (L, L) matrix of an ``i j score`` or plmc ``i A_i j A_j 0 score`` list (see
    :func:`read_score_matrix`), numbered from 1 in the query's own sequence (:class:`_Numbering`) or,
    for plmc, from a start its letters reveal."""
    import numpy as np

    rows = []
    for k, p in lines:
        try:
            rows.append((k, int(p[0]), int(p[1]), None, None, float(p[2])) if len(p) == 3
                        else (k, int(p[0]), int(p[2]), p[1], p[3], float(p[5])))
        except ValueError:
            raise DataError(path, "not an 'i j score' (or plmc 'i A_i j A_j 0 score') line: residue numbers must be "
                                  f"integers and the score a number ({' '.join(p)!r})", record=f"line {k}") from None
    lowest = min(min(i, j) for _, i, j, *_ in rows)
    span, want = numbering.span, numbering.sequence

    def fits(offset: int) -> tuple[int, str] | None:
        """None when every pair lies in 1..span after ``offset`` with matching letters; else (line, why)."""
        for k, i, j, ai, aj, _ in rows:
            for pos, letter in ((i - offset, ai), (j - offset, aj)):
                if not 1 <= pos <= span:
                    return k, f"residue index {pos + offset} outside {1 + offset}..{span + offset}"
                if want is not None and letter not in (None, "-", ".") and letter.upper() != want[pos - 1]:
                    return k, (f"residue {pos + offset} is {letter!r} in the file but {want[pos - 1]!r} in the "
                               f"query (position {pos})")
        return None

    problem = fits(0)
    offset = 0
    # plmc numbers residues from the focus sequence's start (>ID/start-end), and leaves out the columns it
    # excludes (lower case, e.g. gappy ends): the first pair need not be at the start. Every shift at which all
    # residue letters agree is a candidate (a wrong one fails within a few lines); exactly one must remain.
    starts = [o for o in range(1, lowest) if fits(o) is None] \
        if problem is not None and want is not None and any(r[3] is not None for r in rows) else []
    if len(starts) == 1:
        offset = starts[0]
        notes.append(f"the score list numbers residues from {offset + 1} (plmc's focus-sequence start): shifted by "
                     f"{offset} onto the query, its residue letters agree")
    elif len(starts) > 1:
        raise DataError(path, f"its residue letters agree with the query at {len(starts)} starts "
                              f"({', '.join(str(o + 1) for o in starts[:5])}): which one plmc used cannot be told",
                        hint="number the list from the query's first residue (1)")
    elif problem is not None:
        k, why = problem
        raise DataError(path, f"{why} ({numbering.where()})", record=f"line {k}",
                        hint="the list must number the query's residues from 1 (plmc: its focus sequence must "
                             "be the query)")
    length = len(numbering.position)
    out = np.full((length, length), np.nan)
    _place(out, numbering, [(i - offset, j - offset, score) for _, i, j, _, _, score in rows], Path(path).name, notes)
    return out


def potts_copies(history: int, symmetric: bool = False) -> float:
    """How many P-sized float32 vectors (P = (21 L)^2 + 21 L) the L-BFGS Potts fit holds at once.

    Asymmetric: 6 + 2 ``history``: the coupling start W, the flat parameters, the gradient, trial point,
    trial gradient, direction, and the ``history`` (s, y) pairs. Symmetric couplings
    (:mod:`sciml.proteins.potts_symmetric`): the start W and the two full-size scratch vectors, plus the
    other 5 + 2 ``history`` at half size."""
    return 3 + (5 + 2 * history) / 2 if symmetric else 6 + 2 * history


def memory_estimate_gb(L: int, history: int, fit_potts: bool, members: int = 1, symmetric: bool = False) -> float:
    """Peak memory (GiB) a prediction of an L-residue query plans to take on CPU.

    The Potts fit holds :func:`potts_copies` vectors of its P = (21 L)^2 + 21 L float32 parameters
    (:mod:`sciml.proteins.potts`) during L-BFGS. The
    network reads 92 L^2 features and each member keeps a few activation maps of its width
    (bounded by 4 x 92 L^2 here), plus ~0.6 GiB for the interpreter with torch imported."""
    P = (21 * L) ** 2 + 21 * L
    potts = potts_copies(history, symmetric) * P * 4 if fit_potts else 0
    features = (1 + 4 * max(members, 1)) * 92 * L * L * 4
    return (potts + features) / 2**30 + 0.6


def check_length(fam: Any, path: str, max_length: int = MAX_LENGTH, *, max_memory_gb: float = MAX_MEMORY_GB,
                 history: int = 5, fit_potts: bool = True, symmetric: bool = False) -> None:
    """DataError before any fit when the query is longer than ``max_length`` residues, or when the
    prediction's planned memory (:func:`memory_estimate_gb`) is above ``max_memory_gb``; the
    message says what to lower."""
    L = len(fam.sequence)
    gb = memory_estimate_gb(L, history, fit_potts, symmetric=symmetric)
    if L > max_length:
        raise DataError(path, f"query length {L} is above the limit of {max_length} residues (about {gb:.1f} GiB "
                              f"for the Potts fit and pair features)",
                        hint="predict a domain (cut the alignment's columns), or raise max_length if the memory is there")
    if gb > max_memory_gb:
        raise DataError(path, f"query length {L} needs about {gb:.1f} GiB, above proteins.max_memory_gb = "
                              f"{max_memory_gb:g} (the Potts fit keeps {potts_copies(history, symmetric):g} copies of its "
                              f"(21 L)^2 = {(21 * L) ** 2 / 1e6:.0f} M couplings: L-BFGS history {history}, as the "
                              f"model was trained)",
                        hint="predict a domain (cut the alignment's columns), give an external --scores matrix "
                             "(no Potts fit), or raise proteins.max_memory_gb if the memory is there")


def network_probabilities(members: list[Any], features: Any, pos_weight: float = 1.0) -> Any:
    """(L, L) contact probabilities: the members' mean of ``sigmoid(logit - log(pos_weight))``.

    The network is trained with a binary cross-entropy whose contacts weigh ``pos_weight``
    times more; its minimiser then has odds ``pos_weight`` times the true ones, so
    subtracting ``log(pos_weight)`` from the logit gives back the probability the data
    support (the ranking of pairs, hence every CASP precision, is unchanged)."""
    import numpy as np
    import torch

    x = torch.as_tensor(features)[None]
    probs = []
    with torch.no_grad():
        for net in members:
            logits = net(x).squeeze(0).double().numpy() - np.log(pos_weight)
            probs.append(1.0 / (1.0 + np.exp(-logits)))
    return np.mean(probs, axis=0)


def model_cv_warning(meta: dict[str, Any], key: str = "long_L/5") -> str | None:
    """A warning when the model's own family-held-out CV (model.json ``cross_validation.mean``) put the
    network below the Potts fit it refines (``key`` precision): its RR then ranks contacts worse than
    the coevolution scores would, as a network trained on a handful of families can. None otherwise."""
    mean = (meta.get("cross_validation") or {}).get("mean") or {}
    net, potts = (mean.get("network") or {}).get(key), (mean.get("potts") or {}).get(key)
    if net is None or potts is None or net >= potts:
        return None
    n = len((meta.get("training") or {}).get("train_families") or [])
    return (f"this model's family-held-out cross-validation put the network below the Potts fit it refines "
            f"({key} {net:.3f} vs {potts:.3f}; trained on {n} families): its probabilities rank contacts worse "
            "than the coevolution scores would. Train it on more families, or use the packaged model")


def alignment_n_eff(X: Any, threshold: float = 0.8) -> float:
    """N_eff of encoded rows ``X`` (N, L): the sum of the sequence weights at ``threshold``
    identity, as the Potts fit computes it (1.0 for a single sequence)."""
    import numpy as np

    from sciml.proteins.alignments import sequence_weights

    X = np.asarray(X)
    if X.shape[0] < 2:
        return float(X.shape[0])
    return float(sequence_weights(X, threshold).cpu().numpy().astype(np.float64).sum())  # as potts.prepare


def predict_target(fam: Any, members: list[Any], meta: dict[str, Any], scores: Any = None,
                   log: Any = None) -> dict[str, Any]:
    """Coevolution channels, features and network probabilities of target ``fam`` (a
    :class:`~sciml.proteins.family.Family` from :func:`sciml.proteins.query.load_query`).

    ``scores``: an external (L, L) score matrix used as the Potts channel instead of the
    fit. A network of the ``scores`` feature set reads that matrix and the sequence only, so
    ``fam`` may then hold the query alone (an alignment given with it only gives the N_eff). Returns ``{"probs", "potts", "meanfield" (L, L, or
    None for a ``scores`` network given a matrix), "n_eff", "potts_source"}``.
    """
    import numpy as np

    from sciml.proteins import family as fam_io
    from sciml.proteins import meanfield
    from sciml.proteins.features import network_features
    from sciml.proteins.saved_model import feature_set

    spec, kind = meta["features"], feature_set(meta)
    # a model saved before potts.centered / potts.preconditioned / potts.symmetric existed was trained on
    # asymmetric fits in the plain coordinates with the identity start: refit the same way
    cfg = {"potts": {"centered": False, "preconditioned": False, "symmetric": False, **spec["potts"]},
           "meanfield": spec["meanfield"],
           "seed": spec["seed"]}
    if scores is None:
        res = fam_io.coevolution(fam, cfg, log=log)
        potts, n_eff, source = res["potts"], float(res["n_eff"]), "Potts fit (pseudo-likelihood, APC)"
    elif kind == "scores":  # the matrix and the sequence are all this network reads
        res = {"meanfield": None}
        potts, source = np.asarray(scores, dtype=float), "external score matrix"
        n_eff = alignment_n_eff(fam.X, float(cfg["potts"].get("identity_threshold", 0.8)))
    else:
        mf = cfg["meanfield"]
        m = meanfield.fit(fam.X, pseudocount=mf.get("pseudocount", 0.5), max_sequences=mf.get("max_sequences", 2000),
                          seed=cfg["seed"])
        res = {"meanfield": fam_io.to_chain(m["scores"], fam.res, len(fam.sequence))}
        potts, source = np.asarray(scores, dtype=float), "external score matrix"
        n_eff = float(m["n_eff"])
    profile = None if kind == "scores" else fam_io.profile_features(fam)
    feats = network_features(kind, fam.sequence, potts, profile, res["meanfield"])
    return {"probs": network_probabilities(members, feats, float(meta["training"].get("pos_weight", 1.0))), "potts": potts, "meanfield": res["meanfield"],
            "n_eff": n_eff, "potts_source": source}


def predict_sequence(fam: Any, members: list[Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Sequence-only model probabilities for the query of ``fam`` (no coevolution: its alignment,
    if any, is not read). Returns ``{"probs" (L, L), "n_eff": number of rows, "potts_source"}``."""
    from sciml.proteins.sequence_model import seq_features

    probs = network_probabilities(members, seq_features(fam.sequence), float(meta["training"].get("pos_weight", 1.0)))
    return {"probs": probs, "n_eff": float(fam.n_seqs), "potts_source": "none (sequence-only model)"}
