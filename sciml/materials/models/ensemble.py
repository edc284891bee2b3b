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
        return torch.stack([m(data) for m in self.members], dim=0).mean(dim=0)
