"""PolicyLayout / policy_torch: flat order, numpy vs torch forward, batched forward, errors."""

import numpy as np
import pytest
import torch

from maa_core.layout import LayoutError, PolicyLayout, metaworld_sac_layout, require_same_layout, stack_flat
from maa_core.policy_torch import PolicyMLP, batched_forward

LAYOUTS = [
    metaworld_sac_layout(),
    PolicyLayout(obs_dim=5, action_dim=3, hidden=(7, 6, 4), activation="elu", output="linear", name="small"),
    PolicyLayout(obs_dim=4, action_dim=2, hidden=(8,), activation="tanh", output="tanh", name="tanh"),
]


def test_metaworld_param_count():
    assert metaworld_sac_layout().num_params == 22664


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: lay.name)
def test_flatten_unflatten_roundtrip_exact(layout):
    flat = np.random.default_rng(0).normal(size=layout.num_params).astype(np.float32)
    params = layout.unflatten(flat)
    assert [k for k in params] == [k for k, _ in layout.param_shapes()]
    np.testing.assert_array_equal(layout.flatten(params), flat)
    # torch module state dict uses the same names and order
    mlp = PolicyMLP(layout).load_flat(flat)
    np.testing.assert_array_equal(mlp.flat(), flat)
    # layer slices tile the vector
    sl = layout.layer_slices()
    assert sl[0].start == 0 and sl[-1].stop == layout.num_params
    assert all(a.stop == b.start for a, b in zip(sl, sl[1:]))


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: lay.name)
def test_numpy_forward_matches_torch(layout):
    rng = np.random.default_rng(1)
    flat = (0.3 * rng.normal(size=layout.num_params)).astype(np.float32)
    obs = rng.normal(size=(16, layout.obs_dim)).astype(np.float32)
    a_np = layout.forward_numpy(flat, obs)
    with torch.no_grad():
        a_t = PolicyMLP(layout).load_flat(flat)(torch.from_numpy(obs)).numpy()
    assert a_np.shape == (16, layout.action_dim)
    np.testing.assert_allclose(a_np, a_t, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: lay.name)
def test_batched_forward_matches_single(layout):
    rng = np.random.default_rng(2)
    k, b = 4, 5
    flats = (0.3 * rng.normal(size=(k, layout.num_params))).astype(np.float32)
    obs = rng.normal(size=(k, b, layout.obs_dim)).astype(np.float32)
    with torch.no_grad():
        out = batched_forward(layout, torch.from_numpy(flats), torch.from_numpy(obs)).numpy()
        raw = batched_forward(layout, torch.from_numpy(flats), torch.from_numpy(obs), raw=True).numpy()
        for i in range(k):
            mlp = PolicyMLP(layout).load_flat(flats[i])
            single = mlp(torch.from_numpy(obs[i])).numpy()
            np.testing.assert_allclose(out[i], single, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(raw[i], mlp.raw(torch.from_numpy(obs[i])).numpy(), rtol=1e-5, atol=1e-5)
    assert raw.shape == (k, b, layout.output_dim)


def test_errors():
    layout = LAYOUTS[1]
    flat = np.zeros(layout.num_params, np.float32)
    with pytest.raises(LayoutError, match=f"expected parameters of shape \\[{layout.num_params}\\]"):
        layout.unflatten(flat[:-1])
    bad = flat.copy()
    bad[3] = np.nan
    with pytest.raises(LayoutError, match="non-finite"):
        layout.unflatten(bad)
    with pytest.raises(LayoutError, match="non-finite"):
        PolicyMLP(layout).load_flat(bad)
    params = layout.unflatten(flat)
    with pytest.raises(LayoutError, match="unexpected \\['extra'\\]"):
        layout.flatten({**params, "extra": np.zeros(1)})
    missing = dict(params)
    missing.pop("layers.0.bias")
    with pytest.raises(LayoutError, match="missing \\['layers.0.bias'\\]"):
        layout.flatten(missing)
    with pytest.raises(LayoutError, match="layers.0.weight: expected shape"):
        layout.flatten({**params, "layers.0.weight": np.zeros((2, 2))})
    with pytest.raises(LayoutError, match="last dim 5"):
        layout.forward_numpy(flat, np.zeros((3, 4)))
    with pytest.raises(LayoutError, match="expected parameters \\[K"):
        batched_forward(layout, torch.zeros(2, 3), torch.zeros(2, 1, 5))
    with pytest.raises(LayoutError, match="expected observations"):
        batched_forward(layout, torch.zeros(2, layout.num_params), torch.zeros(3, 1, 5))
    with pytest.raises(LayoutError, match="\\[K, "):
        stack_flat(layout, [np.zeros(3), np.zeros(3)])
    with pytest.raises(LayoutError, match="unknown layout keys"):
        PolicyLayout.from_dict({**layout.to_dict(), "bogus": 1})
    with pytest.raises(LayoutError, match="unknown activation"):
        PolicyLayout(obs_dim=3, action_dim=1, activation="swish")
    with pytest.raises(LayoutError, match="layout mismatch"):
        require_same_layout(LAYOUTS[0], LAYOUTS[1])


def test_dict_roundtrip_and_fingerprint():
    for layout in LAYOUTS:
        again = PolicyLayout.from_dict(layout.to_dict())
        assert again == layout and again.fingerprint() == layout.fingerprint()
    renamed = PolicyLayout.from_dict({**LAYOUTS[0].to_dict(), "name": "other"})
    assert renamed.fingerprint() == LAYOUTS[0].fingerprint()
    assert LAYOUTS[0].fingerprint() != LAYOUTS[1].fingerprint()
