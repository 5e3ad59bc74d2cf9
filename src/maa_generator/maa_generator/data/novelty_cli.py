"""Add a prompt-novelty bank (:mod:`maa_generator.data.novelty`) to a saved generator, from its training zoo's prompts.

    python -m maa_generator.data.novelty_cli --generator models/metaworld/generator --zoo data/metaworld_zoo \\
        --tasks reach door-open drawer-open button-press
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from maa_generator.data.novelty import DEFAULT_BANK_ROWS, NoveltyReference
from maa_generator.data.zoo import Zoo
from maa_generator.models.generator import Generator


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Add a prompt-novelty bank to a saved generator (from its training "
                                             "zoo's prompts).")
    ap.add_argument("--generator", required=True, help="generator directory (Generator.save)")
    ap.add_argument("--zoo", required=True, help="the zoo the generator was trained on")
    ap.add_argument("--tasks", nargs="*", help="the generator's training tasks (default: every task of the zoo)")
    ap.add_argument("--max-rows", type=int, default=DEFAULT_BANK_ROWS)
    args = ap.parse_args(argv)
    gen = Generator.load(args.generator)
    zoo = Zoo.open(args.zoo)
    view = zoo.filter(tasks=args.tasks) if args.tasks else zoo
    h, v = (torch.from_numpy(np.ascontiguousarray(x)) for x in view.prompts())
    with torch.inference_mode():
        cond = torch.cat([gen.embedding.embed(h[i:i + 1024], v[i:i + 1024]) for i in range(0, len(h), 1024)])
    ref = NoveltyReference.fit(cond, args.max_rows)
    path = ref.save(args.generator)
    print(json.dumps({"path": str(path), "rows": int(ref.bank.shape[0]), "scale": ref.scale,
                      "tasks": args.tasks or zoo.tasks}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
