"""Family-held-out cross-validation of the contact network.

Folds: families sorted by name, fold k tests families[k::folds]; the first
``network.val_families`` families of the next fold validate (best checkpoint by their
mean loss), the rest train. Each held-out family is predicted by the model that never
saw it, and scored beside the Potts and mean-field precisions the coevolution step
computed for the same family (reused, not recomputed).

With ``network.ensemble: N`` each fold trains N members and predicts the mean of their
contact probabilities (a seed ensemble), following the one convention of
:func:`sciml.training.ensemble_members`: member m is exactly the single-model run with
``seed + m`` (fold k trains with seed ``seed + m + k``), on the same split and with the
same checkpoint folder, so an ensemble reuses the checkpoints of single-seed runs made
before it, and vice versa. Member 0 logs into ``<out>/fold<k>``, member m >= 1 into
``<out>/fold<k>/members/member_<m>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Step name keying the network's checkpoint folders under the checkpoint base.
CHECKPOINT_STEP = "proteins_network"
#: The methods scored per held-out family.
METHODS = ("network", "potts", "meanfield")


def featurise(d: dict[str, Any], kind: str = "alignment") -> Any:
    """(C, L, L) network input of a scored family for feature set ``kind`` (see :mod:`sciml.proteins.features`)."""
    from sciml.proteins.features import network_features

    return network_features(kind, d["sequence"], d["potts"], d["profile"], d["meanfield"])


class TooFewProteins(ValueError):
    """Every family is one protein: there is nothing to hold out (the step skips the network, saying why)."""


#: Families whose native sequences are at least this identical (over half the shorter) are one protein: the
#: cross-validation keeps them in one fold (two entries for one chain, 1guuA and PF00249's 1GUU, tested one
#: while training on the other).
SAME_PROTEIN_IDENTITY = 0.9


def fold_assignment(fams: list[Any], n_folds: int) -> tuple[list[int], list[list[str]]]:
    """The fold of each family of ``fams`` (sorted by name): ``i % n_folds``, except that the families of one
    protein (:data:`SAME_PROTEIN_IDENTITY`; local alignment of their sequences, as the structure mapping) all
    take the fold of the first of them, so that a family is never tested while its own protein trains. Where
    that would leave a fold without a test family, the groups are dealt round the folds in order instead.
    Returns (fold of each family, the groups of two or more names)."""
    from sciml.proteins.mapping import _aligner, _map_row

    aligner = _aligner()
    parent = list(range(len(fams)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    kmers = [{s[p:p + 3] for p in range(len(s) - 2)} for s in (d["sequence"] or "" for d in fams)]
    for i in range(len(fams)):
        for j in range(i + 1, len(fams)):
            a, b = fams[i]["sequence"], fams[j]["sequence"]
            # >= 90 % identity over half the shorter keeps most 3-mers; pairs sharing few are not aligned (1000
            # families: 500 000 alignments otherwise)
            if not a or not b or len(kmers[i] & kmers[j]) < 0.2 * (min(len(a), len(b)) - 2):
                continue
            _, identity, n = _map_row(aligner, a, b)
            if identity >= SAME_PROTEIN_IDENTITY and n >= 0.5 * min(len(a), len(b)):
                parent[root(j)] = root(i)
    fold_of = [i % n_folds for i in range(len(fams))]
    members: dict[int, list[int]] = {}
    for i in range(len(fams)):
        members.setdefault(root(i), []).append(i)
    for group in members.values():
        for i in group:
            fold_of[i] = fold_of[group[0]]
    if len(set(fold_of)) < n_folds:  # a fold emptied: deal the groups round the folds
        for k, first in enumerate(sorted(members)):
            for i in members[first]:
                fold_of[i] = k % n_folds
    groups = [[fams[i]["name"] for i in g] for g in members.values() if len(g) > 1]
    return fold_of, groups


def fold_split(fams: list[Any], k: int, n_folds: int, n_val: int,
               fold_of: list[int] | None = None) -> tuple[list[Any], list[Any], list[Any]]:
    """(test, val, train) of fold ``k``: test = the families of fold ``k`` (``fold_of``, default
    ``fams[k::n_folds]``); val = the first ``n_val`` of the next fold's test families; train = the rest
    (val doubles as train when nothing is left)."""
    fold_of = fold_of if fold_of is not None else [i % n_folds for i in range(len(fams))]
    test = [d for d, f in zip(fams, fold_of) if f == k]
    val = [d for d, f in zip(fams, fold_of) if f == (k + 1) % n_folds][:n_val]
    held = {id(d) for d in test + val}
    train = [d for d in fams if id(d) not in held]
    if not train:  # too few families to hold any out for validation: said in the log and the report section
        train, val = val, val
    return test, val, train


def checkpoint_config(cfg: dict[str, Any], part: str, data_sha256: str) -> dict[str, Any]:
    """What keys a member's checkpoints besides its seed: the section's ``part`` (``network`` or
    ``sequence_model``: the settings that change that training, not ``targets`` or ``threads``) and
    the digest of the data it trains on, so new data never resumes old weights
    (:func:`sciml.training.ensemble_members` drops ``ensemble`` and adds the member seed, so member m
    of a run with seed s shares its checkpoints with the single run of seed s + m)."""
    return {part: cfg[part], "data_sha256": data_sha256}


def families_digest(families: list[dict[str, Any]]) -> str:
    """sha256 over the scored families a network trains on (names, sequences and every array of their
    ``scores.npz``: native, Potts and mean-field scores, profile), in name order."""
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    for fam in sorted(families, key=lambda d: d["name"]):
        for key in sorted(k for k in fam if k != "metrics"):
            value = fam[key]
            h.update(key.encode())
            if isinstance(value, np.ndarray):
                h.update(str(value.dtype).encode() + str(value.shape).encode())
                h.update(np.ascontiguousarray(value).tobytes())
            else:
                h.update(str(value).encode())
    return h.hexdigest()


def cross_validate(families: list[dict[str, Any]], cfg: dict[str, Any], out_dir: str | Path,
                   ckpt_root: str | Path, log: Any = print) -> dict[str, Any]:
    """Run the folds; return ``{"per_family": {name: {method: metrics}}, "folds": [...], "is_global_zero",
    "calibration"}`` (calibration of the held-out probabilities: :mod:`sciml.proteins.calibration`).

    ``families``: dicts of :func:`sciml.proteins.family.read_scored_family` (scores plus the
    coevolution step's ``metrics``). ``ckpt_root`` is the checkpoint base (outside the step's
    outputs). With an ensemble, ``per_family[name]["network_members"]`` holds each member's own
    precisions beside the ensemble's ``network``, and each fold record lists its ``members``.
    ``is_global_zero`` is False on the other ranks of a multi-process (DDP) run, which train
    and predict too but must not write.
    """
    import numpy as np
    import torch

    from sciml.proteins.features import FEATURE_CHANNELS
    from sciml.proteins.lightning import ContactDataModule, ContactLightning, make_item
    from sciml.proteins.metrics import casp_precision
    from sciml.training import TrainerSettings, ensemble_members, fit_best

    net = cfg["network"]
    n_members = int(net.get("ensemble", 1))
    fams = sorted(families, key=lambda d: d["name"])
    n_folds = min(net["folds"], len(fams))
    if len(fams) < 3:
        raise ValueError("network cross-validation needs at least 3 families")
    kind = net.get("features", "alignment")
    items = {d["name"]: make_item(featurise(d, kind), d["native"]) for d in fams}
    out_dir = Path(out_dir)
    per_family: dict[str, Any] = {}
    folds = []
    is_global_zero = True
    settings = TrainerSettings.from_config({**net, "log_every_n_steps": 1})

    def make_module() -> Any:
        return ContactLightning(FEATURE_CHANNELS[kind], net["channels"], net["blocks"], net["lr"])

    held_out: list[tuple[Any, Any]] = []  # (probabilities, native) of each family, predicted held out
    ckpt_key = checkpoint_config(cfg, "network", families_digest(fams))
    if n_folds < net["folds"]:
        log(f"network.folds {net['folds']} capped at {n_folds}: one fold per family")
    fold_of, same_protein = fold_assignment(fams, n_folds)
    for group in same_protein:
        log(f"{', '.join(group)} are one protein (>= {SAME_PROTEIN_IDENTITY:.0%} identical): kept in one fold")
    if len(set(fold_of)) < 2:  # every family one protein: no fold could be held out
        raise TooFewProteins(f"network cross-validation needs at least 2 distinct proteins; the {len(fams)} families are "
                         f"one protein (>= {SAME_PROTEIN_IDENTITY:.0%} identical): {', '.join(d['name'] for d in fams)}")
    if len(set(fold_of)) < n_folds:  # fewer proteins than folds
        n_folds = len(set(fold_of))
        log(f"only {n_folds} distinct proteins: {n_folds} folds")
    if fold_of != [i % n_folds for i in range(len(fams))]:  # folds other than before: never resume their weights
        ckpt_key = {**ckpt_key, "fold_of": fold_of}
    for k in range(n_folds):
        test, val, train = fold_split(fams, k, n_folds, net["val_families"], fold_of)
        names_test = sorted(d["name"] for d in test)
        member_probs: dict[str, list[Any]] = {n: [] for n in names_test}
        member_recs = []
        members = ensemble_members(n_members, cfg["seed"], ckpt_root, CHECKPOINT_STEP, ckpt_key,
                                   out_dir / f"fold{k}")
        for member in members:
            seed = member.seed + k
            dm = ContactDataModule([items[d["name"]] for d in train], [items[d["name"]] for d in val], seed=seed,
                                   num_workers=int(net.get("num_workers", 0)))
            fit = fit_best(make_module, settings, seed=seed, log_dir=member.log_dir,
                           ckpt_dir=member.checkpoint_dir / f"fold{k}", datamodule=dm)
            member_recs.append({"seed": seed, "epochs_run": fit.epochs_trained})  # the seed it trained with
            is_global_zero = is_global_zero and fit.is_global_zero
            with torch.no_grad():
                for n in names_test:
                    logits = fit.module(items[n]["x"][None]).squeeze(0).numpy().astype(np.float64)
                    # the probability predict reports: without the log(pos_weight) bias of the
                    # weighted loss (sciml.proteins.predict.network_probabilities)
                    logits = logits - np.log(float(fit.module.hparams.pos_weight))
                    member_probs[n].append(1.0 / (1.0 + np.exp(-logits)))
        fold_rec = {"fold": k, "test": names_test, "val": [d["name"] for d in val], "train": [d["name"] for d in train],
                    "epochs_run": member_recs[0]["epochs_run"]}
        if n_members > 1:
            fold_rec["members"] = member_recs
        for d in test:
            probs = member_probs[d["name"]]
            # ensemble: mean contact probability of the members
            rec = {"network": casp_precision(np.mean(probs, axis=0), d["native"], d.get("positions")),
                   "potts": d["metrics"]["potts"], "meanfield": d["metrics"]["meanfield"]}
            if n_members > 1:
                rec["network_members"] = [casp_precision(p, d["native"], d.get("positions")) for p in probs]
            per_family[d["name"]] = rec
            held_out.append((np.mean(probs, axis=0), d["native"]))
        folds.append(fold_rec)
        if set(fold_rec["val"]) <= set(fold_rec["train"]):
            log(f"fold {k}: WARNING too few families to hold validation families out: the best epoch is picked on "
                f"{fold_rec['val']}, which it trains on")
        log(f"fold {k}: test {names_test} " + ", ".join(
            f"{n} net {per_family[n]['network']['long_L/5']:.3f} potts {per_family[n]['potts']['long_L/5']:.3f}"
            for n in names_test))
    from sciml.proteins.calibration import calibration

    return {"per_family": per_family, "folds": folds, "is_global_zero": is_global_zero,
            "calibration": calibration(held_out), "same_protein_groups": same_protein, "n_folds": n_folds}


def summarise(cv: dict[str, Any], n_members: int) -> dict[str, Any]:
    """``cv`` with ``mean`` (per method, over the held-out families) and, for an ensemble,
    ``member_means`` (each member's network precisions averaged over the families).

    ``mean_counts`` (and ``member_mean_counts``) say, per method and key, how many families each
    mean covers: a family with no scorable pair in a range (too short for long-range pairs) drops
    out of that range's means; ``mean_left_out`` names them per method and key (empty when none)."""
    from sciml.proteins.metrics import left_out, mean_counts, mean_metrics

    names = sorted(cv["per_family"])
    cv["mean"] = {m: mean_metrics([cv["per_family"][n][m] for n in names]) for m in METHODS}
    cv["mean_counts"] = {m: mean_counts([cv["per_family"][n][m] for n in names]) for m in METHODS}
    cv["mean_left_out"] = {m: lo for m in METHODS
                           if (lo := left_out({n: cv["per_family"][n][m] for n in names}))}
    if n_members > 1:
        cv["member_means"] = [mean_metrics([cv["per_family"][n]["network_members"][i] for n in names])
                              for i in range(n_members)]
        cv["member_mean_counts"] = [mean_counts([cv["per_family"][n]["network_members"][i] for n in names])
                                    for i in range(n_members)]
    return cv


#: Step name keying the checkpoints of the model trained on all families (``train-model``).
FINAL_CHECKPOINT_STEP = "proteins_network_final"


def final_split(fams: list[Any], n_val: int, n_folds: int | None = None) -> tuple[list[Any], list[Any]]:
    """(train, val) of the model trained on all families: the last ``n_val`` families by name
    pick the best epoch (the model's only choice), the others train; with too few families
    to spare any, every family does both.

    With ``n_folds`` (the CV's ``network.folds``), ``n_val`` is capped as the CV caps it: a fold's
    validation families come from one fold of ``len(fams) / min(n_folds, len(fams))`` families, so
    the saved model trains on as many families as the CV's fold models did, not fewer (4 families,
    ``val_families: 3``: the CV trains on 2 and validates on 1; uncapped, the final model trained on 1).
    """
    fams = sorted(fams, key=lambda d: d["name"])
    if n_folds:
        n_val = min(n_val, max(1, len(fams) // min(n_folds, len(fams))))
    if len(fams) <= n_val:
        return fams, fams
    return fams[:-n_val], fams[-n_val:]


def train_final(families: list[dict[str, Any]], cfg: dict[str, Any], log_dir: str | Path, ckpt_root: str | Path,
                log: Any = print) -> dict[str, Any]:
    """Train the network on all ``families`` (scored family dicts) with the CV's settings.

    Returns ``{"members": [ContactResNet, ...] (CPU, eval), "train": names, "val": names,
    "epochs_run": [...], "best_val_loss": [...], "is_global_zero": bool}``. Member m trains
    with seed ``seed + m`` (checkpoints keyed as in :func:`sciml.training.ensemble_members`).
    """
    from sciml.proteins.features import FEATURE_CHANNELS
    from sciml.proteins.lightning import ContactDataModule, ContactLightning, make_item
    from sciml.training import TrainerSettings, ensemble_members, fit_best

    net = cfg["network"]
    kind = net.get("features", "alignment")
    train, val = final_split(families, int(net["val_families"]), int(net["folds"]))
    items = {d["name"]: make_item(featurise(d, kind), d["native"]) for d in families}
    settings = TrainerSettings.from_config({**net, "log_every_n_steps": 1})
    out: dict[str, Any] = {"members": [], "train": [d["name"] for d in train], "val": [d["name"] for d in val],
                           "epochs_run": [], "best_val_loss": [], "is_global_zero": True, "pos_weight": None}
    for member in ensemble_members(int(net.get("ensemble", 1)), cfg["seed"], ckpt_root, FINAL_CHECKPOINT_STEP,
                                   checkpoint_config(cfg, "network", families_digest(families)), log_dir):
        dm = ContactDataModule([items[d["name"]] for d in train], [items[d["name"]] for d in val], seed=member.seed,
                               num_workers=int(net.get("num_workers", 0)))
        fit = fit_best(lambda: ContactLightning(FEATURE_CHANNELS[kind], net["channels"], net["blocks"], net["lr"]),
                       settings, seed=member.seed, log_dir=member.log_dir, ckpt_dir=member.checkpoint_dir, datamodule=dm)
        out["members"].append(fit.module.model.eval())
        out["pos_weight"] = float(fit.module.hparams.pos_weight)
        out["epochs_run"].append(fit.epochs_trained)
        out["best_val_loss"].append(None if fit.best_score is None else round(float(fit.best_score), 6))
        out["is_global_zero"] = out["is_global_zero"] and fit.is_global_zero
        log(f"member {member.index}: trained on {len(train)} families, validated on {out['val']}, "
            f"{fit.epochs_trained} epochs, best val loss {fit.best_score}")
    return out
