"""Latent diffusion over parameter-autoencoder latents, conditioned on the behavior embedding.

:class:`LatentUNet1D` is a 1D convolutional UNet whose sequence axis is the latent *token* axis (tokens follow the
policy's layers, so convolution mixes neighbouring layers) and whose channel axis is the latent width ``C``. The
token axis is zero-padded to a multiple of ``2 ** (levels - 1)`` inside the network and cropped on output.
Every residual block is FiLM-modulated by an MLP of ``[sinusoidal(t), cond]``.

:class:`LatentDiffusion` adds latent normalization (per-element center/scale so that training latents lie in
``[-1, 1]``, matching ``clip_sample``), an EMA copy of the UNet that is used for sampling, and a
``diffusers.DDIMScheduler`` (x0/"sample" prediction by default).
"""

from __future__ import annotations

import copy
import math
import threading

import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler
from torch import nn

from maa_core.config import ConfigError
from maa_generator.models.config import DiffusionConfig, check_guidance

_SCHEDULER_LOCK = threading.Lock()  # module-level so that LatentDiffusion stays deepcopy/pickle-able


class DiffusionError(ValueError):
    """Raised for latents/conditions of the wrong shape or with non-finite values."""


def sinusoidal_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Timesteps ``[N]`` (int or float) -> ``[N, dim]`` sin/cos features (periods up to 10,000 steps)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / max(half - 1, 1))
    args = t.float()[:, None] * freqs[None]
    return torch.cat([args.sin(), args.cos()], dim=-1)


class SeqConv1d(nn.Conv1d):
    """``nn.Conv1d(cin, cout, k, stride, padding=k // 2)`` (same parameters, init and state-dict keys) whose
    forward is unfold + one matmul.

    The latent sequences are a few tokens long, where the CPU convolution kernels are dominated by per-call
    overhead (~5x slower than this at batch 1). ``weight`` ``[cout, cin, k]`` is used as a ``[cout, cin * k]``
    view, so nothing is copied.
    """

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1):
        super().__init__(cin, cout, k, stride=stride, padding=k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, cin, L] -> [B, cout, L']``."""
        k, stride, pad = self.kernel_size[0], self.stride[0], self.padding[0]
        w = self.weight.reshape(self.out_channels, -1)
        if k == 1 and stride == 1:
            return F.linear(x.transpose(1, 2), w, self.bias).transpose(1, 2)
        cols = F.pad(x, (pad, pad)).unfold(2, k, stride)  # [B, cin, L', k]
        b, c, n, _ = cols.shape
        return F.linear(cols.permute(0, 2, 1, 3).reshape(b, n, c * k), w, self.bias).transpose(1, 2)


class Upsample2x(nn.ConvTranspose1d):
    """``nn.ConvTranspose1d(c, c, 4, stride=2, padding=1)`` (same parameters and keys), computed as one matmul.

    With ``Y[i, :, k] = W[:, :, k]^T x[i]``: ``y[2m] = Y[m, :, 1] + Y[m-1, :, 3]`` and
    ``y[2m+1] = Y[m, :, 2] + Y[m+1, :, 0]``.
    """

    def __init__(self, channels: int):
        super().__init__(channels, channels, 4, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, L] -> [B, C, 2L]``."""
        b, _, n = x.shape
        o = self.out_channels
        y = (x.transpose(1, 2) @ self.weight.reshape(self.in_channels, o * 4)).reshape(b, n, o, 4)
        even = y[..., 1] + F.pad(y[..., 3], (0, 0, 1, 0))[:, :n]
        odd = y[..., 2] + F.pad(y[..., 0], (0, 0, 0, 1))[:, 1:]
        out = torch.stack([even, odd], dim=2).reshape(b, 2 * n, o) + self.bias
        return out.transpose(1, 2)


class _ConvNormAct(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int, groups: int):
        super().__init__(SeqConv1d(cin, cout, k), nn.GroupNorm(groups, cout), nn.Mish())


class _FiLMResBlock(nn.Module):
    """conv-norm-act, FiLM(scale, shift) from the global condition, conv-norm-act, residual."""

    def __init__(self, cin: int, cout: int, gdim: int, k: int, groups: int):
        super().__init__()
        self.block1 = _ConvNormAct(cin, cout, k, groups)
        self.block2 = _ConvNormAct(cout, cout, k, groups)
        self.film = nn.Sequential(nn.Mish(), nn.Linear(gdim, 2 * cout))
        self.skip = SeqConv1d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(g).unsqueeze(-1).chunk(2, dim=1)
        h = self.block1(x) * (1.0 + scale) + shift
        return self.block2(h) + self.skip(x)


class LatentUNet1D(nn.Module):
    """Conditional 1D UNet: ``(x [B, T, C], t [B], cond [B, E]) -> [B, T, C]``.

    Args:
        latent_shape: ``(T, C)``.
        cond_dim: ``E``, width of the behavior condition.
        cfg: :class:`DiffusionConfig` (``down_dims``, ``kernel_size``, ``n_groups``, ``blocks_per_level``,
            ``time_embed_dim``, ``cond_embed_dim``).
    """

    def __init__(self, latent_shape: tuple[int, int], cond_dim: int, cfg: DiffusionConfig):
        super().__init__()
        self.latent_shape = (int(latent_shape[0]), int(latent_shape[1]))
        self.cond_dim = int(cond_dim)
        self.cfg = cfg
        dims, k, gr, nb = list(cfg.down_dims), cfg.kernel_size, cfg.n_groups, cfg.blocks_per_level
        gdim = cfg.cond_embed_dim
        self.multiple = 2 ** (len(dims) - 1)
        self.global_mlp = nn.Sequential(
            nn.Linear(cfg.time_embed_dim + cond_dim, gdim), nn.Mish(), nn.Linear(gdim, gdim)
        )
        c = self.latent_shape[1]
        self.down_blocks = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        prev = c
        for i, d in enumerate(dims):
            self.down_blocks.append(
                nn.ModuleList(_FiLMResBlock(prev if j == 0 else d, d, gdim, k, gr) for j in range(nb))
            )
            self.downsamples.append(SeqConv1d(d, d, 3, stride=2) if i < len(dims) - 1 else nn.Identity())
            prev = d
        self.mid_blocks = nn.ModuleList(_FiLMResBlock(dims[-1], dims[-1], gdim, k, gr) for _ in range(nb))
        self.upsamples = nn.ModuleList()
        self.up_blocks = nn.ModuleList()
        for i in reversed(range(len(dims) - 1)):
            self.upsamples.append(Upsample2x(dims[i + 1]))
            self.up_blocks.append(
                nn.ModuleList(
                    _FiLMResBlock(dims[i + 1] + dims[i] if j == 0 else dims[i], dims[i], gdim, k, gr) for j in range(nb)
                )
            )
        self.final = nn.Sequential(_ConvNormAct(dims[0], dims[0], k, gr), SeqConv1d(dims[0], c, 1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        n_tok = x.shape[1]
        g = self.global_mlp(torch.cat([sinusoidal_embedding(t, self.cfg.time_embed_dim), cond], dim=-1))
        h = x.transpose(1, 2)
        pad = (-n_tok) % self.multiple
        if pad:
            h = F.pad(h, (0, pad))
        skips = []
        for blocks, down in zip(self.down_blocks, self.downsamples):
            for blk in blocks:
                h = blk(h, g)
            skips.append(h)
            h = down(h)
        for blk in self.mid_blocks:
            h = blk(h, g)
        skips.pop()  # deepest level has no upsampling partner
        for up, blocks in zip(self.upsamples, self.up_blocks):
            h = torch.cat([up(h), skips.pop()], dim=1)
            for blk in blocks:
                h = blk(h, g)
        return self.final(h)[..., :n_tok].transpose(1, 2)


def make_scheduler(cfg: DiffusionConfig) -> DDIMScheduler:
    """The DDIM scheduler described by ``cfg`` (x0 clipping to ``+-clip_sample_range``)."""
    with torch.device("cpu"):  # its schedule tensors stay real even when modules are built on the meta device
        return DDIMScheduler(
            num_train_timesteps=cfg.train_timesteps,
            beta_schedule=cfg.beta_schedule,
            clip_sample=cfg.clip_sample,
            clip_sample_range=cfg.clip_sample_range,
            prediction_type=cfg.prediction_type,
            set_alpha_to_one=True,
            steps_offset=0,
        )


class LatentDiffusion(nn.Module):
    """Conditional latent diffusion with EMA sampling.

    Args:
        latent_shape: ``(T, C)`` of the autoencoder latent.
        cond_dim: ``E`` of the behavior condition.
        cfg: :class:`DiffusionConfig`.
    """

    def __init__(self, latent_shape: tuple[int, int], cond_dim: int, cfg: DiffusionConfig):
        super().__init__()
        self.cfg = cfg
        self.latent_shape = (int(latent_shape[0]), int(latent_shape[1]))
        self.cond_dim = int(cond_dim)
        self.unet = self._build_unet()
        self.ema = copy.deepcopy(self.unet).requires_grad_(False).eval()
        self._register_normalizers()
        self.register_buffer("ema_updates", torch.zeros((), dtype=torch.int64))
        self.scheduler = make_scheduler(cfg)

    def _build_unet(self) -> nn.Module:
        """The denoiser ``(x [B, T, C], t [B], cond [B, E]) -> [B, T, C]`` (overridden by other variants)."""
        return LatentUNet1D(self.latent_shape, self.cond_dim, self.cfg)

    def _register_normalizers(self) -> None:
        self.register_buffer("latent_center", torch.zeros(self.latent_shape))
        self.register_buffer("latent_scale", torch.ones(self.latent_shape))

    def train(self, mode: bool = True) -> LatentDiffusion:
        super().train(mode)
        self.ema.eval()  # the EMA copy is only ever evaluated
        return self

    # ------------------------------------------------------------ checks/normalization
    def _check_latent(self, latent: torch.Tensor) -> torch.Tensor:
        t, c = self.latent_shape
        if latent.ndim != 3 or tuple(latent.shape[1:]) != (t, c):
            raise DiffusionError(f"expected latents of shape [B, {t}, {c}], got {list(latent.shape)}")
        if not torch.isfinite(latent).all():
            raise DiffusionError("latents contain non-finite values (NaN/inf)")
        return latent

    def _check_cond(self, cond: torch.Tensor, batch: int | None = None) -> torch.Tensor:
        if cond.ndim != 2 or cond.shape[1] != self.cond_dim or (batch is not None and cond.shape[0] != batch):
            want = f"[{batch if batch is not None else 'B'}, {self.cond_dim}]"
            raise DiffusionError(f"expected condition of shape {want}, got {list(cond.shape)}")
        if not torch.isfinite(cond).all():
            raise DiffusionError("condition contains non-finite values (NaN/inf)")
        return cond

    @torch.no_grad()
    def fit_latent_normalizer(self, latents: torch.Tensor, floor: float = 1e-3) -> None:
        """Per-element center (mean) and scale (max |x - mean|, floored) from ``[N, T, C]`` latents."""
        latents = self._check_latent(latents)
        center = latents.mean(0)
        dev = (latents - center).abs().amax(0)
        self.latent_center.copy_(center)
        self.latent_scale.copy_(dev.clamp_min(max(floor * float(dev.mean()), 1e-6)))

    def fit_cond_normalizer(self, cond: torch.Tensor) -> None:
        """Fit a normalizer of the conditions ``[N, E]``; this variant has none (conditions are used as given)."""
        self._check_cond(cond)

    def normalize(self, latent: torch.Tensor) -> torch.Tensor:
        return (latent - self.latent_center) / self.latent_scale

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.latent_scale + self.latent_center

    # ---------------------------------------------------------------------- training
    def loss(self, latent: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Denoising loss on raw latents ``[B, T, C]`` with conditions ``[B, E]``.

        Returns ``(loss, {"diffusion_mse": loss})``; the target follows ``prediction_type``.
        """
        if self.unet is None:
            raise RuntimeError("this diffusion model comes from a generation-only bundle (Generator.save("
                               "generation_only=True)): it samples with its EMA copy but cannot be trained")
        x0 = self.normalize(self._check_latent(latent))
        cond = self._check_cond(cond, x0.shape[0])
        if self.training and self.cfg.cond_noise > 0:
            cond = cond + self.cfg.cond_noise * torch.randn_like(cond)
        if self.training and self.cfg.cond_dropout > 0:
            drop = torch.rand(cond.shape[0], 1, device=cond.device) < self.cfg.cond_dropout
            cond = cond.masked_fill(drop, 0.0)  # the null condition of classifier-free guidance
        noise = torch.randn_like(x0)
        t = torch.randint(0, self.cfg.train_timesteps, (x0.shape[0],), device=x0.device)
        xt = self.scheduler.add_noise(x0, noise, t)
        pred = self.unet(xt, t, cond)
        if self.cfg.prediction_type == "sample":
            target = x0
        elif self.cfg.prediction_type == "epsilon":
            target = noise
        else:
            target = self.scheduler.get_velocity(x0, noise, t)
        loss = F.mse_loss(pred, target)
        return loss, {"diffusion_mse": float(loss.detach())}

    @torch.no_grad()
    def update_ema(self) -> None:
        """EMA step with warm-up: ``decay = min(ema_decay, (1 + n) / (10 + n))`` after ``n`` updates."""
        n = int(self.ema_updates)
        decay = min(self.cfg.ema_decay, (1.0 + n) / (10.0 + n))
        for pe, p in zip(self.ema.parameters(), self.unet.parameters()):
            pe.lerp_(p.detach(), 1.0 - decay)
        for be, b in zip(self.ema.buffers(), self.unet.buffers()):
            be.copy_(b)
        self.ema_updates += 1

    # ---------------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample(self, cond: torch.Tensor, num_candidates: int, seed: int, steps: int | None = None,
               guidance_scale: float | None = None) -> torch.Tensor:
        """Sample ``K = num_candidates`` latents per condition with the EMA UNet and DDIM (eta = 0).

        Args:
            cond: ``[B, E]`` conditions.
            num_candidates: ``K`` >= 1.
            seed: seeds a ``torch.Generator`` for the initial noise (same seed -> same latents).
            steps: DDIM steps (default ``cfg.inference_steps``).
            guidance_scale: classifier-free guidance weight ``w`` (default ``cfg.guidance_scale``); ``w != 1``
                runs the UNet on the conditional and the null condition and uses ``uncond + w (cond - uncond)``.
        Returns:
            raw (denormalized) latents ``[B * K, T, C]``, prompt-major (row ``b * K + k``).
        """
        cond = self._check_cond(cond)
        if num_candidates < 1:
            raise DiffusionError(f"num_candidates must be >= 1, got {num_candidates}")
        steps = self.cfg.inference_steps if steps is None else int(steps)
        if not 1 <= steps <= self.cfg.train_timesteps:
            raise DiffusionError(f"steps must be in 1..{self.cfg.train_timesteps}, got {steps}")
        w = self.cfg.guidance_scale if guidance_scale is None else guidance_scale
        try:
            check_guidance(w, self.cfg.cond_dropout)
        except ConfigError as exc:
            raise DiffusionError(str(exc)) from None
        cond = cond.repeat_interleave(num_candidates, dim=0)
        n = cond.shape[0]
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        x = torch.randn((n, *self.latent_shape), generator=gen).to(cond.device, cond.dtype)
        both = torch.cat([cond, torch.zeros_like(cond)]) if w != 1.0 else None
        with _SCHEDULER_LOCK:  # set_timesteps mutates the shared scheduler
            self.scheduler.set_timesteps(steps, device=cond.device)
            for t in self.scheduler.timesteps:
                if both is None:
                    out = self.ema(x, t.expand(n), cond)
                else:
                    out_c, out_u = self.ema(torch.cat([x, x]), t.expand(2 * n), both).chunk(2)
                    out = out_u + w * (out_c - out_u)
                x = self.scheduler.step(out, t, x, eta=0.0).prev_sample
        return self.denormalize(x)
