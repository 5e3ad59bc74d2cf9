"""Real Go2 backend: ``unitree_sdk2py`` over Cyclone DDS (``rt/lowstate`` in, ``rt/lowcmd`` out).

Start-up (in :class:`UnitreeBackend` ``__init__``), refusing to start with a clear error when a step fails:

1. import the SDK through :mod:`maa_deploy.sdk_compat` (CRC routed to :mod:`maa_deploy.unitree_wire`);
2. ``ChannelFactoryInitialize(domain_id, interface)``;
3. release sport mode through the ``motion_switcher`` service (otherwise the robot's own controller fights ours);
4. watch the DDS discovery data for ``check_writers_s`` and refuse if any other process publishes ``rt/lowcmd``;
5. subscribe ``rt/lowstate``, create the ``rt/lowcmd`` writer, start the publisher thread.

The publisher thread sends ``rt/lowcmd`` at ``publish_hz`` (500 Hz default) with the latest target from
:meth:`write_command`, and replaces it by damping (kp = 0, kd > 0) when the lowstate is older than
``state_timeout_s`` *or* no new target arrived for ``command_timeout_s`` (the policy loop stopped): the robot never
holds a stale target. Commands are converted to SDK motor order with ``maa_go2.joint_order.policy_to_sdk`` and
stamped with the Unitree CRC.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from maa_go2.joint_order import NUM_JOINTS, sdk_to_policy

from .. import sdk_compat, unitree_wire
from .base import DEFAULT_DAMPING_KD, Backend, RobotState

LOWSTATE_TOPIC = "rt/lowstate"
LOWCMD_TOPIC = "rt/lowcmd"


class BackendStartError(RuntimeError):
    """The backend refused to start (another controller active, sport mode not released, no SDK...)."""


@dataclass
class UnitreeConfig:
    interface: str = "eth0"  # network interface connected to the robot ("lo" for the simulated robot)
    domain_id: int = 0
    release_sport_mode: bool = True
    check_writers_s: float = 0.5  # how long to watch discovery for other rt/lowcmd publishers, s
    publish_hz: float = 500.0
    state_timeout_s: float = 0.04  # lowstate older than this -> damping, s
    command_timeout_s: float = 0.1  # no write_command for this long -> damping, s
    damping_kd: float = DEFAULT_DAMPING_KD
    wait_first_state_s: float = 2.0  # startup fails if no lowstate arrives within this, s


def other_lowcmd_writers(participant, window_s: float, topic: str = LOWCMD_TOPIC) -> list[str]:
    """GUIDs (as strings) of DDS writers on ``topic`` discovered within ``window_s`` seconds."""
    from cyclonedds.builtin import BuiltinDataReader, BuiltinTopicDcpsPublication

    reader = BuiltinDataReader(participant, BuiltinTopicDcpsPublication)
    found: dict[str, str] = {}
    deadline = time.monotonic() + window_s
    while time.monotonic() < deadline:
        for sample in reader.take(N=64):
            if getattr(sample, "topic_name", None) == topic:
                found[str(sample.key)] = str(sample.participant_key)
        time.sleep(0.02)
    return sorted(found)


class UnitreeBackend(Backend):
    """Go2 over DDS. See the module docstring for the start-up checks and the watchdogs."""

    name = "unitree"

    def __init__(self, config: UnitreeConfig | None = None, **overrides):
        self.config = config or UnitreeConfig(**overrides)
        c = self.config
        sdk_compat.import_sdk()
        from unitree_sdk2py.core.channel import (
            ChannelFactory,
            ChannelFactoryInitialize,
            ChannelPublisher,
            ChannelSubscriber,
        )
        from unitree_sdk2py.idl.default import unitree_go_msg_dds__LowCmd_
        from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_, LowState_

        ChannelFactoryInitialize(c.domain_id, c.interface)
        if c.release_sport_mode:
            try:
                sdk_compat.release_sport_mode(sdk_compat.make_motion_switcher())
            except RuntimeError as exc:
                raise BackendStartError(f"cannot take low-level control: {exc}") from exc
        participant = ChannelFactory()._ChannelFactory__participant  # the SDK's one participant
        writers = other_lowcmd_writers(participant, c.check_writers_s)
        if writers:
            raise BackendStartError(f"another process already publishes {LOWCMD_TOPIC} ({len(writers)} writer(s): "
                                    f"{writers}); stop it (sport mode, another deploy node) before starting")

        self._lock = threading.Lock()
        self._state: RobotState | None = None
        self._state_event = threading.Event()
        self._target: tuple | None = None
        self._target_time = -np.inf
        self.counters = {"lowstate": 0, "lowcmd": 0, "damping_stale_state": 0, "damping_stale_command": 0}
        self._stale = False
        #: ``(last lowstate stamp, first damping sent)`` per stale-lowstate episode, monotonic seconds
        self.stale_events: list[tuple[float, float]] = []

        self._sub = ChannelSubscriber(LOWSTATE_TOPIC, LowState_)
        self._sub.Init(self._on_lowstate, 10)
        if not self._state_event.wait(c.wait_first_state_s):
            self._sub.Close()
            raise BackendStartError(f"no {LOWSTATE_TOPIC} within {c.wait_first_state_s} s on interface "
                                    f"{c.interface!r}, domain {c.domain_id}: is the robot connected?")
        self._msg = unitree_go_msg_dds__LowCmd_()
        self._packed: tuple | None = None
        self._damping_cache: tuple | None = None
        self._pub = ChannelPublisher(LOWCMD_TOPIC, LowCmd_)
        self._pub.Init()
        self._running = threading.Event()
        self._running.set()
        self._thread = threading.Thread(target=self._publish_loop, name="lowcmd-publisher", daemon=True)
        self._thread.start()

    # --------------------------------------------------------------- lowstate
    def _on_lowstate(self, msg) -> None:
        stamp = time.monotonic()
        q = np.array([msg.motor_state[k].q for k in range(NUM_JOINTS)])
        dq = np.array([msg.motor_state[k].dq for k in range(NUM_JOINTS)])
        tau = np.array([msg.motor_state[k].tau_est for k in range(NUM_JOINTS)])
        imu = msg.imu_state
        state = RobotState(q=sdk_to_policy(q), dq=sdk_to_policy(dq), quat=np.array(imu.quaternion, dtype=float),
                           gyro=np.array(imu.gyroscope, dtype=float), stamp=stamp, tau_est=sdk_to_policy(tau))
        with self._lock:
            self._state = state
            self.counters["lowstate"] += 1
        self._state_event.set()

    def read_state(self) -> RobotState:
        with self._lock:
            return self._state

    # ----------------------------------------------------------------- lowcmd
    def write_command(self, q_des, kp, kd, tau_ff=0.0) -> None:
        target = tuple(np.broadcast_to(np.asarray(v, dtype=np.float64), (NUM_JOINTS,)).copy()
                       for v in (q_des, kp, kd, tau_ff))
        with self._lock:
            self._target, self._target_time = target, time.monotonic()

    def damping(self) -> None:
        with self._lock:
            self._target, self._target_time = None, time.monotonic()
        if getattr(self, "_running", None) is not None and self._running.is_set():
            self._send(None)  # immediately, not only at the next publisher tick

    def _damping_target(self, q) -> tuple:
        z = np.zeros(NUM_JOINTS)
        return q, z, np.full(NUM_JOINTS, self.config.damping_kd), z

    def _send(self, target) -> None:
        """Publish ``target`` (None = damping). The message is re-packed and re-CRC'd only when the target object
        changes (50 Hz), the 500 Hz stream re-sends the same packed message."""
        with self._lock:
            if target is None:
                if self._damping_cache is None:  # damping holds no position; q is the pose at its start
                    q = self._state.q if self._state is not None else np.zeros(NUM_JOINTS)
                    self._damping_cache = self._damping_target(q)
                target = self._damping_cache
            else:
                self._damping_cache = None
            if target is not self._packed:
                unitree_wire.fill_lowcmd(self._msg, *target)
                self._packed = target
            self._pub.Write(self._msg)
            self.counters["lowcmd"] += 1

    def _publish_loop(self) -> None:
        c = self.config
        period = 1.0 / c.publish_hz
        t0, k = time.monotonic(), 0
        while self._running.is_set():
            now = time.monotonic()
            with self._lock:
                state_age = now - (self._state.stamp if self._state is not None else -np.inf)
                target, cmd_age = self._target, now - self._target_time
            if state_age > c.state_timeout_s:
                if not self._stale:  # one event per stale episode: (last state stamp, first damping time)
                    self._stale = True
                    self.counters["damping_stale_state"] += 1
                    self.stale_events.append((now - state_age, now))
                target = None
                with self._lock:
                    self._target = None  # the controller must send a new command once states are fresh again
            else:
                self._stale = False
                if target is not None and cmd_age > c.command_timeout_s:
                    self.counters["damping_stale_command"] += 1
                    target = None
                    with self._lock:
                        self._target = None
            self._send(target)
            k += 1
            next_t = t0 + k * period
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                t0, k = time.monotonic(), 0

    def close(self) -> None:
        """Send damping, stop the publisher thread and close the DDS endpoints (last command: damping)."""
        if getattr(self, "_running", None) is None:
            return
        self.damping()
        self._running.clear()
        self._thread.join(timeout=1.0)
        self._send(None)
        self._pub.Close()
        self._sub.Close()
