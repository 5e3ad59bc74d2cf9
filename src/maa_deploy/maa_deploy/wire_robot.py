"""A stand-in Go2 on the wire, for fault testing without hardware: ``rt/lowstate`` out, ``rt/lowcmd`` in.

It speaks the real protocol through ``unitree_sdk2py`` over Cyclone DDS (one process = one SDK ChannelFactory, so it
runs as its own process: ``python -m maa_deploy.wire_robot DOMAIN [INTERFACE]``; the ``second_writer`` fault starts
``python -m maa_deploy.wire_robot competitor DOMAIN [INTERFACE]``):

* publishes ``rt/lowstate`` at 500 Hz: the stand pose (``maa_go2.control.DEFAULT_JOINT_POS`` plus ``0.001 * k`` on
  policy joint ``k``, so the joint order is checkable), unit quaternion, a tick that advances 2 per message (ms),
  and the Unitree CRC;
* serves the ``motion_switcher`` RPC (CheckMode reports sport mode until ReleaseMode);
* checks every ``rt/lowcmd``: CRC, and whether it is a PD frame (any kp > 0 on the 12 joints) or damping.

Commands on stdin (one per line; every reply is one JSON line on stdout):
``fault KIND`` injects a fault (see :data:`FAULTS`) and stamps its onset; ``mark`` only stamps an onset (for a fault
made inside the controller's process); ``restore`` publishes normal lowstates
again; ``report`` prints the statistics; ``quit``. Fault onset and frame times are ``time.monotonic()`` seconds,
comparable across processes on one host.
"""
from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time

import numpy as np

from maa_deploy import sdk_compat, unitree_wire
from maa_deploy.lowstate_check import encode_remote_keys
from maa_go2.control import DEFAULT_JOINT_POS
from maa_go2.joint_order import NUM_JOINTS

#: injectable faults: what the stand-in puts on the wire
FAULTS = {
    "nan": "NaN in joint 0's position",
    "frozen_tick": "the tick stops advancing (messages keep coming)",
    "jumping_tick": "the tick jumps by 10 s once, then advances normally",
    "zero_quaternion": "IMU quaternion (0, 0, 0, 0)",
    "bad_crc": "CRC field wrong",
    "joint_range": "joint 2 (FL calf) reported at +1.0 rad, outside its range",
    "remote_estop": "L2 + B held on the wireless remote",
    "pause": "no lowstate at all",
    "second_writer": "another process starts publishing rt/lowcmd",
}
#: how long the second writer's participant is given to be discovered before it creates its writer (s)
COMPETITOR_DISCOVERY_S = 0.3
STAND_Q = DEFAULT_JOINT_POS + 0.001 * np.arange(NUM_JOINTS)


class WireRobot:
    """The stand-in robot in this process (after ``ChannelFactoryInitialize``); see the module docstring."""

    def __init__(self, domain: int, interface: str = "lo", rate_hz: float = 500.0):
        sdk_compat.import_sdk()
        from unitree_sdk2py.core.channel import ChannelPublisher, ChannelSubscriber
        from unitree_sdk2py.idl.default import unitree_go_msg_dds__LowState_
        from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_, LowState_

        self.domain, self.interface = domain, interface
        self.period = 1.0 / rate_hz
        self.lock = threading.Lock()
        self.fault: str | None = None
        self.onset: float | None = None
        self.stats = self._fresh_stats()
        self.sport_mode, self.releases = "normal", 0
        self._msg = unitree_go_msg_dds__LowState_()
        self._tick = 0
        self._jumped = False
        self._competitor = None
        self._sub = ChannelSubscriber("rt/lowcmd", LowCmd_)
        self._sub.Init(self._on_lowcmd, 10)
        self._pub = ChannelPublisher("rt/lowstate", LowState_)
        self._pub.Init()
        self._switcher = self._serve_motion_switcher()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._publish_loop, name="wire-robot", daemon=True)
        self._thread.start()

    @staticmethod
    def _fresh_stats() -> dict:
        return {"received": 0, "crc_bad": 0, "first_bad_frame_at": None, "pd_frames": 0, "damping_frames": 0,
                "last_state_at": None, "first_damping_after_onset": None, "pd_after": [], "last": None}

    # ------------------------------------------------------------------ lowcmd
    def _on_lowcmd(self, msg) -> None:
        now = time.monotonic()
        ok = msg.crc == unitree_wire.lowcmd_crc(msg)
        kp = [m.kp for m in msg.motor_cmd[:NUM_JOINTS]]
        pd = any(k > 0 for k in kp)
        with self.lock:
            s = self.stats
            s["received"] += 1
            if not ok:  # not a frame the motors would accept (e.g. the second writer's blank frames)
                s["crc_bad"] += 1
                if s.get("first_bad_frame_at") is None:
                    s["first_bad_frame_at"] = now
                return
            s["pd_frames" if pd else "damping_frames"] += 1
            s["last"] = {"head": list(msg.head), "level_flag": msg.level_flag, "gpio": msg.gpio,
                         "mode": [m.mode for m in msg.motor_cmd], "q": [m.q for m in msg.motor_cmd],
                         "kp": [m.kp for m in msg.motor_cmd], "kd": [m.kd for m in msg.motor_cmd]}
            if self.onset is not None:
                if not pd and s["first_damping_after_onset"] is None:
                    s["first_damping_after_onset"] = now
                if pd and len(s["pd_after"]) < 10000:
                    s["pd_after"].append(now)

    # ---------------------------------------------------------------- lowstate
    def _lowstate(self):
        fault, m = self.fault, self._msg
        q = STAND_Q.copy()
        if fault == "nan":
            q[0] = np.nan
        elif fault == "joint_range":
            q[2] = 1.0
        if fault != "frozen_tick":
            self._tick = (self._tick + 2) & 0xFFFFFFFF
        if fault == "jumping_tick" and not self._jumped:
            self._tick = (self._tick + 10_000) & 0xFFFFFFFF
            self._jumped = True
        quat = np.zeros(4) if fault == "zero_quaternion" else np.array([1.0, 0.0, 0.0, 0.0])
        remote = encode_remote_keys(["L2", "B"] if fault == "remote_estop" else [])
        unitree_wire.fill_lowstate(m, q=q, dq=np.zeros(NUM_JOINTS), quat_wxyz=quat, gyro=np.zeros(3),
                                   tick=self._tick, wireless_remote=remote)
        unitree_wire.lowstate_with_crc(m)
        if fault == "bad_crc":
            m.crc = (m.crc + 1) & 0xFFFFFFFF
        return m

    def _publish_loop(self) -> None:
        t0, k = time.monotonic(), 0
        while not self._stop.is_set():
            if self.fault != "pause":
                self._pub.Write(self._lowstate())
                if self.fault is None:
                    with self.lock:
                        self.stats["last_state_at"] = time.monotonic()
            k += 1
            delay = t0 + k * self.period - time.monotonic()
            time.sleep(max(delay, 0.0))

    # ------------------------------------------------------------------ faults
    def inject(self, kind: str) -> dict:
        """Start fault ``kind`` (one of :data:`FAULTS`); returns ``{"fault", "onset"}``."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {sorted(FAULTS)}")
        competitor = spawn_competitor(self.domain, self.interface) if kind == "second_writer" else None
        with self.lock:
            self.stats = self._fresh_stats()
            self._jumped = False
            self.onset = time.monotonic()
            self.fault = kind
        if competitor is not None:
            self._competitor = competitor
            competitor.stdin.write("go\n")  # it answers just before creating its writer: the fault's onset
            competitor.stdin.flush()
            competitor.stdout.readline()
            with self.lock:
                self.stats = self._fresh_stats()
                self.onset = time.monotonic()
        return {"fault": kind, "onset": self.onset}

    def mark(self) -> dict:
        """Fresh statistics and an onset stamp without a wire fault (for faults inside the controller's process)."""
        with self.lock:
            self.stats = self._fresh_stats()
            self.fault, self.onset = None, time.monotonic()
        return {"fault": None, "onset": self.onset}

    def restore(self) -> dict:
        """Normal lowstates again; statistics start afresh (so a report shows what came after the restore)."""
        with self.lock:
            self.fault, self.onset = None, None
            self.stats = self._fresh_stats()
        if self._competitor is not None:
            self._competitor.kill()
            self._competitor.wait()
            self._competitor = None
        return {"restored": True}

    def report(self) -> dict:
        with self.lock:
            out = dict(self.stats)
            out.update(fault=self.fault, onset=self.onset, sport_mode=self.sport_mode, releases=self.releases)
            return out

    def close(self) -> None:
        self.restore()
        self._stop.set()
        self._thread.join(timeout=1.0)

    # -------------------------------------------------------- motion switcher
    def _serve_motion_switcher(self):
        from unitree_sdk2py.rpc.server import Server

        robot = self

        class MotionSwitcherServer(Server):
            def Init(self):  # noqa: N802 - SDK naming
                self._SetApiVersion(sdk_compat.MOTION_SWITCHER_API_VERSION)
                self._RegistHandler(sdk_compat.API_CHECK_MODE, self.check, False)
                self._RegistHandler(sdk_compat.API_RELEASE_MODE, self.release, False)

            def check(self, parameter):
                with robot.lock:
                    return 0, json.dumps({"form": "0", "name": robot.sport_mode})

            def release(self, parameter):
                with robot.lock:
                    robot.sport_mode = ""
                    robot.releases += 1
                return 0, ""

        with contextlib.redirect_stdout(sys.stderr):  # the SDK prints to stdout, which carries our JSON lines
            server = MotionSwitcherServer(sdk_compat.MOTION_SWITCHER_SERVICE)
            server.Init()
            server.Start(False)
        return server


def spawn_competitor(domain: int, interface: str = "lo") -> subprocess.Popen:
    """Start a second controller (:func:`competitor`) up to the point of creating its ``rt/lowcmd`` writer.

    Its own process: creating a writer in the robot's process can deadlock with the SDK's listener. It has joined the
    DDS domain (and been given :data:`COMPETITOR_DISCOVERY_S` to be discovered) when this returns; write ``go`` to its
    stdin and it prints ``creating the writer`` then ``writing``. (At nice 19 it was starved for over 10 s on a loaded
    2-vCPU host, so it runs at normal priority.)
    """
    cmd = [sys.executable, "-m", "maa_deploy.wire_robot", "competitor", str(domain), interface]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        proc.wait()
        raise RuntimeError("the second-writer process exited before joining the DDS domain")
    time.sleep(COMPETITOR_DISCOVERY_S)
    return proc


def competitor(domain: int, interface: str) -> None:
    """Another controller: joins the domain, says ``ready``, and on ``go`` (stdin) publishes blank ``rt/lowcmd``
    frames at 50 Hz (a policy's rate) until killed."""
    from unitree_sdk2py.core.channel import ChannelFactoryInitialize, ChannelPublisher
    from unitree_sdk2py.idl.default import unitree_go_msg_dds__LowCmd_
    from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_

    ChannelFactoryInitialize(domain, interface)
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    print("creating the writer", flush=True)
    pub = ChannelPublisher("rt/lowcmd", LowCmd_)
    pub.Init()
    msg = unitree_go_msg_dds__LowCmd_()
    pub.Write(msg)
    print("writing", flush=True)
    while True:
        pub.Write(msg)
        time.sleep(0.02)


def main(argv: list[str]) -> int:
    """``python -m maa_deploy.wire_robot DOMAIN [INTERFACE]``: serve until ``quit`` on stdin.
    ``python -m maa_deploy.wire_robot competitor DOMAIN [INTERFACE]``: a second rt/lowcmd writer."""
    if not argv or len(argv) > 3:
        print(__doc__, file=sys.stderr)
        return 2
    sdk_compat.import_sdk()
    if argv[0] == "competitor":
        competitor(int(argv[1]), argv[2] if len(argv) > 2 else "lo")
        return 0
    from unitree_sdk2py.core.channel import ChannelFactoryInitialize

    domain, interface = int(argv[0]), argv[1] if len(argv) > 1 else "lo"
    ChannelFactoryInitialize(domain, interface)
    robot = WireRobot(domain, interface)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd, *args = line.split()
        try:
            if cmd == "fault":
                reply = robot.inject(args[0])
            elif cmd == "mark":
                reply = robot.mark()
            elif cmd == "restore":
                reply = robot.restore()
            elif cmd == "report":
                reply = robot.report()
            elif cmd == "quit":
                break
            else:
                reply = {"error": f"unknown command {cmd!r}; expected fault KIND, mark, restore, report or quit"}
        except (ValueError, IndexError, RuntimeError) as exc:
            reply = {"error": str(exc)}
        print(json.dumps(reply), flush=True)
    robot.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
