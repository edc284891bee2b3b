"""Sequence-only contact network: trained on the cgdms chains (authors' 2004/200
train/val split), evaluated on the PSICOV150 natives, beside a separation-only baseline.

Input channels (45): one-hot amino acid of residue i (20) and j (20) and the five
separation features of :func:`sciml.proteins.features.separation_features`.
The baseline ranks pairs by the training-set contact frequency at each separation.
:func:`train_sequence_model` fits it (the ``train-sequence-model`` step saves it for
``predict``, which uses it for a query without homologues); :func:`train_and_evaluate`
is the PSICOV150 benchmark (``benchmarks/proteins/sequence_model.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

N_SEQ_CHANNELS = 45


def seq_features(seq: str) -> Any:
    """(45, L, L) float32 features of a bare sequence."""
    import numpy as np

    from sciml.proteins.features import separation_features, sequence_onehot

    L = len(seq)
    oh = sequence_onehot(seq).T
    return np.concatenate([np.broadcast_to(oh[:, :, None], (20, L, L)), np.broadcast_to(oh[:, None, :], (20, L, L)),
                           separation_features(L)]).astype(np.float32)


def load_cgdms_split(root: Path, split: str, limit: int | None = None) -> tuple[list[Any], list[str], dict[str, str]]:
    """(items, skipped reasons, ``{chain id: sequence}`` of the items) for the ids in
    ``cgdms/datasets/<split>.txt``; bad files are skipped."""
    from sciml.errors import DataError
    from sciml.proteins.cgdms import read_cgdms
    from sciml.proteins.lightning import make_item
    from sciml.proteins.structures import contact_map

    ids = [ln.strip() for ln in (root / "datasets" / f"{split}.txt").read_text().splitlines() if ln.strip()]
    items, skipped, sequences = [], [], {}
    for pid in ids[:limit]:
        try:
            ch = read_cgdms(root / "train_val" / f"{pid}.txt")
        except DataError as exc:
            skipped.append(f"{pid}: {exc}")
            continue
        items.append(make_item(seq_features(ch.sequence), contact_map(ch.cb)))
        sequences[pid] = ch.sequence
    return items, skipped, sequences


def separation_prior(items: list[Any], max_sep: int = 1000) -> Any:
    """Contact frequency per separation over training items (the baseline's score)."""
    import numpy as np

    hits = np.zeros(max_sep)
    tot = np.zeros(max_sep)
    for it in items:
        y = it["y"].numpy()
        L = y.shape[0]
        for s in range(1, L):
            d = np.diagonal(y, offset=s)
            hits[s] += d.sum()
            tot[s] += len(d)
    prior = np.where(tot > 0, hits / np.maximum(tot, 1), 0.0)
    last = np.nonzero(tot)[0].max()
    prior[last + 1:] = prior[last]
    return prior


#: Step name keying the sequence model's checkpoint folder under the checkpoint base.
CHECKPOINT_STEP = "proteins_sequence"
#: Data-manifest names of the training chains and the evaluation set.
CGDMS = "proteins/cgdms"
PSICOV150 = "proteins/psicov150"


def train_sequence_model(cfg: dict[str, Any], data_root: str | Path | None, out_dir: str | Path,
                         ckpt_root: str | Path, log: Any = print) -> dict[str, Any]:
    """Train on cgdms train, pick the best epoch on cgdms val.

    ``cfg`` is the proteins section (its ``sequence_model`` and ``seed``). Lightning logs go to
    ``out_dir/logs``, checkpoints under ``ckpt_root`` (keyed by the config; a rerun resumes).
    Returns ``{"fit": FitResult, "train": items, "n_train", "n_val", "skipped": [reasons],
    "sequences": {chain id: sequence} of the train and val chains, "split_files": [train.txt, val.txt paths]}``.
    """
    import hashlib
    import json

    from sciml.data import resolve
    from sciml.proteins.lightning import ContactDataModule, ContactLightning
    from sciml.proteins.train import checkpoint_config
    from sciml.training import TrainerSettings, ensemble_members, fit_best

    sm = cfg["sequence_model"]
    cgdms = resolve(CGDMS, data_root)
    train, sk1, train_seqs = load_cgdms_split(cgdms, "train", sm["max_train"])
    val, sk2, val_seqs = load_cgdms_split(cgdms, "val", sm.get("max_val"))
    log(f"cgdms: {len(train)} train, {len(val)} val chains; {len(sk1) + len(sk2)} skipped")
    settings = TrainerSettings.from_config({**sm, "log_every_n_steps": 50})
    data = hashlib.sha256(json.dumps([train_seqs, val_seqs], sort_keys=True).encode()).hexdigest()  # which chains
    key = checkpoint_config(cfg, "sequence_model", data)
    (member,) = ensemble_members(1, cfg["seed"], ckpt_root, CHECKPOINT_STEP, key, out_dir)
    fit = fit_best(lambda: ContactLightning(N_SEQ_CHANNELS, sm["channels"], sm["blocks"], sm["lr"]), settings,
                   seed=member.seed, log_dir=member.log_dir, ckpt_dir=member.checkpoint_dir,
                   datamodule=ContactDataModule(train, val, member.seed, num_workers=int(sm.get("num_workers", 0))))
    return {"fit": fit, "train": train, "n_train": len(train), "n_val": len(val), "skipped": sk1 + sk2,
            "sequences": {**train_seqs, **val_seqs},
            "split_files": [cgdms / "datasets" / "train.txt", cgdms / "datasets" / "val.txt"]}


def train_and_evaluate(cfg: dict[str, Any], data_root: str | Path | None, out_dir: str | Path,
                       ckpt_root: str | Path, log: Any = print) -> dict[str, Any]:
    """Train (:func:`train_sequence_model`), then score PSICOV150; return metrics.

    The data are found through the data resolver (manifest names :data:`CGDMS`,
    :data:`PSICOV150`, checksums verified). Returns the mean CASP precisions of the network
    and of the separation-only baseline (with ``psicov150.mean_counts``: per key, how many of the
    ``n`` proteins each mean covers), and per protein.
    """
    import numpy as np
    import torch

    from sciml.data import resolve
    from sciml.proteins.metrics import casp_precision, mean_counts, mean_metrics
    from sciml.proteins.structures import contact_map, read_structure

    pdir = resolve(PSICOV150, data_root) / "pdb_clean_chainA"
    res = train_sequence_model(cfg, data_root, out_dir, ckpt_root, log=log)
    fit, train = res["fit"], res["train"]
    module = fit.module
    prior = separation_prior(train)
    per_net, per_sep = {}, {}
    with torch.no_grad():
        for pdb in sorted(pdir.glob("*.pdb")):
            st = read_structure(pdb)
            native = contact_map(st.cb)
            L = st.length
            logits = module(torch.as_tensor(seq_features(st.sequence))[None]).squeeze(0).numpy().astype(np.float64)
            per_net[pdb.stem] = casp_precision(logits, native)
            sep = np.abs(np.arange(L)[:, None] - np.arange(L)[None, :])
            # baseline: prior by separation; ties broken by (i, j) order inside top_pairs
            per_sep[pdb.stem] = casp_precision(prior[np.minimum(sep, len(prior) - 1)], native)
    return {"n_train": res["n_train"], "n_val": res["n_val"], "skipped": res["skipped"], "epochs_run": fit.epochs_trained,
            "psicov150": {"n": len(per_net), "sequence_network": mean_metrics(list(per_net.values())),
                          "separation_baseline": mean_metrics(list(per_sep.values())),
                          # per key, how many of the n proteins each mean covers (a chain too short for a
                          # range has no precision there and drops out of that mean)
                          "mean_counts": {"sequence_network": mean_counts(list(per_net.values())),
                                          "separation_baseline": mean_counts(list(per_sep.values()))}},
            "per_protein": {"sequence_network": per_net, "separation_baseline": per_sep}}
