"""How well a Go2 actor reproduces a prompted style, and the method table of issue 13 (docs/go2_styles.md).

Every actor (generated, retrieved, random or the prompt's source) is scored the same way:

* **behavior**: :func:`maa_go2.behavior_rollout.rollout_descriptors` under the deploy node's default commands at
  ``vx`` (the commands every specialist observes), compared with the *reference* descriptors (the prompt's source
  specialist, rolled out with another seed) by :func:`style_match`: the behavior match on the style descriptors
  (step frequency, duty factor, leg lags, body height, swing height). Velocities are commanded, not style, and are
  left to the tracking figures;
* **tracking and survival**: :func:`maa_go2.evaluation.evaluate_actor` (vx / yaw sweeps and the push test).

:func:`prompt_style` reads what a prompt itself shows (step frequency and lags from its recorded observations), which
:func:`make_style_screener` uses to pick the best of K generated candidates without knowing the source.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from maa_go2.behavior import DESCRIPTOR_NAMES, BehaviorDescriptors, MatchScore, behavior_match, mean_descriptors
from maa_go2.behavior_obs import describe_observations, leg_foot_position
from maa_go2.behavior_rollout import rollout_descriptors
from maa_go2.control import DEFAULT_JOINT_POS, POLICY_DT
from maa_go2.observation import OBS_DIM, OBS_SLICES
from maa_go2.teleop import TeleopConfig, VelocityCommand

if TYPE_CHECKING:
    from maa_core.layout import PolicyLayout
    from maa_go2.actor_critic import AdaptationModule

#: the descriptors that make a style; the speeds and yaw rate are commanded
STYLE_DESCRIPTORS = ("step_frequency", "duty_factor", "offset_FR", "offset_RL", "offset_RR", "body_height",
                     "swing_height")
STYLE_WEIGHTS = {name: (1.0 if name in STYLE_DESCRIPTORS else 0.0) for name in DESCRIPTOR_NAMES}
EVAL_VX = 0.5  #: [m/s] forward command of the behavior rollouts


def deploy_commands(vx: float = EVAL_VX) -> np.ndarray:
    """``[15]``: the deploy node's default command vector (:class:`TeleopConfig`) with forward velocity ``vx``."""
    cmd = VelocityCommand(TeleopConfig())
    cmd.set(vx, 0.0, 0.0, now=0.0)
    return cmd.commands(0.0)


def descriptors_from_values(values: dict) -> BehaviorDescriptors:
    """Rebuild descriptors from :meth:`BehaviorDescriptors.values` (e.g. read back from JSON; None means NaN)."""
    v = {k: (float("nan") if values.get(k) is None else float(values[k])) for k in DESCRIPTOR_NAMES}
    scalars = {k: x for k, x in v.items() if not k.startswith("offset_")}
    return BehaviorDescriptors(**scalars, phase_offsets=(v["offset_FR"], v["offset_RL"], v["offset_RR"]),
                               source="values")


def style_match(a: BehaviorDescriptors, b: BehaviorDescriptors) -> MatchScore:
    """:func:`behavior_match` over :data:`STYLE_DESCRIPTORS` only."""
    return behavior_match(a, b, weights=STYLE_WEIGHTS)


def actor_behavior(layout: PolicyLayout, flat: np.ndarray, adaptation: AdaptationModule, seconds: float = 4.0,
                   num_envs: int = 8, seed: int = 0) -> tuple[BehaviorDescriptors, float]:
    """Mean descriptors of ``flat`` under :func:`deploy_commands` and the fraction of envs that never fell."""
    from maa_go2.evaluation import ActorRunner

    rd = rollout_descriptors(ActorRunner(layout, flat, adaptation), deploy_commands(), seconds, num_envs, seed)
    return rd.mean, float(rd.alive.mean())


def score_actor(layout: PolicyLayout, flat: np.ndarray, adaptation: AdaptationModule,
                reference: BehaviorDescriptors, behavior_seconds: float = 4.0, behavior_envs: int = 8,
                sweep_seconds: float = 8.0, sweep_envs: int = 12, seed: int = 0) -> dict:
    """One actor's row: ``behavior_match`` (vs ``reference``), ``behavior`` (descriptor values), ``vx_error``,
    ``yaw_error`` [m/s, rad/s], ``survival`` (sweeps and behavior rollouts together) and ``push_recovery``."""
    from maa_go2.evaluation import evaluate_actor

    desc, alive = actor_behavior(layout, flat, adaptation, behavior_seconds, behavior_envs, seed)
    sweep = evaluate_actor(layout, flat, adaptation, sweep_seconds, sweep_envs, seed)
    match = style_match(desc, reference)
    return {"behavior_match": float(match) if math.isfinite(match) else 0.0,
            "behavior": {k: (v if math.isfinite(v) else None) for k, v in desc.values().items()},
            "flags": list(desc.flags), "vx_error": sweep["vx_error"], "yaw_error": sweep["yaw_error"],
            "survival": min(alive, sweep["survival_rate"]), "push_recovery": sweep["push_recovery_rate"]}


def prompt_style(h: np.ndarray, n_steps: int, act_dim: int = 12) -> BehaviorDescriptors:
    """What a segmented prompt's ``h`` ``[S, n_steps * (70 + act_dim)]`` shows: the mean over its segments of
    :func:`describe_observations` of each segment's observations (step frequency and lags)."""
    h = np.asarray(h, dtype=float)
    width = OBS_DIM + act_dim
    if h.ndim != 2 or h.shape[1] != n_steps * width:
        raise ValueError(f"h must be [segments, {n_steps} * {width}], got {list(h.shape)}")
    obs = h.reshape(h.shape[0], n_steps, width)[..., :OBS_DIM]
    return mean_descriptors(describe_observations(obs))


def observed_gait(obs: np.ndarray, dt: float = POLICY_DT) -> dict:
    """The gait figures readable from observations ``[T, 70]`` alone, so that a prompt and a walk recorded from the
    deploy node's ``~/step`` are measured the same way: ``step_frequency`` [Hz] and the lags ``lag_FR``,
    ``lag_RL``, ``lag_RR`` behind FL [cycles] (:func:`describe_observations` on the joints), and
    ``stance_height`` [m]: the 90th percentile over time and legs of each foot's depth below its hip
    (:func:`leg_foot_position`; legs are longest in stance, so a crouched style reads lower). NaN where unreadable.
    """
    obs = np.asarray(obs, dtype=float)
    if obs.ndim != 2 or obs.shape[1] != OBS_DIM or len(obs) < 4:
        raise ValueError(f"obs must be [T >= 4, {OBS_DIM}], got {list(obs.shape)}")
    desc = describe_observations(obs, dt)
    rows = np.isfinite(obs).all(1)
    depth = -leg_foot_position(obs[rows][:, OBS_SLICES["dof_pos"]] + DEFAULT_JOINT_POS)[..., 1]
    lags = dict(zip(("lag_FR", "lag_RL", "lag_RR"), (float(x) for x in desc.phase_offsets)))
    return {"step_frequency": float(desc.step_frequency), **lags,
            "stance_height": float(np.percentile(depth, 90)) if depth.size else float("nan")}


def make_style_screener(adaptation: AdaptationModule, n_steps: int, seconds: float = 3.0, num_envs: int = 4,
                        seed: int = 0):
    """Screener ``(layout, flats [K, P], h [S, Dh]) -> scores [K]``: survival x :func:`style_match` between each
    candidate's rollout and what the prompt shows (:func:`prompt_style`); a candidate that cannot be rolled out
    scores NaN."""
    def screen(layout, flats: np.ndarray, h: np.ndarray) -> np.ndarray:
        target = prompt_style(h, n_steps)
        scores = np.full(len(flats), np.nan)
        for k, flat in enumerate(flats):
            try:
                desc, alive = actor_behavior(layout, flat, adaptation, seconds, num_envs, seed)
            except (ValueError, FloatingPointError):
                continue
            match = style_match(desc, target)
            scores[k] = alive * (float(match) if math.isfinite(match) else 0.0)
        return scores

    return screen


SPLITS = ("seen", "heldout")
METHODS = ("generated", "best_of_k", "nn", "random", "source")
FIGURES = ("behavior_match", "vx_error", "yaw_error", "survival")


def method_figure(row: dict, method: str, fig: str) -> float:
    """One prompt's ``fig`` for ``method``: ``generated`` averages all K candidates, ``best_of_k`` is the screened
    one, the other methods have one actor each."""
    if method == "generated":
        return float(np.mean([c[fig] for c in row["candidates"]]))
    if method == "best_of_k":
        return float(row["candidates"][row["best_of_k"]][fig])
    return float(row[method][fig])


def summarize(per_prompt: list[dict]) -> dict:
    """``{split}_{method}_{figure}``: the mean of :func:`method_figure` over the prompts of each split; NaN where a
    split has no prompts."""
    out = {}
    for split in SPLITS:
        rows = [p for p in per_prompt if p["split"] == split]
        for method in METHODS:
            for fig in FIGURES:
                vals = [method_figure(p, method, fig) for p in rows]
                out[f"{split}_{method}_{fig}"] = float(np.mean(vals)) if vals else float("nan")
    return out
