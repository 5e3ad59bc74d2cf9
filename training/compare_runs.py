#!/usr/bin/env python
"""Compare generator variants evaluated with the same MetaWorld protocol (``training/evaluate.py`` outputs).

    python training/compare_runs.py --out results/metaworld/unet_ablation small=DIR1 paper=DIR2 [--steps 1500]

Each ``NAME=DIR`` is an evaluation directory holding ``results.json`` with a ``maa`` method (its config names the
generator). Per arm: seen/unseen means of top-5, top-10, qualified rate and mean success, the diffusion UNet's
parameter count and the measured time to generate one policy (p50 of ``--repeats`` calls, this machine). Writes
``summary.json``, ``results.md`` and ``quality_vs_speed.png`` into ``--out``; prints the summary as the last line.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def split_means(results: dict, method: str = "maa") -> dict:
    """``{split: {metric: mean over tasks}}`` of one method in an evaluate.py ``results`` dict."""
    from maa_manip.evaluation import average_over_tasks

    out = {}
    for split, by_method in results.items():
        by_task = by_method.get(method)
        if not by_task:
            raise SystemExit(f"no {method!r} results for the {split} tasks; evaluate with --generator")
        out[split] = {k: round(v, 4) for k, v in average_over_tasks(by_task).items()}
    return out


def time_generation(generator_dir: Path, prompt: Path, repeats: int, threads: int) -> tuple[float, int]:
    """(p50 ms to generate one policy from ``prompt``, diffusion UNet parameter count) on this machine."""
    import torch

    from maa_core.prompt_io import load_prompt
    from maa_generator.models.generator import Generator

    torch.set_num_threads(threads)
    gen = Generator.load(generator_dir)
    traj = load_prompt(prompt)
    gen.generate([traj], num_candidates=1, seed=0)  # warm-up
    times = []
    for k in range(repeats):
        t0 = time.perf_counter()
        gen.generate([traj], num_candidates=1, seed=k)
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.percentile(times, 50)), int(sum(p.numel() for p in gen.diffusion.unet.parameters()))


def markdown(arms: dict, command: str) -> str:
    lines = [f"Command: `{command}`\n",
             "| arm | UNet params | ms / policy | seen top-5 | seen mean | unseen top-5 | unseen top-10 | "
             "unseen qualified | unseen mean |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, a in arms.items():
        s, u = a["seen"], a["unseen"]
        lines.append(f"| {name} | {a['unet_params'] / 1e6:.2f}M | {a['ms_per_policy']:.1f} | {s['top5']:.2f} | "
                     f"{s['mean']:.3f} | {u['top5']:.2f} | {u['top10']:.2f} | {u['qualified']:.2f} | "
                     f"{u['mean']:.3f} |")
    return "\n".join(lines) + "\n"


def plot(arms: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, a in arms.items():
        for split, marker in (("seen", "o"), ("unseen", "s")):
            ax.scatter(a["ms_per_policy"], a[split]["mean"], marker=marker)
            ax.annotate(f"{name} ({split})", (a["ms_per_policy"], a[split]["mean"]), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("ms to generate one policy (this CPU, log)")
    ax.set_ylabel("mean success of generated policies")
    ax.set_title("UNet size: quality vs speed (same data, same protocol)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("arms", nargs="+", metavar="NAME=EVAL_DIR")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=None, help="optimizer steps per arm (recorded)")
    ap.add_argument("--command", default="")
    ap.add_argument("--prompt", default=str(ROOT / "prompts/metaworld_door-open.npz"), help="timing prompt")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    arms = {}
    for spec in args.arms:
        name, sep, d = spec.partition("=")
        if not sep:
            raise SystemExit(f"arm {spec!r}: expected NAME=EVAL_DIR")
        res_path = Path(d) / "results.json"
        if not res_path.is_file():
            raise SystemExit(f"arm {name}: {res_path} does not exist (evaluate it first)")
        res = json.loads(res_path.read_text())
        gen_dir = Path(res["config"]["generator"])
        gen_dir = gen_dir if gen_dir.is_absolute() else ROOT / gen_dir
        ms, params = time_generation(gen_dir, Path(args.prompt), args.repeats, args.threads)
        arms[name] = {**split_means(res["results"]), "unet_params": params, "ms_per_policy": round(ms, 2),
                      "generator": str(res["config"]["generator"]), "eval_dir": d,
                      "num_prompts": res["config"]["num_prompts"], "episodes": res["config"]["episodes"]}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"steps_per_arm": args.steps, "command": args.command, "arms": arms}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "results.md").write_text("# Diffusion UNet size ablation (MetaWorld)\n\n" + markdown(arms, args.command))
    plot(arms, out / "quality_vs_speed.png")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
