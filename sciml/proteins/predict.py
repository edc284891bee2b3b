"""Contact probabilities of a prediction target from a saved network.

The coevolution channels are made exactly as for the training families (the Potts and
mean-field settings recorded in ``model.json``), or the Potts channel comes from an
external L x L score matrix (CCMpred/GREMLIN/plmc output); the network's sigmoid output,
averaged over the ensemble members, is the contact probability (not rescaled).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sciml.errors import DataError

#: Longest query predicted by default. Raise ``max_length`` to go further; memory is checked too.
MAX_LENGTH = 1000
#: Memory a prediction may plan to use by default, GiB (``proteins.max_memory_gb``).
MAX_MEMORY_GB = 8.0


def read_score_matrix(path: str | Path, length: int, sequence: str | None = None,
                      alignment_columns: Any = None, alignment_length: int | None = None,
                      notes: list[str] | None = None) -> Any:
    """An (L, L) coupling-score matrix written by another tool, NaN on the diagonal.

    Formats, told apart by their rows: a plain-text L x L matrix (CCMpred ``.mat``, GREMLIN;
    commas accepted as separators), 3 columns ``i j score`` (1-based) or plmc's 6 columns
    ``i A_i j A_j 0 score``; ``#`` comments and a UTF-8 byte-order mark are skipped.

    - A square matrix over all ``alignment_length`` columns of the alignment (CCMpred run on the
      whole alignment, query-gap columns included) is cut to the query's ``alignment_columns``.
    - plmc numbers residues from the focus sequence's start (``>ID/start-end``): with ``sequence``
      given, its residue letters are checked against the query, and a constant offset that makes
      them all agree is applied.

    What was adapted is appended to ``notes``. Raises :class:`DataError` naming the file and line.
    """
    import numpy as np

    notes = [] if notes is None else notes
    lines = [(k, ln.replace(",", " ").split()) for k, ln in
             enumerate(Path(path).read_text(encoding="utf-8-sig").splitlines(), start=1)
             if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise DataError(path, "empty score file")
    widths = {len(p) for _, p in lines}
    n = len(lines)
    try:
        if widths == {n} and n in (length, alignment_length):
            out = np.array([[float(v) for v in p] for _, p in lines])
            if n != length:  # over the whole alignment: keep the columns where the query has a residue
                cols = np.asarray(alignment_columns, dtype=np.int64)
                out = out[np.ix_(cols, cols)]
                notes.append(f"the score matrix covers all {n} alignment columns: the {length} columns where the "
                             "query has a residue were taken")
        elif widths == {3} or (widths == {6} and all(p[1].isalpha() and p[3].isalpha() for _, p in lines)):
            out = _score_list(path, lines, length, sequence, notes)
        else:
            k, p = lines[0]
            sizes = f"{length} x {length} (the query's residues)" + (
                f" or {alignment_length} x {alignment_length} (every alignment column)"
                if alignment_length not in (None, length) else "")
            raise DataError(path, f"not a {sizes} matrix nor an 'i j score' list: line {k} has {len(p)} "
                                  f"values and the file {n} rows", record=f"line {k}",
                            hint="the matrix must be for the query's residues (the alignment columns where it has no gap)")
    except ValueError as exc:
        raise DataError(path, f"not a number ({exc})") from None
    if not np.isfinite(out[~np.eye(length, dtype=bool)]).any():
        raise DataError(path, "no finite score")
    np.fill_diagonal(out, np.nan)
    return 0.5 * (out + out.T)


def _score_list(path: str | Path, lines: list[tuple[int, list[str]]], length: int, sequence: str | None,
                notes: list[str]) -> Any:
    """The (L, L) matrix of an ``i j score`` or plmc ``i A_i j A_j 0 score`` list (see
    :func:`read_score_matrix`), numbered from 1 or, for plmc, from a start its letters reveal."""
    import numpy as np

    rows = [(k, int(p[0]), int(p[1]), None, None, float(p[2])) if len(p) == 3
            else (k, int(p[0]), int(p[2]), p[1], p[3], float(p[5])) for k, p in lines]
    lowest = min(min(i, j) for _, i, j, *_ in rows)

    def fits(offset: int) -> tuple[int, str] | None:
        """None when every pair lies in 1..L after ``offset`` with matching letters; else (line, why)."""
        for k, i, j, ai, aj, _ in rows:
            for pos, letter in ((i - offset, ai), (j - offset, aj)):
                if not 1 <= pos <= length:
                    return k, f"residue index {pos + offset} outside {1 + offset}..{length + offset}"
                if sequence is not None and letter not in (None, "-", ".") and letter.upper() != sequence[pos - 1]:
                    return k, (f"residue {pos + offset} is {letter!r} in the file but {sequence[pos - 1]!r} in the "
                               f"query (position {pos})")
        return None

    problem = fits(0)
    offset = 0
    if problem is not None and lowest > 1 and any(r[3] is not None for r in rows) and fits(lowest - 1) is None:
        offset = lowest - 1  # plmc: numbered from the focus sequence's start
        notes.append(f"the score list numbers residues from {lowest} (plmc's focus-sequence start): shifted by "
                     f"{offset} onto the query, its residue letters agree")
    elif problem is not None:
        k, why = problem
        raise DataError(path, f"{why} (the query has {length} residues)", record=f"line {k}",
                        hint="the list must number the query's residues from 1 (plmc: its focus sequence must "
                             "be the query)")
    out = np.full((length, length), np.nan)
    for _, i, j, _, _, score in rows:
        out[i - offset - 1, j - offset - 1] = out[j - offset - 1, i - offset - 1] = score
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
