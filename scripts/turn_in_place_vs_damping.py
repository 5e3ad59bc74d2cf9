"""Turn in place (4 s at 1.5 rad/s, 20 randomized episodes) of an agility-run actor on robots with added passive
joint damping in the MuJoCo model, as the model-error evaluation applies it.

    python scripts/turn_in_place_vs_damping.py 2928 [--run runs/go2_agility] [--damping 0 0.5 1.0]
"""
from __future__ import annotations

import argparse
import json
from unittest import mock

import torch

from maa_core.weights_io import load_weights_file
from maa_go2 import scenarios
from maa_go2.checkpoints import load_adaptation
from maa_go2.evaluation import ActorRunner
from maa_go2.mismatch import apply_mismatch


def turn_with_damping(runner: ActorRunner, damping: float, episodes: int = 20, seed: int = 0) -> dict:
    """:func:`maa_go2.scenarios.turn_in_place` with ``damping`` [N.m.s/rad] added to every leg joint."""
    original = scenarios.ScenarioRunner.__init__

    def damped(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if damping:
            apply_mismatch(self.env, {"joint_damping": damping})

    with mock.patch.object(scenarios.ScenarioRunner, "__init__", damped):
        return scenarios.turn_in_place(runner, episodes, seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("iteration", type=int)
    ap.add_argument("--run", default="runs/go2_agility")
    ap.add_argument("--damping", type=float, nargs="+", default=[0.0, 0.5, 1.0])
    args = ap.parse_args()
    torch.set_num_threads(2)
    weights = load_weights_file(f"{args.run}/actors/actor_{args.iteration:05d}.safetensors")
    adaptation = load_adaptation(f"{args.run}/adaptation/adaptation_{args.iteration:05d}.safetensors")
    runner = ActorRunner(weights.layout, weights.flat, adaptation)
    for damping in args.damping:
        res = turn_with_damping(runner, damping)
        print(json.dumps({"iteration": args.iteration, "joint_damping": damping, "success": res["success"],
                          "heading_change_rad_mean": round(res["heading_change_rad_mean"], 2)}), flush=True)


if __name__ == "__main__":
    main()
