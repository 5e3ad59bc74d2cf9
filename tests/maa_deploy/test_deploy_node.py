"""The deploy node over real DDS with the simulated Go2: weights hot-swap, mode services, safety, recording."""
from __future__ import annotations

import time

import numpy as np
import pytest

from maa_generator.ros.client import call_service, spin_until, start_node, stop_node

pytestmark = pytest.mark.ros


def _weights_msg(scale=0.01, nan=False):
    from maa_generator.ros.convert import weights_to_msg
    from maa_go2.actor_critic import go2_actor_layout

    layout = go2_actor_layout()
    flat = np.random.default_rng(0).normal(scale=scale, size=layout.num_params).astype(np.float32)
    msg = weights_to_msg(layout, flat)
    if nan:
        data = np.asarray(msg.data, np.float32).copy()
        data[10] = np.nan
        msg.data = data
    return msg


def test_deploy_node_end_to_end(go2_adaptation_file, ros_node, tmp_path):
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String
    from std_srvs.srv import Trigger

    from maa_deploy.node import EVENTS_QOS, LATCHED
    from maa_msgs.msg import PolicyStep, PolicyWeights

    proc = start_node("maa_deploy.node", "-p", "autostart:=true",
                      "-p", f"deploy.adaptation_path:={go2_adaptation_file}",
                      "-p", "deploy.state_machine.stand_duration_s:=0.4", "-p", "weights_topic:=/t/weights")
    recorder = start_node("maa_deploy.prompt_node", "-p", "mode:=record", "-p", "num_steps:=20",
                          "-p", f"prompt_file:={tmp_path / 'rec.npz'}")
    try:
        events, modes, joints, steps, poses = [], [], [], [], []
        ros_node.create_subscription(String, "/maa_deploy/events", lambda m: events.append(m.data), EVENTS_QOS)
        ros_node.create_subscription(String, "/maa_deploy/mode", lambda m: modes.append(m.data), LATCHED)
        ros_node.create_subscription(JointState, "/joint_states", joints.append, 10)
        ros_node.create_subscription(PolicyStep, "/maa_deploy/step", steps.append, 50)
        ros_node.create_subscription(PoseStamped, "/maa_deploy/sim/base_pose", poses.append, 10)
        assert spin_until(ros_node, lambda: modes and joints), "no mode / joint_states from the deploy node"
        assert modes[-1] == "PASSIVE" and list(joints[-1].name)[0] == "FL_hip_joint"
        assert spin_until(ros_node, lambda: poses), "no ~/sim/base_pose from the sim backend"
        pose = poses[-1]  # world frame, published with the joint_states of the same stamp (offline replays)
        q = pose.pose.orientation
        assert pose.header.frame_id == "world" and 0.05 < pose.pose.position.z < 0.5
        assert abs(q.w ** 2 + q.x ** 2 + q.y ** 2 + q.z ** 2 - 1.0) < 1e-6
        def stamps(msgs):
            return {(m.header.stamp.sec, m.header.stamp.nanosec) for m in msgs}

        assert spin_until(ros_node, lambda: stamps(poses) & stamps(joints)), "no pose with a joint state's stamp"

        refused = call_service(ros_node, Trigger, "/maa_deploy/start", Trigger.Request())
        assert not refused.success and "no policy" in refused.message

        pub = ros_node.create_publisher(PolicyWeights, "/t/weights", LATCHED)
        pub.publish(_weights_msg())
        assert spin_until(ros_node, lambda: any("policy active" in e for e in events)), events

        assert call_service(ros_node, Trigger, "/maa_deploy/stand", Trigger.Request()).success
        started = {}

        def try_start():
            started["r"] = call_service(ros_node, Trigger, "/maa_deploy/start", Trigger.Request())
            return started["r"].success

        assert spin_until(ros_node, try_start, timeout=10), started["r"].message
        assert spin_until(ros_node, lambda: modes[-1] == "POLICY")
        assert spin_until(ros_node, lambda: len(steps) >= 10), "no ~/step samples while walking"
        assert len(steps[-1].observation) == 70 and len(steps[-1].action) == 12
        seqs = [m.sequence for m in steps]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "~/step sequence numbers must be consecutive"
        assert spin_until(ros_node, lambda: (tmp_path / "rec.npz").is_file()), "prompt recording not saved"

        from maa_go2.observation import COMMAND_SCALES, OBS_SLICES

        gait_pub = ros_node.create_publisher(String, "/maa/gait", 10)
        gait_pub.publish(String(data="pronk gait_frequency=2.5"))
        assert spin_until(ros_node, lambda: any(e == "gait: pronk gait_frequency=2.5" for e in events)), events

        def gait_of(step):  # frequency, pronk phase/offset/bound
            return (np.asarray(step.observation)[OBS_SLICES["commands"]] / COMMAND_SCALES)[4:8]

        def pronk(step):
            return np.allclose(gait_of(step), [2.5, 0.0, 0.0, 0.0], atol=1e-5)

        # ~/step is published in batches from a buffer: steps captured before the gait reached the control thread
        # may still arrive after the event, so wait for the first pronk step, then require every later one
        assert spin_until(ros_node, lambda: pronk(steps[-1])), gait_of(steps[-1])
        n_first = len(steps) - 1
        assert spin_until(ros_node, lambda: len(steps) >= n_first + 5)
        assert all(pronk(step) for step in steps[n_first:]), [gait_of(step) for step in steps[n_first:]]
        gait_pub.publish(String(data="gallop"))
        assert spin_until(ros_node, lambda: any("ignored gait request 'gallop'" in e for e in events)), events
        assert modes[-1] == "POLICY", "a bad gait request must not stop the running policy"

        pub.publish(_weights_msg(nan=True))
        assert spin_until(ros_node, lambda: any("rejected" in e and "non-finite" in e for e in events)), events
        assert modes[-1] == "POLICY", "a rejected policy must not stop the running one"

        assert call_service(ros_node, Trigger, "/maa_deploy/estop", Trigger.Request()).success
        assert spin_until(ros_node, lambda: modes[-1] == "DAMPING")
        time.sleep(0.2)
    finally:
        codes = (stop_node(proc), stop_node(recorder))
    assert codes[0] == 0, f"deploy node did not exit cleanly on SIGINT: {codes}"

    from maa_core.prompt_io import load_prompt

    rec = load_prompt(tmp_path / "rec.npz")
    assert rec.obs.shape == (20, 70) and rec.act.shape == (20, 12) and rec.domain == "go2"
