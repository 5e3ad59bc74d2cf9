"""walk-these-ways command vector (15) and gait clock.

Commands (policy order of the observation): vx, vy [m/s], yaw rate [rad/s], body height offset [m], step
frequency [Hz], gait phase, gait offset, gait bound, stance duration (fraction), foot swing height [m], body pitch,
body roll [rad], stance width, stance length [m], aux reward coefficient.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from maa_go2._xp import xp_of

COMMAND_NAMES = (
    "lin_vel_x", "lin_vel_y", "ang_vel_yaw", "body_height", "gait_frequency", "gait_phase", "gait_offset",
    "gait_bound", "gait_duration", "footswing_height", "body_pitch", "body_roll", "stance_width", "stance_length",
    "aux_reward_coef",
)
NUM_COMMANDS = len(COMMAND_NAMES)
#: walk-these-ways gaits as (phase, offset, bound).
GAITS = {"pronk": (0.0, 0.0, 0.0), "trot": (0.5, 0.0, 0.0), "bound": (0.0, 0.5, 0.0), "pace": (0.0, 0.0, 0.5)}
#: Nominal base height [m] that ``body_height`` offsets (PD with Kp=20 stands a little lower, see docs/go2.md).
NOMINAL_BASE_HEIGHT = 0.30
CONTACT_KAPPA = 0.07  #: smoothing of the desired-contact schedule (WTW ``kappa_gait_probs``)


@dataclass
class CommandRanges:
    """Uniform sampling ranges ``[lo, hi]`` per command; ``gaits`` picks phase/offset/bound."""

    lin_vel_x: list[float] = field(default_factory=lambda: [-1.0, 1.0])
    lin_vel_y: list[float] = field(default_factory=lambda: [-0.6, 0.6])
    ang_vel_yaw: list[float] = field(default_factory=lambda: [-1.0, 1.0])
    body_height: list[float] = field(default_factory=lambda: [0.0, 0.0])
    gait_frequency: list[float] = field(default_factory=lambda: [3.0, 3.0])
    gait_duration: list[float] = field(default_factory=lambda: [0.5, 0.5])
    footswing_height: list[float] = field(default_factory=lambda: [0.08, 0.08])
    body_pitch: list[float] = field(default_factory=lambda: [0.0, 0.0])
    body_roll: list[float] = field(default_factory=lambda: [0.0, 0.0])
    stance_width: list[float] = field(default_factory=lambda: [0.30, 0.30])
    stance_length: list[float] = field(default_factory=lambda: [0.45, 0.45])
    aux_reward_coef: list[float] = field(default_factory=lambda: [0.0, 0.0])
    gaits: list[str] = field(default_factory=lambda: ["trot"])
    zero_below: float = 0.1  #: |v_xy| (and |yaw|) below this are set to 0 (standing commands)
    #: fraction of sampled commands that keep one velocity axis (vx, vy or yaw, equally likely) and zero the other two:
    #: the pure motions an operator asks for (turn in place, walk straight back), which uniform sampling never draws
    single_axis_fraction: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.single_axis_fraction <= 1.0:
            raise ValueError(f"commands.single_axis_fraction: expected a fraction in [0, 1], got "
                             f"{self.single_axis_fraction!r}")
        for name in COMMAND_NAMES:
            if name in ("gait_phase", "gait_offset", "gait_bound"):
                continue
            lo, hi = getattr(self, name)
            if not lo <= hi:
                raise ValueError(f"commands.{name}: expected [lo, hi] with lo <= hi, got {[lo, hi]}")
        bad = [g for g in self.gaits if g not in GAITS]
        if bad or not self.gaits:
            raise ValueError(f"commands.gaits: expected a non-empty subset of {sorted(GAITS)}, got {self.gaits}")


#: command entries an actor may be trained to observe as constants (a style specialist: its rewards follow a fixed
#: style while it sees the deploy defaults, so the style lives in its weights). Velocities stay live, and so does the
#: step frequency, which sets the rate of the gait clock.
HIDEABLE_COMMANDS = ("body_height", "gait_phase", "gait_offset", "gait_bound", "gait_duration", "footswing_height",
                     "body_pitch", "body_roll", "stance_width", "stance_length")


def resolve_observed_commands(fixed: dict) -> dict[str, float]:
    """Validate a ``{command name: value}`` map of observed constants; a ``gait`` key (a name of :data:`GAITS`) stands
    for its phase, offset and bound. Returns ``{name: float}`` over :data:`HIDEABLE_COMMANDS`.

    Raises:
        ValueError: an unknown or non-hideable name, an unknown gait, or a non-finite value.
    """
    out: dict[str, float] = {}
    for name, value in dict(fixed).items():
        if name == "gait":
            if value not in GAITS:
                raise ValueError(f"fixed_observed_commands.gait: expected one of {sorted(GAITS)}, got {value!r}")
            out.update(zip(("gait_phase", "gait_offset", "gait_bound"), GAITS[value]))
            continue
        if name not in HIDEABLE_COMMANDS:
            raise ValueError(f"fixed_observed_commands.{name}: expected 'gait' or one of {list(HIDEABLE_COMMANDS)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"fixed_observed_commands.{name}: expected a finite number, got {value!r}")
        out[name] = float(value)
    return out


def observed_commands(commands, fixed: dict[str, float]):
    """The ``[N,15]`` commands an actor observes: ``commands`` with each entry named in ``fixed`` (a
    :func:`resolve_observed_commands` map) set to its value. A copy, or ``commands`` itself when ``fixed`` is empty.
    The observation's gait clock is computed from these, the rewards from ``commands``."""
    if not fixed:
        return commands
    out = commands.copy() if isinstance(commands, np.ndarray) else commands.clone()
    for name, value in fixed.items():
        out[:, COMMAND_NAMES.index(name)] = value
    return out


def sample_commands(rng: np.random.Generator, n: int, ranges: CommandRanges) -> np.ndarray:
    """Sample ``[n, 15]`` commands (float64) from ``ranges``."""
    out = np.zeros((n, NUM_COMMANDS))
    for i, name in enumerate(COMMAND_NAMES):
        if name in ("gait_phase", "gait_offset", "gait_bound"):
            continue
        lo, hi = getattr(ranges, name)
        out[:, i] = rng.uniform(lo, hi, size=n)
    gaits = np.array([GAITS[g] for g in ranges.gaits])
    out[:, 5:8] = gaits[rng.integers(0, len(gaits), size=n)]
    small = np.linalg.norm(out[:, :2], axis=1) < ranges.zero_below
    out[small, :2] = 0.0
    out[np.abs(out[:, 2]) < ranges.zero_below, 2] = 0.0
    return out


def keep_single_axis(rng: np.random.Generator, commands: np.ndarray, fraction: float) -> np.ndarray:
    """In place: for a ``fraction`` of the rows of ``commands`` ``[n, 15]``, keep one of vx, vy, yaw (equally
    likely) and set the other two to 0. Returns ``commands``."""
    if fraction <= 0.0:
        return commands
    n = len(commands)
    chosen = rng.random(n) < fraction
    axis = rng.integers(0, 3, size=n)
    for keep in range(3):
        rows = chosen & (axis == keep)
        commands[np.ix_(rows, [a for a in range(3) if a != keep])] = 0.0
    return commands


def advance_gait(gait_index, commands, dt: float):
    """Advance the gait phase ``[N]`` in [0,1) by ``dt * frequency``."""
    return (gait_index + dt * commands[:, 4]) % 1.0


def foot_indices(gait_index, commands):
    """Per-foot phase ``[N,4]`` (FL, FR, RL, RR) from the gait index and phase/offset/bound commands."""
    xp = xp_of(gait_index)
    ph, off, bd = commands[:, 5], commands[:, 6], commands[:, 7]
    g = gait_index
    feet = [g + ph + off + bd, g + off, g + bd, g + ph]
    return xp.stack(feet, axis=1) % 1.0 if xp is np else xp.stack(feet, dim=1) % 1.0


def clock_inputs(feet_idx):
    """``sin(2 pi * foot index)`` ``[N,4]`` (the 4 observation clock inputs)."""
    xp = xp_of(feet_idx)
    return xp.sin(2 * math.pi * feet_idx)


def _normal_cdf(x):
    xp = xp_of(x)
    if xp is np:  # Abramowitz & Stegun 7.1.26 erf (|error| < 1.5e-7), vectorized
        z = np.abs(x) / math.sqrt(2.0)
        t = 1.0 / (1.0 + 0.3275911 * z)
        poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
        erf = 1.0 - poly * np.exp(-z * z)
        return 0.5 * (1.0 + np.sign(x) * erf)
    return 0.5 * (1.0 + xp.erf(x / math.sqrt(2.0)))


def desired_contact(feet_idx, commands, kappa: float = CONTACT_KAPPA):
    """Smoothed desired stance probability ``[N,4]`` in [0,1] (1 = foot should be on the ground)."""
    xp = xp_of(feet_idx)
    dur = commands[:, 8:9]
    stance = feet_idx < dur
    warped = xp.where(stance, feet_idx * (0.5 / dur), 0.5 + (feet_idx - dur) * (0.5 / (1.0 - dur)))
    cdf = _normal_cdf
    return (cdf(warped / kappa) * (1 - cdf((warped - 0.5) / kappa))
            + cdf((warped - 1) / kappa) * (1 - cdf((warped - 1.5) / kappa)))
