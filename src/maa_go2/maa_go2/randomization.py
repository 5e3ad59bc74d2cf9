"""Domain randomization (walk-these-ways ranges, Go2 values) and the privileged parameters it produces.

Privileged vector (critic input and adaptation-module regression target), ``PRIV_DIM = 7``:
friction, restitution, added base mass [kg], motor strength, base linear velocity (body frame, x2.0) [m/s].
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from maa_go2.control import DECIMATION, SIM_DT

PRIV_NAMES = ("friction", "restitution", "added_mass", "motor_strength", "base_lin_vel_x", "base_lin_vel_y",
              "base_lin_vel_z")
PRIV_DIM = len(PRIV_NAMES)
PASSIVE_PARAMS = ("joint_damping", "joint_friction")  #: per-env passive joint losses (see maa_go2.control)
#: per-env actuation limits: a factor on the motor torque limits, and a delay [ms] inside a policy step (rounded to
#: physics steps by the engines, :func:`delay_substeps`)
ACTUATION_PARAMS = ("torque_limit_scale", "actuation_delay_ms")
#: per-model-variant passive joint damping left to the physics engine (see ``RandomizationConfig``)
ENGINE_PASSIVE_PARAMS = ("engine_joint_damping",)
#: parameters drawn per model variant (``num_model_variants`` of them) rather than per env: an env takes its variant's
VARIANT_PARAMS = ("friction", "restitution", "added_mass") + ENGINE_PASSIVE_PARAMS
#: drawn after the others and only where a range is non-empty, so configs without them keep their random streams
OPTIONAL_PARAMS = PASSIVE_PARAMS + ACTUATION_PARAMS + ENGINE_PASSIVE_PARAMS
LIN_VEL_SCALE = 2.0
MAX_DELAY_MS = 1000.0 * SIM_DT * DECIMATION  #: one policy step
TORQUE_LIMIT_SCALE_BOUNDS = (0.1, 1.5)  #: sane factors on the motor torque limits (training and model error)


@dataclass
class RandomizationConfig:
    """Ranges ``[lo, hi]`` sampled uniformly per episode; ``enabled: false`` gives nominal values."""

    enabled: bool = True
    friction: list[float] = field(default_factory=lambda: [0.2, 1.5])
    restitution: list[float] = field(default_factory=lambda: [0.0, 0.4])
    added_mass: list[float] = field(default_factory=lambda: [-1.0, 3.0])
    motor_strength: list[float] = field(default_factory=lambda: [0.9, 1.1])
    kp_factor: list[float] = field(default_factory=lambda: [0.9, 1.1])
    kd_factor: list[float] = field(default_factory=lambda: [0.9, 1.1])
    #: passive joint damping [N.m.s/rad] and dry friction [N.m] (the motors' and gearboxes' own losses, which the
    #: PD law does not model); [0, 0] = none. Drawn only when hi > lo, so configs without them keep their streams.
    joint_damping: list[float] = field(default_factory=lambda: [0.0, 0.0])
    joint_friction: list[float] = field(default_factory=lambda: [0.0, 0.0])
    #: factor on the motor torque limits (a warm motor, a sagging battery); [1, 1] = the datasheet limits
    torque_limit_scale: list[float] = field(default_factory=lambda: [1.0, 1.0])
    #: actuation delay [ms] inside a policy step (the previous target is held that long), on top of ``latency_prob``'s
    #: whole-step latency; [0, 0] = none, at most one policy step (20 ms)
    actuation_delay_ms: list[float] = field(default_factory=lambda: [0.0, 0.0])
    #: passive joint damping [N.m.s/rad] that the physics engine integrates itself, drawn per model variant (like
    #: friction and mass) and added to ``joint_damping``'s explicit torque. MuJoCo: the variant's ``dof_damping`` (the
    #: form of ``maa_go2.mismatch``'s joint-damping case; integrated explicitly, ``eulerdamp`` is off in go2.xml);
    #: Isaac Gym: added to the explicit term, as its effort-mode DOF damping does not act. [0, 0] = none.
    engine_joint_damping: list[float] = field(default_factory=lambda: [0.0, 0.0])
    latency_prob: float = 0.5  #: probability that an episode runs with 1 policy step of action latency
    push_interval_s: float = 15.0
    push_max_vel: float = 0.5  #: [m/s] added to the base xy velocity at each push
    num_model_variants: int = 32  #: MuJoCo: distinct randomized models (friction/restitution/mass) envs draw from

    def __post_init__(self) -> None:
        for name in ("friction", "restitution", "added_mass", "motor_strength", "kp_factor", "kd_factor",
                     *OPTIONAL_PARAMS):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"domain_rand.{name}: expected [lo, hi] with lo <= hi, got {[lo, hi]}")
        for name in PASSIVE_PARAMS + ENGINE_PASSIVE_PARAMS:
            if getattr(self, name)[0] < 0:
                raise ValueError(f"domain_rand.{name}: expected a range of values >= 0, got {getattr(self, name)}")
        lo, hi = self.torque_limit_scale
        if not (TORQUE_LIMIT_SCALE_BOUNDS[0] <= lo and hi <= TORQUE_LIMIT_SCALE_BOUNDS[1]):
            raise ValueError(f"domain_rand.torque_limit_scale: expected a range inside "
                             f"{list(TORQUE_LIMIT_SCALE_BOUNDS)}, got {[lo, hi]}")
        lo, hi = self.actuation_delay_ms
        if not (0.0 <= lo and hi <= MAX_DELAY_MS):
            raise ValueError(f"domain_rand.actuation_delay_ms: expected a range inside [0, {MAX_DELAY_MS:g}] ms (one "
                             f"policy step), got {[lo, hi]}")
        if self.num_model_variants < 1:
            raise ValueError(f"domain_rand.num_model_variants must be >= 1, got {self.num_model_variants}")
        if not 0.0 <= self.latency_prob <= 1.0:
            raise ValueError(f"domain_rand.latency_prob must be in [0,1], got {self.latency_prob}")


NOMINAL = {"friction": 1.0, "restitution": 0.0, "added_mass": 0.0, "motor_strength": 1.0, "kp_factor": 1.0,
           "kd_factor": 1.0, "latency": 0.0, "joint_damping": 0.0, "joint_friction": 0.0, "torque_limit_scale": 1.0,
           "actuation_delay_ms": 0.0, "engine_joint_damping": 0.0}


def sample_params(rng: np.random.Generator, n: int, cfg: RandomizationConfig) -> dict[str, np.ndarray]:
    """Per-env physical parameters, each ``[n]``: friction, restitution, added_mass, motor_strength, kp_factor,
    kd_factor, latency (0 or 1 policy steps), joint_damping [N.m.s/rad], joint_friction [N.m], torque_limit_scale,
    actuation_delay_ms [ms], engine_joint_damping [N.m.s/rad] (used per model variant by the engines)."""
    if not cfg.enabled:
        return {k: np.full(n, v) for k, v in NOMINAL.items()}
    out = {k: rng.uniform(*getattr(cfg, k), size=n) for k in NOMINAL if k != "latency" and k not in OPTIONAL_PARAMS}
    out["latency"] = (rng.random(n) < cfg.latency_prob).astype(np.float64)
    for k in OPTIONAL_PARAMS:  # after the others: a config without them draws exactly what it drew before
        lo, hi = getattr(cfg, k)
        out[k] = rng.uniform(lo, hi, size=n) if hi > lo else np.full(n, float(lo))
    return out


def privileged_obs(params: dict[str, np.ndarray], base_lin_vel: np.ndarray) -> np.ndarray:
    """``[N, 7]`` privileged vector (see module doc) from the sampled params and body-frame base velocity."""
    cols = [params["friction"], params["restitution"], params["added_mass"], params["motor_strength"]]
    return np.concatenate([np.stack(cols, axis=1), base_lin_vel * LIN_VEL_SCALE], axis=1).astype(np.float32)


def restitution_to_dampratio(restitution: np.ndarray) -> np.ndarray:
    """MuJoCo has no restitution coefficient: map it to the contact damping ratio (1 = no bounce)."""
    return 1.0 - 0.8 * np.asarray(restitution)


def delay_substeps(delay_ms, extra_substeps=0):
    """Physics steps ``[N]`` (int, 0..DECIMATION) for which the previous target is held: ``delay_ms [N]`` rounded
    to physics steps of SIM_DT, plus ``extra_substeps`` (the model-error evaluation's), at most one policy step."""
    steps = np.rint(np.asarray(delay_ms, dtype=np.float64) / (1000.0 * SIM_DT)).astype(np.int64) + extra_substeps
    return np.minimum(steps, DECIMATION)
