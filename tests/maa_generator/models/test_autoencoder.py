"""ParamAutoencoder: chunking, normalization, noise, overfitting a tiny zoo, errors."""

import numpy as np
import pytest
import torch

from maa_core.layout import LayoutError, PolicyLayout, metaworld_sac_layout
from maa_generator.models.autoencoder import ParamAutoencoder
from maa_generator.models.config import AutoencoderConfig

SMALL = PolicyLayout(obs_dim=6, action_dim=2, hidden=(16, 16), name="small")


def _zoo(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(SMALL.num_params, generator=g) * 0.5
    return base + 0.2 * torch.randn(n, SMALL.num_params, generator=g) * torch.rand(SMALL.num_params, generator=g)


def test_chunks_follow_layers():
    lay = metaworld_sac_layout()
    ae = ParamAutoencoder(lay, AutoencoderConfig(chunks=[[0], [1, 2]], latent_channels=8, hidden=[16]))
    sl = lay.layer_slices()
    assert ae.latent_shape == (2, 8)
    assert ae.chunk_slices == [slice(0, sl[0].stop), slice(sl[1].start, lay.num_params)]
    ae2 = ParamAutoencoder(lay, AutoencoderConfig(chunks=None, latent_channels=8, hidden=[]))
    assert ae2.latent_shape == (3, 8) and ae2.chunk_slices == sl
    with pytest.raises(LayoutError, match="must cover the 3 layers"):
        ParamAutoencoder(lay, AutoencoderConfig(chunks=[[0], [1]]))


def test_shapes_normalizer_and_noise():
    torch.manual_seed(0)
    zoo = _zoo()
    ae = ParamAutoencoder(SMALL, AutoencoderConfig(latent_channels=8, hidden=[32], input_noise=0.1, latent_noise=0.1))
    ae.fit_normalizer(zoo)
    torch.testing.assert_close(ae.param_mean, zoo.mean(0))
    z = ae.normalize(zoo)
    assert torch.allclose(z.mean(0), torch.zeros(SMALL.num_params), atol=1e-4)
    torch.testing.assert_close(ae.denormalize(z), zoo)
    ae.eval()
    lat = ae.encode(zoo)
    assert lat.shape == (16, 3, 8)
    torch.testing.assert_close(ae.encode(zoo), lat)  # no noise in eval mode
    assert ae.decode(lat).shape == (16, SMALL.num_params)
    ae.train()
    assert not torch.allclose(ae.encode(zoo), lat)  # noise augmentation in training mode
    const = zoo.clone()
    const[:, 0] = 1.0
    ae.fit_normalizer(const)
    assert float(ae.param_std[0]) == pytest.approx(ae.cfg.std_floor)


def test_overfits_tiny_zoo():
    torch.manual_seed(0)
    zoo = _zoo()
    ae = ParamAutoencoder(SMALL, AutoencoderConfig(latent_channels=16, hidden=[64]))
    ae.fit_normalizer(zoo)
    opt = torch.optim.Adam(ae.parameters(), lr=2e-3)
    ae.eval()
    with torch.no_grad():
        initial = float(ae.loss(zoo)[0])
    ae.train()
    for _ in range(300):
        loss, metrics = ae.loss(zoo)
        opt.zero_grad()
        loss.backward()
        opt.step()
    ae.eval()
    with torch.no_grad():
        final, metrics = ae.loss(zoo)
    assert set(metrics) >= {"recon_mse", "param_mse"}
    assert initial > 0.5
    assert float(final) < 0.02 and float(final) < initial / 50


def test_errors():
    ae = ParamAutoencoder(SMALL, AutoencoderConfig(latent_channels=4, hidden=[8]))
    with pytest.raises(LayoutError, match=f"expected flat parameters of shape \\[B, {SMALL.num_params}\\]"):
        ae.encode(torch.zeros(2, SMALL.num_params + 1))
    with pytest.raises(LayoutError, match="expected flat parameters"):
        ae.encode(torch.zeros(SMALL.num_params))
    bad = torch.zeros(2, SMALL.num_params)
    bad[1, 5] = float("nan")
    with pytest.raises(LayoutError, match="non-finite"):
        ae.loss(bad)
    with pytest.raises(LayoutError, match="non-finite"):
        ae.fit_normalizer(bad)
    with pytest.raises(LayoutError, match="expected latent of shape \\[B, 3, 4\\]"):
        ae.decode(torch.zeros(2, 2, 4))
    ae.fit_normalizer(np.zeros((3, SMALL.num_params), np.float32))  # numpy accepted
