"""Real ROS 2: the colcon-built GeneratePolicy service over DDS between two processes."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from maa_generator.ros.client import call_service, start_node, stop_node

pytestmark = pytest.mark.ros


@pytest.fixture()
def echo_server():
    proc = start_node("tests.ros_helpers.generate_policy_echo_server", ready_text="READY")
    yield proc
    assert stop_node(proc) == 0


def _prompt(obs: np.ndarray, act: np.ndarray):
    from maa_msgs.msg import Trajectory

    msg = Trajectory(domain="metaworld", task="reach", obs_dim=obs.shape[1], action_dim=act.shape[1],
                     num_steps=obs.shape[0], dt=0.0125)
    msg.observations = obs.reshape(-1).tolist()
    msg.actions = act.reshape(-1).tolist()
    msg.success = [False] * obs.shape[0]
    return msg


def test_service_round_trip_over_dds(echo_server, ros_node):
    from maa_msgs.srv import GeneratePolicy

    rng = np.random.default_rng(0)
    obs = rng.normal(size=(5, 39)).astype(np.float32)
    act = rng.normal(size=(5, 4)).astype(np.float32)
    req = GeneratePolicy.Request(prompt=_prompt(obs, act), num_candidates=3, seed=7)
    res = call_service(ros_node, GeneratePolicy, "generate_policy", req)
    assert res.error_code == GeneratePolicy.Response.NONE, res.error_msg
    expected = obs.reshape(-1)[:8] * 2.0 + 7.0
    data = np.asarray(res.weights.data, dtype=np.float32)
    np.testing.assert_array_equal(data, expected)
    assert res.weights.checksum == hashlib.sha256(expected.astype("<f4").tobytes()).hexdigest()
    assert (res.weights.task, res.weights.domain, res.weights.seed) == ("reach", "metaworld", 7)
    assert list(res.weights.layer_sizes) == [39, 4]
    assert list(res.candidate_scores) == [0.0, 1.0, 2.0]


def test_service_reports_error_code(echo_server, ros_node):
    from maa_msgs.srv import GeneratePolicy

    prompt = _prompt(np.zeros((4, 39), np.float32), np.zeros((4, 4), np.float32))
    prompt.num_steps = 9  # inconsistent with the data sent
    res = call_service(ros_node, GeneratePolicy, "generate_policy", GeneratePolicy.Request(prompt=prompt))
    assert res.error_code == GeneratePolicy.Response.INVALID_PROMPT
    assert "expected num_steps*obs_dim = 351" in res.error_msg
