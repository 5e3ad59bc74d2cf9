"""Torch execution of a :class:`~maa_core.layout.PolicyLayout` (single or batched)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from maa_core.layout import LayoutError, PolicyLayout

_ACT = {"relu": nn.ReLU, "elu": nn.ELU, "tanh": nn.Tanh, "identity": nn.Identity}


class PolicyMLP(nn.Module):
    """``nn.Module`` whose state_dict names match ``layout.param_shapes()`` exactly."""

    def __init__(self, layout: PolicyLayout):
        super().__init__()
        self.layout = layout
        self.layers = nn.ModuleList(nn.Linear(n, o) for o, n in layout.layer_shapes())
        self.acts = nn.ModuleList(_ACT[a]() for a in layout.layer_activations())

    def raw(self, obs: torch.Tensor) -> torch.Tensor:
        """``[..., obs_dim]`` -> raw last-layer output ``[..., output_dim]``."""
        x = obs
        for layer, act in zip(self.layers, self.acts):
            x = act(layer(x))
        return x

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Deterministic action ``[..., action_dim]``."""
        return self.layout.output_to_action(self.raw(obs))

    def load_flat(self, flat: np.ndarray | torch.Tensor) -> PolicyMLP:
        arr = flat.detach().cpu().numpy() if isinstance(flat, torch.Tensor) else flat
        params = self.layout.unflatten(arr)
        self.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in params.items()})
        return self

    def flat(self) -> np.ndarray:
        return self.layout.flatten(self.state_dict())


def batched_forward(layout: PolicyLayout, flat: torch.Tensor, obs: torch.Tensor, raw: bool = False) -> torch.Tensor:
    """Run K policies at once.

    Args:
        flat: ``[K, P]`` parameters.
        obs: ``[K, B, obs_dim]`` observations (one batch per policy).
        raw: return the raw last-layer output instead of the deterministic action.
    Returns:
        ``[K, B, action_dim]`` (or ``[K, B, output_dim]`` if ``raw``).
    """
    if flat.ndim != 2 or flat.shape[1] != layout.num_params:
        raise LayoutError(f"expected parameters [K, {layout.num_params}], got {list(flat.shape)}")
    if obs.ndim != 3 or obs.shape[0] != flat.shape[0] or obs.shape[2] != layout.obs_dim:
        raise LayoutError(f"expected observations [{flat.shape[0]}, B, {layout.obs_dim}], got {list(obs.shape)}")
    x = obs
    acts = layout.layer_activations()
    for i, ((o, n), sl) in enumerate(zip(layout.layer_shapes(), layout.layer_slices())):
        chunk = flat[:, sl]
        w = chunk[:, : o * n].reshape(-1, o, n)
        b = chunk[:, o * n:].reshape(-1, 1, o)
        x = torch.baddbmm(b, x, w.transpose(1, 2))
        if acts[i] == "relu":
            x = torch.relu(x)
        elif acts[i] == "elu":
            x = torch.nn.functional.elu(x)
        elif acts[i] == "tanh":
            x = torch.tanh(x)
    return x if raw else layout.output_to_action(x)
