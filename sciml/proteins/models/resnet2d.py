"""2D residual CNN for contact maps (DeepCov/RaptorX-style, small).

Input (B, C_in, L, L) pair features -> (B, L, L) symmetric contact logits.
"""

from __future__ import annotations

import torch
from torch import nn


class ResBlock2d(nn.Module):
    """conv3x3(dilation) - InstanceNorm - ELU - conv3x3 - InstanceNorm, plus identity."""

    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation),
            nn.InstanceNorm2d(channels, affine=True),
            nn.ELU(),
            nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation),
            nn.InstanceNorm2d(channels, affine=True),
        )
        self.act = nn.ELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.net(x))


class ContactResNet(nn.Module):
    """1x1 projection, ``blocks`` residual blocks (dilations 1, 2, 4 cycling), 1x1 head, symmetrised."""

    def __init__(self, in_channels: int, channels: int = 24, blocks: int = 4):
        super().__init__()
        self.inp = nn.Sequential(nn.Conv2d(in_channels, channels, 1), nn.ELU())
        self.blocks = nn.Sequential(*[ResBlock2d(channels, (1, 2, 4)[k % 3]) for k in range(blocks)])
        self.head = nn.Conv2d(channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.head(self.blocks(self.inp(x))).squeeze(1)
        return 0.5 * (y + y.transpose(-1, -2))
