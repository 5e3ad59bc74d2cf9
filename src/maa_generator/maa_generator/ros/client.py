"""Client-side helpers for talking to maa nodes over DDS: one service call with a deadline, spinning until a
condition holds, and starting / stopping node processes.

Used by the ``generate_policy`` CLI, ``scripts/demo.py``, ``bench/*.py`` and the tests::

    rclpy.init()
    node = rclpy.create_node("my_client")
    res = call_service(node, GeneratePolicy, "/generate_policy", GeneratePolicy.Request(...), timeout=120)

``rclpy`` is imported inside the functions, so importing this module (e.g. while pytest collects tests that are then
skipped for lack of ROS) does not need a ROS installation.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

#: rclpy.spin_once period while waiting (s): the latency added to a wait, at negligible CPU cost
SPIN_PERIOD_S = 0.05


class ServiceCallError(TimeoutError):
    """A service call that got no answer: the service never appeared, or it did not answer in time."""


class ServiceUnavailable(ServiceCallError):
    """The service did not appear over DDS within the wait."""


class ServiceTimeout(ServiceCallError):
    """The request was sent but no response arrived before the deadline."""


class CallAborted(ServiceCallError):
    """``keep_going()`` turned false while waiting (the caller is stopping, or the server's process died)."""


def call_service(node, srv_type, name: str, request, timeout: float = 30.0, wait_timeout: float | None = None,
                 timing: dict | None = None, keep_going: Callable[[], bool] | None = None):
    """Call service ``name`` (type ``srv_type``) once from ``node`` and return its response.

    Spins ``node`` (``rclpy.spin_once``) while waiting, so ``node`` must not be spinning on another executor.

    Args:
        timeout: seconds allowed for the response after the request is sent.
        wait_timeout: seconds allowed for the service to appear (default: ``timeout``).
        timing: if given, receives ``wait_s`` (service discovery) and ``call_s`` (request sent -> response), in s.
        keep_going: checked every ~0.1 s while waiting; when it returns False the call is given up.
    Raises:
        ServiceUnavailable: the service did not appear within ``wait_timeout``.
        ServiceTimeout: no response within ``timeout``.
        CallAborted: ``keep_going()`` returned False.
    """
    import rclpy

    timing = {} if timing is None else timing
    client = node.create_client(srv_type, name)
    try:
        wait = timeout if wait_timeout is None else wait_timeout
        t0 = time.perf_counter()
        if keep_going is None:
            appeared = client.wait_for_service(timeout_sec=wait)
        else:
            appeared, wait_deadline = False, time.monotonic() + wait
            while not appeared and time.monotonic() < wait_deadline:
                if not keep_going():
                    raise CallAborted(f"gave up waiting for service {name}")
                appeared = client.wait_for_service(timeout_sec=0.1)
        if not appeared:
            raise ServiceUnavailable(f"service {name} did not appear over DDS within {wait:g} s")
        t1 = time.perf_counter()
        timing["wait_s"] = t1 - t0
        future = client.call_async(request)
        deadline = time.monotonic() + timeout
        while not future.done() and time.monotonic() < deadline:
            if keep_going is not None and not keep_going():
                raise CallAborted(f"gave up waiting for the response of {name}")
            rclpy.spin_once(node, timeout_sec=SPIN_PERIOD_S)
        if not future.done():
            raise ServiceTimeout(f"no response from {name} within {timeout:g} s")
        timing["call_s"] = time.perf_counter() - t1
        return future.result()
    finally:
        node.destroy_client(client)


class LifecycleTransitionError(RuntimeError):
    """A managed node refused a lifecycle transition."""


#: lifecycle transitions by name (lifecycle_msgs/msg/Transition ids; shutdown ids depend on the state: not here)
LIFECYCLE_TRANSITIONS = {"configure": 1, "cleanup": 2, "activate": 3, "deactivate": 4}


#: the primary state each transition leads to on success
LIFECYCLE_GOALS = {"configure": "inactive", "cleanup": "unconfigured", "activate": "active", "deactivate": "inactive"}
PRIMARY_STATES = ("unconfigured", "inactive", "active", "finalized")


def lifecycle_state(node, target: str, timeout: float = 5.0, keep_going: Callable[[], bool] | None = None) -> str:
    """The current lifecycle state label of ``target`` (``get_state`` service), e.g. ``"inactive"``."""
    from lifecycle_msgs.srv import GetState

    return call_service(node, GetState, f"{target}/get_state", GetState.Request(), timeout=timeout,
                        keep_going=keep_going).current_state.label


def change_lifecycle_state(node, target: str, transitions=("configure", "activate"), timeout: float = 30.0,
                           keep_going: Callable[[], bool] | None = None, attempt_s: float = 10.0) -> None:
    """Drive the managed node ``target`` (e.g. ``/maa_deploy``) through ``transitions`` via its ``change_state``
    service, in order.

    A response can be lost when a new client's response reader is not matched yet on the server side (a fast answer,
    e.g. a configure that fails at once), so each request waits ``attempt_s``; then the node's ``get_state`` says
    whether the transition happened (done), is still running (wait), or not (send it again) until ``timeout``.

    Raises:
        LifecycleTransitionError: a transition was refused (the node stays where it was; its log says why).
        ServiceCallError: the node's lifecycle services did not appear or answer within ``timeout``.
    """
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState

    for name in transitions:
        if name not in LIFECYCLE_TRANSITIONS:
            raise ValueError(f"unknown lifecycle transition {name!r}; expected one of {sorted(LIFECYCLE_TRANSITIONS)}")
        request = ChangeState.Request(transition=Transition(id=LIFECYCLE_TRANSITIONS[name]))
        deadline = time.monotonic() + timeout
        while True:
            try:
                response = call_service(node, ChangeState, f"{target}/change_state", request,
                                        timeout=min(attempt_s, max(0.1, deadline - time.monotonic())),
                                        wait_timeout=max(0.1, deadline - time.monotonic()), keep_going=keep_going)
            except ServiceTimeout:
                state = _settled_state(node, target, deadline, keep_going)
                if state == LIFECYCLE_GOALS[name]:
                    break  # it happened; only the answer was lost
                if time.monotonic() > deadline:
                    raise
                continue  # not done (refused or never received): ask again, the answer comes through now
            if not response.success:
                raise LifecycleTransitionError(f"{target} refused the lifecycle transition {name!r} (see its log)")
            break


def _settled_state(node, target: str, deadline: float, keep_going) -> str:
    """Poll ``get_state`` until ``target`` is in a primary state (not mid-transition) or the deadline passes."""
    state = ""
    while time.monotonic() < deadline:
        state = lifecycle_state(node, target, timeout=max(0.1, min(5.0, deadline - time.monotonic())),
                                keep_going=keep_going)
        if state in PRIMARY_STATES:
            return state
        spin_until(node, lambda: False, timeout=0.2)
    return state


def spin_until(node, predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Spin ``node`` until ``predicate()`` is true or ``timeout`` seconds pass; returns the last ``predicate()``."""
    import rclpy

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        rclpy.spin_once(node, timeout_sec=SPIN_PERIOD_S)
    return bool(predicate())


def start_node(module: str, *ros_args: str, ready_text: str = "ready", timeout: float = 60.0,
               cwd: str | None = None) -> subprocess.Popen:
    """Start ``python -m module --ros-args *ros_args`` and wait until its output contains ``ready_text``.

    The output keeps being drained on a daemon thread (a chatty node never blocks on a full pipe); the lines read so
    far are in ``proc.output_lines``. Raises ``RuntimeError`` with the node's output if it exits or does not become
    ready within ``timeout`` seconds.
    """
    cmd = [sys.executable, "-X", "faulthandler", "-m", module, "--ros-args", *ros_args]  # tracebacks on crashes
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd)
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if ready_text in line:
            proc.output_lines = seen
            threading.Thread(target=lambda: seen.extend(proc.stdout), daemon=True).start()
            return proc
    proc.kill()
    proc.wait()
    raise RuntimeError(f"{module} did not become ready within {timeout:g} s (exit code {proc.returncode}):\n"
                       f"{''.join(seen)}")


def stop_node(proc: subprocess.Popen, timeout: float = 10.0) -> int:
    """SIGINT ``proc`` (a node's clean shutdown), kill it after ``timeout`` s; returns its exit code.

    A non-zero exit prints the node's last output lines (shown by pytest for a failing test, e.g. a crash traceback).
    """
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        module = proc.args[4] if isinstance(proc.args, list) and len(proc.args) > 4 else proc.args
        print(f"--- {module} exited with {proc.returncode}; its last output:")
        print("".join(getattr(proc, "output_lines", [])[-60:]))
    return proc.returncode


def loop_stats(diagnostics: list) -> dict:
    """The deploy node's control-loop statistics (the JSON ``loop`` value of its status) from the newest
    ``diagnostic_msgs/DiagnosticArray`` in ``diagnostics`` that carries them; ``{}`` if none does."""
    for arr in reversed(diagnostics):
        for status in arr.status:
            values = {kv.key: kv.value for kv in status.values}
            if "loop" in values:
                return json.loads(values["loop"])
    return {}
