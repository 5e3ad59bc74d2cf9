"""Real Go2 backend: ``unitree_sdk2py`` over Cyclone DDS (``rt/lowstate`` in, ``rt/lowcmd`` out).

Start-up (in :class:`UnitreeBackend` ``__init__``), refusing to start with a clear error when a step fails:

1. import the SDK through :mod:`maa_deploy.sdk_compat` (CRC routed to :mod:`maa_deploy.unitree_wire`);
2. ``ChannelFactoryInitialize(domain_id, interface)``;
3. release sport mode through the ``motion_switcher`` service (otherwise the robot's own controller fights ours);
4. watch the DDS discovery data for ``check_writers_s`` and refuse if any other process publishes ``rt/lowcmd``;
5. subscribe ``rt/lowstate``, create the ``rt/lowcmd`` writer, start the publisher and the writer-watch threads.

Safety model (see docs/deploy.md):

* **The damping frame cannot fail**: it is packed once at start-up from constants (kp = 0, kd = ``damping_kd``,
  q = dq = tau = 0), never from measured values, so a NaN in the lowstate cannot make it unsendable.
* **Every thread catches, counts and damps**: the publisher (500 Hz), the lowstate callback and the writer watch run
  under :class:`~maa_deploy.backends.base.ThreadHealth`; an error latches damping; a thread that dies sends a last
  damping frame and is listed in :meth:`health` (the node then turns ERROR and exits non-zero).
* **Latched watchdogs**: a lowstate that fails validation (:mod:`maa_deploy.lowstate_check`: CRC, frozen/jumping
  tick, quaternion norm, joint ranges), a lowstate older than ``state_timeout_s`` while a PD target is in force (when
  already damping, a late lowstate is only counted: any later PD target needs a fresh state), no new target for
  ``command_timeout_s``, a second ``rt/lowcmd`` writer (checked every ``writer_check_period_s``) or the wireless
  remote's e-stop combination latch :attr:`fault`; from then on only damping frames leave, and
  :meth:`write_command` is refused, until :meth:`clear_fault` (the node's ``~/reset``).

Commands are converted to SDK motor order with ``maa_go2.joint_order.policy_to_sdk`` and stamped with the Unitree CRC.
"""
from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from maa_core.config import ConfigError
from maa_deploy import sdk_compat, unitree_wire
from maa_deploy.backends.base import DEFAULT_DAMPING_KD, Backend, RobotState, ThreadHealth
from maa_deploy.lowstate_check import LowStateCheckConfig, LowStateValidator, sample_from_lowstate
from maa_go2.joint_order import NUM_JOINTS, sdk_to_policy

LOWSTATE_TOPIC = "rt/lowstate"
LOWCMD_TOPIC = "rt/lowcmd"


class BackendStartError(RuntimeError):
    """The backend refused to start (another controller active, sport mode not released, no SDK...)."""


@dataclass
class UnitreeConfig:
    interface: str = "eth0"  # network interface connected to the robot ("lo" for the simulated robot)
    domain_id: int = 0
    release_sport_mode: bool = True
    check_writers_s: float = 0.5  # how long to watch discovery for other rt/lowcmd publishers at start, s
    writer_check_period_s: float = 0.02  # then how often to look again while running, s (0 = never)
    publish_hz: float = 500.0
    state_timeout_s: float = 0.04  # no valid lowstate for this long -> latched damping, s
    command_timeout_s: float = 0.05  # no write_command for this long (2.5 ticks at 50 Hz) -> latched damping, s
    damping_kd: float = DEFAULT_DAMPING_KD
    wait_first_state_s: float = 2.0  # startup fails if no lowstate arrives within this, s
    # close() keeps streaming damping this long before closing the writer, s. One frame is not enough: UDP may
    # drop it, and a receiver whose queue is full of earlier PD frames drops the newest (the SDK's reader does)
    close_damping_s: float = 0.1
    lowstate: LowStateCheckConfig = field(default_factory=LowStateCheckConfig)

    def __post_init__(self):
        positive = ("publish_hz", "state_timeout_s", "command_timeout_s", "wait_first_state_s")
        bad = [f"{k}={getattr(self, k)!r} (expected > 0)" for k in positive if not getattr(self, k) > 0]
        non_negative = ("check_writers_s", "writer_check_period_s", "close_damping_s", "damping_kd")
        bad += [f"{k}={getattr(self, k)!r} (expected >= 0)" for k in non_negative if not getattr(self, k) >= 0]
        if bad:
            raise ConfigError("UnitreeConfig: " + "; ".join(bad))


def _writer_reader(participant):
    from cyclonedds.builtin import BuiltinDataReader, BuiltinTopicDcpsPublication

    return BuiltinDataReader(participant, BuiltinTopicDcpsPublication)


def _lowcmd_writers(reader, topic: str = LOWCMD_TOPIC) -> dict[str, str]:
    """``{writer GUID: participant GUID}`` of the ``topic`` writers in the discovery samples available now."""
    return {str(s.key): str(s.participant_key) for s in reader.take(N=256)
            if getattr(s, "topic_name", None) == topic}


def other_lowcmd_writers(participant, window_s: float, topic: str = LOWCMD_TOPIC) -> list[str]:
    """GUIDs (as strings) of DDS writers on ``topic`` discovered within ``window_s`` seconds."""
    reader = _writer_reader(participant)
    found: dict[str, str] = {}
    deadline = time.monotonic() + window_s
    while time.monotonic() < deadline:
        found.update(_lowcmd_writers(reader, topic))
        time.sleep(0.02)
    return sorted(found)


class UnitreeBackend(Backend):
    """Go2 over DDS. See the module docstring for the start-up checks, the watchdogs and the fault latch."""

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
        self._participant = ChannelFactory()._ChannelFactory__participant  # the SDK's one participant
        writers = other_lowcmd_writers(self._participant, c.check_writers_s)
        if writers:
            raise BackendStartError(f"another process already publishes {LOWCMD_TOPIC} ({len(writers)} writer(s): "
                                    f"{writers}); stop it (sport mode, another deploy node) before starting")

        self._lock = threading.Lock()
        self.threads = ThreadHealth()
        self.validator = LowStateValidator(c.lowstate)
        self._last_rejection = ""
        self._state: RobotState | None = None
        self._state_event = threading.Event()
        self._target: tuple | None = None
        self._target_time = -np.inf
        self.counters = {"lowstate": 0, "lowstate_rejected": 0, "lowcmd": 0, "damping_stale_state": 0,
                         "damping_stale_command": 0, "refused_while_latched": 0, "foreign_writers": 0,
                         "stale_state_idle": 0}
        self._stale = False
        #: ``(last valid lowstate stamp, first damping sent)`` per stale-lowstate episode, monotonic seconds
        self.stale_events: collections.deque = collections.deque(maxlen=1000)
        #: ``(what, monotonic time it was detected)`` of every latched fault, in order (bounded)
        self.fault_events: collections.deque = collections.deque(maxlen=1000)
        #: ``(monotonic send time, is a PD frame)`` of the last frames written to rt/lowcmd
        self.sent_log: collections.deque = collections.deque(maxlen=4096)

        self._sub = ChannelSubscriber(LOWSTATE_TOPIC, LowState_)
        self._sub.Init(self._on_lowstate, 10)
        if not self._state_event.wait(c.wait_first_state_s):
            self._sub.Close()
            raise BackendStartError(f"no valid {LOWSTATE_TOPIC} within {c.wait_first_state_s} s on interface "
                                    f"{c.interface!r}, domain {c.domain_id}: is the robot connected? "
                                    f"(last rejection: {self._last_rejection or 'none'})")
        z = np.zeros(NUM_JOINTS)  # the damping frame: constants only, packed once (cannot fail later)
        self._damping_msg = unitree_wire.fill_lowcmd(unitree_go_msg_dds__LowCmd_(), z,
                                                     0.0, np.full(NUM_JOINTS, c.damping_kd), 0.0)
        self._cmd_msg = unitree_go_msg_dds__LowCmd_()
        self._packed: tuple | None = None
        self._pub = ChannelPublisher(LOWCMD_TOPIC, LowCmd_)
        self._pub.Init()
        self._own_participant = str(self._participant.guid)  # our rt/lowcmd writer belongs to it
        self._running = threading.Event()
        self._running.set()
        self._threads = [threading.Thread(target=self.threads.run_guarded, name=name, daemon=True,
                                          args=(name, body, self._latch))
                         for name, body in (("lowcmd-publisher", self._publish_loop),
                                            ("lowcmd-writer-watch", self._writer_watch_loop))]
        for thread in self._threads:
            thread.start()

    # ------------------------------------------------------------------ faults
    def _latch(self, reason: str) -> None:
        """Latch ``reason`` and damp at once (callable from any thread)."""
        with self._lock:  # the publisher decides PD vs damping under this lock: no PD frame can follow the latch
            if self.fault.latch(reason):
                self.fault_events.append((reason, time.monotonic()))
            self._target = None
        self._send_damping()

    latch_fault = _latch  # the Backend interface's name for it

    # --------------------------------------------------------------- lowstate
    def _on_lowstate(self, msg) -> None:
        """Subscriber callback (SDK thread): validate, store; any error latches damping instead of escaping."""
        try:
            self._handle_lowstate(msg)
        except Exception as exc:  # noqa: BLE001 - counted, damped and reported; the callback must not die
            self.threads.record("lowstate-callback", exc)
            self._latch(f"lowstate callback error: {self.threads.last_error['lowstate-callback']}")

    def _handle_lowstate(self, msg) -> None:
        stamp = time.monotonic()
        # decoded once, validated and stored
        sample = sample_from_lowstate(msg, self.config.lowstate.check_crc, received_at=stamp)
        verdict = self.validator.check(sample)
        tau = [msg.motor_state[k].tau_est for k in range(NUM_JOINTS)]
        state = RobotState(q=np.asarray(sample.q, dtype=float), dq=np.asarray(sample.dq, dtype=float),
                           quat=np.asarray(sample.quat, dtype=float), gyro=np.asarray(sample.gyro, dtype=float),
                           stamp=stamp, tau_est=sdk_to_policy(np.asarray(tau, dtype=float)))
        if verdict.estop and not self.remote_estop:
            self.remote_estop = True
            self._latch(f"remote e-stop ({'+'.join(self.config.lowstate.remote_estop)} on the wireless remote)")
        if not verdict.ok:
            with self._lock:
                self.counters["lowstate_rejected"] += 1
            self._last_rejection = f"{verdict.fault}: {verdict.detail}"
            if not self._state_event.is_set():
                return  # still starting: keep waiting for a valid lowstate (start-up fails with this reason)
            self._latch(f"lowstate rejected ({verdict.fault}): {verdict.detail}")
            return
        with self._lock:
            self._state = state
            self.counters["lowstate"] += 1
        self._state_event.set()

    def read_state(self) -> RobotState:
        with self._lock:
            return self._state

    def clear_fault(self) -> str | None:
        """Operator action: leave the latched damping; the remote e-stop flag is re-armed too."""
        self.remote_estop = False
        self.validator.reset()  # the next lowstate seeds the tick again
        with self._lock:
            self._target = None
        return self.fault.clear()

    # ----------------------------------------------------------------- lowcmd
    def write_command(self, q_des, kp, kd, tau_ff=0.0) -> None:
        """Set the PD target the publisher sends; refused (counted, damping kept) while a fault is latched."""
        target = tuple(np.broadcast_to(np.asarray(v, dtype=np.float64), (NUM_JOINTS,)).copy()
                       for v in (q_des, kp, kd, tau_ff))
        if not all(np.all(np.isfinite(v)) for v in target):
            self._latch("non-finite joint command refused")
            return
        with self._lock:
            if self.fault.latched:
                self.counters["refused_while_latched"] += 1
                return
            self._target, self._target_time = target, time.monotonic()

    def damping(self) -> None:
        with self._lock:
            self._target, self._target_time = None, time.monotonic()
        self._send_damping()

    def _send_damping(self) -> None:
        if getattr(self, "_running", None) is not None:  # None while starting: nothing was sent yet
            self._send(damp=True)

    def _send(self, damp: bool) -> None:
        """Publish the current target, or damping when ``damp``, latched, or no target. A PD message is re-packed
        and re-CRC'd only when the target object changes (50 Hz); the 500 Hz stream re-sends the packed message."""
        with self._lock:
            target = None if (damp or self.fault.latched) else self._target
            if target is None:
                msg = self._damping_msg
            else:
                if target is not self._packed:
                    unitree_wire.fill_lowcmd(self._cmd_msg, *target)
                    self._packed = target
                msg = self._cmd_msg
            self._pub.Write(msg)
            self.counters["lowcmd"] += 1
            self.sent_log.append((time.monotonic(), target is not None))

    def _must_damp(self, now: float) -> bool:
        """The watchdogs: True when damping must be sent now, latching a stale state or command."""
        c = self.config
        with self._lock:
            state_stamp = self._state.stamp if self._state is not None else -np.inf
            target, cmd_age = self._target, now - self._target_time
        if self.fault.latched:
            return True
        if now - state_stamp > c.state_timeout_s:
            if target is None:  # already damping (passive): count the episode, nothing to latch
                if not self._stale:
                    self._stale = True
                    self.counters["stale_state_idle"] += 1
                return True
            self.counters["damping_stale_state"] += 1
            self.stale_events.append((state_stamp, now))
            self._latch(f"lowstate stale: no valid {LOWSTATE_TOPIC} for {(now - state_stamp) * 1e3:.0f} ms "
                        f"(limit {c.state_timeout_s * 1e3:.0f} ms)")
            return True
        self._stale = False
        if target is not None and cmd_age > c.command_timeout_s:
            self.counters["damping_stale_command"] += 1
            self._latch(f"command stale: no joint target for {cmd_age * 1e3:.0f} ms "
                        f"(limit {c.command_timeout_s * 1e3:.0f} ms): the control loop stopped")
            return True
        return False

    def _publish_loop(self) -> None:
        period = 1.0 / self.config.publish_hz
        t0, k = time.monotonic(), 0
        while self._running.is_set():
            try:
                self._send(self._must_damp(time.monotonic()))
            except Exception as exc:  # noqa: BLE001 - counted and damped; the 500 Hz stream must go on
                self.threads.record("lowcmd-publisher", exc)
                self._latch(f"lowcmd publisher error: {self.threads.last_error['lowcmd-publisher']}")
            k += 1
            delay = t0 + k * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                t0, k = time.monotonic(), 0

    def _writer_watch_loop(self) -> None:
        """Look for another ``rt/lowcmd`` writer every ``writer_check_period_s`` while running."""
        period = self.config.writer_check_period_s
        if period <= 0:
            return
        reader = _writer_reader(self._participant)
        while not self._stop_wait(period):
            try:
                foreign = sorted(w for w, p in _lowcmd_writers(reader).items() if p != self._own_participant)
            except Exception as exc:  # noqa: BLE001 - counted and damped
                self.threads.record("lowcmd-writer-watch", exc)
                self._latch(f"writer watch error: {self.threads.last_error['lowcmd-writer-watch']}")
                continue
            if foreign:
                self.counters["foreign_writers"] += len(foreign)
                self._latch(f"another {LOWCMD_TOPIC} writer appeared ({foreign}): two controllers would fight")

    def _stop_wait(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while self._running.is_set() and time.monotonic() < deadline:
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        return not self._running.is_set()

    def _stream_damping(self, seconds: float) -> None:
        """Send damping at ``publish_hz`` for ``seconds`` (at least one frame), from the calling thread."""
        period = 1.0 / self.config.publish_hz
        end = time.monotonic() + seconds
        while True:
            self._send_damping()
            if time.monotonic() + period > end:
                return
            time.sleep(period)

    def close(self) -> None:
        """Send damping, stop the threads and close the DDS endpoints (last command: damping)."""
        if getattr(self, "_running", None) is None:
            return
        self.damping()
        self._running.clear()
        for thread in self._threads:
            thread.join(timeout=1.0)
        self._stream_damping(self.config.close_damping_s)
        self._pub.Close()
        self._sub.Close()

