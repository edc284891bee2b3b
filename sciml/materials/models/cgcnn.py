"""CGCNN (Xie & Grossman, Phys. Rev. Lett. 120, 145301 (2018)), following the authors' code.

Convolution (their ``ConvLayer``): for each edge ``z_ij = [v_i, v_j, u_ij]``;
``g = BN(W z_ij + b)`` split into filter and core; ``m_i = BN(sum_j sigmoid(filter) *
softplus(core))``; ``v_i' = softplus(v_i + m_i)``. Readout: mean pooling, softplus, dense
(``h_fea_len``), ``n_h`` hidden softplus layers, linear output. Defaults are the paper's
(atom_fea_len 64, 3 convolutions, h_fea_len 128, 1 hidden layer, Gaussian basis 0-8 A
step 0.2). One deliberate difference: atoms enter through a learned embedding of Z
instead of the 92-bit one-hot element-property table (that table ships as a data file
with the original code; a learned embedding is what later CGCNN reimplementations use).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from sciml.materials.models.basis import GaussianBasis


class CGConvLayer(nn.Module):
    """One CGCNN convolution on node features (N, F) with expanded edges (E, B)."""

    def __init__(self, atom_fea_len: int, nbr_fea_len: int):
        super().__init__()
        self.fc_full = nn.Linear(2 * atom_fea_len + nbr_fea_len, 2 * atom_fea_len)
        self.bn1 = nn.BatchNorm1d(2 * atom_fea_len)
        self.bn2 = nn.BatchNorm1d(atom_fea_len)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor) -> torch.Tensor:
        src, dst = edge_index
        gated = self.bn1(self.fc_full(torch.cat([x[dst], x[src], edge_attr], dim=-1)))
        filt, core = gated.chunk(2, dim=-1)
        msg = torch.sigmoid(filt) * F.softplus(core)
        agg = torch.zeros_like(x).index_add_(0, dst, msg.to(x.dtype))
        return F.softplus(x + self.bn2(agg))


class CGCNN(nn.Module):
    """Crystal Graph Convolutional Neural Network; returns one value per graph (B,)."""

    def __init__(self, atom_fea_len: int = 64, n_conv: int = 3, h_fea_len: int = 128, n_h: int = 1,
                 num_basis: int = 41, cutoff: float = 8.0, max_z: int = 100):
        super().__init__()
        self.embedding = nn.Embedding(max_z + 1, atom_fea_len)
        self.basis = GaussianBasis(0.0, cutoff, num_basis)
        self.convs = nn.ModuleList([CGConvLayer(atom_fea_len, num_basis) for _ in range(n_conv)])
        self.conv_to_fc = nn.Linear(atom_fea_len, h_fea_len)
        self.fcs = nn.ModuleList([nn.Linear(h_fea_len, h_fea_len) for _ in range(n_h - 1)])
        self.fc_out = nn.Linear(h_fea_len, 1)

    def forward(self, data) -> torch.Tensor:
        x = self.embedding(data.z)
        edge_attr = self.basis(data.distance)
        for conv in self.convs:
            x = conv(x, data.edge_index, edge_attr)
        n_graphs = int(data.num_graphs)
        pooled = torch.zeros(n_graphs, x.shape[-1], dtype=x.dtype, device=x.device).index_add_(0, data.batch, x)
        counts = torch.bincount(data.batch, minlength=n_graphs).clamp(min=1).to(x.dtype).unsqueeze(-1)
        h = F.softplus(self.conv_to_fc(F.softplus(pooled / counts)))
        for fc in self.fcs:
            h = F.softplus(fc(h))
        return self.fc_out(h).squeeze(-1)
