"""Pip-only equivalent of ``ros2 launch maa_deploy go2.launch.py`` for machines without the launch packages.

    launch_go2 robot:=sim [params_file:=...] [network_interface:=...] [prompt_source:=false] [domain_id:=N]

Starts the nodes of :func:`maa_deploy.graph.go2_graph` as ``python -m <module> --ros-args ...`` subprocesses with
exactly the parameters the launch file passes, drives the managed (lifecycle) nodes through configure and activate
as the launch file does, forwards SIGINT/SIGTERM to them, and exits with the first failing child's status.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from maa_deploy.graph import LIFECYCLE_STARTUP, NodeSpec, go2_graph

ARGS = {"robot": "sim", "params_file": "", "network_interface": "", "prompt_source": "true", "domain_id": ""}


def parse_args(argv: list[str]) -> dict[str, str]:
    values = dict(ARGS)
    for arg in argv:
        key, sep, value = arg.partition(":=")
        if not sep or key not in ARGS:
            raise SystemExit(f"launch_go2: unknown argument {arg!r}; expected NAME:=VALUE with NAME in {sorted(ARGS)}")
        values[key] = value
    return values


def drive_lifecycle(specs: list[NodeSpec], keep_going: Callable[[], bool] = lambda: True,
                    timeout: float = 120.0) -> None:
    """Configure and activate every managed node of ``specs`` (in the nodes' DDS domain), like the launch file.

    ``keep_going()`` is checked between short waits (the launcher stops driving when a node died or a stop was
    asked). Raises:
        RuntimeError: a node refused a transition, its lifecycle service did not answer within ``timeout``, or
            ``keep_going()`` turned false.
    """
    import rclpy

    from maa_generator.ros.client import CallAborted, ServiceCallError, change_lifecycle_state

    managed = [spec for spec in specs if spec.lifecycle]
    if not managed:
        return
    for spec in managed:
        os.environ.update(spec.env)  # talk in the nodes' domain
    try:
        from rclpy.signals import SignalHandlerOptions

        rclpy.init(args=[], signal_handler_options=SignalHandlerOptions.NO)  # not our NAME:=VALUE arguments
    except ImportError:  # older rclpy
        rclpy.init(args=[])
    node = rclpy.create_node("launch_go2_lifecycle")
    try:
        for spec in managed:
            print(f"[launch_go2] {spec.name}: {' -> '.join(LIFECYCLE_STARTUP)}", flush=True)
            try:
                change_lifecycle_state(node, f"/{spec.name}", LIFECYCLE_STARTUP, timeout=timeout,
                                       keep_going=keep_going)
            except CallAborted as exc:
                raise RuntimeError(f"{spec.name}: stopped while starting (a node exited or a stop was requested): "
                                   f"{exc}") from exc
            except ServiceCallError as exc:
                raise RuntimeError(f"{spec.name}: {exc}") from exc
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def _die_with_launcher() -> None:
    """In each child, before exec (Linux): SIGINT when the launcher dies, even by SIGKILL, so no node (and no robot
    command stream) outlives it; the deploy node damps on SIGINT."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux/glibc: the launcher's own cleanup still applies
        pass


def _stop_all(procs: list[subprocess.Popen], grace_s: float = 10.0) -> None:
    """SIGINT first (the deploy node commands damping on SIGINT), then kill what is left after ``grace_s``."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    deadline = time.monotonic() + grace_s
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    specs = go2_graph(args["robot"], args["params_file"] or None, args["network_interface"],
                      args["prompt_source"].lower() in ("1", "true", "yes"),
                      int(args["domain_id"]) if args["domain_id"] else None)
    procs = []
    for spec in specs:
        cmd = [sys.executable, "-m", spec.module, *spec.ros_args()]
        env_note = " ".join(f"{k}={v}" for k, v in spec.env.items())
        print(f"[launch_go2] starting {spec.name}: {env_note + ' ' if env_note else ''}{' '.join(cmd)}", flush=True)
        procs.append(subprocess.Popen(cmd, env={**os.environ, **spec.env}, preexec_fn=_die_with_launcher))
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)  # before driving the lifecycle: a stop always reaches the nodes below
    signal.signal(signal.SIGTERM, stop)
    code = 0
    try:
        try:
            drive_lifecycle(specs, keep_going=lambda: not stopping and all(p.poll() is None for p in procs))
        except RuntimeError as exc:  # LifecycleTransitionError is a RuntimeError too
            print(f"[launch_go2] error: {exc}; stopping the graph", flush=True)
            code, stopping = 1, True
        while not stopping and all(p.poll() is None for p in procs):
            time.sleep(0.1)
        for p in procs:
            if p.poll() is not None and p.returncode not in (0, -signal.SIGINT):
                code = code or p.returncode
                print(f"[launch_go2] a node exited with status {p.returncode}; stopping the graph", flush=True)
    finally:  # whatever happened above, no node outlives the launcher
        _stop_all(procs)
    return code


if __name__ == "__main__":
    sys.exit(main())
