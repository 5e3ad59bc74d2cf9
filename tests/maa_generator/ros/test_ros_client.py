"""maa_generator.ros.client: the one service-call helper (answer, no service, no answer in time) and the process and
diagnostics helpers used by the CLI, the demo, the benches and the tests."""
from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import pytest

from maa_generator.ros.client import (
    ServiceTimeout,
    ServiceUnavailable,
    call_service,
    loop_stats,
    spin_until,
    start_node,
)


@pytest.fixture()
def trigger_server(ros_node):
    """A std_srvs/Trigger server on its own executor thread: ``/t/quick`` answers at once, ``/t/slow`` after 1.5 s."""
    import rclpy
    from rclpy.executors import MultiThreadedExecutor
    from std_srvs.srv import Trigger

    server = rclpy.create_node("ros_client_test_server")

    def quick(_req, res):
        res.success, res.message = True, "quick"
        return res

    def slow(_req, res):
        time.sleep(1.5)
        res.success, res.message = True, "slow"
        return res

    server.create_service(Trigger, "/t/quick", quick)
    server.create_service(Trigger, "/t/slow", slow)
    executor = MultiThreadedExecutor(num_threads=2)
    executor.add_node(server)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    yield Trigger
    executor.shutdown()
    thread.join(timeout=5)
    server.destroy_node()


@pytest.mark.ros
def test_call_service_answer_and_timing(ros_node, trigger_server):
    timing: dict = {}
    res = call_service(ros_node, trigger_server, "/t/quick", trigger_server.Request(), timeout=10, timing=timing)
    assert res.success and res.message == "quick"
    assert timing["wait_s"] >= 0 and 0 < timing["call_s"] < 10


@pytest.mark.ros
def test_call_service_errors_name_the_service(ros_node, trigger_server):
    t0 = time.monotonic()
    with pytest.raises(ServiceUnavailable, match="/t/absent did not appear"):
        call_service(ros_node, trigger_server, "/t/absent", trigger_server.Request(), timeout=10, wait_timeout=0.3)
    assert time.monotonic() - t0 < 5  # the wait, not the answer timeout, bounds a missing service
    with pytest.raises(ServiceTimeout, match="no response from /t/slow within 0.3 s"):
        call_service(ros_node, trigger_server, "/t/slow", trigger_server.Request(), timeout=0.3, wait_timeout=10)
    assert issubclass(ServiceTimeout, TimeoutError) and issubclass(ServiceUnavailable, TimeoutError)


@pytest.mark.ros
def test_spin_until(ros_node):
    assert spin_until(ros_node, lambda: True, timeout=0.0)
    t0 = time.monotonic()
    assert not spin_until(ros_node, lambda: False, timeout=0.2)
    assert 0.2 <= time.monotonic() - t0 < 2


def test_start_node_reports_a_node_that_never_becomes_ready():
    with pytest.raises(RuntimeError, match=r"(?s)maa_generator\.no_such_node did not become ready.*No module named"):
        start_node("maa_generator.no_such_node", timeout=30)


def test_loop_stats_takes_the_newest_status_that_has_them():
    def array(**values):
        kvs = [SimpleNamespace(key=k, value=v) for k, v in values.items()]
        return SimpleNamespace(status=[SimpleNamespace(values=kvs)])

    older = array(loop=json.dumps({"ticks": 10}))
    newer = array(loop=json.dumps({"ticks": 20, "missed": 1}))
    assert loop_stats([older, newer, array(mode="IDLE")]) == {"ticks": 20, "missed": 1}
    assert loop_stats([array(mode="IDLE")]) == {}
