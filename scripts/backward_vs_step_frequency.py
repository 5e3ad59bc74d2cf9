#!/usr/bin/env python
"""Fast backward (``maa_go2.scenarios.fast_backward``, the deploy path's ``cmd_vel``) at several commanded step
frequencies, for one agility run's newest actor: does a different deploy-side cadence close the backward gap?

    python scripts/backward_vs_step_frequency.py --run runs/go2_agility_v13 --freqs 2.0 2.5 3.0 3.5 4.0 \\
        --episodes 100 --seed 1 --randomization config/go2_agility_v2.yaml

Prints one markdown row per frequency: success, mean distance [m] of 5 m, survival.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from maa_core.weights_io import load_weights_file
from maa_go2 import scenarios
from maa_go2.checkpoints import load_adaptation
from maa_go2.evaluation import ActorRunner
from maa_go2.teleop import TeleopConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from evaluate_go2_agility import evaluation_randomization, newest  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="agility run folder (its newest actor and adaptation module)")
    ap.add_argument("--freqs", type=float, nargs="+", default=[2.0, 2.5, 3.0, 3.5, 4.0], help="step frequencies [Hz]")
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--randomization", default=None, metavar="CONFIG",
                    help="train config whose env.domain_rand the robots draw from (as evaluate_go2_agility.py)")
    args = ap.parse_args()
    run = Path(args.run)
    weights = load_weights_file(newest(run / "actors", "actor_*.safetensors"))
    runner = ActorRunner(weights.layout, weights.flat,
                         load_adaptation(newest(run / "adaptation", "adaptation_*.safetensors")))
    domain_rand, source = evaluation_randomization(args.randomization, run)
    print(f"{run}, robots from {source}, {args.episodes} episodes, seed {args.seed}\n")
    print("| step frequency [Hz] | success | distance [m] of 5 | survival |\n|---|---|---|---|")
    for freq in args.freqs:
        r = scenarios.fast_backward(runner, args.episodes, args.seed, domain_rand=domain_rand,
                                    teleop=TeleopConfig(gait_frequency=freq))
        print(f"| {freq:.1f} | {r['success']:.2f} | {r['distance_m_mean']:.2f} | {r['survival']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
