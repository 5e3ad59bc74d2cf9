"""PolicyWeights codec: round trip through a real ROS message and every rejection path."""
from __future__ import annotations

import types

import numpy as np
import pytest

from maa_generator.layout import PolicyLayout, metaworld_sac_layout
from maa_generator.weights_codec import PolicyMeta, WeightsError, decode_message, weights_fields


def _msg(layout, flat, **meta):
    return types.SimpleNamespace(**weights_fields(layout, flat, PolicyMeta(**meta)))


def test_round_trip_namespace():
    layout = metaworld_sac_layout()
    flat = np.random.default_rng(0).normal(size=layout.num_params).astype(np.float32)
    got_layout, got_flat, meta = decode_message(_msg(layout, flat, task="reach", seed=3), expected=layout)
    assert got_layout.fingerprint() == layout.fingerprint()
    np.testing.assert_array_equal(got_flat, flat)
    assert (meta.task, meta.seed) == ("reach", 3)


@pytest.mark.ros
def test_round_trip_real_message_serialized():
    from rclpy.serialization import deserialize_message, serialize_message

    from maa_generator.ros_convert import weights_from_msg, weights_to_msg
    from maa_msgs.msg import PolicyWeights

    layout = PolicyLayout(obs_dim=7, action_dim=3, hidden=(16,), activation="elu", output="linear", name="t")
    flat = np.random.default_rng(1).normal(size=layout.num_params).astype(np.float32)
    wire = serialize_message(weights_to_msg(layout, flat, PolicyMeta(generator_id="g", score=0.5)))
    back = deserialize_message(wire, PolicyWeights)
    got_layout, got_flat, meta = weights_from_msg(back, expected=layout)
    np.testing.assert_array_equal(got_flat, flat)
    assert meta.generator_id == "g" and meta.score == 0.5


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
