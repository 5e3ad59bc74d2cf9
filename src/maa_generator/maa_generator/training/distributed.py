"""Minimal torch.distributed helpers for ``torchrun`` / DDP training (single process when not launched so).

``init_distributed`` reads the standard ``torchrun`` environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``). Data parallelism uses rank-sharded batch indices (every rank draws the same
global batch from a shared seed and takes rows ``rank::world_size``); only rank 0 writes files.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class DistInfo:
    """Process-group facts. ``device`` is the torch device this rank trains on."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str = "cpu", backend: str | None = None) -> DistInfo:
    """Join the process group described by the environment (no-op without ``WORLD_SIZE`` > 1).

    Args:
        device: ``cpu`` or ``cuda``; with ``cuda`` each rank uses ``cuda:LOCAL_RANK``.
        backend: default ``nccl`` for CUDA, ``gloo`` for CPU.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError("--device cuda requested but torch.cuda.is_available() is False")
        dev = torch.device("cuda", local if world > 1 else (torch.device(device).index or 0))
        torch.cuda.set_device(dev)
    elif device == "cpu":
        dev = torch.device("cpu")
    else:
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend or ("nccl" if dev.type == "cuda" else "gloo"), rank=rank, world_size=world)
    return DistInfo(rank=rank, world_size=world, local_rank=local, device=dev)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


class LossModule(nn.Module):
    """Wraps ``fn(inner, *batch) -> (loss, metrics)`` as ``forward`` so DDP can synchronize its gradients."""

    def __init__(self, inner: nn.Module, fn: Callable):
        super().__init__()
        self.inner = inner
        self.fn = fn

    def forward(self, *batch):
        return self.fn(self.inner, *batch)


def wrap(module: LossModule, info: DistInfo) -> nn.Module:
    """DDP-wrap a :class:`LossModule` when running distributed, else return it unchanged."""
    if not info.enabled:
        return module
    ids = [info.device.index] if info.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def shard_rows(rows: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """This rank's share ``rows[rank::world_size]`` of a global batch."""
    return rows[info.rank::info.world_size] if info.enabled else rows


def all_mean(value: float, info: DistInfo) -> float:
    """Mean of a scalar over ranks."""
    if not info.enabled:
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / info.world_size


@torch.no_grad()
def check_in_sync(module: nn.Module, info: DistInfo, what: str = "model") -> float:
    """Raise if the trainable parameters differ across ranks (gradient sync broken); returns the checksum."""
    total = sum(float(p.detach().double().sum()) for p in module.parameters() if p.requires_grad)
    if info.enabled:
        t = torch.tensor([total, total], dtype=torch.float64)
        lo, hi = t.clone(), t.clone()
        dist.all_reduce(lo, op=dist.ReduceOp.MIN)
        dist.all_reduce(hi, op=dist.ReduceOp.MAX)
        if abs(float(hi[0]) - float(lo[0])) > 1e-6 * max(1.0, abs(total)):
            raise RuntimeError(f"{what}: parameters differ across ranks (checksum {float(lo[0])} .. {float(hi[0])})")
    return total
