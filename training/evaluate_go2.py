"""Sim2sim evaluation of a Go2 actor checkpoint on MuJoCo: JSON + PNG.

Example::

    python training/evaluate_go2.py --actor runs/go2_main/actors/actor_01000.safetensors \\
        --adaptation results/go2/adaptation_module.safetensors --out results/go2/eval
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from maa_core.weights_io import load_weights_file
from maa_go2.checkpoints import load_adaptation
from maa_go2.evaluation import evaluate_actor, plot_report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--actor", required=True, help="actor weights file (.safetensors, maa_core.weights_io)")
    ap.add_argument("--adaptation", required=True, help="adaptation module .safetensors")
    ap.add_argument("--out", required=True, help="output prefix: writes <out>.json and <out>.png")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--num-envs", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    actor = load_weights_file(args.actor)
    layout, flat, meta = actor.layout, actor.flat, actor.extra
    res = evaluate_actor(layout, flat, load_adaptation(args.adaptation), args.seconds, args.num_envs, args.seed)
    res["actor"], res["actor_meta"] = str(args.actor), meta
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=2))
    plot_report(res, str(out.with_suffix(".png")))
    print(json.dumps({k: res[k] for k in ("vx_error", "survival_rate", "push_recovery_rate", "gait_freq_error_hz")}))


if __name__ == "__main__":
    main()
