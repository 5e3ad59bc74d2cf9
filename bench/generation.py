"""Generation latency: trajectory in -> decoded flat policy weights out, `default` vs `paper` presets.

Randomly initialized generators (latency does not depend on training) on the MetaWorld SAC layout, one random
500-step trajectory. Measures p50/p99 ms for one policy (>= 30 reps after warm-up), seconds for 100 policies
from one prompt (K=100 in one batch) and peak RSS. Prints a final JSON line.

    python bench/generation.py [--reps 30] [--paper-reps 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch

from maa_core.layout import metaworld_sac_layout
from maa_core.prompt import Trajectory
from maa_generator.models.config import ModelConfig
from maa_generator.models.generator import Generator

ROOT = Path(__file__).resolve().parents[1]


def _trajectory(seed: int = 0, steps: int = 500) -> Trajectory:
    rng = np.random.default_rng(seed)
    success = np.zeros(steps, dtype=bool)
    success[steps // 2 :] = True
    return Trajectory(
        obs=rng.normal(size=(steps, 39)),
        act=rng.uniform(-1, 1, size=(steps, 4)),
        success=success,
        domain="metaworld",
        task="random",
    )


def _measure(gen: Generator, traj: Trajectory, reps: int, batch_reps: int) -> dict:
    for i in range(3):  # warm-up (allocator, oneDNN primitives)
        gen.generate(traj, num_candidates=1, seed=i)
    times = []
    for i in range(reps):
        t0 = time.perf_counter()
        out = gen.generate(traj, num_candidates=1, seed=i)
        times.append(time.perf_counter() - t0)
        assert out[0].flat.shape == (gen.layout.num_params,)
    gen.generate(traj, num_candidates=100, seed=0)  # warm-up at batch 100
    batch = []
    for i in range(batch_reps):
        t0 = time.perf_counter()
        out = gen.generate(traj, num_candidates=100, seed=i)
        batch.append(time.perf_counter() - t0)
        assert len(out) == 100
    ms = np.array(times) * 1e3
    return {
        "single_ms_p50": float(np.percentile(ms, 50)),
        "single_ms_p99": float(np.percentile(ms, 99)),
        "batch100_s": float(np.median(batch)),
        "params": gen.num_params(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=30, help="single-policy repetitions for `default`")
    ap.add_argument("--paper-reps", type=int, default=5, help="single-policy repetitions for `paper` (slow)")
    ap.add_argument("--batch-reps", type=int, default=3, help="K=100 repetitions (median reported)")
    # 1 thread by default: on a shared 2-core machine, 2 intra-op threads contend with other processes and are
    # several times slower (measured 200 ms vs 23 ms p50 for `default` at load average ~5).
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    layout = metaworld_sac_layout()
    traj = _trajectory()
    res = {}
    for preset, reps, breps in (("default", args.reps, args.batch_reps), ("paper", args.paper_reps, 1)):
        gen = Generator.build(layout, ModelConfig.from_yaml(ROOT / "config" / f"{preset}.yaml"))
        res[preset] = _measure(gen, traj, reps, breps)
        print(f"{preset}: {json.dumps(res[preset])}", flush=True)
        del gen
    d, p = res["default"], res["paper"]
    line = {
        "default_single_ms_p50": round(d["single_ms_p50"], 2),
        "default_single_ms_p99": round(d["single_ms_p99"], 2),
        "default_batch100_s": round(d["batch100_s"], 3),
        "paper_single_ms_p50": round(p["single_ms_p50"], 1),
        "paper_batch100_s": round(p["batch100_s"], 2),
        "speedup_single": round(p["single_ms_p50"] / d["single_ms_p50"], 1),
        "speedup_batch100": round(p["batch100_s"] / d["batch100_s"], 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "default_params": d["params"],
        "paper_params": p["params"],
        "threads": args.threads,
        "reps": args.reps,
        "paper_reps": args.paper_reps,
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
