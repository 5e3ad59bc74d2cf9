"""Run one maa node: init, construct (a bad parameter exits 2 with the reason), spin, and always shut down."""
from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

#: construction errors that mean "bad parameters or inputs", reported in one line instead of a traceback
STARTUP_ERRORS = (ValueError, OSError, RuntimeError)
#: how often the main thread checks for a stop request (s): the bound on SIGINT -> node.shutdown() latency
STOP_POLL_S = 0.05
#: how long teardown waits for the executor's running callbacks before it goes on (s)
EXECUTOR_SHUTDOWN_S = 3.0


def _init_without_rclpy_signal_handlers(args) -> None:
    """``rclpy.init`` with our own SIGINT/SIGTERM handling: rclpy's handlers shut the context down from a
    signal-handler thread, concurrently with our teardown, and ``destroy_node`` then crashed (SIGSEGV in
    ``destroy_when_not_in_use``, 2 of ~60 full-graph runs). Here the main thread tears down alone, in order."""
    try:
        from rclpy.signals import SignalHandlerOptions
    except ImportError:  # older rclpy: its handlers are replaced by signal.signal() below anyway
        rclpy.init(args=args)
    else:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)


def _spin_in_thread(executor) -> tuple[threading.Thread, list]:
    """``executor.spin()`` on a daemon thread; an exception escaping it is stored in the returned list."""
    errors: list = []

    def target() -> None:
        try:
            executor.spin()
        except ExternalShutdownException:
            pass
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=target, name="ros-executor", daemon=True)
    thread.start()
    return thread, errors


def run_node(factory: Callable[[], object], name: str, num_threads: int = 2, args=None) -> int:
    """Spin the node built by ``factory`` until SIGINT/SIGTERM; calls ``node.shutdown()`` first if it has one.

    The executor spins on its own thread; the main thread only waits for a stop signal, the executor dying, or the
    node's ``exit_requested`` event (a node that must be restarted, e.g. the deploy node after a thread of its died)
    and then tears everything down, in order. Returns 2 when the node could not be constructed; otherwise the
    process exits (skipping interpreter finalization) with 0 after a normal shutdown or 1 after an unexpected
    exception, a dead executor or an exit request.
    """
    _init_without_rclpy_signal_handlers(args)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        node = factory()
    except STARTUP_ERRORS as exc:
        print(f"{name}: cannot start: {exc}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    executor = MultiThreadedExecutor(num_threads=num_threads)
    executor.add_node(node)
    code = 0
    try:
        spin_thread, errors = _spin_in_thread(executor)
        exit_requested = getattr(node, "exit_requested", None)
        while not stop.wait(STOP_POLL_S) and spin_thread.is_alive():
            if exit_requested is not None and exit_requested.is_set():
                print(f"{name}: exiting with status 1 for a restart ({getattr(node, 'exit_reason', 'fatal error')})",
                      file=sys.stderr)
                code = 1
                break
        if not spin_thread.is_alive() and not stop.is_set() and code == 0:
            print(f"{name}: the ROS executor stopped unexpectedly", file=sys.stderr)
            code = 1
        for exc in errors:  # report, then still leave the robot safe below
            traceback.print_exception(exc)
            code = 1
    finally:
        if hasattr(node, "shutdown"):
            node.shutdown()
        if not executor.shutdown(timeout_sec=EXECUTOR_SHUTDOWN_S):
            # seen once in CI after a flood of fuzzed messages: SIGINT left the process hanging here or below
            print(f"{name}: the ROS executor did not stop within {EXECUTOR_SHUTDOWN_S:g} s; tearing down anyway",
                  file=sys.stderr)
        node.destroy_node()
        rclpy.try_shutdown()
        # Everything owned by the node is released above; interpreter finalization with torch, MuJoCo and rclpy
        # extension modules loaded is skipped (it is not needed and has crashed in CI).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
