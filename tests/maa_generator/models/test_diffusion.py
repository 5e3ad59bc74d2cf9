"""LatentUNet1D / LatentDiffusion: shapes, normalization, EMA, memorization, seeded sampling, errors."""

import dataclasses

import pytest
import torch

from maa_core.config import ConfigError
from maa_generator.models.config import DiffusionConfig
from maa_generator.models.diffusion import DiffusionError, LatentDiffusion, LatentUNet1D, SeqConv1d, Upsample2x

CFG = DiffusionConfig(
    down_dims=[32, 64],
    kernel_size=3,
    n_groups=8,
    blocks_per_level=1,
    time_embed_dim=32,
    cond_embed_dim=64,
    ema_decay=0.9,
)


@pytest.mark.parametrize("tokens", [1, 2, 3, 5])
def test_unet_shapes_any_token_count(tokens):
    unet = LatentUNet1D((tokens, 16), 8, DiffusionConfig(down_dims=[16, 32, 32], n_groups=4, kernel_size=3))
    x = torch.randn(4, tokens, 16)
    out = unet(x, torch.tensor([0, 5, 50, 99]), torch.randn(4, 8))
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_scheduler_matches_config():
    diff = LatentDiffusion((2, 16), 8, CFG)
    c = diff.scheduler.config
    assert (c.num_train_timesteps, c.beta_schedule, c.clip_sample, c.prediction_type) == (
        100,
        "squaredcos_cap_v2",
        True,
        "sample",
    )


def test_latent_normalizer_maps_into_clip_range():
    diff = LatentDiffusion((2, 16), 8, CFG)
    lat = 5 + 3 * torch.randn(50, 2, 16)
    diff.fit_latent_normalizer(lat)
    z = diff.normalize(lat)
    assert float(z.abs().max()) <= 1.0 + 1e-5 and float(z.abs().max()) > 0.99
    torch.testing.assert_close(diff.denormalize(z), lat)


def test_ema_tracks_unet_and_is_used_for_sampling():
    torch.manual_seed(0)
    diff = LatentDiffusion((2, 16), 8, CFG)
    cond = torch.randn(1, 8)
    before = diff.sample(cond, 1, seed=0)
    with torch.no_grad():
        for p in diff.unet.parameters():
            p.add_(0.05)
    torch.testing.assert_close(diff.sample(cond, 1, seed=0), before)  # UNet changed, EMA not yet updated
    diff.update_ema()
    assert int(diff.ema_updates) == 1
    assert not torch.allclose(diff.sample(cond, 1, seed=0), before)
    for _ in range(200):
        diff.update_ema()
    for pe, p in zip(diff.ema.parameters(), diff.unet.parameters()):
        torch.testing.assert_close(pe, p, rtol=1e-4, atol=1e-4)


def test_memorizes_latents_from_their_conditions():
    torch.manual_seed(0)
    latents = torch.randn(3, 2, 16)
    conds = 3 * torch.eye(3, 8)
    diff = LatentDiffusion((2, 16), 8, CFG)
    diff.fit_latent_normalizer(latents)
    opt = torch.optim.AdamW(diff.unet.parameters(), lr=2e-3)
    x, c = latents.repeat(8, 1, 1), conds.repeat(8, 1)
    for _ in range(400):
        loss, metrics = diff.loss(x, c)
        opt.zero_grad()
        loss.backward()
        opt.step()
        diff.update_ema()
    assert metrics["diffusion_mse"] < 0.05
    diff.eval()
    samples = diff.sample(conds, num_candidates=2, seed=0)
    assert samples.shape == (6, 2, 16)
    target = latents.repeat_interleave(2, 0)
    err = (samples - target).pow(2).mean((1, 2))
    spread = (latents[:, None] - latents[None]).pow(2).mean((2, 3))
    assert float(err.max()) < 0.05 * float(spread[spread > 0].min())


def _fit(diff: LatentDiffusion, latents: torch.Tensor, conds: torch.Tensor, steps: int = 400) -> float:
    diff.fit_latent_normalizer(latents)
    opt = torch.optim.AdamW(diff.unet.parameters(), lr=2e-3)
    x, c = latents.repeat(8, 1, 1), conds.repeat(8, 1)
    for _ in range(steps):
        loss, metrics = diff.loss(x, c)
        opt.zero_grad()
        loss.backward()
        opt.step()
        diff.update_ema()
    return metrics["diffusion_mse"]


def test_classifier_free_guidance_learns_conditional_and_prior():
    torch.manual_seed(0)
    latents = torch.randn(3, 2, 16)
    conds = 3 * torch.eye(3, 8)
    diff = LatentDiffusion((2, 16), 8, dataclasses.replace(CFG, cond_dropout=0.25))
    assert _fit(diff, latents, conds, 600) < 0.1
    diff.eval()
    spread = float((latents[:, None] - latents[None]).pow(2).mean((2, 3))[~torch.eye(3, dtype=bool)].min())
    cond_samples = diff.sample(conds, 2, seed=0, guidance_scale=1.0)
    err = (cond_samples - latents.repeat_interleave(2, 0)).pow(2).mean((1, 2))
    assert float(err.max()) < 0.05 * spread
    sharpened = diff.sample(conds, 2, seed=0, guidance_scale=2.0)
    err2 = (sharpened - latents.repeat_interleave(2, 0)).pow(2).mean((1, 2))
    assert float(err2.max()) < 0.1 * spread
    # w = 0: the unconditional prior ignores the condition and lands on the training latents
    prior = diff.sample(conds, 4, seed=3, guidance_scale=0.0)
    torch.testing.assert_close(diff.sample(conds.flip(0), 4, seed=3, guidance_scale=0.0), prior)
    nearest = (prior[:, None] - latents[None]).pow(2).mean((2, 3)).min(1).values
    assert float(nearest.max()) < 0.2 * spread


def test_condition_dropout_only_in_training_and_guidance_needs_it():
    diff = LatentDiffusion((2, 16), 8, dataclasses.replace(CFG, cond_dropout=0.5))
    seen = []
    real_unet = diff.unet.forward
    diff.unet.forward = lambda x, t, c: (seen.append(c.clone()), real_unet(x, t, c))[1]
    torch.manual_seed(0)
    diff.loss(torch.randn(64, 2, 16), torch.ones(64, 8))
    dropped = (seen[-1] == 0).all(1)
    assert 10 < int(dropped.sum()) < 54 and bool((seen[-1][~dropped] == 1).all())
    diff.eval()
    diff.loss(torch.randn(64, 2, 16), torch.ones(64, 8))
    assert bool((seen[-1] == 1).all())
    plain = LatentDiffusion((2, 16), 8, CFG).eval()
    with pytest.raises(DiffusionError, match="needs a model trained with diffusion.cond_dropout > 0"):
        plain.sample(torch.zeros(1, 8), 1, 0, guidance_scale=0.5)
    with pytest.raises(DiffusionError, match="must be a finite number >= 0"):
        diff.sample(torch.zeros(1, 8), 1, 0, guidance_scale=float("nan"))
    with pytest.raises(ConfigError, match="cond_dropout must be in"):
        DiffusionConfig(cond_dropout=1.0)
    with pytest.raises(ConfigError, match="guidance_scale=2.0 needs a model trained"):
        DiffusionConfig(guidance_scale=2.0)


def test_seeded_sampling_is_deterministic():
    diff = LatentDiffusion((2, 16), 8, CFG).eval()
    cond = torch.randn(2, 8)
    a = diff.sample(cond, 3, seed=7)
    torch.testing.assert_close(diff.sample(cond, 3, seed=7), a, rtol=0, atol=0)
    assert not torch.allclose(diff.sample(cond, 3, seed=8), a)
    assert diff.sample(cond, 3, seed=7, steps=4).shape == (6, 2, 16)


def test_errors():
    diff = LatentDiffusion((2, 16), 8, CFG)
    with pytest.raises(DiffusionError, match="expected latents of shape \\[B, 2, 16\\]"):
        diff.loss(torch.zeros(4, 3, 16), torch.zeros(4, 8))
    with pytest.raises(DiffusionError, match="expected condition of shape \\[4, 8\\]"):
        diff.loss(torch.zeros(4, 2, 16), torch.zeros(3, 8))
    with pytest.raises(DiffusionError, match="expected condition of shape \\[B, 8\\]"):
        diff.sample(torch.zeros(1, 9), 1, 0)
    with pytest.raises(DiffusionError, match="condition contains non-finite"):
        diff.sample(torch.full((1, 8), float("nan")), 1, 0)
    with pytest.raises(DiffusionError, match="latents contain non-finite"):
        diff.fit_latent_normalizer(torch.full((2, 2, 16), float("nan")))
    with pytest.raises(DiffusionError, match="num_candidates must be >= 1"):
        diff.sample(torch.zeros(1, 8), 0, 0)
    with pytest.raises(DiffusionError, match="steps must be in 1..100"):
        diff.sample(torch.zeros(1, 8), 1, 0, steps=0)


@pytest.mark.parametrize("k, stride, length", [(3, 1, 4), (5, 1, 2), (3, 2, 4), (3, 2, 1), (1, 1, 3), (5, 1, 7)])
def test_fast_convs_equal_torch_convs(k, stride, length):
    """SeqConv1d / Upsample2x are nn.Conv1d / nn.ConvTranspose1d with a faster forward: same outputs and keys."""
    torch.manual_seed(0)
    conv = SeqConv1d(8, 6, k, stride)
    x = torch.randn(2, 8, length)
    ref = torch.nn.Conv1d(8, 6, k, stride=stride, padding=k // 2)
    ref.load_state_dict(conv.state_dict())
    torch.testing.assert_close(conv(x), ref(x), rtol=1e-5, atol=1e-5)
    up = Upsample2x(8)
    ref_up = torch.nn.ConvTranspose1d(8, 8, 4, stride=2, padding=1)
    ref_up.load_state_dict(up.state_dict())
    torch.testing.assert_close(up(x), ref_up(x), rtol=1e-5, atol=1e-5)
    assert up(x).shape == (2, 8, 2 * length)
