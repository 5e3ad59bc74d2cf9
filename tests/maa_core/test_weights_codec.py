"""PolicyWeights codec: round trip through a real ROS message and every rejection path."""
from __future__ import annotations

import types

import numpy as np
import pytest

from maa_core.layout import PolicyLayout, metaworld_sac_layout
from maa_core.weights_codec import PolicyMeta, WeightsError, decode_message, weights_fields


def _msg(layout, flat, **meta):
    return types.SimpleNamespace(**weights_fields(layout, flat, PolicyMeta(**meta)))


def test_round_trip_namespace():
    layout = metaworld_sac_layout()
    flat = np.random.default_rng(0).normal(size=layout.num_params).astype(np.float32)
    got_layout, got_flat, meta = decode_message(_msg(layout, flat, task="reach", seed=3), expected=layout)
    assert got_layout.fingerprint() == layout.fingerprint()
    np.testing.assert_array_equal(got_flat, flat)
    assert (meta.task, meta.seed) == ("reach", 3)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda m: setattr(m, "data", m.data[:-1]), "expected 22664 parameters"),
        (lambda m: m.data.__setitem__(5, np.nan), "non-finite"),
        (lambda m: setattr(m, "checksum", "0" * 64), "checksum mismatch"),
        (lambda m: setattr(m, "layer_sizes", [39, 64, 128, 8]), "layout_fingerprint"),
        (lambda m: setattr(m, "activation", "swish"), "unknown activation"),
        (lambda m: setattr(m, "layer_sizes", [39]), "at least input and output"),
    ],
)
def test_rejections(mutate, message):
    layout = metaworld_sac_layout()
    msg = _msg(layout, np.zeros(layout.num_params, np.float32))
    msg.data = msg.data.copy()
    mutate(msg)
    with pytest.raises(WeightsError, match=message):
        decode_message(msg)


def test_layout_mismatch_against_expected():
    layout = metaworld_sac_layout()
    other = PolicyLayout(obs_dim=39, action_dim=4, hidden=(64, 64), name="small")
    msg = _msg(other, np.zeros(other.num_params, np.float32))
    with pytest.raises(WeightsError, match="layout mismatch: this target runs metaworld_sac"):
        decode_message(msg, expected=layout)
