"""Model-error evaluation: a stand-in for the real robot, moved away from the training model.

Each case edits the MuJoCo models of an evaluation env in ways in which real Go2s (and other published models of
the robot) differ from the training model, outside or at the edge of the training randomization:

* ``joint_damping``: 1.0 N.m.s/rad of passive joint damping in the MuJoCo model (training: an explicit torque term of
  ``domain_rand.joint_damping``, 0 by default, 0-1.0 in the agility run, which this adds to, and from the fifteenth
  agility run also ``domain_rand.engine_joint_damping`` in the model itself; Menagerie's Go2 model uses 2.0).
  go2.xml turns MuJoCo's implicit Euler damping (``eulerdamp``) off: at the 5 ms step it felled robots that a 1 ms
  step or RK4 shows walking (``scripts/damping_form_check.py``).
* ``joint_friction``: 0.2 N.m of joint friction loss in the MuJoCo model (training: ``domain_rand.joint_friction``,
  0 by default, 0-0.2 in the agility run, which this adds to; Menagerie: 0.2).
* ``link_mass_inertia``: every link's mass and inertia scaled by a fixed factor drawn in [0.85, 1.15].
* ``torque_limits``: motor torque limits at 80 % (a warm motor, a sagging battery), times the training draw of
  ``domain_rand.torque_limit_scale`` (1 by default, 0.75-1 in the third agility run).
* ``latency_0_20ms``: extra actuation delay of 0, 5, 10, 15 or 20 ms per env, on top of the trained 0/20 ms and of
  ``domain_rand.actuation_delay_ms`` (none by default, 0-10 ms in the third agility run); a delay inside the policy
  step is capped at one step.
* ``foot_friction``: foot-ground friction 0.3 (a smooth floor; training draws 0.2-1.5).
* ``payload``: 5 kg on the base (training adds -1..3 kg; the Go2's documented payload is about 7-8 kg).
* ``all``: every case at once.

The base randomization of training (Kp/Kd, motor strength, restitution, ...) stays on, so each env is a different
robot; the mismatch is applied on top.
"""
from __future__ import annotations

import numpy as np

from maa_go2.control import DECIMATION, SIM_DT
from maa_go2.engines.mujoco_engine import MujocoGo2Env
from maa_go2.randomization import MAX_DELAY_MS, TORQUE_LIMIT_SCALE_BOUNDS

MISMATCH_CASES: dict[str, dict[str, float]] = {
    "joint_damping": {"joint_damping": 1.0},
    "joint_friction": {"joint_frictionloss": 0.2},
    "link_mass_inertia": {"link_scale": 0.15},
    "torque_limits": {"torque_limit_scale": 0.8},
    "latency_0_20ms": {"extra_latency_ms": 20.0},
    "foot_friction": {"foot_friction": 0.3},
    "payload": {"payload_kg": 5.0},
}
MISMATCH_CASES["all"] = {k: v for case in list(MISMATCH_CASES.values()) for k, v in case.items()}


def ablation_cases() -> dict[str, dict[str, float]]:
    """``all`` and, for each single case, ``all_but_<case>``: every change at once except that case's. A survival that
    jumps when one case is left out names the change that fells the robots under the combination."""
    singles = {k: v for k, v in MISMATCH_CASES.items() if k != "all"}
    out = {"all": dict(MISMATCH_CASES["all"])}
    for name, knobs in singles.items():
        out[f"all_but_{name}"] = {k: v for k, v in MISMATCH_CASES["all"].items() if k not in knobs}
    return out


KNOBS = ("joint_damping", "joint_frictionloss", "link_scale", "torque_limit_scale", "extra_latency_ms",
         "foot_friction", "payload_kg")


def apply_mismatch(env: MujocoGo2Env, knobs: dict[str, float], seed: int = 0) -> None:
    """Edit ``env``'s model variants (in place) and its actuation knobs; see the module docstring.

    Raises:
        ValueError: an unknown knob, or a value outside its sane range.
    """
    unknown = set(knobs) - set(KNOBS)
    if unknown:
        raise ValueError(f"unknown mismatch knob(s) {sorted(unknown)}; expected a subset of {list(KNOBS)}")
    rng = np.random.default_rng(seed)
    base = env.base_model
    link_factor = 1.0 + rng.uniform(-1, 1, base.nbody) * knobs.get("link_scale", 0.0)
    link_factor[0] = 1.0  # the world body
    for model in env.variants:
        model.dof_damping[6:] += knobs.get("joint_damping", 0.0)
        model.dof_frictionloss[6:] += knobs.get("joint_frictionloss", 0.0)
        model.body_mass[:] *= link_factor
        model.body_inertia[:] *= link_factor[:, None]
        if "foot_friction" in knobs:
            model.geom_friction[env.foot_geoms, 0] = knobs["foot_friction"]
        model.body_mass[env.base_body] += knobs.get("payload_kg", 0.0)
    scale = knobs.get("torque_limit_scale", 1.0)
    lo, hi = TORQUE_LIMIT_SCALE_BOUNDS
    if not lo <= scale <= hi:
        raise ValueError(f"torque_limit_scale must be in [{lo}, {hi}], got {scale}")
    env.torque_limit_scale[:] = scale
    latency_ms = knobs.get("extra_latency_ms", 0.0)
    max_substeps = int(round(latency_ms / 1000.0 / SIM_DT))
    if not 0 <= max_substeps <= DECIMATION:
        raise ValueError(f"extra_latency_ms must be in [0, {MAX_DELAY_MS:.0f}], got {latency_ms}")
    env.extra_delay_substeps[:] = rng.integers(0, max_substeps + 1, env.num_envs)
