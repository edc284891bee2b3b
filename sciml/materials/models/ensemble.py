"""Mean of several trained models of the same kind (a seed ensemble)."""

from __future__ import annotations

import torch
from torch import nn


class EnsembleMean(nn.Module):
    """Averages the (normalised) outputs of ``members``; returns (B,) like each member.

    All members of one fold share the training-fold target normalisation, so the mean
    of their normalised outputs decodes to the mean prediction (the geometric mean
    when the model was trained on log(target)).
    """

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("EnsembleMean needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, data) -> torch.Tensor:
        return member_outputs(self, data).mean(dim=0)


def member_outputs(model: nn.Module, data) -> torch.Tensor:
    """(M, B) normalised outputs of each member of ``model`` (an :class:`EnsembleMean`, or a
    single model: M = 1)."""
    if isinstance(model, EnsembleMean):
        return torch.stack([m(data) for m in model.members], dim=0)
    return model(data)[None]


def ensemble_size(model: nn.Module) -> int:
    """How many members ``model`` averages (1 for a single model)."""
    return len(model.members) if isinstance(model, EnsembleMean) else 1
