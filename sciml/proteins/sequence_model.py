"""Sequence-only contact network: trained on the cgdms chains (authors' 2004/200
train/val split), evaluated on the PSICOV150 natives, beside a separation-only baseline.

Input channels (45): one-hot amino acid of residue i (20) and j (20) and the five
separation features of :func:`sciml.proteins.features.separation_features`.
The baseline ranks pairs by the training-set contact frequency at each separation.
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


def load_cgdms_split(root: Path, split: str, limit: int | None = None) -> tuple[list[Any], list[str]]:
    """(items, skipped reasons) for the ids in ``cgdms/datasets/<split>.txt``; bad files are skipped."""
    from sciml.errors import DataError
    from sciml.proteins.cgdms import read_cgdms
    from sciml.proteins.lightning import make_item
    from sciml.proteins.structures import contact_map

    ids = [ln.strip() for ln in (root / "datasets" / f"{split}.txt").read_text().splitlines() if ln.strip()]
    items, skipped = [], []
    for pid in ids[:limit]:
        try:
            ch = read_cgdms(root / "train_val" / f"{pid}.txt")
        except DataError as exc:
            skipped.append(f"{pid}: {exc}")
            continue
        items.append(make_item(seq_features(ch.sequence), contact_map(ch.cb)))
    return items, skipped


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


def train_and_evaluate(cfg: dict[str, Any], data_root: Path, out_dir: Path, ckpt_dir: Path, log: Any = print) -> dict[str, Any]:
    """Train on cgdms train, early-stop on cgdms val, evaluate on PSICOV150; return metrics."""
    import numpy as np
    import torch

    from sciml.proteins.lightning import ContactDataModule, ContactLightning
    from sciml.proteins.metrics import evaluate, mean_metrics
    from sciml.proteins.structures import contact_map, read_structure
    from sciml.training import TrainerSettings, fit_resumable, make_trainer, seed_everything

    sm = cfg["sequence_model"]
    root = data_root / "proteins" / "cgdms"
    train, sk1 = load_cgdms_split(root, "train", sm["max_train"])
    val, sk2 = load_cgdms_split(root, "val")
    log(f"cgdms: {len(train)} train, {len(val)} val chains; {len(sk1) + len(sk2)} skipped")
    seed_everything(cfg["seed"])
    module = ContactLightning(N_SEQ_CHANNELS, sm["channels"], sm["blocks"], sm["lr"])
    settings = TrainerSettings.from_config({"max_epochs": sm["max_epochs"], "accelerator": sm["accelerator"],
                                            "deterministic": True, "log_every_n_steps": 50})
    trainer = make_trainer(settings, out_dir, ckpt_dir)
    best = fit_resumable(trainer, module, ContactDataModule(train, val, cfg["seed"]), ckpt_dir)
    module.load_state_dict(torch.load(best, map_location="cpu", weights_only=True)["state_dict"])
    module.eval()
    prior = separation_prior(train)
    per_net, per_sep = {}, {}
    pdir = data_root / "proteins" / "psicov150" / "pdb_clean_chainA"
    with torch.no_grad():
        for pdb in sorted(pdir.glob("*.pdb")):
            st = read_structure(pdb)
            native = contact_map(st.cb)
            L = st.length
            logits = module(torch.as_tensor(seq_features(st.sequence))[None]).squeeze(0).numpy().astype(np.float64)
            per_net[pdb.stem] = evaluate(logits, native)
            sep = np.abs(np.arange(L)[:, None] - np.arange(L)[None, :])
            # baseline: prior by separation; ties broken by (i, j) order inside top_pairs
            per_sep[pdb.stem] = evaluate(prior[np.minimum(sep, len(prior) - 1)], native)
    return {"n_train": len(train), "n_val": len(val), "skipped": sk1 + sk2, "epochs_run": int(trainer.current_epoch),
            "psicov150": {"n": len(per_net), "sequence_network": mean_metrics(list(per_net.values())),
                          "separation_baseline": mean_metrics(list(per_sep.values()))},
            "per_protein": {"sequence_network": per_net, "separation_baseline": per_sep}}
