"""Deploy mode state machine: PASSIVE -> STAND -> POLICY, with a latched DAMPING e-stop.

Modes and what they command (``kp``, ``kd`` per joint):

* ``PASSIVE``: damping (kp = 0, kd = ``damping_kd``); the start mode; not latched.
* ``STAND``: linear interpolation from the joint positions *measured when STAND was entered* to the default stand
  pose over ``stand_duration_s``, then hold it (``stand_kp``, ``stand_kd``).
* ``POLICY``: the policy's joint targets (``policy_kp``, ``policy_kd``).
* ``DAMPING``: damping like PASSIVE but *latched*: only :meth:`StateMachine.reset` leaves it (to PASSIVE).

Legal requests are listed in :data:`TRANSITIONS`; DAMPING is reachable from every mode (:meth:`estop`, or a fault
from the safety layer via :meth:`fault`). Illegal requests raise :class:`TransitionError` saying why.
"""
from __future__ import annotations

import enum
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maa_core.config import ConfigError, dataclass_from_mapping, load_yaml_mapping
from maa_deploy.backends.base import DEFAULT_DAMPING_KD
from maa_go2.control import DEFAULT_JOINT_POS, KD, KP
from maa_go2.joint_order import NUM_JOINTS


class Mode(str, enum.Enum):
    PASSIVE = "PASSIVE"
    STAND = "STAND"
    POLICY = "POLICY"
    DAMPING = "DAMPING"


#: Requestable transitions (``request``). DAMPING is entered via ``estop``/``fault`` and left only via ``reset``.
TRANSITIONS: dict[Mode, frozenset[Mode]] = {
    Mode.PASSIVE: frozenset({Mode.STAND, Mode.DAMPING}),
    Mode.STAND: frozenset({Mode.POLICY, Mode.PASSIVE, Mode.DAMPING}),
    Mode.POLICY: frozenset({Mode.STAND, Mode.DAMPING}),
    Mode.DAMPING: frozenset({Mode.DAMPING}),
}


class TransitionError(RuntimeError):
    """An illegal or currently impossible mode transition was requested."""


@dataclass
class StateMachineConfig:
    stand_duration_s: float = 2.0  # interpolation time from the measured pose to the stand pose, s
    stand_kp: float = 40.0  # N·m/rad
    stand_kd: float = 1.0  # N·m·s/rad
    policy_kp: float = KP
    policy_kd: float = KD
    damping_kd: float = DEFAULT_DAMPING_KD

    def __post_init__(self) -> None:
        if self.stand_duration_s <= 0:
            raise ConfigError(f"stand_duration_s must be > 0, got {self.stand_duration_s}")
        if self.damping_kd <= 0:
            raise ConfigError(f"damping_kd must be > 0 (damping needs kd > 0), got {self.damping_kd}")

    @classmethod
    def from_mapping(cls, data: Mapping | None) -> StateMachineConfig:
        return dataclass_from_mapping(cls, data, "state_machine")

    @classmethod
    def from_yaml(cls, path: str | Path, section: str | None = "state_machine") -> StateMachineConfig:
        return cls.from_mapping(load_yaml_mapping(path, section))


@dataclass
class JointCommand:
    """What to send to the motors this tick. ``q_des``, ``kp``, ``kd``, ``tau_ff``: ``[12]`` (rad, gains, N·m)."""

    mode: Mode
    q_des: np.ndarray
    kp: np.ndarray
    kd: np.ndarray
    tau_ff: np.ndarray

    @property
    def is_damping(self) -> bool:
        return bool(np.all(self.kp == 0))


class StateMachine:
    """Thread-safe mode logic; :meth:`command` is called once per control tick.

    Args:
        config: gains and timing.
        stand_pose: ``[12]`` target of STAND in policy order, rad (default ``maa_go2.control.DEFAULT_JOINT_POS``).
    """

    def __init__(self, config: StateMachineConfig | None = None, stand_pose=DEFAULT_JOINT_POS):
        self.config = config or StateMachineConfig()
        self.stand_pose = np.asarray(stand_pose, dtype=np.float64).copy()
        if self.stand_pose.shape != (NUM_JOINTS,):
            raise ValueError(f"stand_pose must have shape [{NUM_JOINTS}], got {list(self.stand_pose.shape)}")
        self._lock = threading.Lock()
        self._mode = Mode.PASSIVE
        self._stand_start_q: np.ndarray | None = None
        self._stand_start_t: float | None = None
        self._pending_stand = False
        self.latched_reason: str | None = None
        self.history: list[tuple[Mode, Mode, str]] = []

    # ----------------------------------------------------------------- queries
    @property
    def mode(self) -> Mode:
        return self._mode

    def stand_progress(self, now: float) -> float:
        """Fraction in [0, 1] of the stand interpolation done (0 before the first STAND tick)."""
        if self._mode != Mode.STAND or self._stand_start_t is None:
            return 0.0
        return float(min(1.0, max(0.0, (now - self._stand_start_t) / self.config.stand_duration_s)))

    # ------------------------------------------------------------- transitions
    def request(self, target: Mode | str, now: float | None = None, reason: str = "") -> None:
        """Request a transition to ``target``.

        Raises:
            TransitionError: not in :data:`TRANSITIONS`, DAMPING is latched, or STAND -> POLICY before the stand
                interpolation finished (``now`` is needed to check it).
        """
        target = Mode(target)
        with self._lock:
            current = self._mode
            if current == Mode.DAMPING and target != Mode.DAMPING:
                raise TransitionError(f"DAMPING is latched ({self.latched_reason}); call reset() first")
            if target not in TRANSITIONS[current]:
                allowed = sorted(m.value for m in TRANSITIONS[current])
                raise TransitionError(f"illegal transition {current.value} -> {target.value}; "
                                      f"from {current.value} allowed: {allowed}")
            if current == Mode.STAND and target == Mode.POLICY:
                progress = self.stand_progress(now) if now is not None else 0.0
                if progress < 1.0:
                    raise TransitionError(f"STAND -> POLICY refused: stand interpolation is {100 * progress:.0f}% "
                                          f"done (needs {self.config.stand_duration_s:.1f} s)")
            self._set(target, reason or "requested")

    def estop(self, reason: str = "e-stop") -> None:
        """Enter DAMPING from any mode and latch it."""
        with self._lock:
            self._set(Mode.DAMPING, reason)

    def fault(self, reason: str) -> None:
        """A safety fault: same as :meth:`estop`, keeps the first reason while latched."""
        with self._lock:
            if self._mode != Mode.DAMPING:
                self._set(Mode.DAMPING, f"fault: {reason}")

    def deactivate(self, reason: str = "deactivated") -> None:
        """The control loop stops (lifecycle deactivate): back to PASSIVE from STAND/POLICY; a latched DAMPING stays
        latched (only :meth:`reset` clears it)."""
        with self._lock:
            if self._mode not in (Mode.PASSIVE, Mode.DAMPING):
                self._set(Mode.PASSIVE, reason)

    def reset(self) -> None:
        """Leave the DAMPING latch to PASSIVE (explicit operator action).

        Raises:
            TransitionError: not in DAMPING.
        """
        with self._lock:
            if self._mode != Mode.DAMPING:
                raise TransitionError(f"reset() only leaves DAMPING; current mode is {self._mode.value}")
            self._set(Mode.PASSIVE, "reset")

    def _set(self, target: Mode, reason: str) -> None:
        self.history.append((self._mode, target, reason))
        self._mode = target
        self.latched_reason = reason if target == Mode.DAMPING else None
        if target == Mode.STAND:  # the start pose is measured on the next command() tick
            self._pending_stand = True
            self._stand_start_q, self._stand_start_t = None, None

    # ----------------------------------------------------------------- command
    def command(self, q_measured: np.ndarray, now: float, policy_q_des: np.ndarray | None = None,
                mode: Mode | None = None) -> JointCommand:
        """Joint command for this tick.

        Args:
            q_measured: ``[12]`` measured joint positions, rad.
            now: monotonic time, s.
            policy_q_des: ``[12]`` policy joint targets (required in POLICY).
            mode: the mode the caller snapshotted at the start of its tick (a request arriving mid-tick takes
                effect next tick); ignored when the machine is in DAMPING, which always wins.
        Raises:
            ValueError: POLICY mode without ``policy_q_des``.
        """
        c = self.config
        with self._lock:
            mode = self._mode if (mode is None or self._mode == Mode.DAMPING) else Mode(mode)
            if mode == Mode.STAND and self._pending_stand:
                self._stand_start_q = np.asarray(q_measured, dtype=np.float64).copy()
                self._stand_start_t = now
                self._pending_stand = False
            start_q, start_t = self._stand_start_q, self._stand_start_t
        ones = np.ones(NUM_JOINTS)
        if mode == Mode.STAND:
            if start_q is None:  # POLICY -> STAND raced with this tick: hold the measured pose
                start_q, start_t = np.asarray(q_measured, dtype=np.float64), now
            alpha = min(1.0, max(0.0, (now - start_t) / c.stand_duration_s))
            q_des = (1.0 - alpha) * start_q + alpha * self.stand_pose
            return JointCommand(mode, q_des, c.stand_kp * ones, c.stand_kd * ones, np.zeros(NUM_JOINTS))
        if mode == Mode.POLICY:
            if policy_q_des is None:
                raise ValueError("POLICY mode needs policy_q_des ([12] joint targets)")
            return JointCommand(mode, np.asarray(policy_q_des, dtype=np.float64), c.policy_kp * ones,
                                c.policy_kd * ones, np.zeros(NUM_JOINTS))
        return self.damping_command(q_measured, mode)

    def damping_command(self, q_measured: np.ndarray, mode: Mode | None = None) -> JointCommand:
        """kp = 0, kd = ``damping_kd``; ``q_des`` = measured pose (ignored by the motors at kp = 0)."""
        return JointCommand(mode or self._mode, np.asarray(q_measured, dtype=np.float64).copy(), np.zeros(NUM_JOINTS),
                            self.config.damping_kd * np.ones(NUM_JOINTS), np.zeros(NUM_JOINTS))
