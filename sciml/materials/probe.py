"""Linear probing before fine-tuning (LP-FT; Kumar et al., ICLR 2022) for the pretrained CHGNet model.

Fine-tuning a pretrained backbone under a randomly initialised head sends the head's large early
gradients into the pretrained layers and distorts the features before the head is any good. LP-FT
first fits the new head alone on the frozen backbone's features (computed once, so this costs
seconds), picks its epoch on the validation rows, and starts fine-tuning from that head.
``model.chgnet.probe.epochs: 0`` (the default) leaves the head random, as before.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable


def probe_epochs(cfg: dict[str, Any]) -> int:
    """Epochs of the head-only fit a materials config asks for (0 when off or when the backbone is frozen anyway)."""
    model = cfg["model"]
    if model["name"] != "chgnet" or model["chgnet"]["freeze"] == "head":
        return 0
    return int(model["chgnet"].get("probe", {}).get("epochs", 0))


def probe_head(cfg: dict[str, Any], table: Any, split: dict[str, Any], loader: Callable[..., Any],
               target_mean: float, target_std: float, seed: int, work_dir: str | Path) -> dict[str, Any]:
    """Fit the new head alone on the frozen CHGNet features of ``split["fit"]`` (best epoch by the
    validation loss on ``split["val"]``) and return its ``state_dict`` for the fine-tuned model's head.

    ``target_mean``/``target_std`` are the fine-tuned module's normalisation (of log(y) with
    ``train.log_target``), so the head's output means the same in both fits. Checkpoints and logs go
    under ``work_dir``; ``table`` is not modified (the features live on a shallow copy)."""
    from sciml.materials.chgnet_data import attach_frozen_features
    from sciml.materials.lightning import CrystalRegressor
    from sciml.materials.models import build_model, model_kwargs
    from sciml.training import TrainerSettings, fit_best

    tcfg = cfg["train"]
    probe = cfg["model"]["chgnet"]["probe"]
    frozen = {**model_kwargs(cfg, 0), "freeze": "head"}
    with_features = dataclasses.replace(table)
    attach_frozen_features(with_features, build_model("chgnet", **frozen))
    epochs = int(probe["epochs"])

    def make_module() -> CrystalRegressor:
        return CrystalRegressor(model_name="chgnet", model_kwargs=frozen, target_mean=target_mean, target_std=target_std,
                                lr=float(probe["lr"]), weight_decay=tcfg["weight_decay"], loss=tcfg["loss"],
                                scheduler=tcfg["scheduler"], max_epochs=epochs, log_target=bool(tcfg["log_target"]))

    settings = TrainerSettings.from_config({**tcfg, "max_epochs": epochs, "monitor": "val_loss", "patience": None})
    bs = int(tcfg["batch_size"])
    work = Path(work_dir)
    fit = fit_best(make_module, settings, seed=seed, log_dir=work / "logs", ckpt_dir=work / "ckpt",
                   train_dataloaders=loader(with_features, split["fit"], bs, seed),
                   val_dataloaders=loader(with_features, split["val"], bs))
    return {k: v.detach().clone() for k, v in fit.module.model.head.state_dict().items()}
