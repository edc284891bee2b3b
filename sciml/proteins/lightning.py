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
    """Train/val proteins already featurised (no preparation step needed).

    ``num_workers`` loading processes per loader (0 = in the main process).
    """

    def __init__(self, train: list[dict[str, Any]], val: list[dict[str, Any]], seed: int = 0, num_workers: int = 0):
        super().__init__()
        self.train_items, self.val_items, self.seed = train, val, seed
        self.num_workers = int(num_workers)

    def _loader(self, items: list[dict[str, Any]], sampler: Any = None) -> DataLoader:
        return DataLoader(ContactDataset(items), batch_size=1, sampler=sampler, shuffle=False, collate_fn=_collate,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        # fixed order (no shuffle): a run resumed from last.ckpt then sees exactly the
        # batches an uninterrupted run would, so the final metrics are identical. Under DDP
        # rank r of W trains on proteins r, r+W, ... (the Trainer runs with
        # use_distributed_sampler=False, see sciml.training.make_trainer).
        from sciml.sampling import ShardedSampler

        return self._loader(self.train_items, ShardedSampler(len(self.train_items)))

    def val_dataloader(self) -> DataLoader:
        # not sharded: every rank scores every validation protein, so the (synced) val_loss
        # that picks the best checkpoint is the whole validation set's
        return self._loader(self.val_items)


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
        self.log("train_loss", loss, on_epoch=True, on_step=False, batch_size=1, sync_dist=True)
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        # every rank scores the whole validation set (unsharded loader); sync_dist makes ranks
        # agree on the logged value, so checkpointing and early stopping decide alike
        self.log("val_loss", self._loss(batch), on_epoch=True, batch_size=1, sync_dist=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
