"""CASP-style contact evaluation and the CASP RR format.

Precision of the top L/5, L/2 and L predicted pairs (i < j) within a separation
range: short 6-11, medium 12-23, long >= 24 (|i - j|, in residues of the native).
Pairs whose native state is unknown (NaN, residue missing) are never counted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

RANGES: dict[str, tuple[int, int | None]] = {"short": (6, 11), "medium": (12, 23), "long": (24, None)}
TOPS: dict[str, int] = {"L/5": 5, "L/2": 2, "L": 1}
#: The RR line that says column 5 holds rescaled coevolution scores, not contact probabilities.
RESCALED_REMARK = ("REMARK column 5 is the coevolution score min-max rescaled to [0, 1] over the listed pairs "
                   "(a rank), not a contact probability")


def range_mask(L: int, lo: int, hi: int | None) -> Any:
    """Boolean (L, L) upper-triangle mask of pairs with lo <= j - i <= hi."""
    import numpy as np

    i, j = np.triu_indices(L, k=1)
    sep = j - i
    keep = (sep >= lo) & ((sep <= hi) if hi is not None else True)
    m = np.zeros((L, L), dtype=bool)
    m[i[keep], j[keep]] = True
    return m


def top_pairs(scores: Any, mask: Any, k: int) -> Any:
    """Indices (k', 2) of the k highest-scoring pairs within ``mask`` (ties: lower i, j first)."""
    import numpy as np

    i, j = np.nonzero(mask)
    s = scores[i, j]
    order = np.lexsort((j, i, -s))[:k]
    return np.stack([i[order], j[order]], axis=1)


def precision(scores: Any, native: Any, lo: int, hi: int | None, divisor: int, length: int | None = None) -> float:
    """Fraction of the top ``length // divisor`` (at least 1) pairs in range that are native contacts."""
    import numpy as np

    scores = np.asarray(scores, dtype=float)
    native = np.asarray(native, dtype=float)
    L = native.shape[0] if length is None else length
    mask = range_mask(native.shape[0], lo, hi) & ~np.isnan(native) & np.isfinite(scores)
    k = max(1, L // divisor)
    pairs = top_pairs(scores, mask, k)
    if len(pairs) == 0:
        return float("nan")
    return float(native[pairs[:, 0], pairs[:, 1]].mean())


def casp_precision(scores: Any, native: Any, positions: Any = None, length: int | None = None) -> dict[str, float | None]:
    """CASP contact precisions of one protein: the 9 keys ``"<range>_<top>"`` (e.g. ``"long_L/5"``).

    ``scores`` and ``native`` are (L, L); L = number of residues in ``native``. ``positions`` ((L,) int,
    increasing), when given, places those residues along the sequence (a structure with missing residues:
    :func:`sciml.proteins.structures.sequence_positions`): separations and L are then counted along it,
    the missing residues unscored; ``length`` is then the sequence's L when residues follow the last
    position (default: the last position + 1). Values are fractions in [0, 1] rounded to 6 decimals; None
    where a range has no scorable pair.
    """
    import numpy as np

    from sciml.rounding import round_fixed

    if positions is not None:
        pos = np.asarray(positions, dtype=np.int64)
        n = int(length) if length is not None else int(pos[-1]) + 1
        full_scores, full_native = np.full((n, n), np.nan), np.full((n, n), np.nan)
        full_scores[np.ix_(pos, pos)] = np.asarray(scores, dtype=float)
        full_native[np.ix_(pos, pos)] = np.asarray(native, dtype=float)
        scores, native = full_scores, full_native
    out = {}
    for rname, (lo, hi) in RANGES.items():
        for tname, div in TOPS.items():
            out[f"{rname}_{tname}"] = round_fixed(precision(scores, native, lo, hi, div))
    return out


def mean_metrics(per_protein: list[dict[str, float | None]]) -> dict[str, float | None]:
    """Mean of each key over proteins (skipping None/NaN), rounded to 6 decimals."""
    import warnings

    import numpy as np

    from sciml.rounding import round_fixed

    keys = sorted(per_protein[0]) if per_protein else []
    out = {}
    for k in keys:
        vals = np.array([np.nan if m[k] is None else m[k] for m in per_protein], dtype=float)
        with warnings.catch_warnings():  # all-NaN column: None, without numpy's warning
            warnings.simplefilter("ignore", RuntimeWarning)
            out[k] = round_fixed(float(np.nanmean(vals)))
    return out


def _has_value(v: float | None) -> bool:
    """Whether a precision is defined (not None, not NaN)."""
    return v is not None and v == v


def mean_counts(per_protein: list[dict[str, float | None]]) -> dict[str, int]:
    """How many proteins the mean of each key of :func:`mean_metrics` covers (values not None/NaN).

    A range with no scorable pair (a chain too short for long-range pairs) has no precision and
    drops out of that key's mean only: this says over how many proteins each mean really is."""
    keys = sorted(per_protein[0]) if per_protein else []
    return {k: sum(_has_value(m[k]) for m in per_protein) for k in keys}


def left_out(named: dict[str, dict[str, float | None]]) -> dict[str, list[str]]:
    """Per key, the names (in order) whose value is None/NaN, i.e. that :func:`mean_metrics` skipped;
    keys every protein has a value for are absent."""
    keys = sorted(next(iter(named.values()))) if named else []
    out = {k: [n for n, m in named.items() if not _has_value(m[k])] for k in keys}
    return {k: v for k, v in out.items() if v}


def symmetrize_apc(F: Any) -> Any:
    """Average product correction of a symmetric (L, L) score matrix (diagonal ignored)."""
    import numpy as np

    F = np.array(F, dtype=float)
    np.fill_diagonal(F, 0.0)
    L = F.shape[0]
    row = F.sum(1) / (L - 1)
    total = F.sum() / (L * (L - 1))
    out = F - np.outer(row, row) / total if total != 0 else F
    np.fill_diagonal(out, 0.0)
    return out


def write_casp_rr(path: str | Path, sequence: str, scores: Any, target: str = "T0000", min_sep: int = 6,
                  max_pairs: int | None = None, author: str = "sciml", probabilities: bool = False,
                  numbering: Any = None) -> Path:
    """CASP RR (``PFRMAT RR``): pairs ``i j 0 8 p`` (1-based) sorted by score, p in [0, 1].

    ``probabilities``: ``scores`` are contact probabilities (a network's sigmoid output) and
    are written as they are. Otherwise (coevolution scores, which are not probabilities) they
    are min-max scaled to [0, 1] over the listed pairs, as RR needs values in [0, 1]; such a
    value is a rank, not a probability, and a ``REMARK`` line (:data:`RESCALED_REMARK`) says so.

    ``numbering``: for each row of ``scores``, the 1-based residue number written for it, when
    ``sequence`` is longer than the scored residues (a query with residues in insert states);
    pairs are still chosen at ``|i-j| >= min_sep`` in the scored residues. Default 1..L.
    """
    import numpy as np

    from sciml.io import write_text_atomic

    L = len(sequence) if numbering is None else len(numbering)
    numbers = np.arange(1, L + 1) if numbering is None else np.asarray(numbering, dtype=np.int64)
    mask = range_mask(L, min_sep, None) & np.isfinite(scores)
    pairs = top_pairs(np.asarray(scores, dtype=float), mask, int(mask.sum()) if max_pairs is None else max_pairs)
    vals = np.asarray([scores[i, j] for i, j in pairs], dtype=float)
    if probabilities:
        if len(vals) and (vals.min() < 0.0 or vals.max() > 1.0):
            raise ValueError(f"contact probabilities outside [0, 1] (min {vals.min()}, max {vals.max()})")
        prob = vals
    else:
        lo, hi = (vals.min(), vals.max()) if len(vals) else (0.0, 1.0)
        prob = (vals - lo) / (hi - lo) if hi > lo else np.ones_like(vals)
    lines = ["PFRMAT RR", f"TARGET {target}", f"AUTHOR {author}"]
    if not probabilities:  # say it in the file: a reader would take column 5 for a probability
        lines.append(RESCALED_REMARK)
    lines += ["METHOD sciml contact prediction", "MODEL  1"]
    lines += [sequence[k:k + 50] for k in range(0, len(sequence), 50)]
    lines += [f"{numbers[i]} {numbers[j]} 0 8 {p:.5f}" for (i, j), p in zip(pairs, prob)]
    lines += ["END", ""]
    return write_text_atomic(path, "\n".join(lines))


def read_casp_rr(path: str | Path, length: int) -> Any:
    """Read RR contact lines ``i j [d1 d2] p`` (1-based) into a symmetric (L, L) score matrix (NaN elsewhere)."""
    import numpy as np

    from sciml.errors import DataError

    out = np.full((length, length), np.nan)
    for ln, raw in enumerate(Path(path).read_text().splitlines(), start=1):
        parts = raw.split()
        if not parts or not parts[0].isdigit():
            continue
        try:
            i, j, p = int(parts[0]) - 1, int(parts[1]) - 1, float(parts[-1])
        except (ValueError, IndexError):
            raise DataError(path, "bad contact line (expected 'i j [d1 d2] p')", record=f"line {ln}") from None
        if not (0 <= i < length and 0 <= j < length):
            raise DataError(path, f"residue index outside 1..{length}", record=f"line {ln}")
        out[i, j] = out[j, i] = p
    return out
