"""run_node's spin loop and teardown: nothing rclpy-owned is torn down while the spin loop may still be waiting."""
import threading
import time

import pytest


@pytest.mark.ros
def test_teardown_stops_the_loop_then_destroys_a_busy_node():
    """A node whose subscription is flooded: the loop leaves on request, then the executor and node go, in order."""
    import rclpy
    from rclpy.executors import MultiThreadedExecutor
    from std_msgs.msg import String

    from maa_generator.ros.run import _spin_in_thread, _teardown

    rclpy.init()
    try:
        node = rclpy.create_node("maa_test_run_busy")
        received = []
        node.create_subscription(String, "/maa_test_run", lambda msg: received.append(msg.data), 100)
        pub = node.create_publisher(String, "/maa_test_run", 100)
        executor = MultiThreadedExecutor(num_threads=2)
        executor.add_node(node)
        stop = threading.Event()
        thread, errors = _spin_in_thread(executor, stop)
        deadline = time.monotonic() + 5.0
        while not received and time.monotonic() < deadline:
            for i in range(50):
                pub.publish(String(data=str(i)))
            time.sleep(0.01)
        assert received, "the spin loop never delivered a message"
        for i in range(500):  # teardown while messages are still arriving
            pub.publish(String(data=str(i)))
        _teardown(node, executor, thread, stop, "test")
        assert not thread.is_alive() and errors == []
        assert node.handle is None or not node.context.ok()  # destroyed, and the context shut down
    finally:
        rclpy.try_shutdown()


@pytest.mark.ros
def test_spin_loop_survives_entities_destroyed_by_a_callback():
    """A callback that destroys publishers while the spin thread builds its wait set (what a lifecycle cleanup does):
    rclpy raises InvalidHandle from the publisher's QoS event handler. Before the loop retried, it died within ~1 s
    here and the deploy node exited 1 ("the ROS executor stopped unexpectedly")."""
    import rclpy
    from rclpy.executors import MultiThreadedExecutor
    from std_msgs.msg import String

    from maa_generator.ros.run import _spin_in_thread

    rclpy.init()
    try:
        node = rclpy.create_node("maa_test_run_churn")
        publishers, churns = [], []

        def churn():
            for pub in publishers:
                node.destroy_publisher(pub)
            publishers[:] = [node.create_publisher(String, f"/maa_test_churn{i}", 10) for i in range(40)]
            churns.append(1)

        node.create_timer(0.001, churn)
        executor = MultiThreadedExecutor(num_threads=2)
        executor.add_node(node)
        stop = threading.Event()
        thread, errors = _spin_in_thread(executor, stop)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.05)
        alive = thread.is_alive()
        stop.set()
        thread.join(5.0)
        assert alive and errors == [], errors
        assert len(churns) > 20, "the timer barely ran: the test did not exercise the race"
        executor.shutdown(timeout_sec=3.0)
        node.destroy_node()
    finally:
        rclpy.try_shutdown()


class _StuckExecutor:
    """An executor whose one ``spin_once`` never returns in time (a callback stuck in native code)."""

    def __init__(self):
        self.release = threading.Event()
        self.shutdown_calls = 0

    class _Context:
        @staticmethod
        def ok():
            return True

    context = _Context()

    def spin_once(self, timeout_sec=None):
        self.release.wait(30.0)

    def shutdown(self, timeout_sec=None):
        self.shutdown_calls += 1
        return True


class _RecordingNode:
    destroyed = False

    def destroy_node(self):
        self.destroyed = True


@pytest.mark.ros
def test_teardown_leaves_entities_alone_when_the_loop_is_stuck(monkeypatch, capsys):
    import maa_generator.ros.run as run

    monkeypatch.setattr(run, "EXECUTOR_SHUTDOWN_S", 0.2)
    executor, node, stop = _StuckExecutor(), _RecordingNode(), threading.Event()
    thread, _ = run._spin_in_thread(executor, stop)
    time.sleep(0.05)
    try:
        run._teardown(node, executor, thread, stop, "stuck")
        assert not node.destroyed and executor.shutdown_calls == 0
        assert "did not stop within 0.2 s" in capsys.readouterr().err
    finally:
        executor.release.set()
        thread.join(2.0)
    assert not thread.is_alive()  # the loop honours the stop request once its wait returns


_STALLED_SHUTDOWN = """
import sys, threading, time
from maa_generator.ros.run import _exit_after_deadline
done = threading.Event()
_exit_after_deadline("stalled", 0.3, done)
if sys.argv[1] == "finish":
    done.set()
    time.sleep(0.6)
    sys.exit(0)
def stuck_in_teardown():
    time.sleep(30)
stuck_in_teardown()
"""


@pytest.mark.parametrize("how", ["finish", "stall"])
def test_a_stalled_shutdown_is_cut_short_with_every_stack(how):
    import subprocess
    import sys

    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-c", _STALLED_SHUTDOWN, how], capture_output=True, text=True, timeout=20)
    if how == "finish":
        assert out.returncode == 0 and "shutdown did not finish" not in out.stderr
        return
    assert out.returncode == 1 and time.monotonic() - t0 < 10
    assert "stalled: shutdown did not finish within 0.3 s" in out.stderr
    assert "stuck_in_teardown" in out.stderr  # the stall's stack says where
