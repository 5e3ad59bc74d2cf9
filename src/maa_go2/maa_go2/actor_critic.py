"""walk-these-ways actor-critic with an adaptation module (concurrent estimation).

* adaptation module: observation history ``[N, H*70]`` -> estimate of the privileged vector ``[N, 7]``
  (friction, restitution, added mass, motor strength, 2x body velocity), trained by regression.
* actor (THE generated network, :func:`go2_actor_layout`): ``[obs 70, latent 7]`` -> 256 -> 128 -> 128 -> 12, ELU,
  linear output = joint action; 70,924 parameters (the paper's 50,956 are exactly its 256 -> 128 -> 128 -> 12 part).
* critic: ``[obs 70, privileged 7]`` -> 256 -> 128 -> 128 -> 1.
"""
from __future__ import annotations

import torch
from torch import nn

from maa_core.layout import PolicyLayout
from maa_core.policy_torch import PolicyMLP
from maa_go2.observation import OBS_DIM
from maa_go2.randomization import PRIV_DIM


def go2_actor_layout(latent_dim: int = PRIV_DIM) -> PolicyLayout:
    """Layout of the Go2 actor: input = observation (70) + adaptation latent."""
    return PolicyLayout(obs_dim=OBS_DIM + latent_dim, action_dim=12, hidden=(256, 128, 128), activation="elu",
                        output="linear", name="go2_wtw_actor")


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ELU())
    return nn.Sequential(*layers)


class AdaptationModule(nn.Module):
    """History ``[N, history_len*70]`` -> privileged estimate ``[N, 7]``."""

    def __init__(self, history_len: int, hidden: tuple[int, ...] = (256, 128), out_dim: int = PRIV_DIM):
        super().__init__()
        self.history_len, self.out_dim = history_len, out_dim
        self.net = mlp([history_len * OBS_DIM, *hidden, out_dim])

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        if history.shape[-1] != self.history_len * OBS_DIM:
            raise ValueError(f"adaptation module expects history [..., {self.history_len * OBS_DIM}] "
                             f"({self.history_len} x {OBS_DIM}), got {list(history.shape)}")
        return self.net(history)


class ActorCritic(nn.Module):
    def __init__(self, history_len: int, init_noise_std: float = 1.0):
        super().__init__()
        self.layout = go2_actor_layout()
        self.actor = PolicyMLP(self.layout)
        self.adaptation = AdaptationModule(history_len)
        self.critic = mlp([OBS_DIM + PRIV_DIM, 256, 128, 128, 1])
        self.log_std = nn.Parameter(torch.full((12,), float(init_noise_std)).log())

    def actor_input(self, obs: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        """``[N, 77]`` = observation + (detached) adaptation latent."""
        with torch.no_grad():
            latent = self.adaptation(history)
        return torch.cat([obs, latent], dim=-1)

    def distribution(self, actor_in: torch.Tensor) -> torch.distributions.Normal:
        mean = self.actor(actor_in)
        return torch.distributions.Normal(mean, self.log_std.exp().expand_as(mean))

    def value(self, obs: torch.Tensor, priv: torch.Tensor) -> torch.Tensor:
        return self.critic(torch.cat([obs, priv], dim=-1)).squeeze(-1)
