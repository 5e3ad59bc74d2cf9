"""Velocity commands (``cmd_vel``) -> the 15-d walk-these-ways command vector, with limits and a timeout."""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from maa_go2.commands import COMMAND_NAMES, GAITS, NUM_COMMANDS


@dataclass
class TeleopConfig:
    """Limits [m/s, rad/s], the stale-command timeout [s] and the fixed gait parameters sent with every command."""

    max_vx: float = 1.0
    max_vy: float = 0.5
    max_yaw: float = 1.0
    timeout_s: float = 0.5          # no cmd_vel for this long -> zero velocity (stand in place, still balancing)
    gait: str = "trot"
    gait_frequency: float = 3.0     # Hz
    gait_duration: float = 0.5
    footswing_height: float = 0.08  # m
    body_height: float = 0.0        # m, offset from nominal
    stance_width: float = 0.30      # m
    stance_length: float = 0.45     # m

    def __post_init__(self) -> None:
        if self.gait not in GAITS:
            raise ValueError(f"teleop.gait must be one of {sorted(GAITS)}, got {self.gait!r}")
        for name in ("max_vx", "max_vy", "max_yaw", "timeout_s", "gait_frequency"):
            if not getattr(self, name) > 0:
                raise ValueError(f"teleop.{name} must be > 0, got {getattr(self, name)}")


class VelocityCommand:
    """Holds the latest velocity command; :meth:`commands` gives the ``[15]`` vector for the current time.

    Thread-safe: ``set`` runs on the ROS executor, ``commands`` on the control thread every tick, so the timeout is
    enforced by the control thread even when the executor stalls.
    """

    def __init__(self, cfg: TeleopConfig):
        self.cfg = cfg
        phase, offset, bound = GAITS[cfg.gait]
        base = dict.fromkeys(COMMAND_NAMES, 0.0)
        base.update(gait_frequency=cfg.gait_frequency, gait_phase=phase, gait_offset=offset, gait_bound=bound,
                    gait_duration=cfg.gait_duration, footswing_height=cfg.footswing_height,
                    body_height=cfg.body_height, stance_width=cfg.stance_width, stance_length=cfg.stance_length)
        self._base = np.array([base[n] for n in COMMAND_NAMES], dtype=np.float64)
        self._vel = np.zeros(3)
        self._stamp = -np.inf
        self._lock = threading.Lock()
        self.timeouts = 0

    def set(self, vx: float, vy: float, yaw: float, now: float) -> np.ndarray:
        """Store a command (clamped to the limits; non-finite values are rejected) and return what was stored."""
        vel = np.array([vx, vy, yaw], dtype=np.float64)
        if not np.all(np.isfinite(vel)):
            raise ValueError(f"cmd_vel must be finite, got {vel.tolist()}")
        lim = np.array([self.cfg.max_vx, self.cfg.max_vy, self.cfg.max_yaw])
        with self._lock:
            self._vel = np.clip(vel, -lim, lim)
            self._stamp = now
            return self._vel.copy()

    def commands(self, now: float) -> np.ndarray:
        """``[15]`` command vector; velocities are zero when the last command is older than ``timeout_s``."""
        out = self._base.copy()
        with self._lock:
            if now - self._stamp <= self.cfg.timeout_s:
                out[:3] = self._vel
            elif np.isfinite(self._stamp):
                self.timeouts += 1
                self._stamp = -np.inf
        assert out.shape == (NUM_COMMANDS,)
        return out
