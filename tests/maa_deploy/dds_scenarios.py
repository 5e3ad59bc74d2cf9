"""DDS processes for the unitree backend tests (run as scripts; each process owns one SDK ChannelFactory).

Roles:
  robot DOMAIN        the stand-in Go2 of ``maa_deploy.wire_robot`` (valid lowstates at 500 Hz, motion_switcher,
                      rt/lowcmd checks; stdin commands ``fault KIND``, ``restore``, ``report``, ``quit``).
  refuse DOMAIN       starts a second rt/lowcmd writer (``maa_deploy.wire_robot competitor``), tries UnitreeBackend,
                      prints {"refused": bool, "error": str}.
  run DOMAIN          starts a robot, drives UnitreeBackend through commands / command timeout (latched) / clear /
                      close, prints one JSON line of observations (the wire-fault matrix is maa_deploy.fault_matrix).
All use the loopback interface only.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np

from maa_deploy.sdk_compat import import_sdk


def _init(domain: int):
    import_sdk()
    from unitree_sdk2py.core.channel import ChannelFactoryInitialize

    ChannelFactoryInitialize(domain, "lo")


def robot(domain: int) -> None:
    from maa_deploy.wire_robot import main

    main([str(domain), "lo"])


def _spawn(role: str, domain: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, __file__, role, str(domain)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert json.loads(proc.stdout.readline())["ready"]
    return proc


def refuse(domain: int) -> None:
    from maa_deploy.backends.unitree import BackendStartError, UnitreeBackend
    from maa_deploy.wire_robot import spawn_competitor

    other = spawn_competitor(domain)
    other.stdin.write("go\n")
    other.stdin.flush()
    assert other.stdout.readline().startswith("creating") and other.stdout.readline().startswith("writing")
    try:
        _init(domain)
        UnitreeBackend(interface="lo", domain_id=domain, release_sport_mode=False, check_writers_s=1.0)
        out = {"refused": False, "error": ""}
    except BackendStartError as exc:
        out = {"refused": True, "error": str(exc)}
    finally:
        other.kill()
        other.wait(10)
    print(json.dumps(out), flush=True)


def robot_report(proc) -> dict:
    """The stand-in robot's counters and last received ``rt/lowcmd`` (``maa_deploy.wire_robot`` ``report``)."""
    proc.stdin.write("report\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def robot_report_when_quiet(proc, timeout_s: float = 3.0) -> dict:
    """The robot's report once it has stopped receiving (its reader queue drained), or after ``timeout_s``."""
    report, end = robot_report(proc), time.monotonic() + timeout_s
    while time.monotonic() < end:
        time.sleep(0.1)
        previous, report = report, robot_report(proc)
        if report["received"] == previous["received"]:
            break
    return report


def _drive(backend, q_des, seconds: float) -> None:
    """A controller writing PD targets for ``seconds``. Every 10 ms, not the deploy loop's 20 ms: this plain Python
    thread has no real-time priority, and on a loaded 2-core machine one late wake-up of a 20 ms loop (53 ms seen)
    would trip the backend's 50 ms command watchdog, which is the behaviour under test elsewhere."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        backend.write_command(q_des, 20.0, 0.5)
        time.sleep(0.01)


def run(domain: int) -> None:
    """Commands reach the robot in SDK order with a valid CRC; a stopped controller gets latched damping; close
    damps."""
    from maa_deploy.backends.unitree import UnitreeBackend
    from maa_deploy.wire_robot import STAND_Q

    sim = _spawn("robot", domain)
    out = {}
    try:
        _init(domain)
        # 150 ms watchdogs, not the real robot's 40/50 ms: this scenario is about packing, order, CRC and latching, and
        # a plain Python controller on a loaded 2-core machine can wake 100 ms late (the 50 ms limits are covered by
        # the wire-fault matrix and the unit tests)
        backend = UnitreeBackend(interface="lo", domain_id=domain, release_sport_mode=True, check_writers_s=0.3,
                                 command_timeout_s=0.15, state_timeout_s=0.15)
        out["after_start"] = robot_report(sim)
        out["state_q"] = backend.read_state().q.tolist()
        out["expected_q"] = STAND_Q.tolist()
        q_des = STAND_Q + 0.01 * np.arange(12)
        out["q_des"] = q_des.tolist()
        _drive(backend, q_des, 0.3)
        out["while_driving"] = robot_report(sim)
        time.sleep(0.5)  # no write_command: the command watchdog must damp and latch
        out["after_command_timeout"] = robot_report(sim)
        out["latched"] = backend.fault.reason
        _drive(backend, q_des, 0.2)  # the controller resumes: still damping while latched
        out["resumed_while_latched"] = robot_report(sim)
        out["cleared"] = backend.clear_fault()
        _drive(backend, q_des, 0.2)
        out["after_clear"] = robot_report(sim)
        out["counters"] = backend.counters
        backend.close()
        out["after_close"] = robot_report_when_quiet(sim)
    finally:
        sim.stdin.write("quit\n")
        sim.stdin.flush()
        sim.wait(10)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    {"robot": robot, "refuse": refuse, "run": run}[sys.argv[1]](int(sys.argv[2]))
