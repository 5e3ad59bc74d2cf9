#!/usr/bin/env python
"""Choose an agility run's actor among its last saved ones on a selection seed, so that the report's seed stays
unseen by the choice (a run's final iterate is one draw: neighbouring actors differ by ~0.04 on several figures).

    python scripts/select_go2_actor.py --run runs/go2_agility_v14 --last 10 --seed 2 \\
        --randomization config/go2_agility_v2.yaml --out results/go2/selection_v14_seed2
    # then the report, on another seed, of the chosen actor:
    python training/evaluate_go2_agility.py --run runs/go2_agility_v14 --actor <chosen> --seed 1 ...

Each candidate gets the whole agility report (``maa_go2.agility.agility_report``) on the selection seed. The choice:
most targets met (``evaluate_go2_agility.TARGETS``, training cost left out: every candidate has the same budget), then
the smallest summed shortfall of the missed ones, each relative to its target. Results are saved after each actor
(``<out>.json``; a rerun skips those done) and tabled in ``<out>.md``; the chosen actor's path is printed last.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tqdm import tqdm

from maa_core.atomic_io import atomic_write_text
from maa_core.weights_io import load_weights_file
from maa_go2.agility import agility_report
from maa_go2.checkpoints import load_adaptation
from maa_go2.evaluation import ActorRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from evaluate_go2_agility import TARGETS, check_targets, evaluation_randomization, newest  # noqa: E402

#: the figures a candidate is chosen on (the budget is the same for every actor of one run)
SELECTION_TARGETS = [k for k in TARGETS if k != "train_wall_clock_s"]


def shortfall(targets: dict) -> float:
    """Summed relative shortfall of the missed targets of :func:`check_targets`'s output (0 when all are met)."""
    total = 0.0
    for key in SELECTION_TARGETS:
        t = targets.get(key)
        if t is None or t["met"]:
            continue
        goal = TARGETS[key][1]
        total += abs(t["value"] - goal) / abs(goal)
    return total


def rank_key(targets: dict) -> tuple[int, float]:
    """Sort key, smaller is better: (-targets met, shortfall)."""
    met = sum(bool(targets[k]["met"]) for k in SELECTION_TARGETS if k in targets)
    return -met, shortfall(targets)


def table(rows: dict, chosen: str) -> list[str]:
    keys = ["yaw_error", "fast_backward_success", "mismatch_survival_rate", "gait_contact_match_min",
            "turn_in_place_success", "slalom_mat_success", "vx_error"]
    out = ["| actor | targets met | shortfall | " + " | ".join(keys) + " |", "|---|---|---|" + "---|" * len(keys)]
    for name, t in rows.items():
        met, short = rank_key(t)
        mark = " (chosen)" if name == chosen else ""
        out.append(f"| `{Path(name).name}`{mark} | {-met}/{len(SELECTION_TARGETS)} | {short:.3f} | "
                   + " | ".join(f"{t[k]['value']:.3f}" for k in keys) + " |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="agility run folder (actors/, adaptation/)")
    ap.add_argument("--last", type=int, default=10, help="how many of the newest saved actors compete")
    ap.add_argument("--seed", type=int, default=2, help="selection seed: not the seed of the report")
    ap.add_argument("--num-envs", type=int, default=96)
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--randomization", default=None, metavar="CONFIG",
                    help="train config whose env.domain_rand the robots draw from (as evaluate_go2_agility.py)")
    ap.add_argument("--out", required=True, help="output prefix: <out>.json, <out>.md")
    args = ap.parse_args()
    if args.last < 1:
        ap.error(f"--last must be >= 1, got {args.last}")
    run = Path(args.run)
    actors = sorted((run / "actors").glob("actor_*.safetensors"))[-args.last:]
    if not actors:
        raise SystemExit(f"no actors in {run / 'actors'}; expected actor_*.safetensors from training")
    adaptation = load_adaptation(newest(run / "adaptation", "adaptation_*.safetensors"))
    domain_rand, source = evaluation_randomization(args.randomization, run)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    saved = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").is_file() else {}
    if saved and (saved.get("seed"), saved.get("randomization")) != (args.seed, source):
        raise SystemExit(f"{out.with_suffix('.json')} holds seed {saved.get('seed')} / {saved.get('randomization')}; "
                         f"this call asks for seed {args.seed} / {source}: choose another --out")
    rows = saved.get("targets", {})
    t0 = time.time()
    for actor in tqdm(actors, desc="actors"):
        if str(actor) in rows:
            continue
        w = load_weights_file(actor)
        report = agility_report(ActorRunner(w.layout, w.flat, adaptation), num_envs=args.num_envs,
                                seconds=args.seconds, episodes=args.episodes, seed=args.seed, domain_rand=domain_rand)
        rows[str(actor)] = check_targets(report)
        atomic_write_text(out.with_suffix(".json"), json.dumps(
            {"run": str(run), "seed": args.seed, "randomization": source, "num_envs": args.num_envs,
             "episodes": args.episodes, "targets": rows}, indent=2))
    chosen = min(rows, key=lambda name: rank_key(rows[name]))
    lines = [f"Command: `python {' '.join(sys.argv)}`", "",
             f"Selection seed {args.seed}, {args.num_envs} robots, {args.episodes} episodes per scenario, robots from "
             f"{source}; {time.time() - t0:.0f} s in this call. Chosen: most targets met, then the smallest summed "
             "relative shortfall of the missed ones.", "", *table(rows, chosen), ""]
    atomic_write_text(out.with_suffix(".md"), "\n".join(lines))
    print(chosen)


if __name__ == "__main__":
    main()
