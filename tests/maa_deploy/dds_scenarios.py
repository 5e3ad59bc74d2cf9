"""DDS processes for the unitree backend tests (run as scripts; each process owns one SDK ChannelFactory).

Roles:
  robot DOMAIN        simulated Go2: publishes rt/lowstate at 500 Hz, checks every rt/lowcmd's CRC; stdin commands
                      ``pause`` (stop lowstate), ``report`` (print a JSON line), ``quit``.
  competitor DOMAIN   publishes rt/lowcmd (another controller) until stdin closes.
  refuse DOMAIN       starts a competitor, tries UnitreeBackend, prints {"refused": bool, "error": str}.
  run DOMAIN          starts a robot, drives UnitreeBackend through commands / command timeout / stale lowstate /
                      close, prints one JSON line of observations.
All use the loopback interface only.
"""
from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time

import numpy as np

from maa_deploy import unitree_wire
from maa_deploy.sdk_compat import import_sdk


def _init(domain: int):
    import_sdk()
    from unitree_sdk2py.core.channel import ChannelFactoryInitialize

    ChannelFactoryInitialize(domain, "lo")


def robot(domain: int) -> None:
    _init(domain)
    from unitree_sdk2py.core.channel import ChannelPublisher, ChannelSubscriber
    from unitree_sdk2py.idl.default import unitree_go_msg_dds__LowState_
    from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_, LowState_

    stats = {"received": 0, "crc_ok": 0, "crc_bad": 0, "paused_at": None, "last_state_at": None,
             "first_damping_after_pause": None, "last": None, "sport_mode": "normal", "releases": 0}
    lock = threading.Lock()
    switcher = _fake_motion_switcher(stats, lock)

    def on_cmd(msg):
        ok = msg.crc == unitree_wire.lowcmd_crc(msg)
        now = time.monotonic()
        with lock:
            stats["received"] += 1
            stats["crc_ok" if ok else "crc_bad"] += 1
            kp = [m.kp for m in msg.motor_cmd]
            stats["last"] = {"head": list(msg.head), "level_flag": msg.level_flag, "gpio": msg.gpio,
                             "mode": [m.mode for m in msg.motor_cmd], "q": [m.q for m in msg.motor_cmd],
                             "dq": [m.dq for m in msg.motor_cmd], "kp": kp, "kd": [m.kd for m in msg.motor_cmd]}
            if stats["paused_at"] is not None and stats["first_damping_after_pause"] is None and not any(kp[:12]):
                stats["first_damping_after_pause"] = now

    sub = ChannelSubscriber("rt/lowcmd", LowCmd_)
    sub.Init(on_cmd, 10)
    pub = ChannelPublisher("rt/lowstate", LowState_)
    pub.Init()
    msg = unitree_go_msg_dds__LowState_()
    for k in range(20):
        msg.motor_state[k].q = 0.1 * k  # SDK order: motor k reports 0.1 k rad
        msg.motor_state[k].dq = 0.01 * k
    msg.imu_state.quaternion = [1.0, 0.0, 0.0, 0.0]
    stop = threading.Event()
    paused = threading.Event()

    def publish():
        while not stop.is_set():
            if not paused.is_set():
                msg.tick += 1
                pub.Write(msg)
                with lock:
                    stats["last_state_at"] = time.monotonic()
            time.sleep(0.002)

    threading.Thread(target=publish, daemon=True).start()
    print(json.dumps({"ready": True}), flush=True)
    assert switcher is not None
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "pause":
            with lock:
                paused.set()
                stats["paused_at"] = time.monotonic()
        elif cmd == "report":
            with lock:
                print(json.dumps(stats), flush=True)
        elif cmd == "quit":
            break
    stop.set()


def _fake_motion_switcher(stats: dict, lock: threading.Lock):
    """The robot's ``motion_switcher`` RPC service: CheckMode reports ``stats["sport_mode"]``, ReleaseMode clears it."""
    from unitree_sdk2py.rpc.server import Server

    from maa_deploy import sdk_compat

    class FakeMotionSwitcher(Server):
        def Init(self):  # noqa: N802 - SDK naming
            self._SetApiVersion(sdk_compat.MOTION_SWITCHER_API_VERSION)
            self._RegistHandler(sdk_compat.API_CHECK_MODE, self.check, False)
            self._RegistHandler(sdk_compat.API_RELEASE_MODE, self.release, False)

        def check(self, parameter):
            with lock:
                return 0, json.dumps({"form": "0", "name": stats["sport_mode"]})

        def release(self, parameter):
            with lock:
                stats["sport_mode"] = ""
                stats["releases"] += 1
            return 0, ""

    with contextlib.redirect_stdout(sys.stderr):  # the SDK prints to stdout, which carries our JSON lines
        server = FakeMotionSwitcher(sdk_compat.MOTION_SWITCHER_SERVICE)
        server.Init()
        server.Start(False)
    return server


def competitor(domain: int) -> None:
    _init(domain)
    from unitree_sdk2py.core.channel import ChannelPublisher
    from unitree_sdk2py.idl.default import unitree_go_msg_dds__LowCmd_
    from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_

    pub = ChannelPublisher("rt/lowcmd", LowCmd_)
    pub.Init()
    print(json.dumps({"ready": True}), flush=True)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    msg = unitree_go_msg_dds__LowCmd_()
    while not stop.is_set():
        pub.Write(msg)
        time.sleep(0.01)


def _spawn(role: str, domain: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, __file__, role, str(domain)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert json.loads(proc.stdout.readline())["ready"]
    return proc


def refuse(domain: int) -> None:
    from maa_deploy.backends.unitree import BackendStartError, UnitreeBackend

    other = _spawn("competitor", domain)
    try:
        _init(domain)
        UnitreeBackend(interface="lo", domain_id=domain, release_sport_mode=False, check_writers_s=1.0)
        out = {"refused": False, "error": ""}
    except BackendStartError as exc:
        out = {"refused": True, "error": str(exc)}
    finally:
        other.stdin.close()
        other.wait(10)
    print(json.dumps(out), flush=True)


def _report(proc) -> dict:
    proc.stdin.write("report\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def _drive(backend, q_des, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        backend.write_command(q_des, 20.0, 0.5)
        time.sleep(0.02)


def run(domain: int) -> None:
    from maa_deploy.backends.unitree import UnitreeBackend

    sim = _spawn("robot", domain)
    out = {}
    try:
        _init(domain)
        backend = UnitreeBackend(interface="lo", domain_id=domain, release_sport_mode=True, check_writers_s=0.3)
        out["after_start"] = _report(sim)
        state = backend.read_state()
        out["state_q"] = state.q.tolist()
        q_des = 0.01 * np.arange(12) - 1.0
        out["q_des"] = q_des.tolist()
        _drive(backend, q_des, 0.3)
        out["while_driving"] = _report(sim)
        time.sleep(0.25)  # no write_command: the command watchdog must damp
        out["after_command_timeout"] = _report(sim)
        _drive(backend, q_des, 0.2)
        sim.stdin.write("pause\n")
        sim.stdin.flush()
        _drive(backend, q_des, 0.3)  # the controller keeps commanding; the backend must damp anyway
        out["after_pause"] = _report(sim)
        out["stale_events"] = backend.stale_events
        out["counters"] = backend.counters
        backend.close()
        time.sleep(0.1)
        out["after_close"] = _report(sim)
    finally:
        sim.stdin.write("quit\n")
        sim.stdin.flush()
        sim.wait(10)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    {"robot": robot, "competitor": competitor, "refuse": refuse, "run": run}[sys.argv[1]](int(sys.argv[2]))
