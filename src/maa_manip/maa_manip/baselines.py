"""Baselines evaluated in the same protocol as generated policies.

* ``retrieval``: the training checkpoint whose prompt embedding is nearest (L2) to the query prompt's
  (``maa_generator.models.retrieval.NearestPrompt``).
  Embedding: the trained generator's ``BehaviorEmbedding.embed(h, v)`` when given, else the raw prompts
  z-scored with the training bank's statistics.
* ``retrieval_noise``: the retrieved parameters plus Gaussian noise (std ``noise_std``).
* ``bc``: one multi-task behavior-cloning actor pretrained on the training trajectories, then fine-tuned on
  each prompt trajectory separately (all prompts fine-tuned at once with batched parameters ``[K, P]``).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from maa_core.layout import PolicyLayout, metaworld_sac_layout
from maa_core.policy_torch import PolicyMLP, batched_forward
from maa_generator.models.retrieval import NearestPrompt


class RetrievalBaseline:
    """Nearest-checkpoint retrieval (L2, :class:`maa_generator.models.retrieval.NearestPrompt`).

    Args:
        params: ``[N, P]`` training checkpoints (array or memory-mapped view).
        h, v: ``[N, Dh]``, ``[N, Dv]`` their prompts.
        embed: optional ``(h [B, Dh], v [B, Dv]) -> [B, E]`` (numpy in, numpy out).
    """

    def __init__(self, params, h: np.ndarray, v: np.ndarray, embed: Callable | None = None, chunk: int = 1024):
        if len(h) != len(params):
            raise ValueError(f"need the same non-zero number of params/h/v rows, got {len(params)}/{len(h)}/{len(v)}")
        self.params = params
        self.index = NearestPrompt(h, v, embed, "l2", chunk)

    def nearest(self, h: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Index ``[K]`` of the nearest training checkpoint for each query prompt ``h [K, Dh]``, ``v [K, Dv]``."""
        return self.index.nearest(np.atleast_2d(h), np.atleast_2d(v))

    def retrieve(self, h: np.ndarray, v: np.ndarray, noise_std: float = 0.0, seed: int = 0) -> np.ndarray:
        """Parameters ``[K, P]`` of the nearest checkpoints (plus Gaussian noise of std ``noise_std``)."""
        out = np.stack([np.asarray(self.params[int(i)], np.float32) for i in self.nearest(h, v)])
        if noise_std > 0:
            out = out + np.random.default_rng(seed).normal(0.0, noise_std, out.shape).astype(np.float32)
        return out


def _bc_loss(layout: PolicyLayout, raw: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
    return (torch.tanh(raw[..., :layout.action_dim]) - act).pow(2).sum(-1).mean()


def pretrain_bc(obs: np.ndarray, act: np.ndarray, steps: int = 2000, batch: int = 256, lr: float = 1e-3,
                seed: int = 0, layout: PolicyLayout | None = None) -> np.ndarray:
    """Multi-task BC actor on pooled ``obs [M, 39]``, ``act [M, 4]`` -> flat ``[P]``."""
    layout = layout or metaworld_sac_layout()
    torch.manual_seed(seed)
    net = PolicyMLP(layout)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    o = torch.as_tensor(obs, dtype=torch.float32)
    a = torch.as_tensor(np.clip(act, -1, 1), dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(o), (min(batch, len(o)),), generator=gen)
        loss = _bc_loss(layout, net.raw(o[idx]), a[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.flat()


def finetune_bc(init: np.ndarray, obs: np.ndarray, act: np.ndarray, steps: int = 200, lr: float = 1e-3,
                layout: PolicyLayout | None = None) -> np.ndarray:
    """Fine-tune one copy of ``init [P]`` per prompt on its own trajectory: ``obs [K, T, 39]``, ``act [K, T, 4]``
    (full-batch Adam, all ``K`` at once) -> ``[K, P]``."""
    layout = layout or metaworld_sac_layout()
    K = obs.shape[0]
    flat = torch.nn.Parameter(torch.from_numpy(np.tile(layout.check_flat(init)[None], (K, 1))))
    opt = torch.optim.Adam([flat], lr=lr)
    o = torch.as_tensor(obs, dtype=torch.float32)
    a = torch.as_tensor(np.clip(act, -1, 1), dtype=torch.float32)
    for _ in range(steps):
        loss = _bc_loss(layout, batched_forward(layout, flat, o, raw=True), a) * K
        opt.zero_grad()
        loss.backward()
        opt.step()
    return flat.detach().numpy()
