"""The deploy node as a managed (lifecycle) node over DDS: nothing runs before configure, nothing moves before
activate, deactivate is damping, a second activation works, cleanup releases the robot interfaces."""
from __future__ import annotations

import pytest

from maa_generator.ros.client import (
    LifecycleTransitionError,
    call_service,
    change_lifecycle_state,
    spin_until,
    start_node,
    stop_node,
)

pytestmark = pytest.mark.ros


def _trigger(ros_node, name):
    from std_srvs.srv import Trigger

    return call_service(ros_node, Trigger, f"/maa_deploy/{name}", Trigger.Request(), timeout=10)


def _service_up(ros_node, name: str, timeout: float) -> bool:
    from std_srvs.srv import Trigger

    client = ros_node.create_client(Trigger, f"/maa_deploy/{name}")
    try:
        return client.wait_for_service(timeout_sec=timeout)
    finally:
        ros_node.destroy_client(client)


def test_lifecycle_transitions_over_dds(go2_adaptation_file, ros_node):
    from std_msgs.msg import String

    from maa_deploy.node import EVENTS_QOS, LATCHED

    proc = start_node("maa_deploy.node", "-p", f"deploy.adaptation_path:={go2_adaptation_file}",
                      "-p", "deploy.state_machine.stand_duration_s:=0.3", ready_text="unconfigured")
    try:
        assert not _service_up(ros_node, "stand", 1.0), "mode services must not exist before configure"
        with pytest.raises(LifecycleTransitionError):
            change_lifecycle_state(ros_node, "/maa_deploy", ["activate"])  # not configured yet: refused

        change_lifecycle_state(ros_node, "/maa_deploy", ["configure"])
        events, modes = [], []
        ros_node.create_subscription(String, "/maa_deploy/events", lambda m: events.append(m.data), EVENTS_QOS)
        ros_node.create_subscription(String, "/maa_deploy/mode", lambda m: modes.append(m.data), LATCHED)
        refused = _trigger(ros_node, "stand")
        assert not refused.success and "not active" in refused.message

        change_lifecycle_state(ros_node, "/maa_deploy", ["activate"])
        assert _trigger(ros_node, "stand").success
        assert spin_until(ros_node, lambda: modes and modes[-1] == "STAND")

        change_lifecycle_state(ros_node, "/maa_deploy", ["deactivate"])
        assert spin_until(ros_node, lambda: any("deactivated" in e and "damping" in e for e in events)), events
        assert not _trigger(ros_node, "stand").success

        change_lifecycle_state(ros_node, "/maa_deploy", ["activate"])  # again: the loop and supervisor restart
        assert spin_until(ros_node, lambda: _trigger(ros_node, "stop").success or _trigger(ros_node, "stand").success)

        change_lifecycle_state(ros_node, "/maa_deploy", ["deactivate", "cleanup"])
        assert spin_until(ros_node, lambda: not _service_up(ros_node, "stand", 0.2), 10), "cleanup kept services"
    finally:
        code = stop_node(proc)
    assert code == 0


def test_bad_configuration_fails_configure_not_the_process(ros_node):
    proc = start_node("maa_deploy.node", "-p", "deploy.adaptation_path:=/nonexistent/adaptation.safetensors",
                      ready_text="unconfigured")
    try:
        with pytest.raises(LifecycleTransitionError):
            change_lifecycle_state(ros_node, "/maa_deploy", ["configure"])
        assert proc.poll() is None
        # the node's log line reaches output_lines through a reader thread, possibly after the service reply
        assert spin_until(ros_node, lambda: any("configure failed" in line and "adaptation" in line
                                                for line in proc.output_lines))
    finally:
        stop_node(proc)


def test_viewer_without_a_desktop_fails_configure_with_the_reason(go2_adaptation_file, ros_node, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    proc = start_node("maa_deploy.node", "-p", f"deploy.adaptation_path:={go2_adaptation_file}",
                      "-p", "deploy.sim_viewer:=true", ready_text="unconfigured")
    try:
        with pytest.raises(LifecycleTransitionError):
            change_lifecycle_state(ros_node, "/maa_deploy", ["configure"])
        assert proc.poll() is None
        # the node's log line reaches output_lines through a reader thread, possibly after the service reply
        assert spin_until(ros_node, lambda: any("configure failed" in line and "needs a desktop" in line
                                                for line in proc.output_lines))
        assert not any("Traceback" in line for line in proc.output_lines)
    finally:
        stop_node(proc)


def test_callbacks_racing_a_cleanup_are_refused_not_fatal(go2_adaptation_file):
    """A service or timer callback that runs while (or after) cleanup destroys the node's entities is answered
    "shutting down" instead of raising into the executor (which ended the process with status 1)."""
    import rclpy
    from std_msgs.msg import String
    from std_srvs.srv import Trigger

    rclpy.init(args=["--ros-args", "-p", "autostart:=true", "-p", f"deploy.adaptation_path:={go2_adaptation_file}"])
    from maa_deploy.node import DeployNode

    node = DeployNode()
    try:
        failing = node._guarded("probe", lambda *_: 1 / 0)
        answered = failing(Trigger.Request(), Trigger.Response())
        assert not answered.success and "DAMPING latched" in answered.message  # while running: an e-stop
        assert node.controller.sm.mode.value == "DAMPING"

        def cleanup_then_publish(*_):  # the race: cleanup destroys the publisher under a running callback
            node._closing = True
            node.destroy_publisher(node.events_pub)
            node.events_pub.publish(String(data="x"))

        racing = node._guarded("racing", cleanup_then_publish)
        answered = racing(Trigger.Request(), Trigger.Response())
        assert not answered.success and "shutting down" in answered.message
        assert racing() is None  # a timer callback: no exception either
        assert "racing" not in node.callback_errors
    finally:
        node.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    after = node._guarded("stand", lambda *_: pytest.fail("a callback ran after cleanup"))
    assert "shutting down" in after(Trigger.Request(), Trigger.Response()).message
