"""SCHED_FIFO requests for the control and simulated-physics threads: granted where permitted, reported otherwise."""
from __future__ import annotations

import os
import threading

import pytest

from maa_core.config import ConfigError
from maa_deploy.loop import DeadlineLoop, DeployConfig
from maa_deploy.realtime import request_realtime


def _in_thread(fn):
    out = {}
    t = threading.Thread(target=lambda: out.update(result=fn(), policy=os.sched_getscheduler(0)))
    t.start()
    t.join()
    return out


def test_zero_priority_leaves_the_thread_alone():
    out = _in_thread(lambda: request_realtime(0))
    assert out["result"] == "SCHED_OTHER (not requested)" and out["policy"] == os.SCHED_OTHER


def test_priority_out_of_range_is_rejected():
    with pytest.raises(ValueError, match="1-99"):
        request_realtime(100)
    with pytest.raises(ValueError, match="rt_priority"):
        DeadlineLoop(lambda: None, rt_priority=-1)
    with pytest.raises(ConfigError, match="deploy.rt_priority"):
        DeployConfig(rt_priority=120)


def test_refusal_is_reported_not_raised(monkeypatch):
    def refuse(*_):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setscheduler", refuse)
    status = request_realtime(80)
    assert status.startswith("SCHED_OTHER (SCHED_FIFO 80 refused: Operation not permitted")
    assert "CAP_SYS_NICE" in status


def test_only_the_calling_thread_changes_policy():
    out = _in_thread(lambda: request_realtime(10))
    if "refused" in out["result"]:
        assert out["policy"] == os.SCHED_OTHER  # not permitted here: stays normal, and says so
    else:
        assert out["result"] == "SCHED_FIFO 10" and out["policy"] == os.SCHED_FIFO
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # this (main) thread is untouched


def test_loop_thread_runs_with_the_requested_policy():
    seen = []
    loop = DeadlineLoop(lambda: seen.append(os.sched_getscheduler(0)), period=0.005, rt_priority=10)
    loop.start(max_ticks=3)
    loop._thread.join(2.0)
    assert len(seen) == 3
    expected = os.SCHED_OTHER if "refused" in loop.scheduling else os.SCHED_FIFO
    assert set(seen) == {expected}, loop.scheduling
