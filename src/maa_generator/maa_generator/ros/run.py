"""Run one maa node: init, construct (a bad parameter exits 2 with the reason), spin, and always shut down."""
from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable

import rclpy
from rclpy.exceptions import InvalidHandle
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

#: construction errors that mean "bad parameters or inputs", reported in one line instead of a traceback
STARTUP_ERRORS = (ValueError, OSError, RuntimeError)
#: how often the main thread checks for a stop request (s): the bound on SIGINT -> node.shutdown() latency
STOP_POLL_S = 0.05
#: how long teardown waits for the spin loop and then the executor's running callbacks before it gives up (s)
EXECUTOR_SHUTDOWN_S = 3.0
#: the spin loop's wait per ``spin_once`` (s): the bound on how long a stop request waits for the loop to leave
SPIN_ONCE_TIMEOUT_S = 0.1
#: consecutive ``spin_once`` calls that may meet an entity destroyed under them before the loop gives up
MAX_INVALID_HANDLE_RETRIES = 20
#: the whole shutdown (node.shutdown(), then the ROS teardown) must finish within this (s); past it the process
#: prints every thread's stack and exits 1, so that a stalled teardown is both bounded and diagnosable
SHUTDOWN_DEADLINE_S = 8.0


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


def _spin_in_thread(executor, stop_spinning: threading.Event) -> tuple[threading.Thread, list]:
    """Spin ``executor`` on a daemon thread, one ``spin_once`` at a time, until ``stop_spinning`` is set.

    The loop leaves on its own instead of being stopped by ``executor.shutdown()`` from another thread: shutting an
    executor down (or destroying its node) while it waits races with that wait in rclpy (ros2/rclpy#968, #255) and
    crashed the generator node with SIGSEGV in ``_wait_for_ready_callbacks`` after a flood of fuzzed messages.
    An exception escaping the loop is stored in the returned list.
    """
    errors: list = []

    def target() -> None:
        invalid_in_a_row = 0
        try:
            while not stop_spinning.is_set() and executor.context.ok():
                try:
                    executor.spin_once(timeout_sec=SPIN_ONCE_TIMEOUT_S)
                    invalid_in_a_row = 0
                except InvalidHandle:
                    # A callback on another executor thread destroyed an entity (a lifecycle cleanup destroys the
                    # node's publishers) while this thread was adding it to the wait set; rclpy skips such entities
                    # only partly (a QoS event handler still raises). The next spin_once rebuilds the wait set
                    # without it. Many in a row is not that race: give up as before.
                    invalid_in_a_row += 1
                    if invalid_in_a_row > MAX_INVALID_HANDLE_RETRIES:
                        raise
        except ExternalShutdownException:
            pass
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=target, name="ros-executor", daemon=True)
    thread.start()
    return thread, errors


def _exit_after_deadline(name: str, seconds: float, done: threading.Event) -> threading.Thread:
    """A daemon thread that, unless ``done`` is set within ``seconds``, dumps all stacks and exits with 1."""

    def target() -> None:
        if done.wait(seconds):
            return
        print(f"{name}: shutdown did not finish within {seconds:g} s; exiting with status 1 (the stack of every "
              "thread follows)", file=sys.stderr)
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stderr.flush()
        os._exit(1)

    thread = threading.Thread(target=target, name="shutdown-deadline", daemon=True)
    thread.start()
    return thread


def _teardown(node, executor, spin_thread: threading.Thread, stop_spinning: threading.Event, name: str) -> None:
    """Stop the spin loop, then (only once it has left) shut the executor down and destroy the node.

    If the loop does not leave within ``EXECUTOR_SHUTDOWN_S`` (a callback stuck in native code), the rclpy entities
    are left alone: the process exits right after, and tearing them down under a live wait is what crashes.
    """
    stop_spinning.set()
    spin_thread.join(timeout=EXECUTOR_SHUTDOWN_S)
    if spin_thread.is_alive():
        print(f"{name}: the ROS executor did not stop within {EXECUTOR_SHUTDOWN_S:g} s; exiting without tearing "
              "down its entities", file=sys.stderr)
        return
    if not executor.shutdown(timeout_sec=EXECUTOR_SHUTDOWN_S):
        print(f"{name}: executor callbacks still running after {EXECUTOR_SHUTDOWN_S:g} s; exiting without "
              "destroying the node", file=sys.stderr)
        return
    node.destroy_node()
    rclpy.try_shutdown()


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
    stop_spinning = threading.Event()
    spin_thread, errors = _spin_in_thread(executor, stop_spinning)
    code = 0
    try:
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
        finished = threading.Event()
        _exit_after_deadline(name, SHUTDOWN_DEADLINE_S, finished)
        if hasattr(node, "shutdown"):
            node.shutdown()  # first: the robot is made safe before any ROS teardown that could stall
        _teardown(node, executor, spin_thread, stop_spinning, name)
        # Everything owned by the node is released above; interpreter finalization with torch, MuJoCo and rclpy
        # extension modules loaded is skipped (it is not needed and has crashed in CI).
        finished.set()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
