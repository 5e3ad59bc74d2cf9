#!/usr/bin/env python
"""Scripted robosuite experts (maa_manip.robosuite_experts): success and steps to success per task and arm.

    python bench/robosuite_experts.py                          # osc layout, 10 random configurations, 250 steps
    python bench/robosuite_experts.py --control joint --steps 500

Each (task, robot) runs ``--episodes`` episodes, configuration ``init_seed`` 0..N-1 (``init_mode`` random), until the
first success. Prints a markdown table and a final JSON line.
"""
from __future__ import annotations

import argparse
import json
import time


def run(task: str, robot: str, control: str, episodes: int, steps: int) -> dict:
    from maa_manip.robosuite_env import RobosuiteEnv
    from maa_manip.robosuite_experts import robosuite_expert

    expert = robosuite_expert(task, robot, control)
    t0, solved = time.perf_counter(), []
    for seed in range(episodes):
        env = RobosuiteEnv(task, robot, init_seed=seed, init_mode="random", max_steps=steps, control=control)
        state = env.reset()
        for t in range(steps):
            state, _, _, success = env.step(expert.get_action(state))
            if success:
                solved.append(t + 1)
                break
    return {"task": task, "robot": robot, "success": len(solved), "episodes": episodes,
            "mean_steps": round(sum(solved) / len(solved), 1) if solved else None,
            "seconds": round(time.perf_counter() - t0, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--control", choices=("osc", "joint"), default="osc")
    ap.add_argument("--tasks", default="Lift,NutAssemblySingle,Door")
    ap.add_argument("--robots", default="Panda,Sawyer")
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--steps", type=int, default=250)
    args = ap.parse_args(argv)
    rows = [run(t, r, args.control, args.episodes, args.steps)
            for t in args.tasks.split(",") for r in args.robots.split(",")]
    print(f"| task | robot | success ({args.control}, {args.steps} steps) | mean steps to success |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['task']} | {row['robot']} | {row['success']}/{row['episodes']} | {row['mean_steps']} |")
    print(json.dumps({"control": args.control, "steps": args.steps, "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
