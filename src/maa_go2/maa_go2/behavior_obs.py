"""Behavior descriptors from what a prompt holds: recorded 70-dim observations, and the 15 commands they carry.

A prompt has no contact forces or base heights, only observations: :func:`describe_observations` estimates the step
frequency and the phase lags of the legs from the oscillation of each leg's joints (or foot positions, by forward
kinematics) in the observations; :func:`describe_commands` gives what a command vector asks for. Both return
:class:`maa_go2.behavior.BehaviorDescriptors`, comparable with :func:`maa_go2.behavior.behavior_match`.
"""
from __future__ import annotations

import math

import numpy as np

from maa_go2.behavior import (
    CALF_LENGTH,
    IRREGULAR_BELOW,
    NAN,
    THIGH_LENGTH,
    BehaviorDescriptors,
    wrap_cycle,
)
from maa_go2.commands import NOMINAL_BASE_HEIGHT, NUM_COMMANDS
from maa_go2.control import DEFAULT_JOINT_POS, POLICY_DT
from maa_go2.observation import COMMAND_SCALES, OBS_DIM, OBS_SLICES


def _dtft(x: np.ndarray, times: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Hann-windowed Fourier coefficients ``[F, ...]`` of the mean-removed signals ``x [T, ...]`` at ``freqs [F]``
    [Hz]; ``times [T]`` [s]. Normalized so that a sinusoid of amplitude A gives |X| = A/2 at its frequency."""
    w = np.hanning(x.shape[0] + 2)[1:-1] if x.shape[0] > 1 else np.ones(1)
    xc = (x - x.mean(0)) * w.reshape(-1, *([1] * (x.ndim - 1)))
    basis = np.exp(-2j * np.pi * freqs[:, None] * times[None, :])  # [F, T]
    return np.tensordot(basis, xc, axes=(1, 0)) / w.sum()


def leg_foot_position(dof_pos: np.ndarray) -> np.ndarray:
    """Foot position ``[..., 4, 2]`` (x forward, z up) [m] relative to each thigh joint in the leg's plane, from the
    absolute joint positions ``[..., 12]`` [rad] (policy order; thigh and calf rotate about +y, the straight leg
    points down): ``x = -l1 sin(q1) - l2 sin(q1 + q2)``, ``z = -l1 cos(q1) - l2 cos(q1 + q2)``."""
    q = np.asarray(dof_pos, dtype=float).reshape(*np.shape(dof_pos)[:-1], 4, 3)
    q1, q12 = q[..., 1], q[..., 1] + q[..., 2]
    x = -THIGH_LENGTH * np.sin(q1) - CALF_LENGTH * np.sin(q12)
    z = -THIGH_LENGTH * np.cos(q1) - CALF_LENGTH * np.cos(q12)
    return np.stack([x, z], -1)


def _leg_signals(obs: np.ndarray, source: str) -> np.ndarray:
    """``[T, 4 legs, S]`` oscillating signals: the foot position in the leg plane [m] (same motion -> same signal
    for front and rear legs, unlike the raw joint angles) or the clock input."""
    if source == "joints":
        return leg_foot_position(obs[:, OBS_SLICES["dof_pos"]] + DEFAULT_JOINT_POS)
    if source == "clock":
        return obs[:, OBS_SLICES["clock"]][:, :, None]
    raise ValueError(f"source must be 'joints' or 'clock', got {source!r}")


def _oscillation(sig: np.ndarray, times: np.ndarray, fmin: float, fmax: float) -> tuple[float, np.ndarray]:
    """Dominant frequency [Hz] of the summed power of ``sig [T, 4, S]`` on a 0.01 Hz grid in [fmin, fmax] and the
    Fourier coefficients ``[4, S]`` there."""
    freqs = np.arange(fmin, fmax + 1e-9, 0.01)
    spec = _dtft(sig, times, freqs)  # [F, 4, S]
    best = int(np.argmax((np.abs(spec) ** 2).sum((1, 2))))
    return float(freqs[best]), spec[best]


def _fourier_lags(coef: np.ndarray) -> tuple[tuple, tuple]:
    """Lags of legs 1..3 behind leg 0 [cycles] from Fourier coefficients ``[4, S]`` at the gait frequency
    (``angle(sum_s X_0s conj(X_ks)) / 2 pi``) and their coherence in [0, 1]."""
    offsets, coherence = [], []
    for k in (1, 2, 3):
        cross = (coef[0] * np.conj(coef[k])).sum()
        norm = math.sqrt(float((np.abs(coef[0]) ** 2).sum() * (np.abs(coef[k]) ** 2).sum()))
        offsets.append(wrap_cycle(np.angle(cross) / (2 * np.pi)) if norm > 0 else NAN)
        coherence.append(float(abs(cross) / norm) if norm > 0 else NAN)
    return tuple(offsets), tuple(coherence)


def _describe_obs_one(obs: np.ndarray, dt: float, source: str, fmin: float, fmax: float,
                      min_amplitude: float) -> BehaviorDescriptors:
    tag = f"observations:{source}"
    rows = np.isfinite(obs).all(1)
    flags = [] if rows.all() else ["nan_steps"]
    if rows.sum() < 4:
        return BehaviorDescriptors(flags=tuple(flags + ["empty"]), source=tag)
    times = np.flatnonzero(rows) * dt
    freq, coef = _oscillation(_leg_signals(obs[rows], source), times, fmin, fmax)
    if 2 * np.abs(coef).max() < min_amplitude:
        return BehaviorDescriptors(step_frequency=0.0, flags=tuple(flags + ["no_oscillation"]), source=tag)
    if (times[-1] - times[0]) * freq < 2.0:
        flags.append("short_window")
    offsets, coherence = _fourier_lags(coef)
    if any(r < IRREGULAR_BELOW for r in coherence):
        flags.append("irregular_phase")
    return BehaviorDescriptors(step_frequency=freq, phase_offsets=offsets, phase_consistency=coherence,
                               flags=tuple(flags), source=tag)


def describe_observations(obs, dt: float = POLICY_DT, source: str = "joints", fmin: float = 0.5, fmax: float = 8.0,
                          min_amplitude: float = 0.01):
    """The descriptors readable from recorded observations ``[T, 70]`` (or a list for ``[N, T, 70]``).

    Only ``step_frequency`` [Hz] and the lags ``phase_offsets`` (cycles) are measured: the dominant frequency in
    [fmin, fmax] of the feet's positions relative to the hips, from the thigh and calf joint positions
    (``source="joints"``, :func:`leg_foot_position`: what the robot did) or of the clock inputs (``source="clock"``:
    the schedule it was given), and each leg's lag behind FL from the phase of its Fourier coefficient at that
    frequency; ``phase_consistency`` is their coherence. From joints, a lag is the lag of the whole leg motion,
    not of the touchdown: legs whose swing has another shape (front vs rear) read up to ~0.1 cycle off the contact
    lags (docs/go2_behavior.md).

    Duty factor, body and swing height, speeds and yaw rate are not in the observation (no contacts, base pose or
    base velocity) and stay NaN: take them from a rollout of the prompt's source policy, or the commanded values
    from :func:`describe_commands` (:func:`commands_of_observations`). Oscillation amplitude below
    ``min_amplitude`` (m for joints): frequency 0, lags NaN, flag ``no_oscillation``; under 2 cycles:
    ``short_window``; NaN rows are skipped (``nan_steps``), fewer than 4 finite rows: all NaN (``empty``).
    ``fmax`` is capped at the Nyquist rate 0.5 / dt.
    """
    obs = np.asarray(obs, dtype=float)
    if obs.ndim not in (2, 3) or obs.shape[-1] != OBS_DIM:
        raise ValueError(f"obs must be [T, {OBS_DIM}] or [N, T, {OBS_DIM}], got {list(obs.shape)}")
    fmax = min(fmax, 0.5 / dt) if math.isfinite(dt) and dt > 0 else fmax  # no search above the Nyquist rate
    if not (math.isfinite(dt) and dt > 0) or not 0 < fmin < fmax:
        raise ValueError(f"need dt > 0 and 0 < fmin < min(fmax, 0.5 / dt), got dt={dt}, fmin={fmin}, fmax={fmax}")
    if obs.ndim == 3:
        return [_describe_obs_one(o, dt, source, fmin, fmax, min_amplitude) for o in obs]
    return _describe_obs_one(obs, dt, source, fmin, fmax, min_amplitude)


def commands_of_observations(obs) -> np.ndarray:
    """The 15 commands ``[..., 15]`` (physical units) recorded in observations ``[..., 70]``."""
    obs = np.asarray(obs, dtype=float)
    return obs[..., OBS_SLICES["commands"]] / COMMAND_SCALES


def describe_commands(commands) -> BehaviorDescriptors:
    """What one command vector ``[15]`` asks for: frequency, duty (stance duration), the lags implied by
    :func:`maa_go2.commands.foot_indices` (FR = phase + bound, RL = phase + offset, RR = offset + bound, mod 1),
    body height (nominal + offset), swing height, vx, vy, yaw rate."""
    c = np.asarray(commands, dtype=float)
    if c.shape != (NUM_COMMANDS,):
        raise ValueError(f"commands must be [{NUM_COMMANDS}], got {list(c.shape)}")
    ph, off, bd = c[5], c[6], c[7]
    lags = tuple(wrap_cycle(x) for x in (ph + bd, ph + off, off + bd))
    return BehaviorDescriptors(step_frequency=float(c[4]), duty_factor=float(c[8]), phase_offsets=lags,
                               phase_consistency=(1.0, 1.0, 1.0), body_height=NOMINAL_BASE_HEIGHT + float(c[3]),
                               swing_height=float(c[9]), forward_speed=float(c[0]), lateral_speed=float(c[1]),
                               yaw_rate=float(c[2]), source="commands")
