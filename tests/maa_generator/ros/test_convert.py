"""The generator's ROS conversion of policy weights, through a real serialized maa_msgs/PolicyWeights."""
import numpy as np
import pytest

from maa_core.layout import PolicyLayout
from maa_core.weights_codec import PolicyMeta


@pytest.mark.ros
def test_round_trip_real_message_serialized():
    from rclpy.serialization import deserialize_message, serialize_message

    from maa_generator.ros.convert import weights_from_msg, weights_to_msg
    from maa_msgs.msg import PolicyWeights

    layout = PolicyLayout(obs_dim=7, action_dim=3, hidden=(16,), activation="elu", output="linear", name="t")
    flat = np.random.default_rng(1).normal(size=layout.num_params).astype(np.float32)
    wire = serialize_message(weights_to_msg(layout, flat, PolicyMeta(generator_id="g", score=0.5)))
    back = deserialize_message(wire, PolicyWeights)
    got_layout, got_flat, meta = weights_from_msg(back, expected=layout)
    np.testing.assert_array_equal(got_flat, flat)
    assert meta.generator_id == "g" and meta.score == 0.5
