"""Parameter autoencoder: flat policy weights ``[B, P]`` <-> latent tokens ``[B, T, C]``.

The flat vector is split into ``T`` chunks that follow the network's layers (``layout.layer_slices()``, grouped
by ``AutoencoderConfig.chunks``). Each chunk has its own MLP encoder/decoder, so the latent has one token per
chunk. Parameters are standardized per parameter (mean/std over the policy zoo, :meth:`fit_normalizer`)
before encoding; in training mode Gaussian noise is added to the normalized input and to the latent (the
augmentation of the paper/official code).
"""

from __future__ import annotations

import torch
from torch import nn

from maa_core.layout import LayoutError, PolicyLayout
from maa_generator.models.config import AutoencoderConfig

_ACT = {"silu": nn.SiLU, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU}


def _mlp(sizes: list[int], activation: str) -> nn.Sequential:
    """Linear layers with LayerNorm + activation between them (none after the last)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers += [nn.LayerNorm(sizes[i + 1]), _ACT[activation]()]
    return nn.Sequential(*layers)


def chunk_slices(layout: PolicyLayout, chunks: list[list[int]]) -> list[slice]:
    """Slice of the flat parameter vector covered by each chunk of consecutive layers."""
    layer_slices = layout.layer_slices()
    return [slice(layer_slices[c[0]].start, layer_slices[c[-1]].stop) for c in chunks]


def resolve_chunks(layout: PolicyLayout, chunks: list[list[int]] | None) -> list[list[int]]:
    """Validate ``chunks`` against the layout's layers (``None``: one chunk per layer)."""
    n = layout.num_layers
    if chunks is None:
        return [[i] for i in range(n)]
    flat = [i for c in chunks for i in c]
    if flat != list(range(n)):
        raise LayoutError(
            f"autoencoder.chunks {chunks} must cover the {n} layers of layout {layout.name} "
            f"(0..{n - 1}) exactly once, in order"
        )
    return [list(c) for c in chunks]


class ParamAutoencoder(nn.Module):
    """Chunked MLP autoencoder over a :class:`PolicyLayout`'s flat parameters.

    Attributes:
        latent_shape: ``(T, C)``: tokens (= chunks) x channels.
        chunk_slices: slice of the flat vector covered by each token.
    """

    def __init__(self, layout: PolicyLayout, cfg: AutoencoderConfig):
        super().__init__()
        self.layout = layout
        self.cfg = cfg
        self.chunks = resolve_chunks(layout, cfg.chunks)
        self.chunk_slices = chunk_slices(layout, self.chunks)
        c = cfg.latent_channels
        self.encoders = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for sl in self.chunk_slices:
            size = sl.stop - sl.start
            self.encoders.append(_mlp([size, *cfg.hidden, c], cfg.activation))
            self.decoders.append(_mlp([c, *reversed(cfg.hidden), size], cfg.activation))
        p = layout.num_params
        self.register_buffer("param_mean", torch.zeros(p))
        self.register_buffer("param_std", torch.ones(p))

    @property
    def latent_shape(self) -> tuple[int, int]:
        return (len(self.chunks), self.cfg.latent_channels)

    # ------------------------------------------------------------ normalization
    @torch.no_grad()
    def fit_normalizer(self, flat: torch.Tensor) -> None:
        """Set the per-parameter mean/std buffers from a zoo ``flat`` ``[N, P]`` (std floored at ``std_floor``)."""
        flat = self._check(flat)
        self.param_mean.copy_(flat.mean(0))
        std = flat.std(0, unbiased=False) if flat.shape[0] > 1 else torch.zeros_like(flat[0])
        self.param_std.copy_(std.clamp_min(self.cfg.std_floor))

    def normalize(self, flat: torch.Tensor) -> torch.Tensor:
        return (flat - self.param_mean) / self.param_std

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.param_std + self.param_mean

    def _check(self, flat: torch.Tensor) -> torch.Tensor:
        if not isinstance(flat, torch.Tensor):
            flat = torch.as_tensor(flat)
        p = self.layout.num_params
        if flat.ndim != 2 or flat.shape[1] != p:
            raise LayoutError(
                f"expected flat parameters of shape [B, {p}] for layout {self.layout.name}, got {list(flat.shape)}"
            )
        if not torch.isfinite(flat).all():
            raise LayoutError(f"flat parameters contain {int((~torch.isfinite(flat)).sum())} non-finite values")
        return flat.to(self.param_mean.dtype)

    # ------------------------------------------------------------ encode/decode
    def encode(self, flat: torch.Tensor) -> torch.Tensor:
        """Raw flat parameters ``[B, P]`` -> latent ``[B, T, C]`` (noise on input and latent in training mode)."""
        if self.encoders is None:
            raise RuntimeError("this autoencoder comes from a generation-only bundle (Generator.save(generation_only="
                               "True)): it decodes latents but has no encoders; load the training run's generator "
                               "to encode policies")
        z = self.normalize(self._check(flat))
        if self.training and self.cfg.input_noise > 0:
            z = z + self.cfg.input_noise * torch.randn_like(z)
        tokens = [enc(z[:, sl]) for enc, sl in zip(self.encoders, self.chunk_slices)]
        latent = torch.stack(tokens, dim=1)
        if self.training and self.cfg.latent_noise > 0:
            latent = latent + self.cfg.latent_noise * torch.randn_like(latent)
        return latent

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Latent ``[B, T, C]`` -> raw flat parameters ``[B, P]`` (denormalized)."""
        t, c = self.latent_shape
        if latent.ndim != 3 or tuple(latent.shape[1:]) != (t, c):
            raise LayoutError(f"expected latent of shape [B, {t}, {c}], got {list(latent.shape)}")
        parts = [dec(latent[:, i]) for i, dec in enumerate(self.decoders)]
        return self.denormalize(torch.cat(parts, dim=1))

    def loss(self, flat: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Reconstruction loss: MSE in normalized parameter space.

        Returns ``(loss, {"recon_mse": normalized MSE, "param_mse": MSE of raw parameters})``.
        """
        flat = self._check(flat)
        recon = self.decode(self.encode(flat))
        target = self.normalize(flat)
        loss = torch.mean((self.normalize(recon) - target) ** 2)
        with torch.no_grad():
            param_mse = torch.mean((recon - flat) ** 2)
        return loss, {"recon_mse": float(loss.detach()), "param_mse": float(param_mse)}

    def reconstruct(self, flat: torch.Tensor) -> torch.Tensor:
        """Encode + decode ``[B, P]`` -> ``[B, P]``."""
        return self.decode(self.encode(flat))
