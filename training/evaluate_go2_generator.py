"""Evaluate a trained Go2 generator against the nearest-checkpoint retrieval baseline; writes results/go2/.

Protocol (every actor, generated or retrieved, is scored by ``maa_go2.evaluation.evaluate_actor``: randomized
MuJoCo Go2, pretrained adaptation module, ``--seconds`` s vx/vy/yaw sweeps + push test):

1. *Autoencoder check*: a few zoo checkpoints are encoded + decoded by the generator's autoencoder and evaluated.
2. *Held-out prompts*: fresh rollouts (new seed, so new trajectories, never the stored zoo prompts) of selected zoo
   checkpoints, cut into the zoo's segmented prompts.
3. *Generated*: ``K`` candidates per prompt, all evaluated; *best-of-K*: the candidate the demo's screener
   (``maa_generator.screening``, 3 s, score = survival - vx error) picks.
4. *Nearest-checkpoint baseline*: the zoo checkpoint whose stored prompt is nearest (cosine, in the generator's
   behaviour-embedding space) to the held-out prompt.

Per-actor results are cached in ``<work>/cache.json`` so an interrupted run resumes. ``--video DIR`` also writes,
for the first ``--video-prompts`` prompts, a clip of the best-of-K generated actor, the nearest checkpoint and the
prompt source walking at 0.5 m/s (same randomized physics), a side-by-side clip, a top-view plot of their paths and
``DIR/index.md`` (docs/visuals.md). Example::

    python training/evaluate_go2_generator.py --generator runs/go2_small/generator --zoo runs/go2_zoo \\
        --adaptation results/go2/adaptation_module.safetensors --out results/go2 [--video results/go2/clips]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from maa_core.prompt import segmented_prompt
from maa_generator.data.zoo import Zoo
from maa_generator.models.generator import Generator
from maa_generator.models.retrieval import NearestPrompt, generator_embed_fn
from maa_go2.checkpoints import load_adaptation
from maa_go2.collect import CollectConfig, rollout_actors
from maa_go2.evaluation import evaluate_actor
from maa_go2.screening import make_go2_screener

KEEP = ("vx_error", "vy_error", "yaw_error", "survival_rate", "survival_time_s", "push_recovery_rate")


class Cache:
    """JSON dict of evaluation results keyed by actor name (written after every entry)."""

    def __init__(self, path: Path):
        self.path = path
        self.data = json.loads(path.read_text()) if path.is_file() else {}

    @classmethod
    def in_folder(cls, folder: str | Path) -> Cache:
        """The cache ``folder/cache.json`` (the folder is created)."""
        Path(folder).mkdir(parents=True, exist_ok=True)
        return cls(Path(folder) / "cache.json")

    def get(self, key: str, fn) -> dict:
        if key not in self.data:
            self.data[key] = fn()
            self.path.write_text(json.dumps(self.data, indent=1))
        return self.data[key]


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generator", required=True, help="Generator.save directory")
    ap.add_argument("--zoo", required=True, help="Go2 zoo directory (runs/go2_zoo)")
    ap.add_argument("--adaptation", required=True, help="pretrained adaptation module .safetensors")
    ap.add_argument("--out", default="results/go2", help="writes summary.json, generator_eval.md/.png here")
    ap.add_argument("--work", default="runs/go2_generator_eval", help="cache directory (resume)")
    ap.add_argument(
        "--prompts",
        default="go2_main:-1,go2_main:-2,go2_seed1:-1,go2_seed2:-1,go2_seed3_frozen:-1,go2_seed4_frozen:-1",
        help="held-out prompt sources: run:index of zoo checkpoints",
    )
    ap.add_argument("--candidates", type=int, default=4, help="K generated candidates per prompt")
    ap.add_argument("--ae-check", type=int, default=3, help="zoo checkpoints to reconstruct + evaluate")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--num-envs", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0, help="evaluation seed")
    ap.add_argument("--prompt-seed", type=int, default=1000, help="rollout seed of the held-out prompts")
    ap.add_argument("--command", default=None, help="command line recorded in summary.json")
    ap.add_argument("--video", metavar="DIR", help="clips of generated vs retrieved actors for the first prompts")
    ap.add_argument("--video-prompts", type=int, default=2, help="prompts with clips (with --video)")
    ap.add_argument("--video-seconds", type=float, default=6.0, help="walk shown per clip, s (vx = 0.5 m/s)")
    return ap.parse_args(argv)


def zoo_rows(zoo: Zoo) -> list[tuple[str, int]]:
    """(run, step) per zoo row, in the zoo's row order."""
    return [(str(m["run"]), int(m.get("step", 0))) for m in zoo.metadata]


def pick_rows(spec: str, rows: list[tuple[str, int]]) -> list[int]:
    """Zoo row indices for ``run:index`` items (index into that run's rows, negative from the end)."""
    out = []
    for item in spec.split(","):
        run, idx = item.rsplit(":", 1)
        mine = [i for i, (r, _) in enumerate(rows) if r == run]
        if not mine:
            raise ValueError(f"--prompts: run {run!r} not in the zoo; runs: {sorted({r for r, _ in rows})}")
        out.append(mine[int(idx)])
    return out


def held_out_prompts(params: np.ndarray, adaptation, gen: Generator, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Fresh 10 s rollouts (commands resampled every 5 s) of ``params [B,P]`` -> prompts h ``[B,S,Dh]``, v."""
    e = gen.config.embedding
    roll = rollout_actors(params.astype(np.float32), gen.layout, adaptation, CollectConfig(seed=seed), seed=seed)
    hv = [
        segmented_prompt(roll["obs"][i], roll["act"][i], e.n_steps, e.m_states, e.segments) for i in range(len(params))
    ]
    return np.stack([h for h, _ in hv]), np.stack([v for _, v in hv])


def nearest_rows(gen: Generator, h: np.ndarray, v: np.ndarray, zh: np.ndarray, zv: np.ndarray) -> np.ndarray:
    """Index of the zoo prompt nearest (cosine, behaviour embedding) to each held-out prompt."""
    return NearestPrompt(zh, zv, generator_embed_fn(gen), "cosine").nearest(h, v)


def mean_of(results: list[dict], key: str) -> float:
    return float(np.mean([r[key] for r in results])) if results else float("nan")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.video:
        from maa_generator.media import RenderError, configure_gl

        try:  # fail before the long evaluation, not after it
            configure_gl()
        except RenderError as exc:
            raise SystemExit(f"--video: {exc}") from None
    torch.set_num_threads(1)
    t0 = time.monotonic()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = Cache.in_folder(args.work)
    gen = Generator.load(args.generator)
    adaptation = load_adaptation(args.adaptation)
    zoo = Zoo.open(args.zoo)
    rows = zoo_rows(zoo)
    zp = np.asarray(zoo.params(), dtype=np.float32)
    zh, zv = (np.asarray(a, dtype=np.float32) for a in zoo.prompts())

    def ev(flat: np.ndarray) -> dict:
        r = evaluate_actor(gen.layout, flat, adaptation, args.seconds, args.num_envs, args.seed)
        return {k: r[k] for k in KEEP}

    # 1. autoencoder check
    ae_rows = np.linspace(len(rows) - 1, 0, args.ae_check).astype(int).tolist() if args.ae_check else []
    with torch.no_grad():
        recon = gen.autoencoder.eval().reconstruct(torch.from_numpy(zp[ae_rows])).numpy() if ae_rows else []
    ae = []
    for j, i in enumerate(ae_rows):
        name = f"{rows[i][0]}_it{rows[i][1]}"
        ae.append(
            {
                "checkpoint": name,
                "original": cache.get(f"zoo/{name}", lambda i=i: ev(zp[i])),
                "decoded": cache.get(f"ae/{name}", lambda j=j: ev(recon[j])),
            }
        )
        print(json.dumps({"ae_check": ae[-1]}), flush=True)

    # 2-4. held-out prompts -> generated / best-of-K / nearest checkpoint
    src = pick_rows(args.prompts, rows)
    h, v = held_out_prompts(zp[src], adaptation, gen, args.prompt_seed)
    nn_idx = nearest_rows(gen, h, v, zh, zv)
    screener = make_go2_screener(seconds=3.0, adaptation_path=args.adaptation, num_envs=6, seed=0)
    per_prompt, videos = [], []
    for p, i in enumerate(src):
        name = f"{rows[i][0]}_it{rows[i][1]}"
        pols = gen.generate_from_prompts(h[p : p + 1], v[p : p + 1], args.candidates, seed=p)
        flats = np.stack([g.flat for g in pols])
        scores = screener(gen.layout, flats, None)
        best = int(np.nanargmax(scores)) if np.isfinite(scores).any() else 0
        cands = [cache.get(f"gen/{name}/k{k}", lambda k=k, f=flats: ev(f[k])) for k in range(len(flats))]
        nn_name = f"{rows[nn_idx[p]][0]}_it{rows[nn_idx[p]][1]}"
        per_prompt.append(
            {
                "prompt_source": name,
                "candidates": cands,
                "screen_scores": scores.tolist(),
                "best_of_k": best,
                "nearest_checkpoint": nn_name,
                "nearest": cache.get(f"zoo/{nn_name}", lambda j=nn_idx[p]: ev(zp[j])),
                "source": cache.get(f"zoo/{name}", lambda i=i: ev(zp[i])),
            }
        )
        print(
            json.dumps(
                {
                    "prompt": name,
                    "nn": nn_name,
                    "best": best,
                    "vx": [c["vx_error"] for c in cands],
                    "nn_vx": per_prompt[-1]["nearest"]["vx_error"],
                }
            ),
            flush=True,
        )
        if args.video and p < args.video_prompts:
            videos.append(prompt_video(args, gen, adaptation, name, flats[best], zp[nn_idx[p]], zp[i]))
    write_outputs(args, out, ae, per_prompt, zoo.num_checkpoints, time.monotonic() - t0)
    if args.video:
        from maa_generator.media import write_clip_index

        index = write_clip_index(Path(args.video) / "index.md", "Go2: generated vs retrieved actors", videos)
        print(f"clips: {index} ({len(videos)} prompts)", flush=True)
    return 0


def prompt_video(args, gen: Generator, adaptation, name: str, best: np.ndarray, nearest: np.ndarray,
                 source: np.ndarray) -> dict:
    """Clips of one prompt's best-of-K generated actor, nearest checkpoint and prompt source (flat ``[P]`` each);
    returns a ``write_clip_index`` section."""
    from maa_go2.rendering import write_actor_clips

    res = write_actor_clips(gen.layout, {"generated": best, "nearest": nearest, "source": source}, adaptation,
                            args.video, name, vx=0.5, seconds=args.video_seconds, seed=args.seed)
    print(json.dumps({"video": name, "notes": res["notes"], "render_s": round(res["stats"].total_s, 1)}), flush=True)
    return {"heading": f"prompt from {name}: best-of-K generated / nearest checkpoint / prompt source",
            "clips": res["clips"], "notes": res["notes"], "images": [res["side_by_side"], res["paths"]]}


def write_outputs(args, out: Path, ae: list, per_prompt: list, num_ckpt: int, wall: float) -> None:
    """summary.json, generator_eval.md (table), generator_eval.png."""
    ppo = json.loads((out / "eval.json").read_text()) if (out / "eval.json").is_file() else {}
    gen_all = [c for p in per_prompt for c in p["candidates"]]
    best = [p["candidates"][p["best_of_k"]] for p in per_prompt]
    nn = [p["nearest"] for p in per_prompt]
    srcs = [p["source"] for p in per_prompt]
    summary = {
        "vx_tracking_error_mean": ppo.get("vx_error"),
        "survival_rate_20s": ppo.get("survival_rate"),
        "ppo_actor": ppo.get("actor"),
        "num_checkpoints": num_ckpt,
        "generated_vx_tracking_error_mean": mean_of(gen_all, "vx_error"),
        "generated_survival_rate_mean": mean_of(gen_all, "survival_rate"),
        "generated_best_of_k_vx_tracking_error_mean": mean_of(best, "vx_error"),
        "generated_best_of_k_survival_rate_mean": mean_of(best, "survival_rate"),
        "nn_baseline_vx_tracking_error_mean": mean_of(nn, "vx_error"),
        "nn_baseline_survival_rate_mean": mean_of(nn, "survival_rate"),
        "prompt_source_vx_tracking_error_mean": mean_of(srcs, "vx_error"),
        "prompt_source_survival_rate_mean": mean_of(srcs, "survival_rate"),
        "ae_check": ae,
        "per_prompt": per_prompt,
        "protocol": {
            "evaluate_actor_seconds": args.seconds,
            "num_envs": args.num_envs,
            "seed": args.seed,
            "candidates": args.candidates,
            "prompt_seed": args.prompt_seed,
            "prompts": args.prompts,
            "screening": "3 s x 6 envs, score = survival_rate - vx_error",
        },
        "generator": args.generator,
        "eval_wall_clock_s": round(wall, 1),
        "command": args.command or "python " + " ".join(sys.argv),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    lines = ["| actors | n | vx error [m/s] | survival (20 s) | push recovery |", "|---|---|---|---|---|"]
    for label, rs in (
        ("PPO actor (seed 0, it 475)", [ppo] if ppo else []),
        ("prompt-source checkpoints", srcs),
        ("nearest-checkpoint baseline", nn),
        ("generated (all K)", gen_all),
        ("generated (best-of-K screened)", best),
    ):
        if rs:
            lines.append(
                f"| {label} | {len(rs)} | {mean_of(rs, 'vx_error'):.3f} | "
                f"{mean_of(rs, 'survival_rate'):.3f} | {mean_of(rs, 'push_recovery_rate'):.3f} |"
            )
    for a in ae:
        lines.append(
            f"| AE check {a['checkpoint']}: original / decoded | 1 | {a['original']['vx_error']:.3f} / "
            f"{a['decoded']['vx_error']:.3f} | {a['original']['survival_rate']:.3f} / "
            f"{a['decoded']['survival_rate']:.3f} | - |"
        )
    (out / "generator_eval.md").write_text("\n".join(lines) + "\n")
    plot(per_prompt, out / "generator_eval.png")


def plot(per_prompt: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    x = np.arange(len(per_prompt))
    for k in range(len(per_prompt[0]["candidates"]) if per_prompt else 0):
        ax[0].scatter(
            x,
            [p["candidates"][k]["vx_error"] for p in per_prompt],
            c="tab:blue",
            s=12,
            label="generated" if k == 0 else None,
        )
        ax[1].scatter(x, [p["candidates"][k]["survival_rate"] for p in per_prompt], c="tab:blue", s=12)
    for key, c, lab in (("nearest", "tab:orange", "nearest checkpoint"), ("source", "tab:green", "prompt source")):
        ax[0].scatter(x, [p[key]["vx_error"] for p in per_prompt], c=c, marker="x", label=lab)
        ax[1].scatter(x, [p[key]["survival_rate"] for p in per_prompt], c=c, marker="x")
    ax[0].scatter(
        x,
        [p["candidates"][p["best_of_k"]]["vx_error"] for p in per_prompt],
        facecolors="none",
        edgecolors="k",
        s=60,
        label="best-of-K",
    )
    for a, lab in zip(ax, ("mean |vx error| [m/s]", "survival rate (20 s)")):
        a.set_xticks(x, [p["prompt_source"] for p in per_prompt], rotation=30, ha="right", fontsize=7)
        a.set_ylabel(lab)
    ax[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
