"""Family-held-out cross-validation of the contact network.

Folds: families sorted by name, fold k tests families[k::folds]; the first
``network.val_families`` families of the next fold validate (best checkpoint by their
mean loss), the rest train. Each held-out family is predicted by the model that never
saw it, and scored beside the Potts and mean-field predictions of the same family.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_scores(path: str | Path) -> dict[str, Any] | None:
    """A family's ``scores.npz`` from the coevolution step (None if it was skipped)."""
    import numpy as np

    with np.load(path, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    if "skipped" in data:
        return None
    data["name"] = str(data["name"])
    data["sequence"] = str(data["sequence"])
    return data


def featurise(d: dict[str, Any]) -> Any:
    from sciml.proteins.features import pair_features

    return pair_features(d["sequence"], d["profile"], d["potts"], d["meanfield"])


def fold_split(fams: list[Any], k: int, n_folds: int, n_val: int) -> tuple[list[Any], list[Any], list[Any]]:
    """(test, val, train) of fold ``k``: test = fams[k::n_folds]; val = the first ``n_val`` of
    the next fold's test families; train = the rest (val doubles as train when nothing is left)."""
    test = fams[k::n_folds]
    val = fams[(k + 1) % n_folds::n_folds][:n_val]
    held = {id(d) for d in test + val}
    train = [d for d in fams if id(d) not in held]
    if not train:  # too few families to hold any out for validation
        train, val = val, val
    return test, val, train


def cross_validate(families: list[dict[str, Any]], cfg: dict[str, Any], out_dir: str | Path,
                   ckpt_base: str | Path, log: Any = print) -> dict[str, Any]:
    """Run the folds; return ``{"per_family": {name: {method: metrics}}, "folds": [...]}``."""
    import numpy as np
    import torch

    from sciml.proteins.features import N_PAIR_CHANNELS
    from sciml.proteins.lightning import ContactDataModule, ContactLightning, make_item
    from sciml.proteins.metrics import evaluate
    from sciml.training import TrainerSettings, fit_resumable, make_trainer, seed_everything

    net = cfg["network"]
    fams = sorted(families, key=lambda d: d["name"])
    n_folds = min(net["folds"], len(fams))
    if len(fams) < 3:
        raise ValueError("network cross-validation needs at least 3 families")
    items = {d["name"]: make_item(featurise(d), d["native"]) for d in fams}
    out_dir, ckpt_base = Path(out_dir), Path(ckpt_base)
    per_family: dict[str, Any] = {}
    folds = []
    settings = TrainerSettings.from_config({"max_epochs": net["max_epochs"], "accelerator": net["accelerator"],
                                            "deterministic": net["deterministic"], "log_every_n_steps": 1})
    for k in range(n_folds):
        test, val, train = fold_split(fams, k, n_folds, net["val_families"])
        names_test = {d["name"] for d in test}
        seed_everything(cfg["seed"] + k)
        module = ContactLightning(N_PAIR_CHANNELS, net["channels"], net["blocks"], net["lr"])
        dm = ContactDataModule([items[d["name"]] for d in train], [items[d["name"]] for d in val], seed=cfg["seed"] + k)
        trainer = make_trainer(settings, out_dir / f"fold{k}", ckpt_base / f"fold{k}")
        best = fit_resumable(trainer, module, dm, ckpt_base / f"fold{k}")
        state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
        module.eval()
        fold_rec = {"fold": k, "test": sorted(names_test), "val": [d["name"] for d in val], "train": [d["name"] for d in train],
                    "epochs_run": int(trainer.current_epoch)}
        with torch.no_grad():
            for d in test:
                logits = module(items[d["name"]]["x"][None]).squeeze(0).numpy().astype(np.float64)
                pred = 1.0 / (1.0 + np.exp(-logits))
                d["network"] = pred
                per_family[d["name"]] = {m: evaluate(d[m], d["native"]) for m in ("network", "potts", "meanfield")}
        folds.append(fold_rec)
        log(f"fold {k}: test {sorted(names_test)} " + ", ".join(
            f"{n} net {per_family[n]['network']['long_L/5']:.3f} potts {per_family[n]['potts']['long_L/5']:.3f}"
            for n in sorted(names_test)))
    return {"per_family": per_family, "folds": folds}
