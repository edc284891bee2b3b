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

#: Longest query predicted by default: the Potts couplings take (21 L)^2 floats and the pair
#: features 92 L^2 (L = 1000: 1.8 GB and 0.4 GB in float32). Raise ``max_length`` to go further.
MAX_LENGTH = 1000


def read_score_matrix(path: str | Path, length: int) -> Any:
    """An (L, L) coupling-score matrix written by another tool, NaN on the diagonal.

    Formats, told apart by their rows: a plain-text L x L matrix (CCMpred ``.mat``, GREMLIN),
    3 columns ``i j score`` (1-based) or plmc's 6 columns ``i A_i j A_j 0 score``; ``#``
    comments are skipped. Raises :class:`DataError` naming the file and line.
    """
    import numpy as np

    lines = [(k, ln.split()) for k, ln in enumerate(Path(path).read_text().splitlines(), start=1)
             if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise DataError(path, "empty score file")
    widths = {len(p) for _, p in lines}
    out = np.full((length, length), np.nan)
    try:
        if widths == {length} and len(lines) == length:
            out = np.array([[float(v) for v in p] for _, p in lines])
        elif widths <= {3, 6}:
            for k, p in lines:
                i, j, s = (int(p[0]), int(p[1]), float(p[2])) if len(p) == 3 else (int(p[0]), int(p[2]), float(p[5]))
                if not (1 <= i <= length and 1 <= j <= length):
                    raise DataError(path, f"residue index outside 1..{length} (the query length)", record=f"line {k}")
                out[i - 1, j - 1] = out[j - 1, i - 1] = s
        else:
            k, p = lines[0]
            raise DataError(path, f"not an {length} x {length} matrix nor an 'i j score' list: line {k} has {len(p)} "
                                  f"values and the file {len(lines)} rows", record=f"line {k}",
                            hint="the matrix must be for the query's residues (the alignment columns where it has no gap)")
    except ValueError as exc:
        raise DataError(path, f"not a number ({exc})") from None
    if not np.isfinite(out[~np.eye(length, dtype=bool)]).any():
        raise DataError(path, "no finite score")
    np.fill_diagonal(out, np.nan)
    return 0.5 * (out + out.T)


def check_length(fam: Any, path: str, max_length: int = MAX_LENGTH) -> None:
    """DataError before any fit when the query is longer than ``max_length`` residues."""
    L = len(fam.sequence)
    if L > max_length:
        gb = ((21 * L) ** 2 + 92 * L * L) * 4 / 2**30
        raise DataError(path, f"query length {L} is above the limit of {max_length} residues (about {gb:.1f} GB "
                              f"for the Potts couplings and pair features)",
                        hint="predict a domain (cut the alignment's columns), or raise max_length if the memory is there")


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


def predict_target(fam: Any, members: list[Any], meta: dict[str, Any], scores: Any = None,
                   log: Any = None) -> dict[str, Any]:
    """Coevolution channels, features and network probabilities of target ``fam`` (a
    :class:`~sciml.proteins.family.Family` from :func:`sciml.proteins.query.load_query`).

    ``scores``: an external (L, L) score matrix used as the Potts channel instead of the
    fit. A network of the ``scores`` feature set reads that matrix and the sequence only, so
    ``fam`` may then hold the query alone. Returns ``{"probs", "potts", "meanfield" (L, L, or
    None for a ``scores`` network given a matrix), "n_eff", "potts_source"}``.
    """
    import numpy as np

    from sciml.proteins import family as fam_io
    from sciml.proteins import meanfield
    from sciml.proteins.features import network_features
    from sciml.proteins.saved_model import feature_set

    spec, kind = meta["features"], feature_set(meta)
    cfg = {"potts": spec["potts"], "meanfield": spec["meanfield"], "seed": spec["seed"]}
    if scores is None:
        res = fam_io.coevolution(fam, cfg, log=log)
        potts, n_eff, source = res["potts"], float(res["n_eff"]), "Potts fit (pseudo-likelihood, APC)"
    elif kind == "scores":  # the matrix and the sequence are all this network reads
        res = {"meanfield": None}
        potts, source = np.asarray(scores, dtype=float), "external score matrix"
        n_eff = float(fam.n_seqs)
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
