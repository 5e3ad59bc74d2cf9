"""How each Go2 style specialist walks under the deploy defaults, read from its observations as a prompt is read.

Every style of a style index (``training/finetune_go2_styles.py``) and the agility actor it was fine-tuned from walk
10 s at vx = 0.5 m/s with the deploy node's default commands on the randomized MuJoCo Go2
(``record_go2_prompt.record``, the recording the bundled prompts come from); after 1 s,
:func:`maa_go2.style_eval.observed_gait` gives the step frequency, the leg lags behind FL and the stance height.
Writes ``--out`` (Markdown table with the command) and the same figures as JSON next to it. Example::

    python training/describe_go2_styles.py --styles-index runs/go2_styles/styles.json \\
        --base results/go2/agility_actor.safetensors --out results/go2/styles_gaits.md
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from evaluate_go2_styles import newest_actor  # training/ is on sys.path when this file runs
from record_go2_prompt import record

from maa_core.weights_io import load_weights_file
from maa_go2.checkpoints import load_adaptation
from maa_go2.style_eval import observed_gait

FIGURES = ("step_frequency", "lag_FR", "lag_RL", "lag_RR", "stance_height")


def describe(path: Path, adaptation, seed: int) -> dict:
    """``observed_gait`` of the actor file walking 10 s at 0.5 m/s (first second skipped), its mean vx, fall."""
    w = load_weights_file(path)
    r = record(w.layout, w.flat.astype(np.float32), adaptation, vx=0.5, seconds=10.0, seed=seed)
    settle = int(round(1.0 / 0.02))
    return {**observed_gait(r["obs"][settle:]), "vx": float(np.mean(r["vx"][settle:])), "fell": bool(r["fell"])}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--styles-index", required=True, help="styles.json of training/finetune_go2_styles.py")
    ap.add_argument("--base", default=None, help="the actor the styles were fine-tuned from (a row of its own)")
    ap.add_argument("--adaptation", default="results/go2/agility_adaptation.safetensors")
    ap.add_argument("--out", default="results/go2/styles_gaits.md")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    adaptation = load_adaptation(args.adaptation)
    index = json.loads(Path(args.styles_index).read_text())
    rows = [("base", "-", Path(args.base))] if args.base else []
    rows += [(s["name"], "zoo" if s["in_zoo"] else "held out", newest_actor(s["run_dir"])) for s in index["styles"]]
    table = {}
    for name, split, path in rows:
        table[name] = {"split": split, "actor": str(path), **describe(path, adaptation, args.seed)}
        print(json.dumps({"style": name, **{k: round(table[name][k], 3) for k in (*FIGURES, "vx")}}), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(table, indent=1))
    lines = [f"Command: `python {' '.join(sys.argv)}`", "",
             "Walked 10 s at vx = 0.5 m/s under the deploy defaults (trot clock at 3 Hz, body height 0, swing 0.08 m), "
             "randomized MuJoCo Go2, after 1 s; read from the observations (`maa_go2.style_eval.observed_gait`). "
             "Lags in cycles behind FL (trot 0.5 / 0.5 / 0, pronk 0 / 0 / 0); stance height = hip-to-foot depth [m].",
             "", "| style | split | step freq [Hz] | lag FR | lag RL | lag RR | stance height [m] | vx [m/s] | fell |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in table.items():
        lines.append(f"| {name} | {r['split']} | " + " | ".join(f"{r[k]:.3f}" for k in (*FIGURES, "vx"))
                     + f" | {'yes' if r['fell'] else 'no'} |")
    out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
