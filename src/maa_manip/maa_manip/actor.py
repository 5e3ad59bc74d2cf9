"""Gaussian tanh-squashed actor helpers shared by the SAC and DAgger collectors.

The actor is a :class:`maa_core.layout.PolicyLayout` with ``output="gaussian_tanh"``: the last layer emits
``[mean (a), log_std (a)]``; the deterministic action is ``tanh(mean)``, a stochastic one is
``tanh(mean + exp(log_std) * eps)`` with ``log_std`` clamped to ``layout.log_std_bounds``.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from maa_core.layout import PolicyLayout
from maa_core.policy_torch import PolicyMLP, batched_forward


def split_raw(layout: PolicyLayout, raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw output ``[..., 2a]`` -> ``(mean [..., a], log_std [..., a])`` (log_std clamped to the layout bounds)."""
    a = layout.action_dim
    lo, hi = layout.log_std_bounds
    return raw[..., :a], raw[..., a:].clamp(lo, hi)


def sample_tanh_gaussian(mean: torch.Tensor, log_std: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Reparameterized sample -> ``(action [..., a] in (-1, 1), log_prob [...])`` with the tanh correction."""
    std = log_std.exp()
    eps = torch.randn_like(mean)
    pre = mean + std * eps
    act = torch.tanh(pre)
    logp = (-0.5 * eps.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
    logp = logp - (2.0 * (math.log(2.0) - pre - torch.nn.functional.softplus(-2.0 * pre))).sum(-1)
    return act, logp


def new_actor(layout: PolicyLayout, seed: int) -> PolicyMLP:
    """Freshly initialized actor (PyTorch default Linear init) from a fixed seed."""
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(int(seed))
    net = PolicyMLP(layout)
    torch.random.set_rng_state(gen_state)
    return net


@torch.no_grad()
def act_deterministic(net: PolicyMLP, obs: np.ndarray) -> np.ndarray:
    """``obs [E, o]`` -> ``tanh(mean)`` ``[E, a]`` float32."""
    return net(torch.as_tensor(obs, dtype=torch.float32)).numpy()


@torch.no_grad()
def act_batched(layout: PolicyLayout, flat: torch.Tensor, obs: np.ndarray, deterministic: bool = True,
                generator: torch.Generator | None = None) -> np.ndarray:
    """K policies at once: ``flat [K, P]``, ``obs [K, B, o]`` -> actions ``[K, B, a]`` float32."""
    raw = batched_forward(layout, flat, torch.as_tensor(obs, dtype=torch.float32), raw=True)
    mean, log_std = split_raw(layout, raw)
    if deterministic:
        return torch.tanh(mean).numpy()
    eps = torch.randn(mean.shape, generator=generator)
    return torch.tanh(mean + log_std.exp() * eps).numpy()
