"""Linear probing before fine-tuning (LP-FT; Kumar et al., ICLR 2022) for the pretrained CHGNet model.

Fine-tuning a pretrained backbone under a randomly initialised head sends the head's large early
gradients into the pretrained layers and distorts the features before the head is any good. LP-FT
first fits the new head alone on the frozen backbone's features (computed once, so this costs
seconds), picks its epoch on the validation rows, and starts fine-tuning from that head.
``model.chgnet.probe.epochs: 0`` (the default) leaves the head random, as before.
:func:`frozen_feature_table` also serves ``freeze: head``, where the head is all that trains.
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


def _frozen_kwargs(cfg: dict[str, Any]) -> dict[str, Any]:
    from sciml.materials.models import model_kwargs

    return {**model_kwargs(cfg, 0), "freeze": "head"}


def frozen_feature_table(cfg: dict[str, Any], table: Any, cache_dir: str | Path | None = None) -> Any:
    """A shallow copy of the CHGNet ``table`` carrying the frozen backbone's features of every record
    (computed once per dataset, shared by every fold and ensemble member, cached in ``cache_dir`` for the
    other fold jobs); ``table`` is not modified, so fine-tuning on it still runs on graphs."""
    from sciml.materials.chgnet_data import attach_frozen_features
    from sciml.materials.models import build_model

    return attach_frozen_features(dataclasses.replace(table),
                                  build_model("chgnet", **_frozen_kwargs(cfg)), cache_dir=cache_dir)


def probe_head(cfg: dict[str, Any], feature_table: Any, split: dict[str, Any], loader: Callable[..., Any],
               target_mean: float, target_std: float, seed: int, work_dir: str | Path) -> dict[str, Any]:
    """Fit the new head alone on the frozen CHGNet features (``feature_table``, from
    :func:`frozen_feature_table`) of ``split["fit"]`` (best epoch by the validation loss on
    ``split["val"]``) and return its ``state_dict`` for the fine-tuned model's head.

    ``target_mean``/``target_std`` are the fine-tuned module's normalisation (of log(y) with
    ``train.log_target``), so the head's output means the same in both fits. Checkpoints and logs go
    under ``work_dir``."""
    from sciml.materials.dataset import is_classification
    from sciml.materials.lightning import CrystalRegressor, class_pos_weight
    from sciml.training import TrainerSettings, fit_best

    tcfg = cfg["train"]
    probe = cfg["model"]["chgnet"]["probe"]
    frozen = _frozen_kwargs(cfg)
    epochs = int(probe["epochs"])
    classification = is_classification(cfg["dataset"])
    pos_weight = None
    if classification and tcfg["class_weight"] == "balanced":  # the fine-tuning's weighting, for the probe too
        pos_weight = class_pos_weight(feature_table.y.numpy()[split["fit"]].astype(float))

    def make_module() -> CrystalRegressor:
        return CrystalRegressor(model_name="chgnet", model_kwargs=frozen, target_mean=target_mean, target_std=target_std,
                                lr=float(probe["lr"]), weight_decay=tcfg["weight_decay"], loss=tcfg["loss"],
                                scheduler=tcfg["scheduler"], max_epochs=epochs, log_target=bool(tcfg["log_target"]),
                                task=cfg["dataset"].get("task", "regression"), pos_weight=pos_weight)

    settings = TrainerSettings.from_config({**tcfg, "max_epochs": epochs, "monitor": "val_loss", "patience": None})
    bs = int(tcfg["batch_size"])
    work = Path(work_dir)
    fit = fit_best(make_module, settings, seed=seed, log_dir=work / "logs", ckpt_dir=work / "ckpt",
                   train_dataloaders=loader(feature_table, split["fit"], bs, seed),
                   val_dataloaders=loader(feature_table, split["val"], bs))
    return {k: v.detach().clone() for k, v in fit.module.model.head.state_dict().items()}
