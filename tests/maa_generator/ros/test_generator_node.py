"""The generator node over real DDS: service, latched weights topic, prompt topic, error codes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from maa_core.layout import PolicyLayout
from maa_core.prompt import Trajectory
from maa_generator.data.novelty import NoveltyReference
from maa_generator.models.config import ModelConfig
from maa_generator.models.generator import Generator
from maa_generator.ros.client import call_service, spin_until, start_node, stop_node

pytestmark = pytest.mark.ros
LAYOUT = PolicyLayout(obs_dim=8, action_dim=2, hidden=(16,), name="small")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("gen") / "tiny"
    gen = Generator.build(LAYOUT, ModelConfig.from_yaml("config/tiny.yaml"))
    gen.novelty = NoveltyReference.fit(torch.randn(20, gen.embedding.cond_dim))
    gen.save(path)
    return path


@pytest.fixture()
def generator_node(model_dir):
    proc = start_node("maa_generator.ros.node", "-p", f"model_path:={model_dir}", "-p", "num_candidates:=2",
                      "-p", "prompt_topic:=/test/prompt", "-p", "weights_topic:=/test/weights")
    yield proc
    assert stop_node(proc) == 0


def _prompt_msg(obs_dim=8, steps=70):
    from maa_generator.ros.convert import trajectory_to_msg

    rng = np.random.default_rng(1)
    traj = Trajectory(obs=rng.normal(size=(steps, obs_dim)), act=rng.normal(size=(steps, 2)),
                      success=np.arange(steps) > 40, domain="test", task="t")
    return trajectory_to_msg(traj, source="test")


def test_generate_publish_and_errors(generator_node, ros_node, model_dir):
    from maa_generator.ros.convert import weights_from_msg
    from maa_generator.ros.node import LATCHED
    from maa_msgs.msg import PolicyWeights
    from maa_msgs.srv import GeneratePolicy

    res = call_service(ros_node, GeneratePolicy, "/generate_policy", GeneratePolicy.Request(use_latest_prompt=True))
    assert res.error_code == GeneratePolicy.Response.NO_PROMPT

    bad = _prompt_msg()
    bad.num_steps = 3
    res = call_service(ros_node, GeneratePolicy, "/generate_policy", GeneratePolicy.Request(prompt=bad))
    assert res.error_code == GeneratePolicy.Response.INVALID_PROMPT and "num_steps*obs_dim" in res.error_msg

    res = call_service(ros_node, GeneratePolicy, "/generate_policy",
                       GeneratePolicy.Request(prompt=_prompt_msg(), seed=3))
    assert res.error_code == GeneratePolicy.Response.NONE, res.error_msg
    layout, flat, meta = weights_from_msg(res.weights, expected=LAYOUT)
    expected = Generator.load(model_dir).generate(
        Trajectory(obs=np.asarray(_prompt_msg().observations).reshape(70, 8),
                   act=np.asarray(_prompt_msg().actions).reshape(70, 2),
                   success=np.arange(70) > 40), num_candidates=2, seed=3)[0]
    np.testing.assert_array_equal(flat, expected.flat)
    assert res.prompt_novelty == pytest.approx(expected.prompt_novelty, rel=1e-5) and res.prompt_novelty > 0
    assert (meta.task, meta.seed) == ("t", 3)

    received = []
    ros_node.create_subscription(PolicyWeights, "/test/weights", received.append, LATCHED)
    assert spin_until(ros_node, lambda: received), "late subscriber did not get the latched weights"
    assert received[-1].checksum == res.weights.checksum

    pub = ros_node.create_publisher(type(_prompt_msg()), "/test/prompt", 10)
    spin_until(ros_node, lambda: pub.get_subscription_count() > 0)
    pub.publish(_prompt_msg())
    ok = {}

    def latest_works():
        r = call_service(ros_node, GeneratePolicy, "/generate_policy", GeneratePolicy.Request(use_latest_prompt=True))
        ok["code"] = r.error_code
        return r.error_code == 0

    assert spin_until(ros_node, latest_works, timeout=10), ok
