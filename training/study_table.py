#!/usr/bin/env python
"""Tabulate methods evaluated with the same MetaWorld protocol, task by task (``training/evaluate.py`` outputs).

    python training/study_table.py --out results/metaworld/unseen_study/validation --split unseen \\
        retrieval=runs/val/baselines:retrieval "maa w=1"=runs/val/rn_w1:maa ...

Each arm is ``NAME=EVAL_DIR[:METHOD]`` (method default ``maa``). Per arm and task of ``--split``: top-5 success of
single policies, plus the arm's means over tasks of top-5 and mean success, the evaluated generator and guidance
weight. Writes ``summary.json``, ``results.md`` and ``top5.png`` into ``--out``; prints the summary as the last line.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def load_arm(spec: str, split: str) -> tuple[str, dict]:
    """``NAME=DIR[:METHOD]`` -> ``(name, {"tasks": {task: metrics}, "means": {...}, "generator", "guidance"})``."""
    from maa_manip.evaluation import average_over_tasks

    name, sep, rest = spec.rpartition("=")  # names may hold "=" (e.g. "w=0.5"), directories do not
    if not sep or not name:
        raise SystemExit(f"arm {spec!r}: expected NAME=EVAL_DIR[:METHOD]")
    d, _, method = rest.partition(":")
    path = Path(d) / "results.json"
    if not path.is_file():
        raise SystemExit(f"arm {name}: {path} does not exist (evaluate it first)")
    res = json.loads(path.read_text())
    by_task = res["results"].get(split, {}).get(method or "maa")
    if not by_task:
        raise SystemExit(f"arm {name}: no {method or 'maa'!r} results for the {split} tasks in {path}")
    cfg = res["config"]
    return name, {"tasks": by_task, "means": {k: round(v, 4) for k, v in average_over_tasks(by_task).items()},
                  "method": method or "maa", "eval_dir": d,
                  "generator": cfg.get("generator") if (method or "maa") == "maa" else None,
                  "guidance_scale": cfg.get("guidance_scale") if (method or "maa") == "maa" else None}


def markdown(arms: dict, split: str, command: str) -> str:
    tasks = list(next(iter(arms.values()))["tasks"])
    lines = [f"Command: `{command}`\n", f"Top-5 success of single policies on the {split} tasks.\n",
             "| arm | " + " | ".join(tasks) + " | **top-5 mean** | mean success |",
             "|---|" + "---:|" * (len(tasks) + 2)]
    for name, a in arms.items():
        cells = [f"{a['tasks'].get(t, {}).get('top5', float('nan')):.2f}" for t in tasks]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | **{a['means']['top5']:.3f}** | "
                     f"{a['means']['mean']:.3f} |")
    return "\n".join(lines) + "\n"


def plot(arms: dict, split: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(arms)
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(names) + 2), 3.8))
    ax.bar(np.arange(len(names)), [arms[n]["means"]["top5"] for n in names], color="tab:blue", label="top-5")
    ax.bar(np.arange(len(names)), [arms[n]["means"]["mean"] for n in names], color="tab:orange", width=0.5,
           label="mean success")
    ax.set_xticks(np.arange(len(names)), names, rotation=35, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_title(f"{split} tasks: mean over tasks")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("arms", nargs="+", metavar="NAME=EVAL_DIR[:METHOD]")
    ap.add_argument("--out", required=True)
    ap.add_argument("--split", default="unseen", choices=["seen", "unseen"])
    ap.add_argument("--command", default="")
    args = ap.parse_args(argv)
    arms = dict(load_arm(spec, args.split) for spec in args.arms)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"split": args.split, "command": args.command, "arms": arms}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "results.md").write_text(markdown(arms, args.split, args.command))
    plot(arms, args.split, out / "top5.png")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
