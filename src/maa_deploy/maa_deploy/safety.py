"""Safety layer between the policy and the motors: pure numpy, one call per control tick.

Two kinds of intervention, each counted in :attr:`SafetyLayer.counters`:

* **clamps** modify a finite, in-bound command and keep going: ``joint_limit``, ``rate_limit``, ``torque_clamp``;
* **faults** demand damping (the state machine latches DAMPING): ``nan`` (NaN/inf in state or command),
  ``action_bound`` (a policy output beyond ``action_clip``, or non-finite: a policy that misbehaves is stopped, never
  clipped into a large valid target), ``stale_state`` (no fresh lowstate within ``state_timeout_s``), ``attitude``
  (|roll| or |pitch| too large).

Order in :meth:`SafetyLayer.filter`: faults first, then joint-limit clamp (limits shrunk by ``joint_limit_margin``),
then the per-tick rate limit against the previous command (or the measured pose on the first tick), then the
torque clamp, which moves ``q_des`` so that ``Kp (q_des - q) - Kd dq`` stays within the motor limits. The torque
clamp only moves ``q_des`` towards ``q``, so with ``q`` inside the limits the result stays inside them.

All arrays are ``[12]`` in policy joint order (FL, FR, RL, RR; hip, thigh, calf), radians, N·m.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from maa_core.config import ConfigError, dataclass_from_mapping, load_yaml_mapping
from maa_core.rotations import gravity_to_roll_pitch, quat_to_roll_pitch  # noqa: F401 - re-exported
from maa_go2.control import JOINT_LOWER, JOINT_UPPER, TORQUE_LIMITS
from maa_go2.joint_order import NUM_JOINTS

CLAMPS = ("joint_limit", "rate_limit", "torque_clamp")
FAULTS = ("nan", "action_bound", "stale_state", "attitude")


@dataclass
class SafetyConfig:
    """Safety thresholds. Units: rad, rad per tick, N·m, seconds."""

    action_clip: float = 10.0  # |policy action| beyond this (before scaling) is a fault; walk-these-ways clips at 10
    joint_limit_margin: float = 0.05  # shrink the hardware joint range by this on each side, rad
    max_delta_q_per_tick: float = 0.3  # max |q_des(t) - q_des(t-1)|, rad per tick (15 rad/s at 50 Hz)
    torque_limit_scale: float = 1.0  # fraction of the Go2 motor limits (23.7 hip/thigh, 35.55 calf N·m)
    max_roll: float = 0.8  # rad
    max_pitch: float = 0.8  # rad
    state_timeout_s: float = 0.04  # lowstate older than this -> damping
    torque_limits: list[float] = field(default_factory=lambda: TORQUE_LIMITS.tolist())

    def __post_init__(self) -> None:
        for name in ("action_clip", "max_delta_q_per_tick", "torque_limit_scale", "max_roll", "max_pitch",
                     "state_timeout_s"):
            if not float(getattr(self, name)) > 0:
                raise ConfigError(f"safety.{name} must be > 0, got {getattr(self, name)}")
        if self.joint_limit_margin < 0:
            raise ConfigError(f"safety.joint_limit_margin must be >= 0, got {self.joint_limit_margin}")
        if len(self.torque_limits) != NUM_JOINTS:
            raise ConfigError(f"safety.torque_limits needs {NUM_JOINTS} values, got {len(self.torque_limits)}")

    @classmethod
    def from_mapping(cls, data: Mapping | None) -> SafetyConfig:
        return dataclass_from_mapping(cls, data, "safety")

    @classmethod
    def from_yaml(cls, path: str | Path, section: str | None = "safety") -> SafetyConfig:
        return cls.from_mapping(load_yaml_mapping(path, section))


@dataclass
class SafetyResult:
    """Outcome of one :meth:`SafetyLayer.filter` call: a command or a fault (then ``q_des`` is None)."""

    q_des: np.ndarray | None
    fault: str | None = None
    detail: str = ""
    clamped: tuple[str, ...] = ()


class SafetyLayer:
    """Stateful per-tick command filter; see the module docstring for the rules.

    Args:
        config: thresholds.
        joint_lower, joint_upper: ``[12]`` hardware joint limits (default: Go2, ``maa_go2.control``).
    """

    def __init__(self, config: SafetyConfig | None = None, joint_lower=JOINT_LOWER, joint_upper=JOINT_UPPER):
        self.config = config or SafetyConfig()
        m = self.config.joint_limit_margin
        self.lower = np.asarray(joint_lower, dtype=np.float64) + m
        self.upper = np.asarray(joint_upper, dtype=np.float64) - m
        if np.any(self.lower >= self.upper):
            raise ConfigError(f"joint_limit_margin {m} leaves no range for some joints")
        self.torque_limit = np.asarray(self.config.torque_limits, dtype=np.float64) * self.config.torque_limit_scale
        self.counters: dict[str, int] = {k: 0 for k in (*CLAMPS, *FAULTS)}
        self.last_fault: str | None = None
        self.last_detail: str = ""
        self._prev_q_des: np.ndarray | None = None

    # ------------------------------------------------------------------ pieces
    def reset(self) -> None:
        """Forget the previous command (call when (re)entering an active mode)."""
        self._prev_q_des = None

    def check_action(self, action: np.ndarray) -> tuple[str, str] | None:
        """Fault check on a policy action ``[12]`` (before scaling): non-finite or ``|a| > action_clip`` is the
        ``action_bound`` fault (counted); returns ``(fault, detail)`` or None."""
        action = np.asarray(action, dtype=np.float64)
        if not np.all(np.isfinite(action)):
            bad = np.flatnonzero(~np.isfinite(action)).tolist()
            return self._fault("action_bound", f"policy output non-finite at joints {bad}")
        peak = float(np.max(np.abs(action))) if action.size else 0.0
        if peak > self.config.action_clip:
            return self._fault("action_bound", f"policy output |a| = {peak:.3g} at joint "
                                               f"{int(np.argmax(np.abs(action)))} exceeds action_clip "
                                               f"{self.config.action_clip:g}")
        return None

    def check_state(self, state, now: float) -> tuple[str, str] | None:
        """Fault checks on a measured state; returns ``(fault, detail)`` or None. Counts the fault."""
        age = now - float(state.stamp)
        if not age <= self.config.state_timeout_s:  # also catches NaN stamps
            return self._fault("stale_state", f"lowstate is {age * 1e3:.1f} ms old "
                                              f"(limit {self.config.state_timeout_s * 1e3:.0f} ms)")
        for name in ("q", "dq", "quat", "gyro"):
            if not np.all(np.isfinite(getattr(state, name))):
                return self._fault("nan", f"non-finite values in measured {name}")
        roll, pitch = quat_to_roll_pitch(state.quat)
        if abs(roll) > self.config.max_roll or abs(pitch) > self.config.max_pitch:
            return self._fault("attitude", f"roll {roll:.2f} rad / pitch {pitch:.2f} rad exceed "
                                           f"{self.config.max_roll:.2f} / {self.config.max_pitch:.2f}")
        return None

    def _fault(self, name: str, detail: str) -> tuple[str, str]:
        self.counters[name] += 1
        self.last_fault, self.last_detail = name, detail
        return name, detail

    # ------------------------------------------------------------------ filter
    def filter(self, q_des: np.ndarray, kp, kd, state, now: float) -> SafetyResult:
        """Make a position command safe.

        Args:
            q_des: ``[12]`` desired joint positions, rad.
            kp, kd: scalar or ``[12]`` PD gains used by the motors (for the torque estimate).
            state: measured state with ``q``, ``dq`` ``[12]``, ``quat`` ``[4]`` (wxyz), ``gyro`` ``[3]``, ``stamp``.
            now: current time on the clock of ``state.stamp``, s.
        Returns:
            :class:`SafetyResult`; on a fault ``q_des`` is None and the caller must damp.
        """
        fault = self.check_state(state, now)
        if fault is not None:
            self._prev_q_des = None
            return SafetyResult(None, *fault)
        q_des = np.asarray(q_des, dtype=np.float64)
        if q_des.shape != (NUM_JOINTS,):
            raise ValueError(f"q_des must have shape [{NUM_JOINTS}], got {list(q_des.shape)}")
        if not np.all(np.isfinite(q_des)):
            self._prev_q_des = None
            return SafetyResult(None, *self._fault("nan", "non-finite values in the commanded q_des"))
        q = np.asarray(state.q, dtype=np.float64)
        dq = np.asarray(state.dq, dtype=np.float64)
        clamped = []

        out = np.clip(q_des, self.lower, self.upper)
        if np.any(out != q_des):
            clamped.append("joint_limit")

        ref = q if self._prev_q_des is None else self._prev_q_des
        step = self.config.max_delta_q_per_tick
        limited = np.clip(out, ref - step, ref + step)
        if np.any(limited != out):
            clamped.append("rate_limit")
        out = limited

        kp = np.broadcast_to(np.asarray(kp, dtype=np.float64), (NUM_JOINTS,))
        kd = np.broadcast_to(np.asarray(kd, dtype=np.float64), (NUM_JOINTS,))
        tau = kp * (out - q) - kd * dq
        over = (np.abs(tau) > self.torque_limit) & (kp > 0)
        if np.any(over):
            tau_ok = np.clip(tau, -self.torque_limit, self.torque_limit)
            out = np.where(over, q + (tau_ok + kd * dq) / np.where(kp > 0, kp, 1.0), out)
            clamped.append("torque_clamp")

        for name in clamped:
            self.counters[name] += 1
        self._prev_q_des = out
        return SafetyResult(out, clamped=tuple(clamped))

    def report(self) -> dict:
        """Diagnostics: counters plus the last fault and its detail."""
        return {"counters": dict(self.counters), "last_fault": self.last_fault, "last_detail": self.last_detail}
