#!/usr/bin/env python
"""Which training behaviors do generated and retrieved policies copy? (MetaWorld, no rollouts.)

    python training/behavior_modes.py --generator runs/metaworld_cfg_s0/generator --out results/metaworld/unseen_study

For each task: the evaluation prompts of ``--config`` (same selection and noise as ``training/evaluate.py``, both via
:func:`maa_manip.eval_protocol.task_prompts`), one generated policy per prompt, and the retrieval baseline's checkpoint
per prompt. Each generated policy is labelled with the task of its nearest training checkpoint (parameter cosine);
retrieved checkpoints carry their own task.
Also the prompts' novelty (``maa_generator.data.novelty``) when the generator has a bank. Writes
``behavior_modes.json``; prints it as the last line.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from maa_core.config import add_config_arguments

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--generator", required=True)
    add_config_arguments(ap, ROOT / "config" / "metaworld_eval_full.yaml", help="evaluation protocol YAML")
    ap.add_argument("--extra-tasks", nargs="*", default=[], help="more held-out tasks (e.g. the validation tasks)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    import torch

    from maa_generator.data.zoo import Zoo
    from maa_generator.models.generator import Generator
    from maa_manip.baselines import RetrievalBaseline
    from maa_manip.config import ConfigError, load_eval_config
    from maa_manip.eval_protocol import task_prompts
    from maa_manip.evaluation import nearest_cosine

    torch.set_num_threads(1)
    try:
        cfg = load_eval_config(args.config, args.overrides)
    except ConfigError as exc:
        ap.error(str(exc))
    zoo = Zoo.open(ROOT / cfg.zoo)
    bank = zoo.filter(tasks=cfg.seen_tasks)
    bank_params = np.asarray(bank.params())
    bank_task = np.array([m["task"] for m in bank.metadata])
    retrieval = RetrievalBaseline(bank_params, *(np.asarray(x) for x in bank.prompts()))
    gen = Generator.load(args.generator)
    report: dict = {"generator": args.generator, "config": args.config, "tasks": {}}
    rng, noise_rng = np.random.default_rng(cfg.seed), np.random.default_rng(cfg.seed + 1)  # as evaluate.py
    for task in cfg.seen_tasks + cfg.unseen_tasks + args.extra_tasks:
        _, trajs, h, v = task_prompts(zoo, task, cfg, rng, noise_rng)
        policies = gen.generate(trajs, 1, cfg.seed)
        cos, idx = nearest_cosine(np.stack([p.flat for p in policies]), bank_params)
        retrieved = retrieval.nearest(h, v)
        entry = {"generated_nearest_task": dict(Counter(map(str, bank_task[idx]))),
                 "generated_cos_to_nearest": round(float(cos.mean()), 4),
                 "retrieved_task": dict(Counter(map(str, bank_task[retrieved])))}
        if policies[0].prompt_novelty is not None:
            entry["prompt_novelty_mean"] = round(float(np.mean([p.prompt_novelty for p in policies])), 3)
        report["tasks"][task] = entry
        print(task, entry, flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "behavior_modes.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
