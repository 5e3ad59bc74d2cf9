"""Tiny numpy/torch dispatch so the shared WTW logic runs on numpy arrays (MuJoCo, deploy) and torch tensors
(Isaac Gym) alike."""
from __future__ import annotations

import numpy as np


def xp_of(x):
    """Return ``numpy`` or ``torch`` depending on the array type of ``x``."""
    if isinstance(x, np.ndarray) or np.isscalar(x):
        return np
    import torch

    if isinstance(x, torch.Tensor):
        return torch
    raise TypeError(f"expected a numpy array or torch tensor, got {type(x).__name__}")


def like(x, values):
    """``values`` (numpy) as the same array type / device / dtype as ``x``."""
    xp = xp_of(x)
    if xp is np:
        return np.asarray(values, dtype=x.dtype)
    return xp.as_tensor(np.asarray(values), dtype=x.dtype, device=x.device)


def cat(parts, axis=-1):
    xp = xp_of(parts[0])
    return np.concatenate(parts, axis=axis) if xp is np else xp.cat(parts, dim=axis)
