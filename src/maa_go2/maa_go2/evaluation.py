"""Sim2sim evaluation of a Go2 actor on the MuJoCo engine (randomized physics, observation noise, latency).

:func:`evaluate_actor` runs ``num_envs`` envs for ``seconds`` with fixed commands split in three sweeps:
vx in [-1, 1] m/s, vy in [-0.5, 0.5] m/s and yaw rate in [-1, 1] rad/s (trot at 3 Hz), then a push test
(1.0 m/s lateral velocity kicks every 2 s). Returned keys (:data:`RESULT_KEYS`):

* ``vx_error``, ``vy_error``, ``yaw_error``: mean |command - measured| over the sweep envs alive, after 1 s [m/s, rad/s]
* ``vx_error_by_cmd``: ``[[vx_cmd, mean |error|], ...]``
* ``survival_rate``: fraction of envs that never fell; ``survival_time_s``: mean time to first fall (capped);
  ``falls``: number of falls (auto-reset envs count again)
* ``push_recovery_rate``: fraction of envs surviving the push test
* ``power_w``: mean mechanical power sum |tau * qd| [W]; ``cost_of_transport``: power / (m g |v|) for moving envs
* ``gait_freq_cmd_hz``, ``gait_freq_measured_hz``, ``gait_freq_error_hz``: foot touchdown rate vs command
"""
from __future__ import annotations

import numpy as np
import torch

from maa_core.layout import PolicyLayout
from maa_core.policy_torch import PolicyMLP
from maa_go2.actor_critic import AdaptationModule, go2_actor_layout
from maa_go2.commands import NUM_COMMANDS, CommandRanges
from maa_go2.control import POLICY_DT
from maa_go2.engines.mujoco_engine import MujocoGo2Env
from maa_go2.env_config import evaluation_env_config

RESULT_KEYS = ("vx_error", "vy_error", "yaw_error", "vx_error_by_cmd", "survival_rate", "survival_time_s", "falls",
               "push_recovery_rate", "power_w", "cost_of_transport", "gait_freq_cmd_hz", "gait_freq_measured_hz",
               "gait_freq_error_hz", "seconds", "num_envs", "seed")
ROBOT_WEIGHT_N = 15.017 * 9.81


#: the sweeps of :func:`evaluate_actor` (vx, vy, yaw rate ranges); ``maa_go2.agility`` uses the full command space
BASIC_SWEEP = ((-1.0, 1.0), (-0.5, 0.5), (-1.0, 1.0))


def sweep_commands(num_envs: int, freq: float = 3.0, ranges=BASIC_SWEEP) -> tuple[np.ndarray, np.ndarray]:
    """Fixed trot commands ``[N,15]`` and sweep id per env (0: vx, 1: vy, 2: yaw), each sweep spread evenly over
    its ``ranges`` entry ``(lo, hi)``."""
    c = CommandRanges()
    cmd = np.zeros((num_envs, NUM_COMMANDS))
    group = np.arange(num_envs) % 3
    for g, (col, (lo, hi)) in enumerate(zip((0, 1, 2), ranges)):
        idx = np.flatnonzero(group == g)
        cmd[idx, col] = np.linspace(lo, hi, idx.size) if idx.size > 1 else 0.5 * (lo + hi)
    cmd[:, 4] = freq
    cmd[:, 5:8] = (0.5, 0.0, 0.0)
    cmd[:, 8] = 0.5
    cmd[:, 9] = 0.08
    cmd[:, 12] = c.stance_width[0]
    cmd[:, 13] = c.stance_length[0]
    return cmd, group


class ActorRunner:
    """Deterministic actor + frozen adaptation module: ``act(obs [N,70], history [N,H*70]) -> [N,12]``."""

    def __init__(self, layout: PolicyLayout, flat_params: np.ndarray, adaptation: AdaptationModule):
        expected = go2_actor_layout(adaptation.out_dim)
        if layout.obs_dim != expected.obs_dim or layout.action_dim != 12:
            raise ValueError(f"actor layout must take obs 70 + latent {adaptation.out_dim} = {expected.obs_dim} "
                             f"inputs and output 12 actions, got {layout.to_dict()}")
        self.actor = PolicyMLP(layout).load_flat(np.asarray(flat_params, dtype=np.float32)).eval()
        self.adaptation = adaptation.eval()

    @torch.no_grad()
    def act(self, obs: np.ndarray, history: np.ndarray) -> np.ndarray:
        o = torch.from_numpy(np.asarray(obs, dtype=np.float32))
        latent = self.adaptation(torch.from_numpy(np.asarray(history, dtype=np.float32)))
        return self.actor(torch.cat([o, latent], -1)).numpy()


def rollout_stats(env: MujocoGo2Env, runner: ActorRunner, steps: int, warmup: int) -> dict:
    """Run ``steps`` policy steps with the env's fixed commands; per-env statistics over the steps after
    ``warmup`` while alive: ``err [N,3]`` mean |vx, vy, yaw error|, ``alive``, ``first_fall`` [s],
    ``contact_match [N]`` (fraction of foot-steps whose contact agrees with the desired schedule),
    ``touch_rate [N]`` [Hz], plus ``falls``, ``power``, ``speed``."""
    n = env.num_envs
    alive = np.ones(n, bool)
    first_fall = np.full(n, steps * POLICY_DT)
    err = np.zeros((n, 3))
    cnt = np.zeros(n)
    power, speed, pcount = 0.0, 0.0, 0
    touchdowns = np.zeros(n)
    match = np.zeros(n)
    prev_contact = np.zeros((n, 4), bool)
    falls = 0
    obs, hist = env.obs.copy(), env.get_obs_history()
    for t in range(steps):
        obs, _, _, done, info = env.step(runner.act(obs, hist))
        hist = info["obs_history"]
        fell = info["fell"]
        falls += int(fell.sum())
        newly = fell & alive
        first_fall[newly] = (t + 1) * POLICY_DT
        alive &= ~fell
        if t >= warmup:
            m = alive
            meas = np.concatenate([info["base_lin_vel"][:, :2], info["base_ang_vel"][:, 2:3]], 1)
            err[m] += np.abs(info["commands"][m][:, [0, 1, 2]] - meas[m])
            cnt[m] += 1
            if m.any():
                power += float(np.abs(info["torques"][m] * info["dof_vel"][m]).sum(1).mean())
                speed += float(np.linalg.norm(info["base_lin_vel"][m][:, :2], axis=1).mean())
                pcount += 1
            contact = info["foot_force"] > 1.0
            touchdowns[m] += (contact & ~prev_contact)[m].sum(1) / 4.0
            match[m] += info["contact_match"][m]
            prev_contact = contact
        else:
            prev_contact = info["foot_force"] > 1.0
    return {"alive": alive, "first_fall": first_fall, "err": err / np.maximum(cnt, 1)[:, None], "cnt": cnt,
            "falls": falls, "power": power / max(pcount, 1), "speed": speed / max(pcount, 1),
            "touch_rate": touchdowns / np.maximum(cnt * POLICY_DT, 1e-9), "contact_match": match / np.maximum(cnt, 1)}


def evaluate_actor(layout: PolicyLayout, flat_params: np.ndarray, adaptation_module: AdaptationModule,
                   seconds: float = 20.0, num_envs: int = 48, seed: int = 0, push_seconds: float = 6.0) -> dict:
    """Evaluate one actor; see the module docstring for the returned keys. CPU cost ~ num_envs*seconds*50 steps."""
    if num_envs < 3 or seconds <= 1.0:
        raise ValueError(f"need num_envs >= 3 (three sweeps) and seconds > 1, got {num_envs}, {seconds}")
    runner = ActorRunner(layout, flat_params, adaptation_module)
    hist_len = adaptation_module.history_len
    cfg = evaluation_env_config(num_envs, seconds, hist_len)
    env = MujocoGo2Env(cfg, seed=seed)
    cmd, group = sweep_commands(num_envs)
    env.set_commands(cmd)
    env.reset()
    steps = int(round(seconds / POLICY_DT))
    r = rollout_stats(env, runner, steps, warmup=int(round(1.0 / POLICY_DT)))
    ok = r["cnt"] > 0
    vx_idx = np.flatnonzero((group == 0) & ok)
    res = {
        "vx_error": float(r["err"][vx_idx, 0].mean()) if vx_idx.size else float("nan"),
        "vy_error": float(r["err"][(group == 1) & ok, 1].mean()) if ((group == 1) & ok).any() else float("nan"),
        "yaw_error": float(r["err"][(group == 2) & ok, 2].mean()) if ((group == 2) & ok).any() else float("nan"),
        "vx_error_by_cmd": [[float(cmd[i, 0]), float(r["err"][i, 0])] for i in vx_idx],
        "survival_rate": float(r["alive"].mean()), "survival_time_s": float(r["first_fall"].mean()),
        "falls": int(r["falls"]), "power_w": r["power"],
        "cost_of_transport": r["power"] / (ROBOT_WEIGHT_N * max(r["speed"], 1e-3)),
        "gait_freq_cmd_hz": float(cmd[0, 4]),
        "gait_freq_measured_hz": float(r["touch_rate"][ok].mean()) if ok.any() else 0.0,
    }
    res["gait_freq_error_hz"] = abs(res["gait_freq_measured_hz"] - res["gait_freq_cmd_hz"])
    # push test: lateral/forward kicks of up to 1 m/s every 2 s
    pcfg = evaluation_env_config(num_envs, push_seconds, hist_len, push_interval_s=2.0, push_max_vel=1.0)
    penv = MujocoGo2Env(pcfg, seed=seed + 1)
    penv.set_commands(cmd)
    penv.reset()
    pr = rollout_stats(penv, runner, int(round(push_seconds / POLICY_DT)), warmup=0)
    res["push_recovery_rate"] = float(pr["alive"].mean())
    res.update({"seconds": float(seconds), "num_envs": int(num_envs), "seed": int(seed)})
    return res


def plot_report(result: dict, path: str) -> None:
    """PNG with the vx tracking sweep and a bar chart of the summary figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    by = np.array(result["vx_error_by_cmd"]) if result["vx_error_by_cmd"] else np.zeros((0, 2))
    ax[0].plot(by[:, 0], by[:, 1], "o-")
    ax[0].axhline(0.15, color="r", ls="--", label="target 0.15 m/s")
    ax[0].set_xlabel("commanded vx [m/s]")
    ax[0].set_ylabel("mean |vx error| [m/s]")
    ax[0].legend()
    keys = ["vx_error", "vy_error", "yaw_error", "survival_rate", "push_recovery_rate", "gait_freq_error_hz"]
    ax[1].bar(range(len(keys)), [result[k] for k in keys])
    ax[1].set_xticks(range(len(keys)), keys, rotation=30, ha="right")
    ax[1].set_title(f"{result['num_envs']} envs x {result['seconds']:.0f} s, seed {result['seed']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
