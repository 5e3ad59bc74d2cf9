"""Behavior descriptors of a Go2 gait and a behavior-match score in [0, 1] (see docs/go2_behavior.md).

A gait is summarized by what a person watching the robot would name (:class:`BehaviorDescriptors`):

======================  ==========  ==================================================================
descriptor              unit        meaning
======================  ==========  ==================================================================
``step_frequency``      Hz          touchdowns per foot per second (1 / mean touchdown interval)
``duty_factor``         1           fraction of foot-steps in stance, mean over the 4 feet
``offset_FR/RL/RR``     cycle       touchdown lag of FR, RL, RR behind FL in [0, 1) (circular mean)
``body_height``         m           mean base height
``swing_height``        m           mean apex of a swing above the foot's stance height
``forward_speed``       m/s         mean body-frame vx
``lateral_speed``       m/s         mean body-frame vy
``yaw_rate``            rad/s       mean yaw rate
======================  ==========  ==================================================================

With the walk-these-ways clock (:func:`maa_go2.commands.foot_indices`, touchdown where a foot index wraps to 0)
the commanded lags are FR = phase + bound, RL = phase + offset, RR = offset + bound (mod 1): trot (0.5, 0.5, 0),
pronk (0, 0, 0), bound (0, 0.5, 0.5), pace (0.5, 0, 0.5).

* :func:`describe_rollout`: from per-step contacts, foot/base heights and base velocities of a simulated rollout.
* :func:`maa_go2.behavior_obs.describe_observations`: from recorded 70-dim observations (a prompt): step frequency
  and lags only; :func:`maa_go2.behavior_obs.describe_commands`: what a 15-dim command vector asks for.
* :func:`behavior_match`: ``exp(-sum_d w_d (|a_d - b_d| / scale_d)^2 / sum_d w_d)`` over the descriptors known on
  both sides (a weighted geometric mean of the per-descriptor similarities ``exp(-(|a_d - b_d| / scale_d)^2)``).
* :func:`maa_go2.behavior_rollout.rollout_descriptors`: roll an actor in the MuJoCo engine with fixed commands and
  describe every env.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from maa_go2.control import POLICY_DT
from maa_go2.joint_order import LEGS_POLICY

CONTACT_FORCE_N = 1.0  #: a foot is in contact when its normal force exceeds this [N] (as ``rollout_stats``)
OFFSET_NAMES = tuple(f"offset_{leg}" for leg in LEGS_POLICY[1:])  #: lags of FR, RL, RR behind FL
DESCRIPTOR_NAMES = ("step_frequency", "duty_factor", *OFFSET_NAMES, "body_height", "swing_height", "forward_speed",
                    "lateral_speed", "yaw_rate")
#: Default match scales: the difference at which one descriptor's similarity is exp(-1) = 0.37.
DEFAULT_SCALES = {"step_frequency": 0.5, "duty_factor": 0.1, "offset_FR": 0.1, "offset_RL": 0.1, "offset_RR": 0.1,
                  "body_height": 0.03, "swing_height": 0.03, "forward_speed": 0.15, "lateral_speed": 0.15,
                  "yaw_rate": 0.3}
THIGH_LENGTH = CALF_LENGTH = 0.213  #: Go2 thigh and calf [m] (calf and foot body offsets of the MJCF)
IRREGULAR_BELOW = 0.5  #: phase consistency (mean resultant length) below this flags ``irregular_phase``
NAN = float("nan")


@dataclass
class BehaviorDescriptors:
    """Descriptors of one gait (units in the module table); NaN = unavailable. ``phase_offsets`` are the lags of
    FR, RL, RR behind FL in cycles [0, 1); ``phase_consistency`` ``[3]`` in [0, 1] says how steady each lag is
    (1: the same every cycle). ``flags`` name the degenerate cases met (docs/go2_behavior.md)."""

    step_frequency: float = NAN
    duty_factor: float = NAN
    phase_offsets: tuple[float, float, float] = (NAN, NAN, NAN)
    phase_consistency: tuple[float, float, float] = (NAN, NAN, NAN)
    body_height: float = NAN
    swing_height: float = NAN
    forward_speed: float = NAN
    lateral_speed: float = NAN
    yaw_rate: float = NAN
    flags: tuple[str, ...] = ()
    source: str = "rollout"

    def values(self) -> dict[str, float]:
        """``{name: value}`` over :data:`DESCRIPTOR_NAMES` (the lags as ``offset_FR`` etc.)."""
        out = {n: float(getattr(self, n)) for n in DESCRIPTOR_NAMES if not n.startswith("offset_")}
        out.update({n: float(v) for n, v in zip(OFFSET_NAMES, self.phase_offsets)})
        return {n: out[n] for n in DESCRIPTOR_NAMES}

    def available(self) -> tuple[str, ...]:
        """Names of the finite descriptors."""
        return tuple(n for n, v in self.values().items() if math.isfinite(v))

    def to_dict(self) -> dict:
        """JSON-friendly dict (NaN stays NaN)."""
        d = asdict(self)
        d["phase_offsets"], d["phase_consistency"] = list(self.phase_offsets), list(self.phase_consistency)
        d["flags"] = list(self.flags)
        return d


# ---------------------------------------------------------------------------------------------------- helpers
def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` (end exclusive) of the True runs of ``mask [T]``."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def _interior(start: int, end: int, other: np.ndarray) -> bool:
    """True if the run ``[start, end)`` is bounded on both sides by steps where ``other [T]`` holds."""
    return start > 0 and end < other.size and bool(other[start - 1]) and bool(other[end])


def debounce(contact: np.ndarray, valid: np.ndarray, min_steps: int) -> np.ndarray:
    """Contact ``[T]`` bool without chatter: interior swing gaps shorter than ``min_steps`` become stance, then
    interior stance blips shorter than ``min_steps`` become swing (runs touching the window edge or an invalid
    step are kept). ``valid [T]`` marks usable steps."""
    c = contact & valid
    for state in (False, True):
        runs = _runs((c == state) & valid)
        other = (c != state) & valid
        for s, e in runs:
            if e - s < min_steps and _interior(s, e, other):
                c[s:e] = not state
    return c


def _touchdowns(contact: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Steps ``t >= 1`` where the foot lands (``contact[t] & ~contact[t-1]``, both steps valid)."""
    land = contact[1:] & ~contact[:-1] & valid[1:] & valid[:-1]
    return np.flatnonzero(land) + 1


def _clean_intervals(td: np.ndarray, bad_before: np.ndarray) -> np.ndarray:
    """Intervals [steps] between consecutive touchdowns ``td`` with no invalid step between them
    (``bad_before[t]`` = number of invalid steps before ``t``)."""
    if td.size < 2:
        return np.zeros(0)
    ok = bad_before[td[1:]] == bad_before[td[:-1]]
    return np.diff(td)[ok].astype(float)


def _step_frequency(tds: list[np.ndarray], bad_before: np.ndarray, n_valid: int, dt: float) -> tuple[float, list]:
    """Step frequency [Hz] = 1 / mean interval between consecutive touchdowns of a foot (pooled over feet);
    with no clean interval, touchdowns per foot per valid second. Returns ``(Hz, flags)``."""
    intervals = np.concatenate([_clean_intervals(td, bad_before) for td in tds])
    if intervals.size:
        return float(1.0 / (intervals.mean() * dt)), []
    count = sum(td.size for td in tds)
    if count == 0:
        return 0.0, ["no_touchdowns"]
    return float(count / (len(tds) * n_valid * dt)), ["few_touchdowns"]


def wrap_cycle(x: float) -> float:
    """``x mod 1`` in [0, 1) (a tiny negative ``x`` gives 0, not 1.0 from rounding)."""
    r = float(x) % 1.0
    return 0.0 if r >= 1.0 - 1e-12 else r


def circular_mean(phases: np.ndarray) -> tuple[float, float]:
    """``(mean in [0, 1), resultant length in [0, 1])`` of phases in cycles (NaN, NaN when empty)."""
    phases = np.asarray(phases, dtype=float)
    phases = phases[np.isfinite(phases)]
    if phases.size == 0:
        return NAN, NAN
    z = np.exp(2j * np.pi * phases).mean()
    return wrap_cycle(np.angle(z) / (2 * np.pi)), float(abs(z))


def _lag_phases(td_ref: np.ndarray, td: np.ndarray, bad_before: np.ndarray) -> np.ndarray:
    """Phase in [0, 1) of each touchdown in ``td`` within the reference foot's cycle ``[t0, t1)`` (consecutive
    reference touchdowns with no invalid step between them); touchdowns outside any such cycle are dropped."""
    if td_ref.size < 2 or td.size == 0:
        return np.zeros(0)
    i = np.searchsorted(td_ref, td, side="right") - 1
    keep = (i >= 0) & (i < td_ref.size - 1)
    i, t = i[keep], td[keep]
    t0, t1 = td_ref[i], td_ref[i + 1]
    keep = bad_before[t0] == bad_before[t1]
    return ((t - t0) / (t1 - t0))[keep].astype(float)


def _phase_offsets(tds: list[np.ndarray], bad_before: np.ndarray) -> tuple[tuple, tuple, list]:
    """Circular-mean lags of feet 1..3 behind foot 0 [cycles] and their consistency; flags."""
    offsets, consistency, flags = [], [], []
    for td in tds[1:]:
        m, r = circular_mean(_lag_phases(tds[0], td, bad_before))
        offsets.append(m)
        consistency.append(r)
    if not all(math.isfinite(o) for o in offsets):
        flags.append("no_phase_reference")
    if any(math.isfinite(r) and r < IRREGULAR_BELOW for r in consistency):
        flags.append("irregular_phase")
    return tuple(offsets), tuple(consistency), flags


def _swing_height(contact: np.ndarray, valid: np.ndarray, foot_height: np.ndarray) -> float:
    """Mean over complete swings (interior swing runs of valid steps) of ``max height in the swing - median
    stance height of that foot`` [m]; NaN when there is no complete swing. ``contact``, ``foot_height``: ``[T, 4]``."""
    apexes = []
    for k in range(contact.shape[1]):
        stance = contact[:, k] & valid
        if not stance.any():
            continue
        ground = float(np.median(foot_height[stance, k]))
        for s, e in _runs(~contact[:, k] & valid):
            if _interior(s, e, stance):
                apexes.append(float(foot_height[s:e, k].max()) - ground)
    return float(np.mean(apexes)) if apexes else NAN


def _nanmean(x: np.ndarray | None, valid: np.ndarray) -> float:
    """Mean of ``x [T]`` over the ``valid [T]`` steps; NaN when ``x`` is None or no step is valid."""
    return float(np.mean(x[valid])) if x is not None and valid.any() else NAN


# ---------------------------------------------------------------------------------------------------- rollouts
def _check_rollout(contact, foot_height, base_height, base_vel, yaw_rate, dt) -> tuple[np.ndarray, dict]:
    """Validate shapes ``[T, ...]``; return ``(contact [T, 4] bool, {name: float array or None})``."""
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number of seconds, got {dt}")
    contact = np.asarray(contact)
    if contact.ndim != 2 or contact.shape[1] != 4:
        raise ValueError(f"contact must be [T, 4] (FL, FR, RL, RR), got {list(contact.shape)}")
    t = contact.shape[0]
    shapes = {"foot_height": (t, 4), "base_height": (t,), "base_vel": (t, 3), "yaw_rate": (t,)}
    arrays = {}
    for name, x in zip(shapes, (foot_height, base_height, base_vel, yaw_rate)):
        arrays[name] = None if x is None else np.asarray(x, dtype=float)
        if x is not None and arrays[name].shape != shapes[name]:
            raise ValueError(f"{name} must be {list(shapes[name])}, got {list(arrays[name].shape)}")
    return contact, arrays


def _valid_steps(contact: np.ndarray, arrays: dict) -> np.ndarray:
    """``[T]`` True where every given input is finite (a float contact array may carry NaN for missing steps)."""
    valid = np.ones(contact.shape[0], bool)
    if contact.dtype.kind == "f":
        valid &= np.isfinite(contact).all(1)
    for x in arrays.values():
        if x is not None:
            valid &= np.isfinite(x.reshape(x.shape[0], -1)).all(1)
    return valid


def _describe_one(contact, foot_height, base_height, base_vel, yaw_rate, dt, min_phase_s) -> BehaviorDescriptors:
    """:func:`describe_rollout` for one robot (``[T, ...]`` inputs)."""
    contact, arrays = _check_rollout(contact, foot_height, base_height, base_vel, yaw_rate, dt)
    valid = _valid_steps(contact, arrays)
    flags = [] if valid.all() else ["nan_steps"]
    if valid.sum() < 2:
        return BehaviorDescriptors(flags=tuple(flags + ["empty"]))
    raw = np.where(np.isfinite(contact), contact, 0).astype(bool) if contact.dtype.kind == "f" else contact != 0
    min_steps = max(1, int(round(min_phase_s / dt)))
    c = np.stack([debounce(raw[:, k], valid, min_steps) for k in range(4)], 1)
    bad_before = np.concatenate([[0], np.cumsum(~valid)])
    tds = [_touchdowns(c[:, k], valid) for k in range(4)]
    freq, f_flags = _step_frequency(tds, bad_before, int(valid.sum()), dt)
    offsets, consistency, p_flags = _phase_offsets(tds, bad_before)
    duty = float(c[valid].mean())
    swing = NAN
    if arrays["foot_height"] is not None:
        swing = _swing_height(c, valid, arrays["foot_height"])
        if not math.isfinite(swing):
            swing = 0.0 if duty == 1.0 else NAN  # feet never left the ground: no lift; else unknown
            flags += [] if duty == 1.0 else ["no_swings"]
    vel = arrays["base_vel"]
    return BehaviorDescriptors(
        step_frequency=freq, duty_factor=duty, phase_offsets=offsets, phase_consistency=consistency,
        body_height=_nanmean(arrays["base_height"], valid), swing_height=swing,
        forward_speed=_nanmean(None if vel is None else vel[:, 0], valid),
        lateral_speed=_nanmean(None if vel is None else vel[:, 1], valid),
        yaw_rate=_nanmean(arrays["yaw_rate"], valid), flags=tuple(flags + f_flags + p_flags))


def describe_rollout(contact, foot_height=None, base_height=None, base_vel=None, yaw_rate=None,
                     dt: float = POLICY_DT, min_phase_s: float = 0.03):
    """Descriptors of one robot's rollout, or a list of them for batched ``[N, T, ...]`` inputs.

    Args:
        contact: ``[T, 4]`` foot contact (FL, FR, RL, RR; bool, or 0/1 floats where NaN marks a missing step), e.g.
            :func:`contact_from_force`.
        foot_height: ``[T, 4]`` foot heights [m] (world z of the foot centre) or None (no ``swing_height``).
        base_height: ``[T]`` base height [m] or None; base_vel: ``[T, 3]`` body-frame velocity [m/s] or None;
        yaw_rate: ``[T]`` [rad/s] or None. A None input leaves its descriptors NaN.
        dt: time between steps [s]. min_phase_s: swing gaps / stance blips shorter than this (inside the window)
            are contact chatter and are merged away (``debounce``).

    Degenerate input gives defined values and ``flags``, never an exception: steps with a non-finite input are
    skipped (``nan_steps``; intervals and swings across them are not used); fewer than 2 usable steps: all NaN
    (``empty``); no touchdown (standing, or always airborne): step frequency 0, lags NaN (``no_touchdowns``);
    touchdowns but no foot with two: frequency = count / duration (``few_touchdowns``); FL with < 2 touchdowns
    or a foot that never lands inside an FL cycle: that lag NaN (``no_phase_reference``); a lag consistency below
    :data:`IRREGULAR_BELOW`: ``irregular_phase``; feet never off the ground: swing height 0; feet off the ground
    but no complete swing: NaN (``no_swings``). Wrong shapes or dt <= 0 raise ValueError.
    """
    c = np.asarray(contact)
    if c.ndim != 3:
        return _describe_one(contact, foot_height, base_height, base_vel, yaw_rate, dt, min_phase_s)

    def pick(x, i):
        return None if x is None else np.asarray(x)[i]

    return [_describe_one(c[i], pick(foot_height, i), pick(base_height, i), pick(base_vel, i), pick(yaw_rate, i),
                          dt, min_phase_s) for i in range(c.shape[0])]


def contact_from_force(foot_force: np.ndarray, threshold: float = CONTACT_FORCE_N) -> np.ndarray:
    """``[..., 4]`` foot normal forces [N] -> contact bool (force > ``threshold``); NaN force -> NaN (missing)."""
    f = np.asarray(foot_force, dtype=float)
    return np.where(np.isfinite(f), (f > threshold).astype(float), NAN)


def mean_descriptors(items: list[BehaviorDescriptors]) -> BehaviorDescriptors:
    """Mean over envs: NaN-skipping mean of the scalars, circular mean of each lag (its ``phase_consistency`` is
    the resultant length across envs: how much the envs agree), union of the flags."""
    if not items:
        return BehaviorDescriptors(flags=("empty",), source="mean of 0")
    vals = np.array([list(d.values().values()) for d in items])  # [N, len(DESCRIPTOR_NAMES)]
    out = {}
    for j, name in enumerate(DESCRIPTOR_NAMES):
        col = vals[:, j][np.isfinite(vals[:, j])]
        out[name] = float(col.mean()) if col.size else NAN
    lags = [circular_mean(vals[:, DESCRIPTOR_NAMES.index(n)]) for n in OFFSET_NAMES]
    scalars = {n: v for n, v in out.items() if not n.startswith("offset_")}
    flags = tuple(sorted({f for d in items for f in d.flags}))
    return BehaviorDescriptors(**scalars, phase_offsets=tuple(m for m, _ in lags),
                               phase_consistency=tuple(r for _, r in lags), flags=flags,
                               source=f"mean of {len(items)}")


# ---------------------------------------------------------------------------------------------------- score
class MatchScore(float):
    """A behavior-match score (a float in [0, 1], NaN when no descriptor is known on both sides) that also
    carries ``used`` (names of the descriptors compared) and ``similarity`` ({name: exp(-z^2)}, z = distance /
    scale)."""

    used: tuple[str, ...]
    similarity: dict[str, float]

    def __new__(cls, value: float, similarity: dict[str, float]):
        obj = super().__new__(cls, value)
        obj.similarity = dict(similarity)
        obj.used = tuple(similarity)
        return obj


def descriptor_distance(name: str, a: float, b: float) -> float:
    """``|a - b|``; for the lags (``offset_*``) the circular distance in [0, 0.5] cycles (0.95 vs 0.05: 0.1).
    Exactly symmetric in ``a`` and ``b``."""
    d = abs(a - b)
    if name.startswith("offset_"):
        d %= 1.0
        d = min(d, 1.0 - d)
    return d


def _checked(table: dict | None, default: dict, what: str, allow_zero: bool) -> dict:
    out = {**default, **(table or {})}
    unknown = sorted(set(out) - set(DESCRIPTOR_NAMES))
    bad = [n for n, v in out.items() if not (math.isfinite(v) and (v >= 0 if allow_zero else v > 0))]
    if unknown or bad:
        raise ValueError(f"{what}: unknown names {unknown} or invalid values for {bad} (need finite, "
                         f"{'>= 0' if allow_zero else '> 0'}); names are {DESCRIPTOR_NAMES}")
    return out


def behavior_match(a: BehaviorDescriptors, b: BehaviorDescriptors, scales: dict | None = None,
                   weights: dict | None = None) -> MatchScore:
    """Behavior match of two descriptor sets, in [0, 1]; symmetric; 1 = identical.

    ``score = exp(-sum_d w_d z_d^2 / sum_d w_d)``, ``z_d = |a_d - b_d| / scale_d`` (circular for the lags,
    :func:`descriptor_distance`) over the descriptors finite on both sides with weight > 0: the weighted geometric
    mean of the per-descriptor similarities ``exp(-z_d^2)``. One descriptor off by k scales alone multiplies the
    score by ``exp(-k^2 w_d / sum w)``; an arithmetic mean would instead keep two gaits that differ only in their
    lags above 0.5. ``scales`` / ``weights`` override :data:`DEFAULT_SCALES` / weight 1 by name. Returns a
    :class:`MatchScore` (``.used``, ``.similarity``); NaN if nothing is comparable.
    """
    scales = _checked(scales, DEFAULT_SCALES, "scales", allow_zero=False)
    weights = _checked(weights, dict.fromkeys(DESCRIPTOR_NAMES, 1.0), "weights", allow_zero=True)
    va, vb = a.values(), b.values()
    sims, total, wsum = {}, 0.0, 0.0
    for name in DESCRIPTOR_NAMES:
        if weights[name] == 0 or not (math.isfinite(va[name]) and math.isfinite(vb[name])):
            continue
        z = descriptor_distance(name, va[name], vb[name]) / scales[name]
        sims[name] = math.exp(-z * z)
        total += weights[name] * z * z
        wsum += weights[name]
    return MatchScore(math.exp(-total / wsum) if wsum > 0 else NAN, sims)
