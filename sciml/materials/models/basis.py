"""Radial basis for edge lengths."""

from __future__ import annotations

import torch
from torch import nn


class GaussianBasis(nn.Module):
    """Gaussian expansion of distances: ``exp(-(d - mu_k)^2 / width^2)``, ``mu_k`` evenly on [start, stop] (A).

    CGCNN uses centres 0..8 A every 0.2 A (41 functions) with width 0.2 A. Input (E,), output (E, n).
    """

    def __init__(self, start: float = 0.0, stop: float = 8.0, num: int = 41, width: float | None = None):
        super().__init__()
        centers = torch.linspace(start, stop, num)
        self.register_buffer("centers", centers)
        self.width = float(width if width is not None else (stop - start) / max(num - 1, 1))

    def forward(self, distance: torch.Tensor) -> torch.Tensor:
        return torch.exp(-((distance.unsqueeze(-1) - self.centers) ** 2) / self.width**2)
