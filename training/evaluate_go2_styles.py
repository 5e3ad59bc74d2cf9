"""Issue 13: do generated Go2 actors reproduce a prompted style better than retrieval? Seen and held-out styles.

Protocol (docs/go2_styles.md):

1. *Styles*: every held-out style of the style index (their specialists never entered the zoo) and ``--seen``
   zoo styles (one per gait, in grid order). A style's *source* is its specialist's newest actor.
2. *Prompts*: ``--prompts-per-style`` fresh rollouts of the source (seed ``--prompt-seed``, never a stored zoo
   prompt) with the zoo's collection commands (``--collect-config``), cut into the generator's segmented prompts.
3. *Reference*: the source's descriptors under the deploy-default commands (``maa_go2.style_eval``), rolled out with
   another seed than the scored rollouts.
4. *Methods*, each scored by ``maa_go2.style_eval.score_actor`` (style match vs the reference, vx / yaw sweeps,
   survival): ``generated`` (all K candidates), ``best_of_k`` (the candidate whose rollout best matches what the
   prompt shows, ``make_style_screener``), ``nn`` (the zoo checkpoint whose stored prompt is nearest in the
   generator's embedding space), ``random`` (a zoo checkpoint drawn without the prompt) and ``source``.

Results per actor are cached in ``--work`` (an interrupted run resumes). Writes ``--out/styles_eval.{md,png}`` and
merges the figures into ``--out/summary.json`` (keys ``{seen,heldout}_{method}_{behavior_match,vx_error,yaw_error,
survival}`` and ``num_checkpoints``). Example::

    python training/evaluate_go2_styles.py --generator runs/go2_styles_gen/generator --zoo runs/go2_zoo_styles \\
        --styles-index runs/go2_styles/styles.json --collect-config config/go2_collect_styles.yaml --out results/go2
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from evaluate_go2_generator import Cache, nearest_rows  # training/ is on sys.path when this file runs

from maa_core.prompt import segmented_prompt
from maa_core.weights_io import load_weights_file
from maa_generator.data.checkpoint import read_metadata
from maa_generator.data.zoo import Zoo
from maa_generator.models.generator import Generator
from maa_go2.checkpoints import load_adaptation
from maa_go2.collect import load_collect_config, rollout_actors
from maa_go2.style_eval import (
    FIGURES,
    METHODS,
    actor_behavior,
    descriptors_from_values,
    make_style_screener,
    method_figure,
    score_actor,
    summarize,
)


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generator", required=True, help="Generator.save directory")
    ap.add_argument("--zoo", required=True, help="the style zoo (config/go2_collect_styles.yaml)")
    ap.add_argument("--styles-index", required=True, help="styles.json of training/finetune_go2_styles.py")
    ap.add_argument("--collect-config", default="config/go2_collect_styles.yaml",
                    help="the zoo's collection config (prompt commands, adaptation module)")
    ap.add_argument("--adaptation", default=None, help="adaptation module (default: the collection config's)")
    ap.add_argument("--out", default="results/go2")
    ap.add_argument("--work", default="runs/go2_styles_eval", help="cache directory (resume)")
    ap.add_argument("--seen", type=int, default=4, help="zoo styles evaluated (one per gait first)")
    ap.add_argument("--styles", default=None,
                    help="comma-separated style names to evaluate instead (e.g. validation styles); each is 'seen' "
                         "or 'heldout' by the index's in_zoo")
    ap.add_argument("--guidance", type=float, default=None,
                    help="classifier-free guidance weight at sampling (default: the generator's own)")
    ap.add_argument("--prompts-per-style", type=int, default=2)
    ap.add_argument("--candidates", type=int, default=4, help="K generated candidates per prompt")
    ap.add_argument("--behavior-seconds", type=float, default=4.0)
    ap.add_argument("--behavior-envs", type=int, default=8)
    ap.add_argument("--sweep-seconds", type=float, default=8.0)
    ap.add_argument("--sweep-envs", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0, help="evaluation seed")
    ap.add_argument("--prompt-seed", type=int, default=1000, help="rollout seed of the prompts")
    ap.add_argument("--command", default=None, help="command line recorded in summary.json")
    return ap.parse_args(argv)


def eval_styles(index: dict, seen: int, names: list[str] | None = None) -> list[tuple[str, dict]]:
    """``(split, style row)``: every held-out style, then up to ``seen`` zoo styles, one per gait first; or the
    styles ``names`` (split from each row's ``in_zoo``).

    Raises:
        ValueError: a name that is not in the index.
    """
    rows = index["styles"]
    if names is not None:
        by_name = {r["name"]: r for r in rows}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ValueError(f"unknown styles {unknown}; the index has {sorted(by_name)}")
        return [("seen" if by_name[n]["in_zoo"] else "heldout", by_name[n]) for n in names]
    held = [("heldout", r) for r in rows if not r["in_zoo"]]
    zoo_rows, picked, gaits = [r for r in rows if r["in_zoo"]], [], set()
    for r in zoo_rows:  # one per gait, then the rest in grid order
        if r["gait"] not in gaits and len(picked) < seen:
            picked.append(r)
            gaits.add(r["gait"])
    picked += [r for r in zoo_rows if r not in picked][:max(0, seen - len(picked))]
    return held + [("seen", r) for r in picked]


def generator_fingerprint(generator_dir: str | Path) -> str:
    """First 12 hex digits of the SHA-256 of a generator's weights, as its ``config.json`` records it (checked by
    ``Generator.load``); names the generator in the result cache."""
    return str(read_metadata(generator_dir)["sha256"])[:12]


def newest_actor(run_dir: str) -> Path:
    files = sorted(Path(run_dir, "actors").glob("actor_*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no actors in {run_dir}/actors; train the styles first (finetune_go2_styles.py)")
    return files[-1]


def style_number(index: dict, name: str) -> int:
    """Position of style ``name`` in the index (its prompts' rollout seed offset, independent of what else runs)."""
    return [r["name"] for r in index["styles"]].index(name)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.monotonic()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = Cache.in_folder(args.work)
    ccfg = load_collect_config(args.collect_config)
    adaptation = load_adaptation(args.adaptation or ccfg.adaptation)
    gen = Generator.load(args.generator)
    e = gen.config.embedding
    zoo = Zoo.open(args.zoo)
    names = [f"{m['run']}_it{m.get('step', 0)}" for m in zoo.metadata]
    zp = np.asarray(zoo.params(), dtype=np.float32)
    zh, zv = (np.asarray(a, dtype=np.float32) for a in zoo.prompts())
    index = json.loads(Path(args.styles_index).read_text())
    screener = make_style_screener(adaptation, e.n_steps, seed=args.seed + 5)
    # cache keys name everything a result depends on: the scoring protocol, and for generated actors the generator
    # file, the guidance weight and the prompt seed (a rerun with another generator never reads stale results)
    protocol = f"e{args.seed}_b{args.behavior_seconds:g}x{args.behavior_envs}_s{args.sweep_seconds:g}x{args.sweep_envs}"
    gen_tag = f"{generator_fingerprint(args.generator)}_w{args.guidance}"
    names_arg = [n.strip() for n in args.styles.split(",") if n.strip()] if args.styles else None

    def scored(key: str, flat: np.ndarray, reference) -> dict:
        return cache.get(f"{protocol}/{key}", lambda: score_actor(
            gen.layout, flat, adaptation, reference, args.behavior_seconds, args.behavior_envs, args.sweep_seconds,
            args.sweep_envs, args.seed))

    per_prompt = []
    for split, style in eval_styles(index, args.seen, names_arg):
        name = style["name"]
        number = style_number(index, name)
        style_seed = args.prompt_seed + number
        source = load_weights_file(newest_actor(style["run_dir"])).flat.astype(np.float32)
        ref_values = cache.get(f"{protocol}/ref/{name}", lambda s=source: actor_behavior(
            gen.layout, s, adaptation, args.behavior_seconds, args.behavior_envs, args.seed + 777)[0].values())
        reference = descriptors_from_values(ref_values)
        k = args.prompts_per_style
        roll = rollout_actors(np.stack([source] * k), gen.layout, adaptation, ccfg, seed=style_seed)
        hv = [segmented_prompt(roll["obs"][i], roll["act"][i], e.n_steps, e.m_states, e.segments) for i in range(k)]
        h, v = np.stack([a for a, _ in hv]), np.stack([b for _, b in hv])
        nn_idx = nearest_rows(gen, h, v, zh, zv)
        rand_idx = np.random.default_rng([args.seed, number]).integers(0, len(zp), size=k)
        for p in range(k):
            pols = gen.generate_from_prompts(h[p:p + 1], v[p:p + 1], args.candidates, seed=style_seed * 1000 + p,
                                             guidance_scale=args.guidance)
            flats = np.stack([g.flat for g in pols]).astype(np.float32)
            gkey = f"{gen_tag}/{name}/s{style_seed}/p{p}"
            screen = cache.get(f"screen/{gkey}", lambda f=flats, hp=h[p]: screener(gen.layout, f, hp).tolist())
            best = int(np.nanargmax(screen)) if np.isfinite(screen).any() else 0
            row = {"split": split, "style": name, "prompt": p, "screen_scores": screen, "best_of_k": best,
                   "candidates": [scored(f"gen/{gkey}/k{c}", flats[c], reference) for c in range(len(flats))],
                   "nn_checkpoint": names[nn_idx[p]], "random_checkpoint": names[rand_idx[p]],
                   "nn": scored(f"zoo/{names[nn_idx[p]]}/ref_{name}", zp[nn_idx[p]], reference),
                   "random": scored(f"zoo/{names[rand_idx[p]]}/ref_{name}", zp[rand_idx[p]], reference),
                   "source": scored(f"source/{name}", source, reference)}
            per_prompt.append(row)
            print(json.dumps({"style": name, "split": split, "prompt": p, "nn": row["nn_checkpoint"],
                              **{m: round(method_figure(row, m, "behavior_match"), 3) for m in METHODS}}), flush=True)
    write_outputs(args, out, per_prompt, zoo.num_checkpoints, time.monotonic() - t0)
    return 0


def write_outputs(args, out: Path, per_prompt: list, num_ckpt: int, wall: float) -> None:
    """Merge the figures into summary.json; styles_eval.md (table) and styles_eval.png."""
    figures = summarize(per_prompt)
    path = out / "summary.json"
    summary = json.loads(path.read_text()) if path.is_file() else {}
    summary.update(figures)
    summary.update({"num_checkpoints": num_ckpt, "styles_eval": {
        "per_prompt": per_prompt, "generator": args.generator, "zoo": args.zoo, "eval_wall_clock_s": round(wall, 1),
        "protocol": {k: getattr(args, k) for k in ("seen", "styles", "prompts_per_style", "candidates",
                                                   "guidance", "behavior_seconds", "behavior_envs", "sweep_seconds",
                                                   "sweep_envs", "seed", "prompt_seed")},
        "command": args.command or "python " + " ".join(sys.argv)}})
    path.write_text(json.dumps(summary, indent=1))
    lines = [f"Command: `{summary['styles_eval']['command']}`", "",
             f"Zoo: {num_ckpt} checkpoints. Each cell: mean over the split's prompts.", "",
             "| split | method | behavior match | vx error [m/s] | yaw error [rad/s] | survival |",
             "|---|---|---|---|---|---|"]
    for split in ("heldout", "seen"):
        for method in METHODS:
            vals = [figures[f"{split}_{method}_{fig}"] for fig in FIGURES]
            lines.append(f"| {split} | {method} | " + " | ".join(f"{x:.3f}" for x in vals) + " |")
    (out / "styles_eval.md").write_text("\n".join(lines) + "\n")
    plot(figures, out / "styles_eval.png")


def plot(figures: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
    for ax, split in zip(axes, ("heldout", "seen")):
        vals = [figures[f"{split}_{m}_behavior_match"] for m in METHODS]
        ax.bar(METHODS, np.nan_to_num(vals), color=["C0", "C1", "C2", "C7", "C3"])
        ax.set_title(f"{split} styles")
        ax.set_ylim(0, 1)
        ax.tick_params(axis="x", rotation=20)
    axes[0].set_ylabel("style match with the prompt's source")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
