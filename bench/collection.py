#!/usr/bin/env python
"""SAC collection throughput: our batched multi-seed SAC vs Stable-Baselines3 SAC, same run, same hyper-parameters.

Both: MetaWorld reach-v3 (fixed init), actor and critics 128x128, batch 128, lr 3e-4, gamma 0.99, tau 0.005,
automatic entropy, one gradient update per agent step, one torch thread. Throughput counts agent steps (env step
+ its update) per second of wall time after the random warm-up steps. Prints a final JSON line with
``ours_steps_per_s``, ``sb3_steps_per_s`` and ``speedup`` (wall clock) plus the same per CPU-second of this
process (``*_per_cpu_s``: "per core", robust to a shared machine). About 1-2 minutes on one free core.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch


def bench_ours(seeds: int, steps: int, warmup: int) -> float:
    from maa_manip.config import CollectConfig, SacConfig
    from maa_manip.sac import train_sac

    cfg = CollectConfig(tasks=["reach"], sac=SacConfig(total_steps=warmup, num_seeds=seeds, random_steps=warmup,
                                                       test_every=10**9, ckpt_every=10**9))
    # warm-up run (random steps only) is excluded by timing a second, longer run's learning phase difference
    t0, c0 = time.time(), time.process_time()
    train_sac("reach", list(range(seeds)), cfg, steps=warmup)
    t_warm, c_warm = time.time() - t0, time.process_time() - c0
    t0, c0 = time.time(), time.process_time()
    train_sac("reach", list(range(seeds)), cfg, steps=warmup + steps)
    t_all, c_all = time.time() - t0, time.process_time() - c0
    return steps * seeds / max(t_all - t_warm, 1e-9), steps * seeds / max(c_all - c_warm, 1e-9)


def bench_sb3(steps: int, warmup: int) -> float:
    import gymnasium as gym
    from stable_baselines3 import SAC

    from maa_manip.envs import MetaWorldEnv

    class Env(gym.Env):
        observation_space = gym.spaces.Box(-np.inf, np.inf, (39,), np.float32)
        action_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)

        def __init__(self):
            self.env = MetaWorldEnv("reach", 0, "fixed")

        def reset(self, seed=None, options=None):
            return self.env.reset(), {}

        def step(self, action):
            obs, rew, done, succ = self.env.step(action)
            return obs, rew, False, done, {"success": succ}

    kwargs = dict(learning_rate=3e-4, buffer_size=100_000, batch_size=128, tau=0.005, gamma=0.99, train_freq=1,
                  gradient_steps=1, ent_coef="auto", policy_kwargs={"net_arch": [128, 128]}, device="cpu",
                  verbose=0, seed=0)
    model = SAC("MlpPolicy", Env(), learning_starts=warmup, **kwargs)
    t0, c0 = time.time(), time.process_time()
    model.learn(total_timesteps=warmup)
    t_warm, c_warm = time.time() - t0, time.process_time() - c0
    model = SAC("MlpPolicy", Env(), learning_starts=warmup, **kwargs)
    t0, c0 = time.time(), time.process_time()
    model.learn(total_timesteps=warmup + steps)
    return (steps / max(time.time() - t0 - t_warm, 1e-9),
            steps / max(time.process_time() - c0 - c_warm, 1e-9))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=16, help="seeds trained together by our batched SAC")
    ap.add_argument("--steps", type=int, default=400, help="learning steps per seed (ours)")
    ap.add_argument("--sb3-steps", type=int, default=1500)
    ap.add_argument("--warmup", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ours = bench_ours(args.seeds, args.steps, args.warmup)
    sb3 = bench_sb3(args.sb3_steps, args.warmup)
    print(json.dumps({"ours_steps_per_s": round(ours[0], 1), "sb3_steps_per_s": round(sb3[0], 1),
                      "speedup": round(ours[0] / sb3[0], 2), "ours_steps_per_cpu_s": round(ours[1], 1),
                      "sb3_steps_per_cpu_s": round(sb3[1], 1), "speedup_cpu": round(ours[1] / sb3[1], 2),
                      "ours_seeds": args.seeds, "torch_threads": 1,
                      "task": "reach-v3", "batch": 128, "hidden": [128, 128], "updates_per_step": 1}))


if __name__ == "__main__":
    main()
