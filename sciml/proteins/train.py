"""Family-held-out cross-validation of the contact network.

Folds: families sorted by name, fold k tests families[k::folds]; the first
``network.val_families`` families of the next fold validate (best checkpoint by their
mean loss), the rest train. Each held-out family is predicted by the model that never
saw it, and scored beside the Potts and mean-field predictions of the same family.

With ``network.ensemble: N`` each fold trains N members and predicts the mean of their
contact probabilities (a seed ensemble). Member m is exactly the single-model run with
``seed + m``: same split, same seeds, same checkpoint folder, so an ensemble reuses the
checkpoints of single-seed runs made before it, and vice versa.
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


def member_config(cfg: dict[str, Any], member: int) -> dict[str, Any]:
    """The single-model config that ensemble member ``member`` trains as: ``seed + member``,
    no ``network.ensemble`` key (its checkpoint key is then that of the single-seed run)."""
    import copy

    out = copy.deepcopy(cfg)
    out["seed"] = cfg["seed"] + member
    out["network"].pop("ensemble", None)
    return out


def cross_validate(families: list[dict[str, Any]], cfg: dict[str, Any], out_dir: str | Path,
                   ckpt_root: str | Path, log: Any = print) -> dict[str, Any]:
    """Run the folds; return ``{"per_family": {name: {method: metrics}}, "folds": [...]}``.

    ``ckpt_root`` is the checkpoint base; each member's folder under it is keyed by the hash
    of its :func:`member_config`. With an ensemble, ``per_family[name]["network_members"]``
    holds each member's own metrics beside the ensemble's ``network``.
    """
    import numpy as np
    import torch

    from sciml.proteins.features import N_PAIR_CHANNELS
    from sciml.proteins.lightning import ContactDataModule, ContactLightning, make_item
    from sciml.proteins.metrics import evaluate
    from sciml.training import TrainerSettings, checkpoint_dir, fit_resumable, make_trainer, seed_everything

    net = cfg["network"]
    n_members = int(net.get("ensemble", 1))
    fams = sorted(families, key=lambda d: d["name"])
    n_folds = min(net["folds"], len(fams))
    if len(fams) < 3:
        raise ValueError("network cross-validation needs at least 3 families")
    items = {d["name"]: make_item(featurise(d), d["native"]) for d in fams}
    out_dir = Path(out_dir)
    per_family: dict[str, Any] = {}
    folds = []
    settings = TrainerSettings.from_config({"max_epochs": net["max_epochs"], "accelerator": net["accelerator"],
                                            "deterministic": net["deterministic"], "log_every_n_steps": 1})
    for k in range(n_folds):
        test, val, train = fold_split(fams, k, n_folds, net["val_families"])
        names_test = sorted(d["name"] for d in test)
        member_probs: dict[str, list[Any]] = {n: [] for n in names_test}
        member_recs = []
        for m in range(n_members):
            mcfg = member_config(cfg, m)
            ckpt = checkpoint_dir(ckpt_root, "proteins_network", mcfg) / f"fold{k}"
            log_dir = out_dir / f"fold{k}" if m == 0 else out_dir / "members" / f"member{m}" / f"fold{k}"
            seed_everything(mcfg["seed"] + k)
            module = ContactLightning(N_PAIR_CHANNELS, net["channels"], net["blocks"], net["lr"])
            dm = ContactDataModule([items[d["name"]] for d in train], [items[d["name"]] for d in val],
                                   seed=mcfg["seed"] + k)
            trainer = make_trainer(settings, log_dir, ckpt)
            best = fit_resumable(trainer, module, dm, ckpt)
            state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
            module.load_state_dict(state)
            module.eval()
            member_recs.append({"seed": mcfg["seed"], "epochs_run": int(trainer.current_epoch)})
            with torch.no_grad():
                for n in names_test:
                    logits = module(items[n]["x"][None]).squeeze(0).numpy().astype(np.float64)
                    member_probs[n].append(1.0 / (1.0 + np.exp(-logits)))
        fold_rec = {"fold": k, "test": names_test, "val": [d["name"] for d in val], "train": [d["name"] for d in train],
                    "epochs_run": member_recs[0]["epochs_run"]}
        if n_members > 1:
            fold_rec["members"] = member_recs
        for d in test:
            probs = member_probs[d["name"]]
            d["network"] = np.mean(probs, axis=0)  # ensemble: mean contact probability of the members
            rec = {m: evaluate(d[m], d["native"]) for m in ("network", "potts", "meanfield")}
            if n_members > 1:
                rec["network_members"] = [evaluate(p, d["native"]) for p in probs]
            per_family[d["name"]] = rec
        folds.append(fold_rec)
        log(f"fold {k}: test {names_test} " + ", ".join(
            f"{n} net {per_family[n]['network']['long_L/5']:.3f} potts {per_family[n]['potts']['long_L/5']:.3f}"
            for n in names_test))
    return {"per_family": per_family, "folds": folds}
