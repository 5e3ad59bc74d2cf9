"""Stand-in ``isaacgym.torch_utils`` (the helpers legged_gym imports with ``*``); quaternions are (x, y, z, w)."""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["get_axis_params", "quat_apply", "quat_rotate_inverse", "to_torch", "torch_rand_float"]


def to_torch(x, dtype=torch.float, device="cuda:0", requires_grad=False) -> torch.Tensor:
    return torch.tensor(x, dtype=dtype, device=device, requires_grad=requires_grad)


def get_axis_params(value, axis_idx, x_value=0.0, dtype=np.float32, n_dims=3) -> list:
    """A vector with ``value`` on axis ``axis_idx`` (and ``x_value`` on x)."""
    out = np.zeros(n_dims, dtype=dtype)
    out[axis_idx] = value
    out[0] = x_value if axis_idx != 0 else value
    return list(out)


def quat_apply(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate ``v [..., 3]`` by unit quaternions ``q [..., 4]``."""
    shape = v.shape
    q, v = q.reshape(-1, 4), v.reshape(-1, 3)
    t = 2.0 * torch.cross(q[:, :3], v, dim=-1)
    return (v + q[:, 3:] * t + torch.cross(q[:, :3], t, dim=-1)).view(shape)


def quat_rotate_inverse(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate ``v [N, 3]`` by the inverse of ``q [N, 4]``."""
    conj = torch.cat([-q[:, :3], q[:, 3:]], dim=-1)
    return quat_apply(conj, v)


def torch_rand_float(lower: float, upper: float, shape, device) -> torch.Tensor:
    return (upper - lower) * torch.rand(*shape, device=device) + lower
