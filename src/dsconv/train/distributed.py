"""``torch.distributed`` set-up for ``fit``: DDP over gloo (CPU) or NCCL (GPUs), launched by ``torchrun``.

``torchrun`` sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``; with
``WORLD_SIZE`` > 1 ``fit`` joins the process group, wraps the model in ``DistributedDataParallel``,
shards the training set with ``DistributedSampler`` and logs and checkpoints on rank 0 only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass
class DistContext:
    """Where this process sits in the run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: Any = None
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        """True on the process that logs and writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when more than one process trains."""
        return self.world_size > 1


def setup(device: str = "auto") -> DistContext:
    """Join the process group when launched by ``torchrun`` with ``WORLD_SIZE`` > 1; pick the device.

    Args:
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    """
    import torch
    import torch.distributed as dist

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("`device` must be available. Received device='cuda' on a machine without CUDA")
    torch_device = torch.device(f"cuda:{local_rank}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(torch_device)
    owns_group = False
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        owns_group = True
    if dist.is_initialized():
        rank, world_size = dist.get_rank(), dist.get_world_size()
    return DistContext(rank, world_size, local_rank, torch_device, owns_group)


def all_reduce_sum(ctx: DistContext, values: list[float]) -> list[float]:
    """Sum ``values`` over all processes (identity when not distributed)."""
    if not ctx.distributed:
        return values
    import torch
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.float64, device=ctx.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def barrier(ctx: DistContext) -> None:
    """Wait for every process (no-op when not distributed)."""
    if ctx.distributed:
        import torch.distributed as dist

        dist.barrier()


def teardown(ctx: DistContext) -> None:
    """Leave the process group if ``setup`` created it (after collecting garbage, so that no cycle still holds a
    ``DistributedDataParallel`` wrapper, and through it the group, into interpreter shutdown)."""
    if ctx.owns_group:
        import gc

        import torch.distributed as dist

        gc.collect()
        dist.destroy_process_group()
