"""Benchmark: Go2 MuJoCo engine throughput with policy inference (actor + adaptation module) in the loop.

Prints a final JSON line: env_steps_per_s (policy steps of all envs per wall-clock second, 50 Hz policy, 4 physics
steps each), num_envs, and train_wall_clock_s of the long training run (results/go2/train_summary.json, else the
run's summary.json, else null).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from maa_go2.actor_critic import ActorCritic
from maa_go2.engines.mujoco_engine import MujocoGo2Env
from maa_go2.env_config import EnvConfig

ROOT = Path(__file__).resolve().parents[1]


def train_wall_clock() -> float | None:
    for p in (ROOT / "results/go2/train_summary.json", ROOT / "runs/go2_main/summary.json"):
        if p.is_file():
            return float(json.loads(p.read_text())["train_wall_clock_s"])
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--num-envs", type=int, default=512)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1, help="MjData worker threads for mujoco.rollout")
    args = ap.parse_args()
    torch.set_num_threads(1)
    env = MujocoGo2Env(EnvConfig(num_envs=args.num_envs), seed=0, nthread=args.threads)
    ac = ActorCritic(env.cfg.history_len)
    obs, hist = env.obs.copy(), env.get_obs_history()
    with torch.no_grad():
        for i in range(args.steps + 10):
            if i == 10:
                t0 = time.perf_counter()
            act = ac.actor(ac.actor_input(torch.from_numpy(obs), torch.from_numpy(hist))).numpy()
            obs, _, _, _, info = env.step(act)
            hist = info["obs_history"]
    dt = time.perf_counter() - t0
    print(json.dumps({"env_steps_per_s": round(args.num_envs * args.steps / dt, 1), "num_envs": args.num_envs,
                      "sim_threads": args.threads, "policy_hz": 50, "physics_steps_per_env_step": 4,
                      "train_wall_clock_s": train_wall_clock()}))


if __name__ == "__main__":
    main()
