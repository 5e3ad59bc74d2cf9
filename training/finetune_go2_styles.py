"""Fine-tune one Go2 style specialist per style of a grid (issue 13's behavior-diverse zoo), resumably.

Each style of ``config/go2_styles.yaml`` (``maa_go2.styles``; held-out ones too, which the zoo leaves out) becomes a
run directory under ``styles.out`` with an actor every ``save_interval`` iterations. Finished styles are skipped, an
interrupted one resumes from its own newest checkpoint (SIGTERM saves one and stops the whole job; run the same
command to go on), and ``STYLES_OUT/styles.json`` lists every style (``in_zoo`` false for held-out ones) with its
run, iterations and training wall clock.

Examples::

    python training/finetune_go2_styles.py --config config/go2_styles.yaml
    python training/finetune_go2_styles.py --config config/go2_styles.yaml --dump-configs runs/go2_styles_cfg
        (only write each specialist's resolved train config, e.g. for the Isaac Gym runner on a GPU box)
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import yaml
from tqdm import tqdm

from maa_core.atomic_io import atomic_write_text
from maa_core.config import ConfigError, add_config_arguments, load_config, to_dict
from maa_go2.styles import StyleSetConfig


def _summary(run: Path) -> dict:
    path = run / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def write_index(styles: StyleSetConfig) -> dict:
    """``styles.out/styles.json``: every style with its run directory, iterations done and training wall clock."""
    rows = []
    for style in styles.grid():
        done = _summary(styles.run_dir(style))
        rows.append({**style.as_dict(), "in_zoo": style.name not in styles.held_out,
                     "run_dir": str(styles.run_dir(style)),
                     "iterations": done.get("iterations", 0),
                     "train_wall_clock_s": done.get("train_wall_clock_s", 0.0)})
    index = {"observed": styles.observed, "init_from": styles.init_from, "target_iterations": styles.iterations,
             "styles": rows, "train_wall_clock_s": sum(r["train_wall_clock_s"] for r in rows),
             "config": to_dict(styles)}
    Path(styles.out).mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(styles.out) / "styles.json", json.dumps(index, indent=2))
    return index


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(ap, help="YAML with a styles: section (config/go2_styles.yaml); --set styles.KEY=VALUE")
    ap.add_argument("--dump-configs", default=None, help="write each specialist's resolved train config here and stop")
    args = ap.parse_args(argv)
    try:
        styles = load_config(StyleSetConfig, args.config, args.overrides, section="styles")
        configs = [(style, styles.train_config(style, k)) for k, style in enumerate(styles.grid())]
    except (ConfigError, ValueError) as exc:
        ap.error(str(exc))
    if args.dump_configs:
        out = Path(args.dump_configs)
        out.mkdir(parents=True, exist_ok=True)
        for style, cfg in configs:
            atomic_write_text(out / f"{style.name}.yaml", yaml.safe_dump({"train": to_dict(cfg)}, sort_keys=False))
        print(json.dumps({"written": len(configs), "folder": str(out)}))
        return 0
    from maa_go2.train import train  # MuJoCo and torch only when training here

    t0 = time.time()
    for style, cfg in tqdm(configs, desc="go2 styles", unit="style"):
        if _summary(Path(cfg.run_dir)).get("iterations", 0) >= cfg.iterations:
            continue
        summary = train(cfg, progress=False)
        write_index(styles)
        if summary.get("iterations", 0) < cfg.iterations:  # SIGTERM: the checkpoint is saved, stop the whole job
            print(json.dumps({"stopped_in": style.name, "iterations": summary.get("iterations", 0)}))
            return 1
    index = write_index(styles)
    print(json.dumps({"styles_trained": len(configs), "in_zoo": len(styles.zoo_styles()),
                      "train_wall_clock_s": round(index["train_wall_clock_s"], 1),
                      "this_sitting_s": round(time.time() - t0, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
