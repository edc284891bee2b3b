"""Lightning wrapper and data module for the contact network (one protein per batch)."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, Dataset

from sciml.proteins.models.resnet2d import ContactResNet

MIN_SEP = 6


class ContactDataset(Dataset):
    """Items: dict(x=(C, L, L) float32, y=(L, L) float32 contacts, m=(L, L) bool loss mask)."""

    def __init__(self, items: list[dict[str, Any]]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, k: int) -> dict[str, Any]:
        return self.items[k]


def make_item(features: Any, native: Any) -> dict[str, Any]:
    """Tensors for one protein; the mask keeps pairs with |i-j| >= 6 and a known native."""
    import numpy as np

    L = native.shape[0]
    sep = np.abs(np.arange(L)[:, None] - np.arange(L)[None, :])
    known = np.isfinite(native)
    return {"x": torch.as_tensor(features), "y": torch.as_tensor(np.nan_to_num(native, nan=0.0), dtype=torch.float32),
            "m": torch.as_tensor(known & (sep >= MIN_SEP))}


def _collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(batch) == 1, "one protein per batch (variable L)"
    return {k: v[None] for k, v in batch[0].items()}


class ContactDataModule(pl.LightningDataModule):
    """Train/val proteins already featurised (no preparation step needed)."""

    def __init__(self, train: list[dict[str, Any]], val: list[dict[str, Any]], seed: int = 0):
        super().__init__()
        self.train_items, self.val_items, self.seed = train, val, seed

    def train_dataloader(self) -> DataLoader:
        # fixed order (no shuffle): a run resumed from last.ckpt then sees exactly the
        # batches an uninterrupted run would, so the final metrics are identical
        return DataLoader(ContactDataset(self.train_items), batch_size=1, shuffle=False, collate_fn=_collate)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(ContactDataset(self.val_items), batch_size=1, shuffle=False, collate_fn=_collate)


class ContactLightning(pl.LightningModule):
    """Binary cross-entropy on masked pairs; positive class up-weighted by ``pos_weight``."""

    def __init__(self, in_channels: int, channels: int = 24, blocks: int = 4, lr: float = 2e-3, pos_weight: float = 5.0):
        super().__init__()
        self.save_hyperparameters()
        self.model = ContactResNet(in_channels, channels, blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _loss(self, batch: dict[str, Any]) -> torch.Tensor:
        logits = self(batch["x"])
        m = batch["m"]
        pw = torch.tensor(self.hparams.pos_weight, device=logits.device)
        return torch.nn.functional.binary_cross_entropy_with_logits(logits[m], batch["y"][m], pos_weight=pw)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.log("train_loss", loss, on_epoch=True, on_step=False, batch_size=1)
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        # sync_dist: under DDP every rank checkpoints on the same (all-rank mean) validation loss
        self.log("val_loss", self._loss(batch), on_epoch=True, batch_size=1, sync_dist=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
