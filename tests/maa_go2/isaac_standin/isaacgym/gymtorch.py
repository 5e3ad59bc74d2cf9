"""Stand-in ``isaacgym.gymtorch``: torch views of simulation buffers and back."""
from __future__ import annotations

import torch
from isaacgym.gymapi import Tensor


def wrap_tensor(gym_tensor: Tensor) -> torch.Tensor:
    """The torch tensor sharing the buffer's memory (refreshes show up in it, writes do not reach the sim)."""
    if not isinstance(gym_tensor, Tensor):
        raise TypeError("wrap_tensor: expected a gymapi.Tensor")
    return gym_tensor.data


def unwrap_tensor(torch_tensor: torch.Tensor) -> Tensor:
    """A ``gymapi.Tensor`` handle on ``torch_tensor`` (must be contiguous: the real one passes its data pointer)."""
    if not isinstance(torch_tensor, torch.Tensor) or not torch_tensor.is_contiguous():
        raise ValueError("unwrap_tensor: expected a contiguous torch tensor")
    return Tensor(torch_tensor)
