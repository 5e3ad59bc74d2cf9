"""Train the Go2 walk-these-ways actor on MuJoCo (CPU). Resumes from the latest checkpoint in the run dir.

Examples::

    python training/train_go2.py --config config/go2_train.yaml
    python training/train_go2.py --config config/go2_tiny.yaml --set train.env.num_envs=8 --set evaluate.seconds=2
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from maa_core.config import ConfigError, add_config_arguments, load_config, load_yaml, override
from maa_go2.train import train
from maa_go2.train_config import load_train_config


@dataclass
class EvaluateSection:
    """The optional ``evaluate:`` section: after training, roll out the run's last actor for ``seconds`` in
    ``num_envs`` randomized environments (seed ``seed``)."""

    seconds: float = 20.0
    num_envs: int = 48
    seed: int = 0


def _evaluate(run_dir: str, section: EvaluateSection) -> dict:
    """Evaluate the run's last actor with its adaptation module (the ``evaluate:`` section)."""
    from maa_core.weights_io import load_weights_file
    from maa_go2.checkpoints import load_adaptation
    from maa_go2.evaluation import evaluate_actor, plot_report

    run = Path(run_dir)
    actor = sorted((run / "actors").glob("actor_*.safetensors"))[-1]
    adapt = sorted((run / "adaptation").glob("adaptation_*.safetensors"))[-1]
    weights = load_weights_file(actor)
    layout, flat = weights.layout, weights.flat
    res = evaluate_actor(layout, flat, load_adaptation(adapt), section.seconds, section.num_envs, section.seed)
    res["actor"] = str(actor)
    (run / "eval.json").write_text(json.dumps(res, indent=2))
    plot_report(res, str(run / "eval.png"))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    add_config_arguments(ap, help="YAML with a train: section and an optional evaluate: section (see "
                                  "config/go2_*.yaml); overrides: --set train.KEY=VALUE, --set evaluate.KEY=VALUE")
    ap.add_argument("--run-dir", default=None, help="= --set train.run_dir=DIR")
    ap.add_argument("--iterations", type=int, default=None, help="= --set train.iterations=N")
    ap.add_argument("--seed", type=int, default=None, help="= --set train.seed=N")
    ap.add_argument("--adaptation-init", default=None,
                    help="train against this frozen pretrained adaptation module; = --set train.adaptation_init=PATH")
    ap.add_argument("--no-resume", action="store_true", help="start from scratch even if checkpoints exist")
    args = ap.parse_args()
    shorthand = [override(f"train.{k}", getattr(args, k)) for k in ("run_dir", "iterations", "seed", "adaptation_init")
                 if getattr(args, k) is not None]
    try:
        cfg = load_train_config(args.config, shorthand + args.overrides)
        section = (load_config(EvaluateSection, args.config, args.overrides, section="evaluate")
                   if "evaluate" in load_yaml(args.config) else None)
    except ConfigError as exc:
        ap.error(str(exc))
    summary = train(cfg, resume=not args.no_resume)
    out = {k: summary.get(k) for k in ("iterations", "train_wall_clock_s", "env_steps")}
    if section is not None:
        res = _evaluate(cfg.run_dir, section)
        out.update({k: res[k] for k in ("vx_error", "survival_rate", "push_recovery_rate")})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
