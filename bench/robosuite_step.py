#!/usr/bin/env python
"""Robosuite stepping: maa_manip.robosuite_fast.FastStepper + soft resets vs robosuite's own env.step + hard resets.

Same task, robot and action sequence for both (random actions in [-1, 1], fixed seed); reports control steps per
second and seconds per reset, wall clock and per CPU-second of this process (``*_per_cpu_s``: robust to a shared
machine), and checks that the two stepping paths stay bit-identical on the way (``identical``: states, observations,
rewards). About 1 minute on one free core. Prints a final JSON line.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _timed(fn, n: int) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n, (time.process_time() - c0) / n


def run(task: str, robot: str, steps: int, resets: int) -> dict:
    from maa_manip.robosuite_env import RobosuiteEnv
    from maa_manip.robosuite_fast import FastStepper

    slow = RobosuiteEnv(task, robot, init_seed=0, fast=False)
    fast = RobosuiteEnv(task, robot, init_seed=0, fast=True)
    same_scene = RobosuiteEnv(task, robot, init_seed=0, fast=False)  # hard-reset scene stepped by FastStepper
    stepper = FastStepper(same_scene._env)
    actions = np.clip(np.random.default_rng(0).normal(0.0, 0.7, (steps, 8)), -1.0, 1.0)
    slow.reset()
    same_scene.reset()
    identical = True
    for a in actions:  # equality check, not timed
        o_s, r_s, _, _ = slow._env.step(a)
        o_f, r_f, _, _ = stepper.step(a)
        identical &= bool(np.array_equal(slow._env.sim.data.qpos, same_scene._env.sim.data.qpos) and r_s == r_f)
    it = iter(actions)
    slow.reset()
    step_slow = _timed(lambda: slow.step(next(it)), steps)
    it = iter(actions)
    fast.reset()
    step_fast = _timed(lambda: fast.step(next(it)), steps)
    reset_slow = _timed(slow.reset, resets)
    reset_fast = _timed(fast.reset, resets)
    return {"task": task, "robot": robot, "steps": steps, "identical": identical,
            "robosuite_steps_per_s": round(1 / step_slow[0], 1), "fast_steps_per_s": round(1 / step_fast[0], 1),
            "robosuite_steps_per_cpu_s": round(1 / step_slow[1], 1), "fast_steps_per_cpu_s": round(1 / step_fast[1], 1),
            "step_speedup": round(step_slow[0] / step_fast[0], 2),
            "robosuite_reset_s": round(reset_slow[0], 3), "fast_reset_s": round(reset_fast[0], 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--resets", type=int, default=3)
    args = ap.parse_args()
    rows = [run(task, robot, args.steps, args.resets) for task, robot in (("Lift", "Panda"), ("Door", "Sawyer"))]
    for r in rows:
        print(f"{r['task']:>5} {r['robot']:<6} robosuite {r['robosuite_steps_per_s']:7.1f} steps/s, fast "
              f"{r['fast_steps_per_s']:7.1f} steps/s (x{r['step_speedup']}), reset {r['robosuite_reset_s']} s -> "
              f"{r['fast_reset_s']} s, identical: {r['identical']}")
    print(json.dumps({"runs": rows}))


if __name__ == "__main__":
    main()
