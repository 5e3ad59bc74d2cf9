#!/usr/bin/env python
"""MetaWorld demo: generate policies from a bundled prompt with the bundled generator and evaluate them.

    python scripts/demo_metaworld.py                       # models/metaworld/generator + prompts/metaworld_*.npz
    python scripts/demo_metaworld.py --prompt prompts/metaworld_door-close.npz --candidates 8 --episodes 3

Loads ``models/metaworld/generator`` (``Generator.load``), reads one prompt trajectory (``maa.prompt/1`` .npz),
samples ``--candidates`` policies (diffusion seed ``--seed``), runs each for ``--episodes`` random initial
configurations of the prompt's task (deterministic action, 500 steps, stop at success) and prints a table of
per-policy success rates plus top-1/top-5/mean. Takes well under two minutes on one CPU core.

It then renders the best policy (offscreen, docs/visuals.md): a clip of one episode and a plot of its hand path
against the prompt's, in ``--media-dir`` (default runs/demo/); ``--no-render`` or ``MAA_NO_RENDER=1`` switches
that off. The last printed line stays the JSON summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_GENERATOR = ROOT / "models" / "metaworld" / "generator"


def default_prompt() -> Path:
    """The first bundled ``prompts/metaworld_*.npz`` (sorted); raises if none is bundled."""
    found = sorted((ROOT / "prompts").glob("metaworld_*.npz"))
    if not found:
        raise SystemExit(f"no bundled prompt prompts/metaworld_*.npz under {ROOT}")
    return found[0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generator", default=str(DEFAULT_GENERATOR))
    ap.add_argument("--prompt", help="prompt .npz (default: the bundled prompts/metaworld_*.npz)")
    ap.add_argument("--candidates", type=int, default=8, help="policies to generate")
    ap.add_argument("--episodes", type=int, default=3, help="random initial configurations per policy")
    ap.add_argument("--steps", type=int, default=500, help="episode length [env steps]")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-render", action="store_true", help="no clip / path plot (also: MAA_NO_RENDER=1)")
    ap.add_argument("--media-dir", default=str(ROOT / "runs" / "demo"), help="where the clip and the plot go")
    args = ap.parse_args(argv)
    if args.candidates < 1 or args.episodes < 1 or args.steps < 1:
        raise SystemExit("--candidates, --episodes and --steps must be >= 1")

    import torch

    from maa_core.prompt_io import load_prompt
    from maa_generator.models.generator import Generator
    from maa_manip.evaluation import evaluate_policies

    torch.set_num_threads(1)
    prompt_path = Path(args.prompt) if args.prompt else default_prompt()
    traj = load_prompt(prompt_path)
    if traj.domain != "metaworld" or not traj.task:
        raise SystemExit(
            f"{prompt_path}: expected a MetaWorld prompt with a task name, got domain={traj.domain!r} "
            f"task={traj.task!r}"
        )
    t0 = time.time()
    gen = Generator.load(args.generator)
    policies = gen.generate(traj, args.candidates, args.seed)
    t_gen = time.time() - t0
    flat = np.stack([p.flat for p in policies])
    t1 = time.time()
    succ = evaluate_policies(traj.task, flat, args.episodes, args.seed, args.steps).mean(1)
    t_eval = time.time() - t1
    print(f"MetaWorld demo: task {traj.task}, prompt {prompt_path.name}, generator {args.generator}")
    print(
        f"{args.candidates} policies generated in {t_gen:.2f} s, evaluated on {args.episodes} random "
        f"configurations each in {t_eval:.1f} s"
    )
    print("| policy | success |\n|---|---|")
    for i, s in enumerate(succ):
        print(f"| {i} | {s:.2f} |")
    ranked = np.sort(succ)[::-1]
    summary = {
        "task": traj.task,
        "candidates": args.candidates,
        "episodes": args.episodes,
        "top1": float(ranked[0]),
        "top5": float(ranked[:5].mean()),
        "mean": float(succ.mean()),
        "generate_s": round(t_gen, 3),
        "evaluate_s": round(t_eval, 1),
        "prompt_novelty": None if policies[0].prompt_novelty is None else round(policies[0].prompt_novelty, 3),
    }
    print(f"top-1 {summary['top1']:.2f}  top-5 {summary['top5']:.2f}  mean {summary['mean']:.2f}  prompt novelty "
          f"{summary['prompt_novelty']} (about 1 = like the training prompts)")
    from maa_generator.media import no_render_requested

    if not (args.no_render or no_render_requested()):
        render_best(traj, flat[int(np.argmax(succ))], int(np.argmax(succ)), args)
    print(json.dumps(summary))
    return 0


def render_best(traj, flat: np.ndarray, index: int, args) -> None:
    """Clip + hand-path plot of policy ``index`` (``flat [P]``) in one configuration; prints files and cost."""
    from maa_generator.media import RenderError, configure_gl, write_clip

    t0 = time.perf_counter()
    try:
        from maa_manip.rendering import plot_ee_paths, render_episode

        backend = configure_gl()
        ep = render_episode(traj.task, flat, args.seed, args.steps)
        out = Path(args.media_dir)
        out = out.relative_to(Path.cwd()) if out.is_absolute() and out.is_relative_to(Path.cwd()) else out
        clip, plot = out / f"metaworld_{traj.task}.gif", out / f"metaworld_{traj.task}_paths.png"
        t1 = time.perf_counter()
        write_clip(ep.frames, clip)
        ep.stats.encode_s += time.perf_counter() - t1
        plot_ee_paths(traj, {f"policy {index}": ep.trajectory}, plot,
                      f"{traj.task}: hand path of generated policy {index} vs the prompt's")
    except RenderError as exc:
        print(f"rendering skipped: {exc}", file=sys.stderr)
        return
    except Exception as exc:  # noqa: BLE001 - the pictures are an extra: they never change the demo's outcome
        print(f"rendering failed ({type(exc).__name__}: {exc}); the figures above are unaffected", file=sys.stderr)
        return
    outcome = f"success at {ep.success_step * ep.trajectory.dt:.2f} s" if ep.success_step is not None else "no success"
    print(f"clip of the best policy ({index}): {clip} ({ep.stats.frames} frames, {outcome}); hand path vs the "
          f"prompt's: {plot}")
    print(f"rendering added {time.perf_counter() - t0:.1f} s ({backend}: {ep.stats.ms_per_frame:.0f} ms per frame, GIF "
          f"{ep.stats.encode_s:.1f} s); off with --no-render or MAA_NO_RENDER=1")


if __name__ == "__main__":
    sys.exit(main())
