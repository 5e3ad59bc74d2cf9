"""Velocity commands (``cmd_vel``) -> the 15-d walk-these-ways command vector, with limits, a timeout, a gait
that can be changed at run time and heading control. The deploy node and the simulated scenarios both go through
this class.

Heading control closes the loop on the measured heading (the IMU's yaw). While a fresh command asks for motion
(any of vx, vy, yaw rate not 0) with a steady yaw rate, a target heading starts at the measured one and integrates
the commanded yaw rate; the yaw-rate command sent to the actor is ``cmd + clip(heading_gain * (target -
measured), +-heading_max_correction)``, within the yaw limit. Walking with no yaw command therefore holds the
heading, and a turn ends where the commanded rate says. A yaw rate that changes by more than
``heading_steady_tolerance`` from one call to the next restarts the target at the measured heading, so a
higher-level controller that steers continuously (a waypoint follower, a navigation stack) closes the heading loop
itself and gets its yaw rate through unchanged: two heading loops in series cut corners (the slalom course hit
more obstacles). Why: the agility actors drift off course at zero yaw command on some
randomized robots (up to 1.4 rad over 5 s of fast backward walking) and over-turn on others (7.0-7.5 rad for a
commanded 6 in 4 s). The target never runs more than ``heading_max_error`` ahead of the robot, so a robot that
cannot keep up does not overshoot afterwards. A stop (all zero), the timeout or a missing heading releases it;
``heading_gain: 0`` turns it off (the yaw-rate command passes through).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from maa_core.rotations import wrap_angle
from maa_go2.commands import COMMAND_NAMES, GAITS, NUM_COMMANDS

#: gait style fields a caller may change at run time (besides the gait name), with their allowed ranges
STYLE_LIMITS = {"gait_frequency": (1.0, 5.0), "footswing_height": (0.0, 0.2), "body_height": (-0.15, 0.1),
                "gait_duration": (0.2, 0.8)}


@dataclass
class TeleopConfig:
    """Limits [m/s, rad/s], the stale-command timeout [s] and the gait sent with every command (changeable later
    with :meth:`VelocityCommand.set_gait`)."""

    vx_range: list[float] = field(default_factory=lambda: [-1.0, 1.5])  #: [m/s] backward, forward
    max_vy: float = 0.6
    max_yaw: float = 1.5
    timeout_s: float = 0.5          # no cmd_vel for this long -> zero velocity (stand in place, still balancing)
    gait: str = "trot"
    gait_frequency: float = 3.0     # Hz
    gait_duration: float = 0.5
    footswing_height: float = 0.08  # m
    body_height: float = 0.0        # m, offset from nominal
    stance_width: float = 0.30      # m
    stance_length: float = 0.45     # m
    heading_gain: float = 2.0            # [rad/s per rad] heading control; 0 = off (yaw rate passes through)
    heading_max_correction: float = 0.5  # [rad/s] the most yaw rate heading control adds or removes
    heading_max_error: float = 0.5       # [rad] how far the target heading may run ahead of the robot
    heading_steady_tolerance: float = 1e-3  # [rad/s] a yaw-rate change above this restarts the target heading

    def __post_init__(self) -> None:
        if self.gait not in GAITS:
            raise ValueError(f"teleop.gait must be one of {sorted(GAITS)}, got {self.gait!r}")
        for name in ("max_vy", "max_yaw", "timeout_s", "gait_frequency", "heading_max_correction",
                     "heading_max_error"):
            if not getattr(self, name) > 0:
                raise ValueError(f"teleop.{name} must be > 0, got {getattr(self, name)}")
        if not self.heading_gain >= 0:
            raise ValueError(f"teleop.heading_gain must be >= 0 (0 = heading control off), got {self.heading_gain}")
        if not self.heading_steady_tolerance >= 0:
            raise ValueError(f"teleop.heading_steady_tolerance must be >= 0, got {self.heading_steady_tolerance}")
        if len(self.vx_range) != 2 or not self.vx_range[0] <= 0.0 < self.vx_range[1]:
            raise ValueError(f"teleop.vx_range must be [backward <= 0, forward > 0] m/s, got {self.vx_range}")
        _check_style({k: getattr(self, k) for k in STYLE_LIMITS})


def _check_style(style: dict) -> None:
    for key, value in style.items():
        if key not in STYLE_LIMITS:
            raise ValueError(f"unknown gait style field {key!r}; expected one of {sorted(STYLE_LIMITS)}")
        lo, hi = STYLE_LIMITS[key]
        if not (np.isfinite(value) and lo <= value <= hi):
            raise ValueError(f"gait style {key} must be in [{lo}, {hi}], got {value}")


class VelocityCommand:
    """Holds the latest velocity command and gait; :meth:`commands` gives the ``[15]`` vector for the current time.

    Thread-safe: ``set`` / ``set_gait`` run on the ROS executor, ``commands`` on the control thread every tick, so
    the timeout is enforced by the control thread even when the executor stalls.
    """

    def __init__(self, cfg: TeleopConfig):
        self.cfg = cfg
        base = dict.fromkeys(COMMAND_NAMES, 0.0)
        base.update(gait_frequency=cfg.gait_frequency, gait_duration=cfg.gait_duration,
                    footswing_height=cfg.footswing_height, body_height=cfg.body_height,
                    stance_width=cfg.stance_width, stance_length=cfg.stance_length)
        self._base = np.array([base[n] for n in COMMAND_NAMES], dtype=np.float64)
        self._lock = threading.Lock()
        self._vel = np.zeros(3)
        self._stamp = -np.inf
        self._target_heading: float | None = None
        self._target_stamp = 0.0
        self._target_rate = 0.0
        self.timeouts = 0
        self.gait = ""
        self.set_gait(cfg.gait)

    def set(self, vx: float, vy: float, yaw: float, now: float) -> np.ndarray:
        """Store a command (clamped to the limits; non-finite values are rejected) and return what was stored."""
        vel = np.array([vx, vy, yaw], dtype=np.float64)
        if not np.all(np.isfinite(vel)):
            raise ValueError(f"cmd_vel must be finite, got {vel.tolist()}")
        lo = np.array([self.cfg.vx_range[0], -self.cfg.max_vy, -self.cfg.max_yaw])
        hi = np.array([self.cfg.vx_range[1], self.cfg.max_vy, self.cfg.max_yaw])
        with self._lock:
            self._vel = np.clip(vel, lo, hi)
            self._stamp = now
            return self._vel.copy()

    def set_gait(self, gait: str, **style: float) -> None:
        """Switch to ``gait`` (trot, pronk, pace, bound) and optionally change style fields (:data:`STYLE_LIMITS`:
        gait_frequency [Hz], footswing_height [m], body_height [m], gait_duration). Takes effect at the next
        :meth:`commands`. Raises ValueError naming the allowed values; nothing changes then."""
        if gait not in GAITS:
            raise ValueError(f"gait must be one of {sorted(GAITS)}, got {gait!r}")
        _check_style(style)
        with self._lock:
            self._base[5:8] = GAITS[gait]
            for key, value in style.items():
                self._base[COMMAND_NAMES.index(key)] = float(value)
            self.gait = gait

    def commands(self, now: float, heading: float | None = None) -> np.ndarray:
        """``[15]`` command vector; velocities are zero when the last command is older than ``timeout_s``.

        ``heading``: the robot's measured heading [rad] (yaw about world z, e.g. from the IMU); with it the yaw-rate
        command goes through heading control (module docstring). None or a non-finite heading releases it."""
        with self._lock:
            out = self._base.copy()
            if now - self._stamp <= self.cfg.timeout_s:
                out[:3] = self._vel
            elif np.isfinite(self._stamp):
                self.timeouts += 1
                self._stamp = -np.inf
            out[2] = self._heading_control(out[:3], heading, now)
        assert out.shape == (NUM_COMMANDS,)
        return out

    def _heading_control(self, vel: np.ndarray, heading: float | None, now: float) -> float:
        """The yaw-rate command [rad/s] after heading control (caller holds the lock)."""
        cfg = self.cfg
        active = (cfg.heading_gain > 0 and heading is not None and bool(np.isfinite(heading))
                  and bool(np.any(vel != 0.0)))
        if not active:
            self._target_heading = None
            return float(vel[2])
        steady = abs(float(vel[2]) - self._target_rate) <= cfg.heading_steady_tolerance
        if self._target_heading is None or not steady:
            self._target_heading = float(heading)
        else:
            self._target_heading += float(vel[2]) * float(np.clip(now - self._target_stamp, 0.0, 0.1))
        self._target_stamp, self._target_rate = now, float(vel[2])
        error = wrap_angle(self._target_heading - heading)
        error = float(np.clip(error, -cfg.heading_max_error, cfg.heading_max_error))
        self._target_heading = float(heading) + error  # anti-windup: never further ahead than max_error
        correction = np.clip(cfg.heading_gain * error, -cfg.heading_max_correction, cfg.heading_max_correction)
        return float(np.clip(vel[2] + correction, -cfg.max_yaw, cfg.max_yaw))


def parse_gait_request(text: str) -> tuple[str, dict[str, float]]:
    """``"bound gait_frequency=2.5 footswing_height=0.1"`` -> ``("bound", {...})`` (the deploy node's gait topic).

    Raises:
        ValueError: empty text, a token that is not ``key=value`` or a value that is not a number; the allowed
            gaits and style fields are checked by :meth:`VelocityCommand.set_gait`.
    """
    tokens = text.split()
    if not tokens:
        raise ValueError(f"empty gait request; expected e.g. 'trot' or 'bound gait_frequency=2.5' ({sorted(GAITS)})")
    style = {}
    for token in tokens[1:]:
        key, sep, value = token.partition("=")
        if not sep:
            raise ValueError(f"gait request token {token!r} is not key=value (e.g. gait_frequency=2.5)")
        try:
            style[key] = float(value)
        except ValueError:
            raise ValueError(f"gait request {key}={value!r}: expected a number") from None
    return tokens[0], style
