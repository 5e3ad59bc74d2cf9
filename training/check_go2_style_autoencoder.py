"""How much of a style survives the generator's autoencoder: decode(encode(zoo actor)) walked against the source.

For each named style, the newest zoo checkpoint of that style is encoded and decoded by the generator's autoencoder
and both it and the original are scored like every evaluated actor: style match of a deploy-default rollout against
the style's source specialist (``maa_go2.style_eval``). The generated actors of a prompt can at best match what the
decoded zoo actors match (docs/go2_styles.md, "Choosing the generator"). Example::

    python training/check_go2_style_autoencoder.py --generator runs/go2_small_styles/generator \\
        --zoo runs/go2_zoo_styles --styles-index runs/go2_styles/styles.json --styles trot_h30_s110,pronk_h0_s110
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from evaluate_go2_styles import newest_actor  # training/ is on sys.path when this file runs

from maa_core.weights_io import load_weights_file
from maa_generator.data.zoo import Zoo
from maa_generator.models.generator import Generator
from maa_go2.checkpoints import load_adaptation
from maa_go2.style_eval import actor_behavior, style_match


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generator", required=True)
    ap.add_argument("--zoo", required=True)
    ap.add_argument("--styles-index", required=True)
    ap.add_argument("--styles", required=True, help="comma-separated zoo styles")
    ap.add_argument("--adaptation", default="results/go2/agility_adaptation.safetensors")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--envs", type=int, default=8)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    gen, adaptation, zoo = Generator.load(args.generator), load_adaptation(args.adaptation), Zoo.open(args.zoo)
    params = np.asarray(zoo.params(), dtype=np.float32)
    runs = {r["name"]: r for r in json.loads(Path(args.styles_index).read_text())["styles"]}
    rows = []
    for style in [s.strip() for s in args.styles.split(",") if s.strip()]:
        found = [i for i, m in enumerate(zoo.metadata) if m["run"] == style]
        if style not in runs or not found:
            raise SystemExit(f"error: {style!r} is not a zoo style of {args.zoo} (index {args.styles_index})")
        newest = max(found, key=lambda i: zoo.metadata[i]["step"])
        source = load_weights_file(newest_actor(runs[style]["run_dir"])).flat.astype(np.float32)
        reference, _ = actor_behavior(gen.layout, source, adaptation, args.seconds, args.envs, seed=777)
        with torch.inference_mode():
            decoded = gen.autoencoder.reconstruct(torch.from_numpy(params[newest:newest + 1])).numpy()[0]
        row = {"style": style, "zoo_step": zoo.metadata[newest]["step"],
               "cosine": float(decoded @ params[newest] / np.linalg.norm(decoded) / np.linalg.norm(params[newest]))}
        for tag, flat in (("zoo_match", params[newest]), ("decoded_match", decoded)):
            desc, _ = actor_behavior(gen.layout, flat, adaptation, args.seconds, args.envs, seed=0)
            row[tag] = float(style_match(desc, reference))
        rows.append(row)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    print(json.dumps({"mean_zoo_match": float(np.mean([r["zoo_match"] for r in rows])),
                      "mean_decoded_match": float(np.mean([r["decoded_match"] for r in rows]))}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
