#!/usr/bin/env python
"""Collect robosuite SAC checkpoints (Panda) with prompts into a zoo, and evaluate them on Sawyer.

    python training/collect_robosuite.py --task Lift --steps 2000 --seeds 2 --ckpt-every 1000 --root /tmp/rs_zoo

Uses the batched multi-seed SAC of ``maa_manip.sac`` with a layout of ``maa_manip.robosuite_env`` (``--control``)
(paper hyper-parameters; ``--random-steps`` uniform warm-up). Every ``--ckpt-every`` steps each seed's actor is
tested deterministically on Panda in its fixed configuration (success + prompt from that episode) and on Sawyer
(``success_sawyer``). Writes one shard per (task, job seed); the last line printed is a JSON summary.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def episode(env, act_fn, steps: int):
    obs = env.reset()
    o_l, a_l, s_l = [], [], []
    for _ in range(steps):
        a = act_fn(obs)
        o_l.append(obs)
        a_l.append(a)
        obs, _, _, s = env.step(a)
        s_l.append(s)
    return np.stack(o_l), np.stack(a_l), np.asarray(s_l)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="Lift", choices=["Lift", "Door", "NutAssemblySingle"])
    ap.add_argument("--steps", type=int, default=1_000_000, help="agent steps per seed")
    ap.add_argument("--seeds", type=int, default=2, help="seeds trained together")
    ap.add_argument("--job-seed", type=int, default=0)
    ap.add_argument("--ckpt-every", type=int, default=10_000)
    ap.add_argument("--random-steps", type=int, default=5000)
    ap.add_argument("--episode-steps", type=int, default=500)
    ap.add_argument("--root", default="data/robosuite_sac_zoo")
    ap.add_argument("--control", choices=("osc", "joint"), default="osc",
                    help="state/action layout (maa_manip.robosuite_env)")
    args = ap.parse_args(argv)

    import torch

    from maa_core.prompt import success_prompt
    from maa_generator.data.zoo import ZooWriter, prompt_spec
    from maa_manip.config import SacConfig
    from maa_manip.robosuite_env import RobosuiteEnv, robosuite_sac_layout
    from maa_manip.sac import BatchedSAC, Replay

    torch.set_num_threads(1)
    layout = robosuite_sac_layout(args.control)
    obs_dim, act_dim = layout.obs_dim, layout.action_dim
    seeds = [args.job_seed * args.seeds + i for i in range(args.seeds)]
    cfg = SacConfig(total_steps=args.steps, num_seeds=args.seeds, random_steps=args.random_steps)
    agent = BatchedSAC(cfg, seeds, layout)
    buf = Replay(len(seeds), min(cfg.buffer_size, args.steps), torch.Generator().manual_seed(seeds[0]), obs_dim,
                 act_dim)
    envs = [RobosuiteEnv(args.task, "Panda", s, "fixed", args.episode_steps, control=args.control)
            for s in seeds]
    tests = [RobosuiteEnv(args.task, "Panda", s, "fixed", args.episode_steps, control=args.control)
            for s in seeds]
    sawyer = [RobosuiteEnv(args.task, "Sawyer", s, "fixed", args.episode_steps, control=args.control)
            for s in seeds]
    rng = np.random.default_rng(seeds[0])
    obs = np.stack([e.reset() for e in envs])[:, None]
    rows = {k: [] for k in ("params", "h", "v", "meta")}
    t0 = time.time()
    for step in range(1, args.steps + 1):
        act = (rng.uniform(-1, 1, (len(seeds), 1, act_dim)).astype(np.float32) if step <= args.random_steps
               else agent.act(obs))
        out = [e.step(a[0]) for e, a in zip(envs, act)]
        nobs = np.stack([o[0] for o in out])[:, None]
        buf.add(obs, act, np.array([[o[1]] for o in out]), nobs)
        obs = np.stack([e.reset() for e in envs])[:, None] if out[0][2] else nobs
        if step >= args.random_steps and buf.n >= cfg.batch_size:
            agent.update(buf.sample(cfg.batch_size))
        if step % args.ckpt_every == 0:
            flat = agent.actor.detach().numpy()
            for i, s in enumerate(seeds):
                def pol(o, f=flat[i]):
                    return layout.forward_numpy(f, o)

                o_, a_, s_ = episode(tests[i], pol, args.episode_steps)
                _, _, ss = episode(sawyer[i], pol, args.episode_steps)
                h, v = success_prompt(o_, a_, s_, 60, 3)
                rows["params"].append(flat[i].copy())
                rows["h"].append(h)
                rows["v"].append(v)
                rows["meta"].append({"seed": s, "step": step, "collector": "sac", "success": float(s_.any()),
                                     "success_sawyer": float(ss.any()), "robot": "Panda"})
            obs = np.stack([e.reset() for e in envs])[:, None]
    writer = ZooWriter(args.root, "robosuite", layout, prompt_spec("success", obs_dim, act_dim, 60, 3),
                       config=vars(args))
    n = 0
    if rows["params"]:
        meta = {k: [m[k] for m in rows["meta"]] for k in rows["meta"][0]}
        writer.add_shard(args.task, f"sac-s{args.job_seed:04d}", np.stack(rows["params"]), np.stack(rows["h"]),
                         np.stack(rows["v"]), meta)
        n = len(rows["params"])
    secs = time.time() - t0
    print(json.dumps({"root": str(Path(args.root)), "task": args.task, "checkpoints": n, "seconds": round(secs, 1),
                      "agent_steps_per_s": round(args.steps * len(seeds) / secs, 1),
                      "num_params": layout.num_params,
                      "success_panda": [m["success"] for m in rows["meta"]],
                      "success_sawyer": [m["success_sawyer"] for m in rows["meta"]]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
