"""Run one maa node: init, construct (a bad parameter exits 2 with the reason), spin, and always shut down."""
from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

#: construction errors that mean "bad parameters or inputs", reported in one line instead of a traceback
STARTUP_ERRORS = (ValueError, OSError, RuntimeError)


def run_node(factory: Callable[[], object], name: str, num_threads: int = 2, args=None) -> int:
    """Spin the node built by ``factory`` until SIGINT/SIGTERM; calls ``node.shutdown()`` first if it has one.

    Returns 2 when the node could not be constructed; otherwise the process exits (skipping interpreter
    finalization) with 0 after a normal shutdown or 1 after an unexpected exception.
    """
    rclpy.init(args=args)
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
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except BaseException:  # report, then still leave the robot safe below
        traceback.print_exc()
        code = 1
    finally:
        if hasattr(node, "shutdown"):
            node.shutdown()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
        # Everything owned by the node is released above. Interpreter finalization with torch, MuJoCo and rclpy
        # extension modules loaded crashed (SIGSEGV) once in CI after a clean shutdown; skip it.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
