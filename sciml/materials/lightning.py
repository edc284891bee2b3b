"""The LightningModule wrapping any crystal model, and a resumable, rank-sharded shuffling sampler.

``CrystalRegressor`` (regression, or binary classification with ``task``) normalises the target with the
training-fold mean/std, trains with
AdamW under a one-cycle / cosine / constant LR schedule, and logs ``train_loss``,
``val_loss`` (normalised units) and ``val_mae`` (target units) per epoch.
"""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.nn import functional as F

from sciml.materials.models import build_model
from sciml.materials.saved_model import transformed_range
from sciml.sampling import ShardedSampler


#: Shuffles with ``seed + epoch`` (a run resumed from a checkpoint sees the same batches) and
#: shards itself across DDP ranks: ``EpochSeededSampler(n, seed)``, see :mod:`sciml.sampling`.
EpochSeededSampler = ShardedSampler


class CrystalRegressor(pl.LightningModule):
    """Regression of one scalar per crystal with target normalisation.

    ``target_mean``/``target_std`` come from the training fold only (of ``log(y)`` when
    ``log_target``); the wrapped ``self.model`` predicts normalised values and
    :meth:`predict_values` returns target units. ``log_target`` suits positive,
    long-tailed targets: with the L1 loss the model still estimates the conditional
    median (the median commutes with a monotone map), which is what MAE rewards.

    ``target_range`` ((low, high), target units; ``train.clip_predictions``): predictions are clipped to it,
    the fit rows' range, so a head on ``log(y)`` cannot extrapolate exponentially for an input beyond those it
    was fitted on. The loss is unchanged (it sees the unclipped output, which still has a gradient).

    ``task="classification"`` (binary labels 0/1): the model's output is a logit, trained with binary
    cross-entropy (``loss`` is not used, ``target_mean``/``target_std`` must be 0/1: no normalisation), and
    :meth:`predict_values` returns the probability of class 1. ``pos_weight`` (``train.class_weight:
    balanced``: n_negative / n_positive of the fit rows) weighs the positive records' loss terms.
    """

    def __init__(self, model_name: str, model_kwargs: dict[str, Any], target_mean: float, target_std: float,
                 lr: float = 1e-3, weight_decay: float = 1e-5, loss: str = "l1", scheduler: str = "onecycle",
                 max_epochs: int = 100, steps_per_epoch: int = 1, log_target: bool = False,
                 target_range: tuple[float, float] | None = None, task: str = "regression",
                 pos_weight: float | None = None):
        if task not in ("regression", "classification"):
            raise ValueError(f"unknown task {task!r} (regression, classification)")
        if task == "classification" and (log_target or target_range is not None):
            raise ValueError("a classification model takes no log_target or target_range")
        super().__init__()
        self.save_hyperparameters()
        self.model = build_model(model_name, **model_kwargs)
        self.register_buffer("t_mean", torch.tensor(float(target_mean)))
        self.register_buffer("t_std", torch.tensor(float(target_std) if target_std > 0 else 1.0))

    def forward(self, batch) -> torch.Tensor:
        return self.model(batch)

    def encode(self, y: torch.Tensor) -> torch.Tensor:
        """Target units -> normalised model output space."""
        y = torch.log(y) if self.hparams.log_target else y
        return (y - self.t_mean) / self.t_std

    @property
    def is_classifier(self) -> bool:
        return self.hparams.get("task", "regression") == "classification"

    def decode(self, out: torch.Tensor) -> torch.Tensor:
        """Normalised model output -> target units (a classifier: the probability of class 1)."""
        if self.is_classifier:
            return torch.sigmoid(out.float())
        v = out.float() * self.t_std + self.t_mean
        bounds = transformed_range(self.hparams.get("target_range"), bool(self.hparams.log_target))
        if bounds is not None:
            v = v.clamp(*bounds)
        return torch.exp(v) if self.hparams.log_target else v

    def predict_values(self, batch) -> torch.Tensor:
        """Predictions in target units, shape (B,)."""
        return self.decode(self.model(batch))

    def _loss(self, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.is_classifier:
            weight = self.hparams.get("pos_weight")
            return F.binary_cross_entropy_with_logits(
                pred.float(), y.float(), pos_weight=None if weight is None else torch.tensor(float(weight)))
        target = self.encode(y)
        if self.hparams.loss == "l1":
            return F.l1_loss(pred.float(), target)
        if self.hparams.loss == "mse":
            return F.mse_loss(pred.float(), target)
        return F.smooth_l1_loss(pred.float(), target, beta=0.5)

    def training_step(self, batch, batch_idx):
        loss = self._loss(self(batch), batch.y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=int(batch.num_graphs), sync_dist=True)
        return loss

    def validation_step(self, batch, batch_idx):
        pred = self(batch)
        loss = self._loss(pred, batch.y)
        mae = (self.decode(pred) - batch.y).abs().mean()
        n = int(batch.num_graphs)
        # Every rank scores the whole validation set (its loader is not sharded, see
        # sciml.training.make_trainer); sync_dist makes ranks agree on the logged value, so the
        # best checkpoint and early stopping decide alike on every rank (a no-op on one process).
        self.log("val_loss", loss, on_step=False, on_epoch=True, batch_size=n, prog_bar=True, sync_dist=True)
        # (a classifier's val_mae is the mean |probability - label|)
        self.log("val_mae", mae, on_step=False, on_epoch=True, batch_size=n, sync_dist=True)

    def _total_steps(self) -> int:
        """Optimizer steps of the whole fit: ``trainer.estimated_stepping_batches`` when attached."""
        trainer = self._trainer
        if trainer is not None:
            est = trainer.estimated_stepping_batches
            if est is not None and math.isfinite(est):
                return max(1, int(est))
        return max(1, int(self.hparams.max_epochs) * max(1, int(self.hparams.steps_per_epoch)))

    def configure_optimizers(self):
        hp = self.hparams
        max_lr: float | list[float] = hp.lr
        if hasattr(self.model, "param_groups"):
            # layer-wise learning rates of a pretrained model (frozen parameters are left out)
            groups = self.model.param_groups(hp.lr)
            opt = torch.optim.AdamW(groups, lr=hp.lr, weight_decay=hp.weight_decay)
            max_lr = [g["lr"] for g in groups]
        else:
            opt = torch.optim.AdamW(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        if hp.scheduler == "onecycle":
            # Sized from the trainer: under DDP each rank takes ceil(n / W / batch) steps per
            # epoch, so len(train)/batch would leave the schedule part-way and never anneal.
            # (On one process this equals max_epochs * ceil(n / batch): the same schedule.)
            # ``steps_per_epoch`` is used only without a trainer (a bare module).
            total = self._total_steps()
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=total, pct_start=0.1)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
        if hp.scheduler == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, hp.max_epochs))
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
        return opt


def class_pos_weight(y_fit: np.ndarray) -> float:
    """``train.class_weight: balanced``: n_negative / n_positive of the fit rows' labels (the BCE's
    ``pos_weight``, which makes the two classes weigh alike)."""
    n_pos = float((y_fit == 1).sum())
    return float((y_fit == 0).sum()) / n_pos if n_pos else 1.0


def predict_loader(model: CrystalRegressor, loader: Any, device: str = "cpu") -> np.ndarray:
    """Predictions (target units, float64, shape (n,)) of a ``CrystalRegressor`` over a loader, in loader order."""
    model.eval()
    out = []
    with torch.inference_mode():
        for batch in loader:
            out.append(model.predict_values(batch.to(device)).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)
