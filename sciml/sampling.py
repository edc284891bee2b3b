"""A training sampler that shuffles per epoch reproducibly and shards itself across DDP ranks.

``ShardedSampler(n, seed=None)`` is a :class:`torch.utils.data.Sampler` over ``range(n)``.
``seed=None``: fixed order 0..n-1; else a fresh permutation each epoch from
``seed * 100003 + epoch`` (Lightning calls ``set_epoch`` at every epoch start, also after a
resume, so a resumed run sees the same batches). Under DDP (the process group exists by the
time Lightning sizes and iterates the loader) rank r of W takes ``order[r::W]`` after padding
``order`` with its first elements to a multiple of W (as ``torch.utils.data.DistributedSampler``
does), so step k of all ranks together covers exactly the global batch a single process with
W times the per-device batch size sees at step k. On one process it yields exactly ``order``.

Hand-written rather than ``DistributedSampler``: that one needs the process group at
construction (the loaders are built before ``trainer.fit`` starts DDP), and Lightning's
``DistributedSamplerWrapper`` around a custom sampler does not pass the epoch on to it, so the
batch order would repeat every epoch. The Trainer therefore runs with
``use_distributed_sampler=False`` (see :func:`sciml.training.make_trainer`).

Imports torch at module level: only the Lightning modules (which import torch anyway) use it.
"""

from __future__ import annotations

import math

import torch


def dist_rank_world() -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised torch process group, else ``(0, 1)``."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class ShardedSampler(torch.utils.data.Sampler):
    """Per-epoch reproducible shuffling, sharded by DDP rank (see the module docstring)."""

    def __init__(self, n: int, seed: int | None = None):
        self.n = int(n)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def order(self) -> list[int]:
        """This epoch's order over all ranks (before sharding)."""
        if self.seed is None:
            return list(range(self.n))
        g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        return torch.randperm(self.n, generator=g).tolist()

    def __len__(self) -> int:
        _, world = dist_rank_world()
        return math.ceil(self.n / world) if world > 1 else self.n

    def __iter__(self):
        order = self.order()
        rank, world = dist_rank_world()
        if world > 1 and order:
            total = math.ceil(len(order) / world) * world
            order = (order * math.ceil(total / len(order)))[:total][rank::world]
        return iter(order)
