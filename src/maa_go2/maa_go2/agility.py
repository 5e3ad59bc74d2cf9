"""The Go2 agility report: tracking over the whole command space, gaits, pushes, scenarios and model error.

:func:`agility_report` returns (keys of ``results/go2/agility.json``):

* ``vx_error``, ``vy_error``, ``yaw_error``: mean |command - measured| over each sweep (vx [-1, 1.5] m/s,
  vy [-0.6, 0.6] m/s, yaw rate [-1.5, 1.5] rad/s, trot at 3 Hz) after 1 s, over envs alive; ``*_by_cmd`` lists
  ``[command, error]`` per env; ``yaw_error_worst`` is the error at the worst commanded yaw rate.
* ``survival_rate``: fraction of the sweep envs (randomized physics) that never fell in ``seconds`` (20 s).
* ``push_recovery_rate``: survival under 1.0 m/s velocity kicks every 2 s.
* ``gait_contact_match``: per gait (trot, pronk, pace, bound at 2, 3 and 4 Hz, vx 0.5 m/s), the fraction of
  foot-steps whose measured contact (normal force > 1 N) agrees with the desired schedule (desired stance > 0.5);
  ``gait_contact_match_min`` over trot and pronk; ``gait_freq_error_hz``: per gait, mean |touchdown rate - command|,
  ``gait_freq_error_hz_max`` over gaits; ``gait_contact_match_by_freq`` and ``gait_touch_rate_by_freq`` [Hz] break
  both down by commanded frequency (``{gait: {"2": .., "3": .., "4": ..}}``, None where no env survived warm-up).
* ``turn_in_place_success``, ``fast_backward_success``, ``slalom_mat_success`` (:mod:`maa_go2.scenarios`, through
  the deploy path with its default settings); ``turn_in_place_open_loop_success``,
  ``fast_backward_open_loop_success``: the same with the deploy path's heading control off (:mod:`maa_go2.teleop`).
* ``mismatch``: per case of :mod:`maa_go2.mismatch`, survival and tracking errors; ``mismatch_survival_rate`` is
  the lowest survival over the cases (``all`` included).

:func:`rate_intervals` gives each rate's 95 % interval over the robots or episodes it counts.
"""
from __future__ import annotations

import numpy as np

from maa_core.stats import rate_interval
from maa_go2 import scenarios
from maa_go2.behavior import descriptor_distance
from maa_go2.behavior_rollout import rollout_descriptors
from maa_go2.commands import GAITS
from maa_go2.control import POLICY_DT
from maa_go2.engines.mujoco_engine import MujocoGo2Env
from maa_go2.env_config import evaluation_env_config
from maa_go2.evaluation import ActorRunner, rollout_stats, sweep_commands
from maa_go2.mismatch import MISMATCH_CASES, apply_mismatch
from maa_go2.teleop import TeleopConfig

AGILITY_SWEEP = ((-1.0, 1.5), (-0.6, 0.6), (-1.5, 1.5))
GAIT_FREQS = (2.0, 3.0, 4.0)
WARMUP_S = 1.0
#: the report key holding how many robots (``num_envs``) or episodes each rate of the report counts
RATE_SAMPLES = {"survival_rate": "num_envs", "push_recovery_rate": "num_envs", "mismatch_survival_rate": "num_envs",
                **{f"{task}{how}_success": "episodes" for task in ("turn_in_place", "fast_backward")
                   for how in ("", "_open_loop")}, "slalom_mat_success": "episodes"}


def _env(runner: ActorRunner, num_envs: int, seconds: float, seed: int, push_interval_s: float = 1e6,
         push_max_vel: float = 0.5, domain_rand=None, physics_substeps: int = 1, base_model=None) -> MujocoGo2Env:
    cfg = evaluation_env_config(num_envs, seconds, runner.adaptation.history_len, push_interval_s, push_max_vel,
                                domain_rand)
    return MujocoGo2Env(cfg, seed=seed, base_model=base_model, physics_substeps=physics_substeps)


def _run_fixed(env: MujocoGo2Env, runner: ActorRunner, cmd: np.ndarray, seconds: float, warmup_s: float) -> dict:
    env.set_commands(cmd)
    env.reset()
    return rollout_stats(env, runner, int(round(seconds / POLICY_DT)), int(round(warmup_s / POLICY_DT)))


def _sweep_errors(cmd: np.ndarray, group: np.ndarray, r: dict) -> dict:
    ok = r["cnt"] > 0
    out = {}
    for g, name in enumerate(("vx", "vy", "yaw")):
        idx = np.flatnonzero((group == g) & ok)
        out[f"{name}_error"] = float(r["err"][idx, g].mean()) if idx.size else float("nan")
        out[f"{name}_error_by_cmd"] = [[round(float(cmd[i, g]), 4), round(float(r["err"][i, g]), 4)] for i in idx]
    yaw = out["yaw_error_by_cmd"]
    out["yaw_error_worst"] = max(e for _, e in yaw) if yaw else float("nan")
    out["yaw_error_worst_cmd"] = max(yaw, key=lambda ce: ce[1])[0] if yaw else float("nan")
    return out


def tracking(runner: ActorRunner, num_envs: int, seconds: float, seed: int, knobs: dict | None = None,
             domain_rand=None, physics_substeps: int = 1, base_model=None) -> dict:
    """Tracking errors and survival over the :data:`AGILITY_SWEEP` sweeps, optionally under model error;
    ``fall_times_s``: when each robot that fell first fell [s], sorted. ``physics_substeps`` and ``base_model`` (a
    MuJoCo model with other integrator settings; default: the shipped one): as in :class:`MujocoGo2Env`, for checks
    of the physics itself."""
    env = _env(runner, num_envs, seconds, seed, domain_rand=domain_rand, physics_substeps=physics_substeps,
               base_model=base_model)
    if knobs:
        apply_mismatch(env, knobs, seed)
    cmd, group = sweep_commands(num_envs, ranges=AGILITY_SWEEP)
    r = _run_fixed(env, runner, cmd, seconds, WARMUP_S)
    fell = ~r["alive"].astype(bool)
    return {**_sweep_errors(cmd, group, r), "survival_rate": float(r["alive"].mean()),
            "fall_times_s": sorted(float(t) for t in r["first_fall"][fell])}


def push_recovery(runner: ActorRunner, num_envs: int, seconds: float, seed: int, domain_rand=None) -> float:
    """Survival under 1.0 m/s kicks every 2 s while tracking the sweep commands."""
    env = _env(runner, num_envs, seconds, seed + 1, push_interval_s=2.0, push_max_vel=1.0, domain_rand=domain_rand)
    cmd, _ = sweep_commands(num_envs, ranges=AGILITY_SWEEP)
    return float(_run_fixed(env, runner, cmd, seconds, 0.0)["alive"].mean())


def gaits(runner: ActorRunner, envs_per_gait: int, seconds: float, seed: int, vx: float = 0.5,
          domain_rand=None) -> dict:
    """Per gait: contact-schedule match and step-frequency error at :data:`GAIT_FREQS`, walking at ``vx``."""
    names = sorted(GAITS)
    n = envs_per_gait * len(names)
    base, _ = sweep_commands(n)
    cmd = base.copy()
    cmd[:, :3] = (vx, 0.0, 0.0)
    gait_of_env = np.repeat(np.arange(len(names)), envs_per_gait)
    cmd[:, 4] = np.tile(np.resize(GAIT_FREQS, envs_per_gait), len(names))
    cmd[:, 5:8] = [GAITS[names[g]] for g in gait_of_env]
    r = _run_fixed(_env(runner, n, seconds, seed + 2, domain_rand=domain_rand), runner, cmd, seconds, WARMUP_S)
    match, freq_err, survival, match_by_freq, rate_by_freq = {}, {}, {}, {}, {}
    for g, name in enumerate(names):
        sel = (gait_of_env == g) & (r["cnt"] > 0)
        match[name] = float(r["contact_match"][sel].mean()) if sel.any() else 0.0
        freq_err[name] = float(np.abs(r["touch_rate"][sel] - cmd[sel, 4]).mean()) if sel.any() else float("nan")
        survival[name] = float(r["alive"][gait_of_env == g].mean())
        match_by_freq[name], rate_by_freq[name] = {}, {}
        for f in GAIT_FREQS:
            at = sel & (cmd[:, 4] == f)
            match_by_freq[name][f"{f:g}"] = round(float(r["contact_match"][at].mean()), 4) if at.any() else None
            rate_by_freq[name][f"{f:g}"] = round(float(r["touch_rate"][at].mean()), 3) if at.any() else None
    return {"gait_contact_match": match, "gait_contact_match_min": min(match["trot"], match["pronk"]),
            "gait_freq_error_hz": freq_err, "gait_freq_error_hz_max": max(freq_err.values()),
            "gait_survival": survival, "gait_contact_match_by_freq": match_by_freq,
            "gait_touch_rate_by_freq": rate_by_freq}


def gait_styles(runner: ActorRunner, envs_per_gait: int, seconds: float, seed: int, vx: float = 0.5,
                freq: float = 3.0, domain_rand=None) -> dict:
    """Per gait: the leg lags the robot *walks* (:mod:`maa_go2.behavior`, from its contacts) next to the commanded
    ones, and their mean circular distance (cycles; 0 = the commanded gait, 0.5 = its opposite), at ``freq`` Hz."""
    names = sorted(GAITS)
    measured, commanded, error = {}, {}, {}
    for g, name in enumerate(names):
        cmd = sweep_commands(1)[0][0]
        cmd[:3], cmd[4], cmd[5:8] = (vx, 0.0, 0.0), freq, GAITS[name]
        rd = rollout_descriptors(runner, cmd, seconds, envs_per_gait, seed + 10 + g, domain_rand=domain_rand)
        measured[name] = [round(float(x), 3) for x in rd.mean.phase_offsets]
        commanded[name] = [round(float(x), 3) for x in rd.commanded.phase_offsets]
        dist = [descriptor_distance("offset_FR", a, b) for a, b in zip(measured[name], commanded[name])]
        error[name] = float(np.mean(dist)) if np.all(np.isfinite(dist)) else float("nan")
    return {"gait_lags_measured": measured, "gait_lags_commanded": commanded, "gait_lag_error": error}


def mismatch(runner: ActorRunner, num_envs: int, seconds: float, seed: int, cases=None, domain_rand=None,
             physics_substeps: int = 1) -> dict:
    """Survival and tracking under each model-error case (on top of the ``domain_rand`` draws); the lowest survival
    is ``mismatch_survival_rate``. ``cases``: names of :data:`MISMATCH_CASES` (default: all of them), or a
    ``{name: knobs}`` dict such as :func:`maa_go2.mismatch.ablation_cases`. ``physics_substeps``: as in
    :func:`tracking`."""
    table = cases if isinstance(cases, dict) else {n: MISMATCH_CASES[n] for n in (cases or MISMATCH_CASES)}
    out = {}
    for name, knobs in table.items():
        res = tracking(runner, num_envs, seconds, seed + 3, knobs=knobs, domain_rand=domain_rand,
                       physics_substeps=physics_substeps)
        out[name] = {k: res[k] for k in ("survival_rate", "vx_error", "vy_error", "yaw_error")}
    return {"mismatch": out, "mismatch_survival_rate": min(v["survival_rate"] for v in out.values())}


def agility_report(runner: ActorRunner, num_envs: int = 48, seconds: float = 20.0, episodes: int = 20,
                   seed: int = 0, mismatch_cases=None, domain_rand=None) -> dict:
    """Every figure of the module docstring for one actor + adaptation module. CPU cost grows with
    ``num_envs * seconds``; the defaults take a few minutes on 2 cores. ``domain_rand``: the robots'
    randomization in every part (the evaluated run's training randomization; None: the library defaults, which have
    no passive joint losses)."""
    dr = domain_rand
    if num_envs < 6 or seconds <= WARMUP_S + 1.0 or episodes < 1:
        raise ValueError(f"need num_envs >= 6, seconds > {WARMUP_S + 1.0} and episodes >= 1, got {num_envs}, "
                         f"{seconds}, {episodes}")
    report = tracking(runner, num_envs, seconds, seed, domain_rand=dr)
    report["push_recovery_rate"] = push_recovery(runner, num_envs, min(seconds, 6.0), seed, domain_rand=dr)
    report.update(gaits(runner, max(3, num_envs // 8), min(seconds, 10.0), seed, domain_rand=dr))
    report.update(gait_styles(runner, max(3, num_envs // 8), 4.0, seed, domain_rand=dr))
    open_loop = TeleopConfig(heading_gain=0.0)
    turn = scenarios.turn_in_place(runner, episodes, seed, domain_rand=dr)
    turn_open = scenarios.turn_in_place(runner, episodes, seed, domain_rand=dr, teleop=open_loop)
    back = scenarios.fast_backward(runner, episodes, seed, domain_rand=dr)
    back_open = scenarios.fast_backward(runner, episodes, seed, domain_rand=dr, teleop=open_loop)
    slalom = scenarios.slalom_mat(runner, episodes, seed, domain_rand=dr)
    report.update({"turn_in_place_success": turn["success"], "fast_backward_success": back["success"],
                   "slalom_mat_success": slalom["success"], "turn_in_place_open_loop_success": turn_open["success"],
                   "fast_backward_open_loop_success": back_open["success"],
                   "scenarios": {"turn_in_place": turn, "turn_in_place_open_loop": turn_open, "fast_backward": back,
                                 "fast_backward_open_loop": back_open, "slalom_mat": slalom}})
    report.update(mismatch(runner, num_envs, seconds, seed, mismatch_cases, domain_rand=dr))
    report.update({"num_envs": num_envs, "seconds": seconds, "episodes": episodes, "seed": seed})
    return report


def rate_intervals(report: dict) -> dict:
    """``{key: {"n": count, "interval_95": [lo, hi]}}`` for each rate of :data:`RATE_SAMPLES` in ``report``: the
    Wilson interval over the ``n`` robots or episodes it was measured on (20 episodes at 0.85 spans ~0.64-0.95, so
    two actors 0.1 apart on one seed are not told apart)."""
    out = {}
    for key, count_key in RATE_SAMPLES.items():
        if isinstance(report.get(key), float) and isinstance(report.get(count_key), int):
            n = report[count_key]
            out[key] = {"n": n, "interval_95": [round(v, 3) for v in rate_interval(report[key], n)]}
    return out
