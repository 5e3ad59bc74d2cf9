"""The prompt node in record mode over real DDS: maa_msgs/PolicyStep ticks, gap warnings, no-overwrite saving."""
from __future__ import annotations

import time

import numpy as np
import pytest

from maa_generator.ros.client import spin_until, start_node, stop_node

pytestmark = pytest.mark.ros


def test_record_mode_restarts_on_gap_and_never_overwrites(ros_node, tmp_path):
    from maa_core.prompt import Trajectory
    from maa_core.prompt_io import load_prompt, save_prompt
    from maa_msgs.msg import PolicyStep
    from maa_msgs.msg import Trajectory as TrajectoryMsg

    existing = save_prompt(tmp_path / "rec.npz", Trajectory(obs=np.zeros((2, 3)), act=np.zeros((2, 1)), success=None))
    before = existing.read_bytes()
    proc = start_node("maa_deploy.prompt_node", "-p", "mode:=record", "-p", "num_steps:=4", "-p",
                      "step_topic:=/t/step", "-p", "topic:=/t/prompt", "-p", f"prompt_file:={existing}")
    try:
        got = []
        ros_node.create_subscription(TrajectoryMsg, "/t/prompt", got.append, 10)
        pub = ros_node.create_publisher(PolicyStep, "/t/step", 100)
        assert spin_until(ros_node, lambda: pub.get_subscription_count() > 0), "prompt node did not subscribe"

        def tick(seq: int, obs_dim: int = 3) -> None:
            msg = PolicyStep()
            msg.sequence = seq
            msg.observation = [float(seq)] * obs_dim
            msg.action = [-float(seq)]
            pub.publish(msg)

        for seq in (0, 1, 2):
            tick(seq)
        tick(3, obs_dim=5)  # wrong size: ignored with a warning
        for seq in (6, 6, 7, 8, 9):  # 3..5 missing: gap, restart; the repeated 6 is ignored
            tick(seq)
        assert spin_until(ros_node, lambda: (tmp_path / "rec-1.npz").is_file() and got), "recording not saved"
    finally:
        stop_node(proc)
    deadline = time.monotonic() + 5.0  # the drain thread may still be reading the exited node's last lines
    while "saved recording" not in "".join(proc.output_lines) and time.monotonic() < deadline:
        time.sleep(0.05)
    out = "".join(proc.output_lines)
    assert existing.read_bytes() == before  # the existing file is untouched
    rec = load_prompt(tmp_path / "rec-1.npz")
    np.testing.assert_array_equal(rec.obs[:, 0], [6, 7, 8, 9])
    np.testing.assert_array_equal(rec.act[:, 0], [-6, -7, -8, -9])
    assert "expected 3, got 6" in out and "rec-1.npz" in out and "expected 3 / 1" in out
    assert "gaps=1" in got[-1].source
