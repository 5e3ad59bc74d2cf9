"""Simulated Go2 backend: the MuJoCo model of ``maa_go2`` driven like the real motors.

The motors are emulated as on the robot: each physics step (``maa_go2.control.SIM_DT`` = 5 ms) applies
``tau = kp (q_des - q) - kd dq + tau_ff`` clamped to the motor limits (``maa_go2.control.pd_torque``) with the
latest command. Two timing modes:

* ``realtime=False`` (default, deterministic, used by tests/benches): every :meth:`write_command` /
  :meth:`damping` advances ``decimation`` physics steps (one 50 Hz control period);
* ``realtime=True``: a background thread steps physics against wall-clock deadlines, whatever the controller does
  (as the real robot would), so a stopped controller leaves the robot on its last command: the backend's own
  command watchdog switches to damping after ``command_timeout_s`` — like :class:`UnitreeBackend`.

Faults latch as on the real robot (:class:`~maa_deploy.backends.base.FaultLatch`): the command watchdog, a
non-finite command or an error in the physics thread hold damping until :meth:`clear_fault`; the physics thread
counts its errors and, if it dies, is listed in :meth:`health`.

``viewer=True`` opens MuJoCo's passive interactive viewer on the simulation (a desktop is needed; without one the
constructor raises :class:`~maa_generator.media.ViewerUnavailable` with the reason). The viewer is refreshed from
its own thread at ``viewer_hz``, holding the physics lock only to copy the state
(:class:`~maa_generator.media.ViewerMirror`).
"""
from __future__ import annotations

import threading
import time

import mujoco
import numpy as np

from maa_deploy.backends.base import DEFAULT_DAMPING_KD, Backend, RobotState, ThreadHealth
from maa_deploy.realtime import request_realtime
from maa_generator.media import ViewerMirror, require_display
from maa_go2.control import DECIMATION, DEFAULT_JOINT_POS, SIM_DT, TORQUE_LIMITS, pd_torque
from maa_go2.engines.mujoco_engine import load_model
from maa_go2.joint_order import NUM_JOINTS

#: realtime mode: the physics thread steps a backlog of at most this much simulated time back to back; beyond it the
#: backlog is dropped (``counters["physics_resyncs"]``), see :meth:`SimBackend._realtime_loop`
MAX_PHYSICS_LAG_S = 2 * SIM_DT


class SimBackend(Backend):
    """MuJoCo Go2 behind the :class:`Backend` interface.

    Args:
        realtime: step physics on a wall-clock thread (see module docstring) instead of per command.
        init_height: initial base height, m. init_q: ``[12]`` initial joints (default: the stand pose).
        damping_kd: kd of :meth:`damping`. command_timeout_s: realtime-mode command watchdog, s.
        xml_path: alternative MJCF (default: ``maa_go2`` asset).
        rt_priority: realtime mode: ``SCHED_FIFO`` priority of the physics thread (0 = off), so that a busy CPU
            does not stall the simulated robot (the real one has its own MCU); outcome in :attr:`scheduling`.
        viewer: open MuJoCo's interactive viewer on this simulation (see module docstring). viewer_hz: its refresh
            rate, Hz.
    """

    name = "sim"

    def __init__(self, realtime: bool = False, init_height: float = 0.34, init_q=None,
                 damping_kd: float = DEFAULT_DAMPING_KD, command_timeout_s: float = 0.05, decimation: int = DECIMATION,
                 xml_path: str | None = None, rt_priority: int = 0, viewer: bool = False, viewer_hz: float = 30.0):
        self.viewer = None
        if viewer:
            require_display("the sim backend's viewer (deploy.sim_viewer)")  # before anything starts
        self.model = load_model(xml_path)
        self.model.opt.timestep = SIM_DT
        self.data = mujoco.MjData(self.model)
        self.data.qpos[2] = init_height
        self.data.qpos[3:7] = [1.0, 0.0, 0.0, 0.0]
        self.data.qpos[7:19] = DEFAULT_JOINT_POS if init_q is None else np.asarray(init_q, dtype=np.float64)
        mujoco.mj_forward(self.model, self.data)
        self.damping_kd, self.command_timeout_s, self.decimation = damping_kd, command_timeout_s, decimation
        self.realtime = realtime
        self._lock = threading.Lock()
        self._cmd = self._damping_cmd()
        self._cmd_time = time.monotonic()
        self._cmd_steps = 0  # physics steps since the last command (the watchdog counts simulated time)
        self._t0 = 1000.0  # simulated clock origin (positive, unrelated to the wall clock)
        self._stamp = self.clock()
        self.steps = 0
        self.counters = {"damping_stale_command": 0, "physics_resyncs": 0, "refused_while_latched": 0}
        self.threads = ThreadHealth()
        self.rt_priority, self.scheduling = rt_priority, "not started"
        self._running = threading.Event()
        self._thread = None
        if viewer:
            self.viewer = ViewerMirror(self.model, self.data, self._lock, viewer_hz).start()
        if realtime:
            self._running.set()
            self._thread = threading.Thread(target=self.threads.run_guarded, name="sim-physics", daemon=True,
                                            args=("sim-physics", self._realtime_loop, self.latch_fault))
            self._thread.start()

    # --------------------------------------------------------------- physics
    def _damping_cmd(self) -> tuple:
        z = np.zeros(NUM_JOINTS)
        return z, z, np.full(NUM_JOINTS, self.damping_kd), z

    def _step(self, n: int) -> None:
        q_des, kp, kd, tau_ff = self._cmd
        for _ in range(n):
            q, dq = self.data.qpos[7:19], self.data.qvel[6:18]
            tau = pd_torque(q_des[None], q[None], dq[None], kp, kd)[0]
            if tau_ff.any():
                tau = np.clip(tau + tau_ff, -TORQUE_LIMITS, TORQUE_LIMITS)
            self.data.ctrl[:] = tau
            mujoco.mj_step(self.model, self.data)
            self.steps += 1
            self._cmd_steps += 1
        self._stamp = self.clock()

    def clock(self) -> float:
        """Clock of ``RobotState.stamp``: ``time.monotonic()`` in realtime mode, else simulated seconds (give it
        to ``DeployController(clock=...)`` so stand interpolation and watchdogs run on simulated time)."""
        return time.monotonic() if self.realtime else self._t0 + float(self.data.time)

    def _realtime_loop(self) -> None:
        self.scheduling = request_realtime(self.rt_priority)
        t0, k = time.monotonic(), 0
        while self._running.is_set():
            try:
                self._physics_tick()
            except Exception as exc:  # noqa: BLE001 - counted and damped; the simulated robot keeps running
                self.threads.record("sim-physics", exc)
                self.latch_fault(f"sim physics error: {self.threads.last_error['sim-physics']}")
            k += 1
            delay = t0 + k * SIM_DT - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -MAX_PHYSICS_LAG_S:
                # Behind (the process was descheduled, or the GIL was held): drop the backlog instead of stepping it
                # back to back. A burst would advance simulated time by the whole stall while the controller, stalled
                # just as long, gets no chance to answer: the command watchdog then latched on a stall of the
                # whole process. Dropping it pauses the simulated robot with the process, as the watchdog assumes.
                t0 = time.monotonic() - k * SIM_DT
                self.counters["physics_resyncs"] += 1

    def _physics_tick(self) -> None:
        with self._lock:
            # simulated time, not wall time: a stall of the whole simulator process pauses the robot too, so only a
            # controller that falls behind the running physics trips the watchdog
            if self._cmd_steps * SIM_DT > self.command_timeout_s and self._cmd[1].any():
                self._cmd = self._damping_cmd()
                self.counters["damping_stale_command"] += 1
                self.fault.latch(f"command stale: no joint target for {self.command_timeout_s * 1e3:.0f} ms")
            self._step(1)

    # ------------------------------------------------------------- interface
    def read_state(self) -> RobotState:
        with self._lock:
            d = self.data
            return RobotState(q=d.qpos[7:19].copy(), dq=d.qvel[6:18].copy(), quat=d.qpos[3:7].copy(),
                              gyro=d.qvel[3:6].copy(), stamp=self._stamp,
                              tau_est=d.ctrl.copy())

    def write_command(self, q_des, kp, kd, tau_ff=0.0) -> None:
        """Set the PD command; a non-finite one latches damping; refused (damping kept) while latched."""
        cmd = tuple(np.broadcast_to(np.asarray(v, dtype=np.float64), (NUM_JOINTS,)).copy()
                    for v in (q_des, kp, kd, tau_ff))
        if not all(np.all(np.isfinite(c)) for c in cmd):
            self.latch_fault("non-finite joint command refused")
            return
        with self._lock:
            if self.fault.latched:
                self.counters["refused_while_latched"] += 1
                cmd = self._damping_cmd()
            self._cmd, self._cmd_time, self._cmd_steps = cmd, time.monotonic(), 0
            if not self.realtime:
                self._step(self.decimation)

    def damping(self) -> None:
        with self._lock:
            self._cmd, self._cmd_time, self._cmd_steps = self._damping_cmd(), time.monotonic(), 0
            if not self.realtime:
                self._step(self.decimation)

    @property
    def base_height(self) -> float:
        return float(self.data.qpos[2])

    def base_pose(self) -> np.ndarray:
        """``[7]`` base position (m, world) and orientation quaternion (w, x, y, z), copied under the physics lock."""
        with self._lock:
            return self.data.qpos[0:7].copy()

    def close(self) -> None:
        self.damping()
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self.viewer is not None:
            self.viewer.close()
            self.viewer = None
