"""Official-compatible architecture variants (``kind: official``), whose state dicts take the released
Make-An-Agent checkpoints 1:1 (key names and shapes: ``docs/official_checkpoints.md``).

* :class:`OfficialParamAutoencoder`: per-token bias-free Linear encoders/decoders on the *raw* flat parameters, a
  LayerNorm ``ln_in`` over the stacked latent ``[B, T, C]`` (the official ``EncoderDecoder``).
* :class:`OfficialBehaviorEmbedding`: trajectory branch ``Linear-ReLU-...-Linear`` (no LayerNorm), success branch
  ``Linear-LayerNorm-Tanh-...-Linear``, bilinear ``W``, min/max ("limits") input normalizer ``x * scale + offset``.
* :class:`OfficialUNet1D` / :class:`OfficialLatentDiffusion`: the diffusion-policy style ``ConditionalUnet1D``
  (per-block FiLM ``scale * x + bias`` from ``[time MLP(t), cond]``, kernel-2 strided down/up convolutions) with
  "limits" normalizers of the latent channels and of both condition halves.

The modules keep the interfaces of the default variants (``encode``/``decode``/``loss``, ``embed``/``loss``,
``loss``/``sample``), so :class:`~maa_generator.models.generator.Generator` and the training pipeline use either.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from maa_core.layout import LayoutError, PolicyLayout
from maa_core.prompt import PromptError
from maa_generator.models.autoencoder import chunk_slices, resolve_chunks
from maa_generator.models.config import AutoencoderConfig, DiffusionConfig, EmbeddingConfig
from maa_generator.models.diffusion import DiffusionError, LatentDiffusion, SeqConv1d, sinusoidal_embedding
from maa_generator.models.embedding import BehaviorEmbedding, resolve_prompt_dims

LIMITS_RANGE_EPS = 1e-4  # official LinearNormalizer default


@torch.no_grad()
def fit_limits(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Official "limits" normalizer: per-column ``(scale, offset)`` mapping ``[min, max]`` of ``x`` ``[N, D]`` to
    ``[-1, 1]`` via ``x * scale + offset``; columns with range ``< 1e-4`` get ``scale = 1``, ``offset = -min``."""
    lo, hi = x.min(0).values, x.max(0).values
    rng = hi - lo
    flat = rng < LIMITS_RANGE_EPS
    rng = torch.where(flat, torch.full_like(rng, 2.0), rng)
    scale = 2.0 / rng
    offset = torch.where(flat, -lo, -1.0 - scale * lo)
    return scale, offset


# --------------------------------------------------------------------------- autoencoder
class OfficialParamAutoencoder(nn.Module):
    """Official ``EncoderDecoder``: raw flat parameters ``[B, P]`` <-> latent ``[B, T, C]``.

    Encoder per token: ``Linear(chunk, C, bias=False)`` then ``depth - 1`` x ``(GELU, Linear(C, C, bias=False))``;
    the stacked tokens go through one shared ``LayerNorm(C)`` (``ln_in``). Decoder per token: ``depth - 1`` x
    ``(Linear(C, C, bias=False), GELU)`` then ``Linear(C, chunk, bias=False)``. No parameter normalizer.
    Training mode mixes noise in as ``x * (1 - f) + f * N(0, 1)`` (input: ``input_noise``, latent:
    ``latent_noise``) and :meth:`loss` clamps the latent to ``[-1, 1]`` before decoding, as the official forward.
    """

    def __init__(self, layout: PolicyLayout, cfg: AutoencoderConfig):
        super().__init__()
        self.layout = layout
        self.cfg = cfg
        self.chunks = resolve_chunks(layout, cfg.chunks)
        self.chunk_slices = chunk_slices(layout, self.chunks)
        c = cfg.latent_channels
        self.input_parameter_projections = nn.ModuleList()
        self.output_parameter_projections = nn.ModuleList()
        for s in self.chunk_slices:
            size = s.stop - s.start
            enc: list[nn.Module] = [nn.Linear(size, c, bias=False)]
            dec: list[nn.Module] = []
            for _ in range(cfg.depth - 1):
                enc += [nn.GELU(), nn.Linear(c, c, bias=False)]
                dec += [nn.Linear(c, c, bias=False), nn.GELU()]
            dec.append(nn.Linear(c, size, bias=False))
            self.input_parameter_projections.append(nn.Sequential(*enc))
            self.output_parameter_projections.append(nn.Sequential(*dec))
        self.ln_in = nn.LayerNorm(c)

    @property
    def latent_shape(self) -> tuple[int, int]:
        return (len(self.chunks), self.cfg.latent_channels)

    def _check(self, flat: torch.Tensor) -> torch.Tensor:
        flat = torch.as_tensor(flat)
        p = self.layout.num_params
        if flat.ndim != 2 or flat.shape[1] != p:
            raise LayoutError(
                f"expected flat parameters of shape [B, {p}] for layout {self.layout.name}, got {list(flat.shape)}"
            )
        if not torch.isfinite(flat).all():
            raise LayoutError(f"flat parameters contain {int((~torch.isfinite(flat)).sum())} non-finite values")
        return flat.to(self.ln_in.weight.dtype)

    def fit_normalizer(self, flat: torch.Tensor) -> None:
        """The official autoencoder works on raw parameters: only checks ``flat`` ``[N, P]``."""
        self._check(flat)

    @staticmethod
    def _mix_noise(x: torch.Tensor, f: float) -> torch.Tensor:
        return x * (1.0 - f) + f * torch.randn_like(x) if f > 0 else x

    def encode(self, flat: torch.Tensor) -> torch.Tensor:
        """Raw flat parameters ``[B, P]`` -> latent ``[B, T, C]`` (noise mixed in in training mode)."""
        x = self._check(flat)
        if self.training:
            x = self._mix_noise(x, self.cfg.input_noise)
        tokens = torch.stack(
            [enc(x[:, s]) for enc, s in zip(self.input_parameter_projections, self.chunk_slices)], dim=1
        )
        latent = self.ln_in(tokens)
        if self.training:
            latent = self._mix_noise(latent, self.cfg.latent_noise)
        return latent

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Latent ``[B, T, C]`` -> raw flat parameters ``[B, P]``."""
        t, c = self.latent_shape
        if latent.ndim != 3 or tuple(latent.shape[1:]) != (t, c):
            raise LayoutError(f"expected latent of shape [B, {t}, {c}], got {list(latent.shape)}")
        return torch.cat([dec(latent[:, i]) for i, dec in enumerate(self.output_parameter_projections)], dim=1)

    def loss(self, flat: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Official objective: MSE between raw parameters and the reconstruction of the clamped latent."""
        flat = self._check(flat)
        recon = self.decode(self.encode(flat).clamp(-1.0, 1.0))
        loss = F.mse_loss(recon, flat)
        value = float(loss.detach())
        return loss, {"recon_mse": value, "param_mse": value}

    def reconstruct(self, flat: torch.Tensor) -> torch.Tensor:
        """Encode + decode ``[B, P]`` -> ``[B, P]``."""
        return self.decode(self.encode(flat))


# --------------------------------------------------------------------------- behavior embedding
def _official_branch(in_dim: int, hidden: list[int], out_dim: int, norm_tanh: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    prev = in_dim
    for h in hidden:
        layers += [nn.Linear(prev, h), *((nn.LayerNorm(h), nn.Tanh()) if norm_tanh else (nn.ReLU(),))]
        prev = h
    layers.append(nn.Linear(prev, out_dim))
    return nn.Sequential(*layers)


class OfficialBehaviorEmbedding(BehaviorEmbedding):
    """Official ``Embedding`` + its Lightning ``LinearNormalizer`` (traj/task entries).

    ``h_net``: ``Linear-ReLU`` per ``hidden`` width, then ``Linear(., out_dim)`` (official ``traj_embed``);
    ``v_net``: ``Linear-LayerNorm-Tanh`` per ``v_hidden`` width (default ``[256]``), then ``Linear``
    (``task_embed``); ``W`` ``[out, out]`` (uniform init as the official code). Inputs are normalized as
    ``x * scale + offset`` with buffers ``h_scale``, ``h_offset`` ``[Dh]`` and ``v_scale``, ``v_offset`` ``[Dv]``.
    :meth:`loss` is the official row-wise cross-entropy over ``h_emb @ W @ v_emb^T / temperature``.
    """

    def __init__(self, obs_dim: int, act_dim: int, cfg: EmbeddingConfig):
        nn.Module.__init__(self)
        self.cfg = cfg
        self.obs_dim, self.act_dim = int(obs_dim), int(act_dim)
        self.h_dim, self.v_dim = resolve_prompt_dims(self.obs_dim, self.act_dim, cfg)
        self.h_net = _official_branch(self.h_dim, cfg.hidden, cfg.out_dim, norm_tanh=False)
        v_hidden = [256] if cfg.v_hidden is None else cfg.v_hidden
        self.v_net = _official_branch(self.v_dim, v_hidden, cfg.out_dim, norm_tanh=True)
        self.W = nn.Parameter(torch.rand(cfg.out_dim, cfg.out_dim))
        self.register_buffer("h_scale", torch.ones(self.h_dim))
        self.register_buffer("h_offset", torch.zeros(self.h_dim))
        self.register_buffer("v_scale", torch.ones(self.v_dim))
        self.register_buffer("v_offset", torch.zeros(self.v_dim))

    @torch.no_grad()
    def fit_normalizer(self, h: torch.Tensor, v: torch.Tensor, std_floor: float = 1e-3) -> None:
        """Official "limits" normalizer from prompts ``h`` ``[N, Dh]``, ``v`` ``[N, Dv]`` (``std_floor`` unused)."""
        h, v = self._check(h, v)
        for name, x, dim in (("h", h, self.h_dim), ("v", v, self.v_dim)):
            scale, offset = fit_limits(x.reshape(-1, dim))
            getattr(self, f"{name}_scale").copy_(scale)
            getattr(self, f"{name}_offset").copy_(offset)

    def branches(self, h: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalized prompts through both branches: ``[..., Dh], [..., Dv] -> [..., out], [..., out]``."""
        h, v = self._check(h, v)
        return self.h_net(h * self.h_scale + self.h_offset), self.v_net(v * self.v_scale + self.v_offset)

    def loss(self, h: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Row-wise InfoNCE (trajectory ``i`` against all success prompts). Returns ``(loss, {infonce, acc})``."""
        logits = self.logits(h, v)
        if logits.shape[0] < 2:
            raise PromptError(f"InfoNCE needs a batch of at least 2 prompts, got {logits.shape[0]}")
        labels = torch.arange(logits.shape[0], device=logits.device)
        loss = F.cross_entropy(logits, labels)
        with torch.no_grad():
            acc = (logits.argmax(dim=1) == labels).float().mean()
        return loss, {"infonce": float(loss.detach()), "acc": float(acc)}


# --------------------------------------------------------------------------- diffusion UNet
class _SinusoidalTime(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return sinusoidal_embedding(t, self.dim)


class _ConvBlock(nn.Module):
    """``block``: Conv1d(k, padding k // 2) -> GroupNorm -> Mish (official ``Conv1dBlock``)."""

    def __init__(self, cin: int, cout: int, k: int, groups: int):
        super().__init__()
        self.block = nn.Sequential(SeqConv1d(cin, cout, k), nn.GroupNorm(groups, cout), nn.Mish())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class _FiLMBlock(nn.Module):
    """Official ``ConditionalResidualBlock1D`` (FiLM): ``blocks[1](scale * blocks[0](x) + bias) + residual(x)``
    with ``(scale, bias) = cond_encoder(g)`` split in halves (first half: scale)."""

    def __init__(self, cin: int, cout: int, gdim: int, k: int, groups: int):
        super().__init__()
        self.blocks = nn.ModuleList([_ConvBlock(cin, cout, k, groups), _ConvBlock(cout, cout, k, groups)])
        self.cond_encoder = nn.Sequential(nn.Mish(), nn.Linear(gdim, 2 * cout))
        self.residual_conv = SeqConv1d(cin, cout, 1) if cin != cout else nn.Identity()
        self.out_channels = cout

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        scale, bias = self.cond_encoder(g).unsqueeze(-1).split(self.out_channels, dim=1)
        return self.blocks[1](scale * self.blocks[0](x) + bias) + self.residual_conv(x)


class _Resample(nn.Module):
    """``conv``: ``Conv1d(d, d, 2, stride 2, padding 1)`` (down) or ``ConvTranspose1d(d, d, 2, 2, 1)`` (up)."""

    def __init__(self, dim: int, up: bool):
        super().__init__()
        self.conv = nn.ConvTranspose1d(dim, dim, 2, 2, 1) if up else SeqConv1d(dim, dim, 2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def _check_lengths(n_tok: int, levels: int) -> None:
    """The official resampling keeps length 2 only; raise unless skips and output line up for ``n_tok`` tokens."""
    lengths, n = [], n_tok
    for i in range(levels):
        lengths.append(n)
        if i < levels - 1:
            n = n // 2 + 1
    for _ in range(levels - 1):
        skip = lengths.pop()
        if n != skip:
            break
        n = 2 * n - 2
    else:
        if n == n_tok:
            return
    raise DiffusionError(
        f"the official UNet's kernel-2 down/up convolutions do not preserve {n_tok} latent tokens with "
        f"{levels} levels; the official model uses 2 tokens (autoencoder.chunks with two entries)"
    )


class OfficialUNet1D(nn.Module):
    """Official ``ConditionalUnet1D`` (film, conditions on down/mid/up): ``(x [B, T, C], t [B], cond [B, E])
    -> [B, T, C]``; the sequence axis is the token axis, the channel axis the latent width ``C``.

    Per level ``i`` (``down_modules.i``): ``blocks_per_level`` FiLM blocks then a stride-2 conv (identity at the
    deepest level); ``mid_modules``: ``blocks_per_level`` blocks; ``up_modules.j`` for the upper levels from the
    deepest: concat with the skip, blocks, ``ConvTranspose1d`` (the official code upsamples after every up
    module and never uses the first level's skip; both kept). Every block is FiLM-conditioned on
    ``g = [diffusion_step_encoder(t), cond]`` with ``diffusion_step_encoder = (sinusoid, Linear(d, 4d), Mish,
    Linear(4d, d))``.
    """

    def __init__(self, latent_shape: tuple[int, int], cond_dim: int, cfg: DiffusionConfig):
        super().__init__()
        self.latent_shape = (int(latent_shape[0]), int(latent_shape[1]))
        dims, k, gr, nb = [self.latent_shape[1], *cfg.down_dims], cfg.kernel_size, cfg.n_groups, cfg.blocks_per_level
        _check_lengths(self.latent_shape[0], len(cfg.down_dims))
        d = cfg.time_embed_dim
        gdim = d + int(cond_dim)
        self.diffusion_step_encoder = nn.Sequential(
            _SinusoidalTime(d), nn.Linear(d, 4 * d), nn.Mish(), nn.Linear(4 * d, d)
        )
        in_out = list(zip(dims[:-1], dims[1:]))
        self.down_modules = nn.ModuleList()
        for i, (cin, cout) in enumerate(in_out):
            blocks = [_FiLMBlock(cin if j == 0 else cout, cout, gdim, k, gr) for j in range(nb)]
            last = i == len(in_out) - 1
            self.down_modules.append(nn.ModuleList([*blocks, nn.Identity() if last else _Resample(cout, up=False)]))
        self.mid_modules = nn.ModuleList(_FiLMBlock(dims[-1], dims[-1], gdim, k, gr) for _ in range(nb))
        self.up_modules = nn.ModuleList()
        for cin, cout in reversed(in_out[1:]):
            blocks = [_FiLMBlock(2 * cout if j == 0 else cin, cin, gdim, k, gr) for j in range(nb)]
            self.up_modules.append(nn.ModuleList([*blocks, _Resample(cin, up=True)]))
        self.final_conv = nn.Sequential(
            _ConvBlock(cfg.down_dims[0], cfg.down_dims[0], k, gr), SeqConv1d(cfg.down_dims[0], self.latent_shape[1], 1)
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        g = torch.cat([self.diffusion_step_encoder(t.expand(x.shape[0])), cond], dim=-1)
        h = x.transpose(1, 2)
        skips = []
        for *blocks, down in self.down_modules:
            for blk in blocks:
                h = blk(h, g)
            skips.append(h)
            h = down(h)
        for blk in self.mid_modules:
            h = blk(h, g)
        for *blocks, up in self.up_modules:
            h = torch.cat([h, skips.pop()], dim=1)
            for blk in blocks:
                h = blk(h, g)
            h = up(h)
        return self.final_conv(h).transpose(1, 2)


class OfficialLatentDiffusion(LatentDiffusion):
    """:class:`LatentDiffusion` with the official UNet and the official normalizers.

    Buffers (official ``LinearNormalizer`` "limits" entries of ``model-best.torch``): ``param_scale``,
    ``param_offset`` ``[C]`` (shared by all tokens, latent ``x * scale + offset``), ``traj_scale``, ``traj_offset``
    and ``task_scale``, ``task_offset`` ``[E / 2]`` for the two halves of the condition ``[h_emb, v_emb]``.
    """

    def _build_unet(self) -> nn.Module:
        if self.cond_dim % 2:
            raise DiffusionError(f"the official condition is [traj, task] halves; cond_dim {self.cond_dim} is odd")
        return OfficialUNet1D(self.latent_shape, self.cond_dim, self.cfg)

    def _register_normalizers(self) -> None:
        c, half = self.latent_shape[1], self.cond_dim // 2
        for name, size in (("param", c), ("traj", half), ("task", half)):
            self.register_buffer(f"{name}_scale", torch.ones(size))
            self.register_buffer(f"{name}_offset", torch.zeros(size))

    @torch.no_grad()
    def fit_latent_normalizer(self, latents: torch.Tensor, floor: float = 1e-3) -> None:
        """Per-channel "limits" normalizer over all tokens of ``[N, T, C]`` latents (``floor`` unused)."""
        latents = self._check_latent(latents)
        scale, offset = fit_limits(latents.reshape(-1, self.latent_shape[1]))
        self.param_scale.copy_(scale)
        self.param_offset.copy_(offset)

    @torch.no_grad()
    def fit_cond_normalizer(self, cond: torch.Tensor) -> None:
        """Official "limits" normalizers of both condition halves from ``[N, E]``."""
        cond = self._check_cond(cond)
        half = self.cond_dim // 2
        for name, part in (("traj", cond[:, :half]), ("task", cond[:, half:])):
            scale, offset = fit_limits(part)
            getattr(self, f"{name}_scale").copy_(scale)
            getattr(self, f"{name}_offset").copy_(offset)

    def normalize(self, latent: torch.Tensor) -> torch.Tensor:
        return latent * self.param_scale + self.param_offset

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.param_offset) / self.param_scale

    def normalize_cond(self, cond: torch.Tensor) -> torch.Tensor:
        """``[N, E]`` raw condition -> normalized ``[traj * s + o, task * s + o]``."""
        half = self.cond_dim // 2
        return torch.cat(
            [cond[:, :half] * self.traj_scale + self.traj_offset, cond[:, half:] * self.task_scale + self.task_offset],
            dim=1,
        )

    def loss(self, latent: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Denoising loss; ``cond`` ``[B, E]`` is normalized first (see :meth:`LatentDiffusion.loss`)."""
        return super().loss(latent, self.normalize_cond(self._check_cond(cond)))

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, num_candidates: int, seed: int, steps: int | None = None,
               guidance_scale: float | None = None) -> torch.Tensor:
        """As :meth:`LatentDiffusion.sample`, with ``cond`` normalized first."""
        return super().sample(self.normalize_cond(self._check_cond(cond)), num_candidates, seed, steps,
                              guidance_scale)
