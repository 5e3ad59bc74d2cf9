"""The GeneratePolicy action over DDS: feedback per screened candidate, a result like the service's, and cancel."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from maa_generator.ros.client import spin_until, start_node, stop_node

pytestmark = pytest.mark.ros
ROOT = Path(__file__).resolve().parents[3]


def _send(ros_node, client, goal, feedback):
    future = client.send_goal_async(goal, feedback_callback=lambda m: feedback.append(m.feedback))
    assert spin_until(ros_node, future.done, 30), "goal not answered"
    handle = future.result()
    assert handle.accepted
    return handle


def test_generate_action_feedback_result_and_cancel(ros_node):
    from action_msgs.msg import GoalStatus
    from rclpy.action import ActionClient

    from maa_core.prompt_io import load_prompt
    from maa_generator.ros.convert import trajectory_to_msg
    from maa_msgs.action import GeneratePolicy

    proc = start_node("maa_generator.ros.node", "-p", f"model_path:={ROOT / 'models/go2/generator'}",
                      "-p", "screen_domain:=go2",
                      "-p", f"adaptation_path:={ROOT / 'models/go2/adaptation.safetensors'}",
                      "-p", "screen_seconds:=1.5", "-p", "action_name:=/t/generate_policy_action")
    try:
        client = ActionClient(ros_node, GeneratePolicy, "/t/generate_policy_action")
        assert client.wait_for_server(timeout_sec=20)
        prompt = trajectory_to_msg(load_prompt(ROOT / "prompts/go2_walk.npz"), source="test")
        feedback = []
        handle = _send(ros_node, client, GeneratePolicy.Goal(prompt=prompt, num_candidates=3, seed=1, screen=True),
                       feedback)
        result_future = handle.get_result_async()
        assert spin_until(ros_node, result_future.done, 120)
        wrapped = result_future.result()
        assert wrapped.status == GoalStatus.STATUS_SUCCEEDED, wrapped.result.error_msg
        result = wrapped.result
        assert result.error_code == 0 and len(result.candidate_scores) == 3 and result.weights.num_params > 0
        assert [(f.stage, f.candidates_screened) for f in feedback] == [
            ("generated", 0), ("screening", 1), ("screening", 2), ("screening", 3)]

        feedback.clear()
        handle = _send(ros_node, client, GeneratePolicy.Goal(prompt=prompt, num_candidates=8, seed=2, screen=True),
                       feedback)
        assert spin_until(ros_node, lambda: any(f.stage == "screening" for f in feedback), 60)
        cancel = handle.cancel_goal_async()
        assert spin_until(ros_node, cancel.done, 20)
        result_future = handle.get_result_async()
        assert spin_until(ros_node, result_future.done, 60)
        wrapped = result_future.result()
        assert wrapped.status == GoalStatus.STATUS_CANCELED
        assert wrapped.result.error_code == 908  # CANCELED
        screened = max(f.candidates_screened for f in feedback)
        assert screened < 8 and "canceled after screening" in wrapped.result.error_msg
        time.sleep(0.2)
    finally:
        code = stop_node(proc)
    assert code == 0
