"""The generator node over real DDS: signed weights (signing_key) and bounded prompts (max_prompt_steps)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from maa_core.layout import PolicyLayout
from maa_core.prompt import Trajectory
from maa_generator.models.config import ModelConfig
from maa_generator.models.generator import Generator
from maa_generator.ros.client import call_service, spin_until, start_node, stop_node
from maa_generator.signing import Verifier, generate_keypair

pytestmark = pytest.mark.ros
LAYOUT = PolicyLayout(obs_dim=8, action_dim=2, hidden=(16,), name="small")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("gen") / "tiny"
    Generator.build(LAYOUT, ModelConfig.from_yaml("config/tiny.yaml")).save(path)
    return path


def _prompt_msg(steps=70):
    from maa_generator.ros.convert import trajectory_to_msg

    rng = np.random.default_rng(1)
    traj = Trajectory(obs=rng.normal(size=(steps, 8)), act=rng.normal(size=(steps, 2)),
                      success=np.arange(steps) > 40, domain="test", task="t")
    return trajectory_to_msg(traj, source="test")


def test_signed_weights_and_prompt_limits(model_dir, tmp_path, ros_node):
    from maa_generator.ros.node import LATCHED
    from maa_msgs.msg import PolicyWeights
    from maa_msgs.srv import GeneratePolicy

    kid = generate_keypair(tmp_path / "op.key", tmp_path / "op.pub")
    proc = start_node("maa_generator.ros.node", "-p", f"model_path:={model_dir}",
                      "-p", f"signing_key:={tmp_path}/op.key",
                      "-p", "max_prompt_steps:=100", "-p", "prompt_topic:=/sig/prompt",
                      "-p", "weights_topic:=/sig/weights", "-p", "service_name:=/sig/generate_policy")
    try:
        assert any(f"signing policy weights with key {kid}" in line for line in proc.output_lines)
        res = call_service(ros_node, GeneratePolicy, "/sig/generate_policy",
                           GeneratePolicy.Request(prompt=_prompt_msg(100), seed=1))
        assert res.error_code == GeneratePolicy.Response.NONE, res.error_msg
        assert res.weights.key_id == kid and len(res.weights.signature) == 64
        assert Verifier.from_files([tmp_path / "op.pub"]).verify_message(res.weights) == kid

        received = []
        ros_node.create_subscription(PolicyWeights, "/sig/weights", received.append, LATCHED)
        assert spin_until(ros_node, lambda: received), "no weights published"
        assert Verifier.from_files([tmp_path / "op.pub"]).verify_message(received[-1]) == kid
        assert received[-1].sequence == res.weights.sequence

        res = call_service(ros_node, GeneratePolicy, "/sig/generate_policy",
                           GeneratePolicy.Request(prompt=_prompt_msg(101)))
        assert res.error_code == GeneratePolicy.Response.INVALID_PROMPT
        assert "max_prompt_steps=100" in res.error_msg and "num_steps=101" in res.error_msg

        pub = ros_node.create_publisher(type(_prompt_msg()), "/sig/prompt", 10)
        assert spin_until(ros_node, lambda: pub.get_subscription_count() > 0)
        pub.publish(_prompt_msg(101))  # logged and dropped
        assert spin_until(ros_node, lambda: any("max_prompt_steps=100" in line for line in proc.output_lines))
        res = call_service(ros_node, GeneratePolicy, "/sig/generate_policy",
                           GeneratePolicy.Request(use_latest_prompt=True))
        assert res.error_code == GeneratePolicy.Response.NO_PROMPT
    finally:
        assert stop_node(proc) == 0


def test_missing_signing_key_is_a_one_line_startup_error(tmp_path):
    missing = tmp_path / "nope.key"
    proc = subprocess.run([sys.executable, "-m", "maa_generator.ros.node", "--ros-args",
                           "-p", f"signing_key:={missing}"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert f"maa_generator: cannot start: parameter signing_key: {missing}: cannot read private key" in proc.stderr
    assert "Traceback" not in proc.stderr
