"""A side-by-side clip of the demo's two style prompts: each prompt's source specialist next to an actor generated
from that prompt by the bundled generator, all walking at 0.5 m/s with the same seed (docs/go2_styles.md).

    python training/render_go2_styles.py --out docs/media/go2_styles.gif

Sources: ``trot_h30_s110`` (prompts/go2_style_tall_trot.npz) and ``pronk_h-50_s60``
(prompts/go2_style_crouched_pronk.npz), newest actors in ``runs/go2_styles``. Per-actor clips and a top view go to
``--work``.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import torch
from evaluate_go2_styles import newest_actor  # training/ is on sys.path when this file runs

from maa_core.prompt_io import load_prompt
from maa_core.weights_io import load_weights_file
from maa_generator.media import configure_gl
from maa_generator.models.generator import Generator
from maa_go2.checkpoints import load_adaptation
from maa_go2.rendering import write_actor_clips

STYLES = (("trot", "trot_h30_s110", "prompts/go2_style_tall_trot.npz"),
          ("pronk", "pronk_h-50_s60", "prompts/go2_style_crouched_pronk.npz"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generator", default="models/go2/generator")
    ap.add_argument("--adaptation", default="models/go2/adaptation.safetensors")
    ap.add_argument("--styles-dir", default="runs/go2_styles")
    ap.add_argument("--out", default="docs/media/go2_styles.gif")
    ap.add_argument("--work", default="runs/go2_styles_media")
    ap.add_argument("--seconds", type=float, default=4.0)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    configure_gl()
    gen, adaptation = Generator.load(args.generator), load_adaptation(args.adaptation)
    actors = {}
    for short, style, prompt in STYLES:
        actors[f"{short}_source"] = load_weights_file(newest_actor(f"{args.styles_dir}/{style}")).flat
        actors[f"{short}_generated"] = gen.generate([load_prompt(prompt)], num_candidates=1, seed=0)[0].flat
    actors = {k: np.asarray(v, dtype=np.float32) for k, v in actors.items()}
    info = write_actor_clips(gen.layout, actors, adaptation, args.work, "go2_styles", seconds=args.seconds,
                             fps=15.0, width=192, height=144)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(args.work) / info["side_by_side"], args.out)
    print(json.dumps({"out": args.out, "notes": info["notes"], "bytes": Path(args.out).stat().st_size}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
