"""Typed model configuration (autoencoder, embedding, diffusion) loaded from the top-level YAML keys
``autoencoder:``, ``embedding:`` and ``diffusion:`` (see ``config/{tiny,default,paper}.yaml``) through
:mod:`maa_core.config`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from maa_core.config import ConfigError, from_dict, load_yaml, to_dict

MODEL_SECTIONS = ("autoencoder", "embedding", "diffusion")


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ConfigError(msg)


# --------------------------------------------------------------------------- model configs
@dataclass
class AutoencoderConfig:
    """Parameter autoencoder (policy weights <-> latent tokens ``[T, C]``).

    Args:
        kind: ``maa`` (default: per-chunk MLPs with biases and LayerNorm over standardized parameters) or
            ``official`` (the released Make-An-Agent ``EncoderDecoder``: bias-free Linear layers per token on raw
            parameters, one LayerNorm ``ln_in`` over the stacked latent; ``hidden``/``activation``/``std_floor``
            are unused, ``depth`` sets the encoder/decoder depth). See ``docs/official_checkpoints.md``.
        chunks: layer indices per latent token, e.g. ``[[0], [1, 2]]`` (the paper's two tokens for the 3-layer
            MetaWorld actor). ``None``: one token per linear layer. Every layer must appear exactly once, in order.
        latent_channels: ``C``, size of each token.
        hidden: hidden widths of each per-chunk MLP encoder (mirrored in the decoder).
        activation: ``silu`` | ``elu`` | ``leaky_relu`` | ``gelu``.
        input_noise: std of Gaussian noise added to the (normalized) parameters in training mode. The official
            config uses 0.001; the paper text states 1e-4.
        latent_noise: std of Gaussian noise added to the latent in training mode. Official config 0.01; paper 1e-3.
        std_floor: lower bound on per-parameter std of the normalizer (keeps constant parameters finite).
        depth: ``official`` only: Linear layers per token in the encoder and in the decoder (official 1).
    """

    kind: str = "maa"
    chunks: list[list[int]] | None = None
    latent_channels: int = 64
    hidden: list[int] = field(default_factory=lambda: [256])
    activation: str = "silu"
    input_noise: float = 0.001
    latent_noise: float = 0.01
    std_floor: float = 1e-4
    depth: int = 1

    def __post_init__(self) -> None:
        _check(self.kind in ("maa", "official"), f"autoencoder.kind must be maa|official, got {self.kind!r}")
        _check(self.depth >= 1, f"autoencoder.depth must be >= 1, got {self.depth}")
        _check(self.latent_channels > 0, f"autoencoder.latent_channels must be > 0, got {self.latent_channels}")
        _check(all(h > 0 for h in self.hidden), f"autoencoder.hidden widths must be > 0, got {self.hidden}")
        _check(
            self.activation in ("silu", "elu", "leaky_relu", "gelu"),
            f"autoencoder.activation must be silu|elu|leaky_relu|gelu, got {self.activation!r}",
        )
        _check(
            self.input_noise >= 0 and self.latent_noise >= 0,
            f"autoencoder noise must be >= 0, got input_noise={self.input_noise}, latent_noise={self.latent_noise}",
        )
        _check(self.std_floor > 0, f"autoencoder.std_floor must be > 0, got {self.std_floor}")
        if self.chunks is not None:
            _check(
                len(self.chunks) > 0 and all(len(c) > 0 for c in self.chunks),
                f"autoencoder.chunks must be non-empty lists of layer indices, got {self.chunks}",
            )
            flat = [i for c in self.chunks for i in c]
            _check(
                flat == list(range(len(flat))),
                f"autoencoder.chunks must cover layers 0..L-1 exactly once in order, got {self.chunks}",
            )


@dataclass
class EmbeddingConfig:
    """Behavior embedding (contrastive, two branches).

    Args:
        kind: ``maa`` (default: LayerNorm + ReLU MLPs on both branches, mean/std input normalizer, symmetric
            InfoNCE) or ``official`` (the released ``Embedding``: trajectory branch Linear-ReLU MLP without
            LayerNorm, success ("task") branch Linear-LayerNorm-Tanh, min/max "limits" input normalizer,
            row-wise InfoNCE). See ``docs/official_checkpoints.md``.
        n_steps: ``n``, number of leading state-action pairs in the trajectory prompt ``h`` (paper 60).
        m_states: ``m``, number of states after the first success in the success prompt ``v`` (paper 3).
        hidden: hidden widths of the trajectory branch (and of the success branch unless ``v_hidden`` is set).
        v_hidden: hidden widths of the success branch (``None``: ``hidden``; official: ``[256]``).
        out_dim: output width of each branch (paper 128); the condition is their concatenation (``2*out_dim``).
        temperature: InfoNCE logits are divided by this.
        w_init: initial scale of the learnable bilinear metric ``W`` (``w_init * I``).
        segments: 0: success prompts (manipulation). >0: segmented prompts with that many segments (locomotion);
            the embedding of a multi-segment prompt is the mean of its per-segment embeddings.
        obs_dim, act_dim: trajectory dims if they differ from the policy layout's (``None``: use the layout's).
        h_dim, v_dim: prompt sizes if they are not ``n * (obs + act)`` / ``m * obs`` (``None``: derived). The
            official ``data.pt`` has ``h_dim = 1020`` (60 x 17) and ``v_dim = 117`` (3 x 39); such prompts
            cannot be built from a raw trajectory, so the generator then takes prompts directly
            (:meth:`~maa_generator.models.generator.Generator.generate_from_prompts`).
        embed_normalized: apply the input normalizer when computing the diffusion condition (:meth:`embed`).
            Training always normalizes. The official pipeline embedded *raw* prompts for the diffusion dataset
            (``dataset/process_data.py``), so official checkpoints need ``false``.
        input_clip: clip the standardized prompt features to ``[-input_clip, input_clip]`` (0: no clipping).
            Prompts of tasks the embedding never saw can sit thousands of standard deviations out (a coordinate
            that is constant on every training task); clipping bounds what the MLPs extrapolate from.
        ignore_constant_features: features whose training std is below the normalizer floor (constant on the
            training prompts, so nothing was learned about them) are standardized to 0 instead of divided by
            the floor.
    """

    kind: str = "maa"
    n_steps: int = 60
    m_states: int = 3
    hidden: list[int] = field(default_factory=lambda: [256, 256])
    out_dim: int = 128
    temperature: float = 1.0
    w_init: float = 1.0
    segments: int = 0
    obs_dim: int | None = None
    act_dim: int | None = None
    h_dim: int | None = None
    v_dim: int | None = None
    v_hidden: list[int] | None = None
    embed_normalized: bool = True
    input_clip: float = 0.0
    ignore_constant_features: bool = False

    def __post_init__(self) -> None:
        _check(self.kind in ("maa", "official"), f"embedding.kind must be maa|official, got {self.kind!r}")
        _check(math.isfinite(self.input_clip) and self.input_clip >= 0,
               f"embedding.input_clip must be a finite number >= 0 (0 = off), got {self.input_clip}")
        _check(self.kind == "maa" or (self.input_clip == 0 and not self.ignore_constant_features),
               "embedding.input_clip / ignore_constant_features apply to kind maa only (official keeps its "
               "limits normalizer)")
        _check(
            self.v_hidden is None or all(h > 0 for h in self.v_hidden),
            f"embedding.v_hidden widths must be > 0, got {self.v_hidden}",
        )
        _check(self.n_steps > 0, f"embedding.n_steps must be > 0, got {self.n_steps}")
        _check(self.m_states > 0, f"embedding.m_states must be > 0, got {self.m_states}")
        _check(self.out_dim > 0, f"embedding.out_dim must be > 0, got {self.out_dim}")
        _check(all(h > 0 for h in self.hidden), f"embedding.hidden widths must be > 0, got {self.hidden}")
        _check(self.temperature > 0, f"embedding.temperature must be > 0, got {self.temperature}")
        _check(self.segments >= 0, f"embedding.segments must be >= 0, got {self.segments}")
        _check(
            self.segments == 0 or (self.h_dim is None and self.v_dim is None),
            "embedding.h_dim/v_dim overrides are only supported with success prompts (segments: 0)",
        )
        for name in ("obs_dim", "act_dim", "h_dim", "v_dim"):
            v = getattr(self, name)
            _check(v is None or v > 0, f"embedding.{name} must be > 0 or null, got {v}")


@dataclass
class DiffusionConfig:
    """Latent diffusion: conditional 1D UNet + DDIM.

    The UNet treats the latent ``[T, C]`` as ``T`` input channels over a length-``C`` sequence; ``C`` must be
    divisible by ``2 ** (len(down_dims) - 1)``.

    Args:
        kind: ``maa`` (default: :class:`~maa_generator.models.diffusion.LatentUNet1D`, shared conditioning MLP,
            per-element latent center/scale) or ``official`` (the released ``ConditionalUnet1D``: per-block FiLM
            ``scale * x + bias`` from ``[time MLP(t), cond]``, kernel-2 down/up convolutions, min/max "limits"
            normalizers of latents and conditions; ``cond_embed_dim`` is unused). See
            ``docs/official_checkpoints.md``.
        down_dims: channel widths per UNet level (paper 512/1024/2048).
        kernel_size: conv kernel size (odd).
        n_groups: GroupNorm groups (must divide every width).
        blocks_per_level: residual blocks per level on the way down (and up).
        time_embed_dim: sinusoidal timestep embedding width.
        cond_embed_dim: width of the conditioning MLP output (timestep + behavior embedding).
        train_timesteps, beta_schedule, clip_sample, clip_sample_range, prediction_type, inference_steps: DDIM.
        ema_decay: decay of the EMA copy used for sampling.
        cond_dropout: probability that a training example's condition is replaced by the null condition (all
            zeros), which teaches the same UNet an unconditional prior (classifier-free guidance). 0 disables it.
        guidance_scale: default classifier-free guidance weight ``w`` at sampling: the denoiser output is
            ``uncond + w * (cond - uncond)``. 1 = purely conditional (no extra UNet pass); ``w < 1`` mixes in the
            unconditional prior (more diverse policies), ``w > 1`` sharpens the conditioning. ``w != 1`` needs a
            model trained with ``cond_dropout > 0``.
        cond_noise: std of Gaussian noise added to the conditions in training (0: none). Smooths the
            condition -> latent map, so that a prompt unlike every training prompt is mapped to policies of the
            nearest training behaviors instead of off the latent manifold.
    """

    kind: str = "maa"
    down_dims: list[int] = field(default_factory=lambda: [64, 128, 256])
    kernel_size: int = 5
    n_groups: int = 8
    blocks_per_level: int = 2
    time_embed_dim: int = 128
    cond_embed_dim: int = 256
    train_timesteps: int = 100
    beta_schedule: str = "squaredcos_cap_v2"
    clip_sample: bool = True
    clip_sample_range: float = 1.0
    prediction_type: str = "sample"
    inference_steps: int = 10
    ema_decay: float = 0.999
    cond_dropout: float = 0.0
    guidance_scale: float = 1.0
    cond_noise: float = 0.0

    def __post_init__(self) -> None:
        _check(self.kind in ("maa", "official"), f"diffusion.kind must be maa|official, got {self.kind!r}")
        _check(
            len(self.down_dims) >= 1 and all(d > 0 for d in self.down_dims),
            f"diffusion.down_dims must be non-empty positive widths, got {self.down_dims}",
        )
        _check(
            self.kernel_size > 0 and self.kernel_size % 2 == 1,
            f"diffusion.kernel_size must be a positive odd int, got {self.kernel_size}",
        )
        _check(
            self.n_groups > 0 and all(d % self.n_groups == 0 for d in self.down_dims),
            f"diffusion.n_groups={self.n_groups} must divide every down_dims width {self.down_dims}",
        )
        _check(self.blocks_per_level >= 1, f"diffusion.blocks_per_level must be >= 1, got {self.blocks_per_level}")
        _check(
            self.time_embed_dim > 0 and self.time_embed_dim % 2 == 0,
            f"diffusion.time_embed_dim must be a positive even int, got {self.time_embed_dim}",
        )
        _check(self.cond_embed_dim > 0, f"diffusion.cond_embed_dim must be > 0, got {self.cond_embed_dim}")
        _check(self.train_timesteps > 1, f"diffusion.train_timesteps must be > 1, got {self.train_timesteps}")
        _check(
            self.beta_schedule in ("squaredcos_cap_v2", "linear", "scaled_linear"),
            f"diffusion.beta_schedule must be squaredcos_cap_v2|linear|scaled_linear, got {self.beta_schedule!r}",
        )
        _check(
            self.prediction_type in ("sample", "epsilon", "v_prediction"),
            f"diffusion.prediction_type must be sample|epsilon|v_prediction, got {self.prediction_type!r}",
        )
        _check(
            0 < self.inference_steps <= self.train_timesteps,
            f"diffusion.inference_steps must be in 1..{self.train_timesteps}, got {self.inference_steps}",
        )
        _check(0.0 <= self.ema_decay < 1.0, f"diffusion.ema_decay must be in [0, 1), got {self.ema_decay}")
        _check(self.clip_sample_range > 0, f"diffusion.clip_sample_range must be > 0, got {self.clip_sample_range}")
        _check(0.0 <= self.cond_dropout < 1.0, f"diffusion.cond_dropout must be in [0, 1), got {self.cond_dropout}")
        check_guidance(self.guidance_scale, self.cond_dropout, "diffusion.guidance_scale")
        _check(math.isfinite(self.cond_noise) and self.cond_noise >= 0,
               f"diffusion.cond_noise must be a finite number >= 0, got {self.cond_noise}")


def check_guidance(scale: float, cond_dropout: float, name: str = "guidance_scale") -> None:
    """Raise :class:`ConfigError` unless ``scale`` is a finite weight >= 0 that the model can use (``!= 1`` needs
    ``cond_dropout > 0``)."""
    _check(isinstance(scale, (int, float)) and math.isfinite(scale) and scale >= 0,
           f"{name} must be a finite number >= 0, got {scale!r}")
    _check(scale == 1.0 or cond_dropout > 0,
           f"{name}={scale} needs a model trained with diffusion.cond_dropout > 0 (it has 0): without an "
           "unconditional prior only guidance_scale 1 is defined")


@dataclass
class ModelConfig:
    """The three generator stages."""

    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)

    @classmethod
    def from_mapping(cls, data: Mapping, *, model_sections_only: bool = False,
                     source: str | Path | None = None) -> ModelConfig:
        """Build from a dict (``source``: the file it came from, named in errors). With ``model_sections_only``,
        other top-level sections (data, training) are ignored."""
        if model_sections_only:
            data = {k: v for k, v in data.items() if k in MODEL_SECTIONS}
        return from_dict(cls, data, source=source)

    @classmethod
    def from_yaml(cls, path: str | Path) -> ModelConfig:
        """Load the model sections of a preset (``config/default.yaml``, composed on its ``base:`` files); other
        top-level sections are ignored. A whole preset with overrides: ``maa_generator.training.config``."""
        return cls.from_mapping(load_yaml(path), model_sections_only=True, source=path)

    def to_dict(self) -> dict:
        return to_dict(self)
