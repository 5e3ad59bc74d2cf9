"""Behavior embedding: (trajectory prompt ``h``, success prompt ``v``) -> condition vector.

Two MLP branches map the standardized prompts to ``out_dim`` features each; they are trained with InfoNCE
(positives: ``h`` and ``v`` from the same trajectory, negatives: the rest of the batch) through a learnable
bilinear metric ``W``: ``logits = h_emb @ W @ v_emb^T / temperature``. The condition for the diffusion model is
``concat(h_emb, v_emb)`` (``cond_dim = 2 * out_dim``).

The input normalizers (per-feature mean/std, :meth:`BehaviorEmbedding.fit_normalizer`) are stored as buffers and
applied identically in training and at inference (the official code drops them at inference).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from maa_core.prompt import PromptError, prompt_dims
from maa_generator.models.config import EmbeddingConfig


def _branch(in_dim: int, hidden: list[int], out_dim: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    prev = in_dim
    for h in hidden:
        layers += [nn.Linear(prev, h), nn.LayerNorm(h), nn.ReLU()]
        prev = h
    layers.append(nn.Linear(prev, out_dim))
    return nn.Sequential(*layers)


def resolve_prompt_dims(obs_dim: int, act_dim: int, cfg: EmbeddingConfig) -> tuple[int, int]:
    """``(Dh, Dv)``: ``cfg.h_dim`` / ``cfg.v_dim`` when set, else ``n * (obs + act)`` / ``m * obs``."""
    h_dim, v_dim = prompt_dims(obs_dim, act_dim, cfg.n_steps, cfg.m_states)
    return (h_dim if cfg.h_dim is None else cfg.h_dim), (v_dim if cfg.v_dim is None else cfg.v_dim)


class BehaviorEmbedding(nn.Module):
    """Contrastive two-branch behavior embedding.

    Args:
        obs_dim, act_dim: trajectory observation/action sizes.
        cfg: :class:`EmbeddingConfig` (``n_steps``, ``m_states`` fix the prompt sizes
            ``Dh = n * (obs_dim + act_dim)``, ``Dv = m * obs_dim``).
    """

    def __init__(self, obs_dim: int, act_dim: int, cfg: EmbeddingConfig):
        super().__init__()
        self.cfg = cfg
        self.obs_dim, self.act_dim = int(obs_dim), int(act_dim)
        self.h_dim, self.v_dim = resolve_prompt_dims(self.obs_dim, self.act_dim, cfg)
        self.h_net = _branch(self.h_dim, cfg.hidden, cfg.out_dim)
        self.v_net = _branch(self.v_dim, cfg.hidden if cfg.v_hidden is None else cfg.v_hidden, cfg.out_dim)
        self.W = nn.Parameter(cfg.w_init * torch.eye(cfg.out_dim))
        self.register_buffer("h_mean", torch.zeros(self.h_dim))
        self.register_buffer("h_std", torch.ones(self.h_dim))
        self.register_buffer("v_mean", torch.zeros(self.v_dim))
        self.register_buffer("v_std", torch.ones(self.v_dim))

    @property
    def cond_dim(self) -> int:
        """Size ``E`` of the condition returned by :meth:`embed` (``2 * out_dim``)."""
        return 2 * self.cfg.out_dim

    # ----------------------------------------------------------------- inputs
    def _check(self, h: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.as_tensor(h, dtype=self.W.dtype)
        v = torch.as_tensor(v, dtype=self.W.dtype)
        if h.ndim not in (2, 3) or h.shape[-1] != self.h_dim:
            raise PromptError(
                f"expected trajectory prompt h of shape [B, {self.h_dim}] or [B, S, {self.h_dim}] "
                f"(n={self.cfg.n_steps} x (obs {self.obs_dim} + act {self.act_dim})), "
                f"got {list(h.shape)}"
            )
        if v.ndim != h.ndim or v.shape[:-1] != h.shape[:-1] or v.shape[-1] != self.v_dim:
            want = [*h.shape[:-1], self.v_dim]
            raise PromptError(
                f"expected success prompt v of shape {want} (m={self.cfg.m_states} x obs "
                f"{self.obs_dim}), got {list(v.shape)}"
            )
        if not (torch.isfinite(h).all() and torch.isfinite(v).all()):
            raise PromptError("prompts contain non-finite values (NaN/inf)")
        return h, v

    @torch.no_grad()
    def fit_normalizer(self, h: torch.Tensor, v: torch.Tensor, std_floor: float = 1e-3) -> None:
        """Set per-feature mean/std buffers from prompts ``h`` ``[N(, S), Dh]``, ``v`` ``[N(, S), Dv]``.

        Features with std below ``std_floor`` get std ``std_floor``, or ``inf`` (standardized to 0) with
        ``cfg.ignore_constant_features``.
        """
        h, v = self._check(h, v)
        h, v = h.reshape(-1, self.h_dim), v.reshape(-1, self.v_dim)
        for x, mean, std in ((h, self.h_mean, self.h_std), (v, self.v_mean, self.v_std)):
            mean.copy_(x.mean(0))
            sd = x.std(0, unbiased=False)
            if self.cfg.ignore_constant_features:
                sd = sd.masked_fill(sd < std_floor, float("inf"))
            std.copy_(sd.clamp_min(std_floor))

    def standardize(self, h: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Checked prompts -> standardized ``(h, v)`` (clipped to ``+-cfg.input_clip`` when set)."""
        h, v = self._check(h, v)
        h, v = (h - self.h_mean) / self.h_std, (v - self.v_mean) / self.v_std
        if self.cfg.input_clip > 0:
            h, v = h.clamp(-self.cfg.input_clip, self.cfg.input_clip), v.clamp(-self.cfg.input_clip,
                                                                               self.cfg.input_clip)
        return h, v

    # ---------------------------------------------------------------- forward
    def branches(self, h: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalized prompts through both branches: ``[..., Dh], [..., Dv] -> [..., out], [..., out]``."""
        h, v = self.standardize(h, v)
        return self.h_net(h), self.v_net(v)

    def embed(self, h: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Condition ``[B, E]`` (``E = cond_dim``) from ``h`` ``[B, Dh]``, ``v`` ``[B, Dv]``.

        Segmented prompts ``[B, S, D*]`` are embedded per segment and averaged over segments. With
        ``cfg.embed_normalized = False`` the branches see the raw prompts.
        """
        if self.cfg.embed_normalized:
            he, ve = self.branches(h, v)
        else:
            h, v = self._check(h, v)
            he, ve = self.h_net(h), self.v_net(v)
        cond = torch.cat([he, ve], dim=-1)
        return cond.mean(dim=1) if cond.ndim == 3 else cond

    def logits(self, h: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Bilinear similarity ``[B, B]``: ``h_emb @ W @ v_emb^T / temperature``."""
        he, ve = self.branches(h, v)
        if he.ndim == 3:
            he, ve = he.reshape(-1, he.shape[-1]), ve.reshape(-1, ve.shape[-1])
        return (he @ self.W @ ve.T) / self.cfg.temperature

    def loss(self, h: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Symmetric InfoNCE over the batch (row ``i`` of ``h`` pairs with row ``i`` of ``v``).

        Returns ``(loss, {"infonce": loss, "acc": fraction of rows whose positive has the top logit})``.
        """
        logits = self.logits(h, v)
        if logits.shape[0] < 2:
            raise PromptError(f"InfoNCE needs a batch of at least 2 prompts, got {logits.shape[0]}")
        labels = torch.arange(logits.shape[0], device=logits.device)
        loss = 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))
        with torch.no_grad():
            acc = (logits.argmax(dim=1) == labels).float().mean()
        return loss, {"infonce": float(loss.detach()), "acc": float(acc)}
