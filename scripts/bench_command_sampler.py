#!/usr/bin/env python
"""Cost of the shared command sampler (``maa_go2.curriculum.CommandSampler``) per policy step, for the train configs
given: track every env, finish a few segments, draw their new commands (what an engine does each step). Measure on an
otherwise idle machine.

    python scripts/bench_command_sampler.py config/go2_agility_v12_trot_pace.yaml config/go2_agility_v13_trot_pace.yaml
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from maa_go2.curriculum import CommandSampler
from maa_go2.train_config import load_train_config


def per_step_us(config: str, steps: int, envs: int, finished_per_step: int = 5) -> float:
    """Mean wall clock [us] of one policy step's sampler work with an open (vx, yaw) box."""
    env = load_train_config(config).env
    sampler = CommandSampler(env.commands, env.curriculum, np.random.default_rng(0), envs)
    if sampler.curriculum is not None:
        state = sampler.curriculum.state_dict()
        sampler.curriculum.load_state_dict({**state, "weights": np.ones_like(state["weights"])})
    commands = sampler.sample(envs)
    zeros = np.zeros((envs, 3))
    t0 = time.perf_counter()
    for k in range(steps):
        sampler.track(commands, zeros, zeros, np.zeros(envs))
        ids = (np.arange(finished_per_step) + k * finished_per_step) % envs
        sampler.steps[ids] = 100  # long enough to update the curriculum
        sampler.finish(ids, commands[ids], True)
        commands[ids] = sampler.sample(finished_per_step)
    return (time.perf_counter() - t0) / steps * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("configs", nargs="+", help="train configs (YAML)")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--envs", type=int, default=512)
    args = ap.parse_args()
    for config in args.configs:
        print(f"{config}: {per_step_us(config, args.steps, args.envs):.0f} us per policy step ({args.envs} envs)")


if __name__ == "__main__":
    main()
