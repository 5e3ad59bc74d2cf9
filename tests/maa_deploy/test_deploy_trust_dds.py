"""Issue 14 over real DDS: signed weights (unsigned, replayed, oversized refused; staged until activated), reset
rules while walking, a dead control thread (ERROR, ~/start refused, exit 1) and a stalled executor."""
from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from maa_generator.ros.client import call_service, spin_until, start_node, stop_node

pytestmark = pytest.mark.ros


def _actor_msg(seed=0):
    from maa_core.weights_codec import PolicyMeta
    from maa_generator.ros.convert import weights_to_msg
    from maa_go2.actor_critic import go2_actor_layout

    layout = go2_actor_layout()
    flat = np.random.default_rng(seed).normal(scale=0.01, size=layout.num_params).astype(np.float32)
    return weights_to_msg(layout, flat, PolicyMeta(generator_id="test", domain="go2", task="walk"))


def _subscribe(ros_node):
    from std_msgs.msg import String

    from maa_deploy.node import EVENTS_QOS, LATCHED

    events, modes = [], []
    ros_node.create_subscription(String, "/maa_deploy/events", lambda m: events.append(m.data), EVENTS_QOS)
    ros_node.create_subscription(String, "/maa_deploy/mode", lambda m: modes.append(m.data), LATCHED)
    return events, modes


def _trigger(ros_node, name):
    from std_srvs.srv import Trigger

    return call_service(ros_node, Trigger, f"/maa_deploy/{name}", Trigger.Request())


def _stand_then_start(ros_node, modes):
    assert _trigger(ros_node, "stand").success
    result = {}

    def try_start():
        result["r"] = _trigger(ros_node, "start")
        return result["r"].success

    assert spin_until(ros_node, try_start, timeout=10), result["r"].message
    assert spin_until(ros_node, lambda: modes and modes[-1] == "POLICY")


def test_signed_staged_weights_and_reset_rules(go2_adaptation_file, ros_node, tmp_path):
    from maa_deploy.node import LATCHED
    from maa_generator.signing import Signer, generate_keypair
    from maa_go2.actor_critic import go2_actor_layout
    from maa_msgs.msg import PolicyWeights

    generate_keypair(tmp_path / "op.key", tmp_path / "op.pub")
    signer = Signer.from_file(tmp_path / "op.key")
    limit = go2_actor_layout().num_params
    proc = start_node("maa_deploy.node", "-p", "autostart:=true",
                      "-p", f"deploy.adaptation_path:={go2_adaptation_file}",
                      "-p", "deploy.state_machine.stand_duration_s:=0.4", "-p", "weights_topic:=/t/signed",
                      "-p", f"trust.trusted_keys:=['{tmp_path / 'op.pub'}']", "-p", "trust.require_signed:=true",
                      "-p", "trust.require_activation:=true", "-p", f"trust.max_weights_floats:={limit}")
    try:
        events, modes = _subscribe(ros_node)
        pub = ros_node.create_publisher(PolicyWeights, "/t/signed", LATCHED)
        pub.publish(_actor_msg())  # unsigned
        assert spin_until(ros_node, lambda: any("rejected" in e and "unsigned" in e for e in events)), events

        signed = signer.sign_message(_actor_msg(1))
        pub.publish(signed)
        assert spin_until(ros_node, lambda: any("policy staged" in e for e in events)), events
        assert signed.key_id in [e for e in events if "policy staged" in e][-1]
        # staged is not active: walking needs the operator's activation
        assert _trigger(ros_node, "stand").success
        time.sleep(0.5)
        refused = _trigger(ros_node, "start")
        assert not refused.success and "no policy loaded" in refused.message
        activated = _trigger(ros_node, "activate_staged")
        assert activated.success and "policy active" in activated.message
        assert spin_until(ros_node, lambda: _trigger(ros_node, "start").success, timeout=10)
        assert spin_until(ros_node, lambda: modes and modes[-1] == "POLICY")

        pub.publish(signed)  # the same signed message again: a replay
        assert spin_until(ros_node, lambda: any("rejected" in e and "replay" in e for e in events)), events
        tampered = signer.sign_message(_actor_msg(2))
        tampered.task = "run"  # changed after signing
        pub.publish(tampered)
        assert spin_until(ros_node, lambda: any("rejected" in e and "signature" in e.lower() and "replay" not in e
                                                for e in events[-3:])), events
        big = signer.sign_message(_actor_msg(3))
        big.data = np.zeros(limit + 1, np.float32)
        pub.publish(big)
        assert spin_until(ros_node, lambda: any("too large" in e for e in events)), events
        assert modes[-1] == "POLICY", "refused weights must not stop the running policy"
        assert not _trigger(ros_node, "activate_staged").success  # nothing staged

        # reset while walking is refused; after an e-stop the robot comes to rest, then reset is allowed and logged
        walking_reset = _trigger(ros_node, "reset")
        assert not walking_reset.success and "only leaves DAMPING" in walking_reset.message
        assert _trigger(ros_node, "estop").success
        assert spin_until(ros_node, lambda: modes[-1] == "DAMPING")
        result = {}

        def try_reset():
            result["r"] = _trigger(ros_node, "reset")
            return result["r"].success

        assert spin_until(ros_node, try_reset, timeout=15), result["r"].message
        assert "cleared DAMPING latched by 'operator e-stop (service)'" in result["r"].message
        assert spin_until(ros_node, lambda: modes[-1] == "PASSIVE")
        assert any(e.startswith("reset: reset: cleared") or "cleared DAMPING" in e for e in events)
    finally:
        code = stop_node(proc)
    assert code == 0


def test_dead_control_thread_turns_error_refuses_start_and_exits_1(go2_adaptation_file, ros_node):
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

    diags = []
    ros_node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
    os.environ["MAA_TEST_DIE_AFTER_TICKS"] = "100"
    try:
        proc = start_node("tests.maa_deploy.faulty_deploy_node", "-p", "autostart:=true", "-p",
                          f"deploy.adaptation_path:={go2_adaptation_file}", "-p", "supervisor_grace_s:=3.0",
                          "-p", "diagnostics_hz:=10.0")
    finally:
        del os.environ["MAA_TEST_DIE_AFTER_TICKS"]
    try:
        def fatal_status():
            for arr in diags:
                for status in arr.status:
                    if status.level == DiagnosticStatus.ERROR and status.message.startswith("FATAL"):
                        return status
            return None

        assert spin_until(ros_node, lambda: fatal_status() is not None, timeout=15), "no FATAL diagnostics"
        status = fatal_status()
        assert "control loop died" in status.message and "injected control-thread failure" in status.message
        values = {kv.key: kv.value for kv in status.values}
        assert values["mode"] == "DAMPING" and json.loads(values["backend"])["fault"].startswith("fatal")
        refused = _trigger(ros_node, "stand")
        assert not refused.success and "deploy node is failing" in refused.message
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            stop_node(proc)
    assert proc.returncode == 1
    assert any("exiting with status 1 for a restart" in line for line in proc.output_lines)


def test_stalled_executor_cannot_leave_a_velocity_command_in_force(go2_adaptation_file):
    """The deploy node in this process; its executor spins only to receive one cmd_vel, then stalls."""
    import rclpy
    from geometry_msgs.msg import Twist
    from rclpy.executors import SingleThreadedExecutor

    rclpy.init(args=["--ros-args", "-p", "autostart:=true", "-p", f"deploy.adaptation_path:={go2_adaptation_file}",
                     "-p", "teleop.timeout_s:=0.3", "-p", "cmd_vel_topic:=/t/cmd_vel_stall"])
    from maa_deploy.node import DeployNode

    node = DeployNode()
    talker = rclpy.create_node("stall_talker")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    executor.add_node(talker)
    try:
        pub = talker.create_publisher(Twist, "/t/cmd_vel_stall", 10)
        msg = Twist()
        msg.linear.x, msg.angular.z = 0.7, 0.4
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and node.controller.obs_builder.commands[0] != 0.7:
            pub.publish(msg)
            executor.spin_once(timeout_sec=0.05)
        assert node.controller.obs_builder.commands[0] == pytest.approx(0.7)
        ticks = node.loop.stats.ticks
        time.sleep(0.6)  # executor stalled: no callbacks, no timers
        assert node.loop.stats.ticks > ticks + 10, "the control loop must keep ticking"
        np.testing.assert_allclose(node.controller.obs_builder.commands[:3], 0.0)
        assert node.velocity.timeouts == 1
    finally:
        node.shutdown()
        executor.shutdown()
        talker.destroy_node()
        node.destroy_node()
        rclpy.try_shutdown()
