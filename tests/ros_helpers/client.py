"""Small helpers for tests that talk to real ROS 2 processes over DDS."""
from __future__ import annotations

import subprocess
import sys
import threading
import time


def call_service(node, srv_type, name: str, request, timeout: float = 30.0):
    """Call ``name`` and spin ``node`` until the response arrives; assert it arrives within ``timeout``."""
    import rclpy

    client = node.create_client(srv_type, name)
    try:
        assert client.wait_for_service(timeout_sec=timeout), f"service {name} did not appear over DDS"
        future = client.call_async(request)
        deadline = time.monotonic() + timeout
        while not future.done() and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.05)
        assert future.done(), f"no response from {name} within {timeout} s"
        return future.result()
    finally:
        node.destroy_client(client)


def spin_until(node, predicate, timeout: float = 20.0) -> bool:
    import rclpy

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        rclpy.spin_once(node, timeout_sec=0.05)
    return predicate()


def start_node(module: str, *ros_args: str, ready_text: str = "ready", timeout: float = 60.0) -> subprocess.Popen:
    """Start ``python -m module --ros-args ...`` and wait until its output contains ``ready_text``."""
    cmd = [sys.executable, "-X", "faulthandler", "-m", module, "--ros-args", *ros_args]  # tracebacks on crashes
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if ready_text in line:
            # keep draining the pipe so a chatty node never blocks on a full pipe; the lines stay inspectable
            proc.output_lines = seen
            threading.Thread(target=lambda: seen.extend(proc.stdout), daemon=True).start()
            return proc
    proc.kill()
    raise AssertionError(f"{module} did not become ready (exit code {proc.poll()}):\n{''.join(seen)}")


def stop_node(proc: subprocess.Popen, timeout: float = 10.0) -> int:
    import signal

    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:  # shown by pytest for a failing test: the node's last words (e.g. a crash traceback)
        print(f"--- {proc.args[4]} exited with {proc.returncode}; its last output:")
        print("".join(getattr(proc, "output_lines", [])[-60:]))
    return proc.returncode


def loop_stats(diagnostics: list) -> dict:
    """The deploy node's control-loop statistics from the newest /diagnostics message that carries them ({} if none)."""
    import json

    for arr in reversed(diagnostics):
        for status in arr.status:
            values = {kv.key: kv.value for kv in status.values}
            if "loop" in values:
                return json.loads(values["loop"])
    return {}
