"""Train the Go2 walk-these-ways actor on MuJoCo (CPU). Resumes from the latest checkpoint in the run dir.

Example: ``python training/train_go2.py --config config/go2_train.yaml``
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from maa_core.config import load_yaml
from maa_go2.train import load_train_config, train


def _evaluate(run_dir: str, section: dict) -> dict:
    """Evaluate the run's last actor with its adaptation module (``evaluate:`` section: seconds, num_envs, seed)."""
    from maa_go2.checkpoints import load_actor, load_adaptation
    from maa_go2.evaluation import evaluate_actor, plot_report

    unknown = set(section) - {"seconds", "num_envs", "seed"}
    if unknown:
        raise ValueError(f"evaluate: unknown key(s) {sorted(unknown)}; expected seconds, num_envs, seed")
    run = Path(run_dir)
    actor = sorted((run / "actors").glob("actor_*.safetensors"))[-1]
    adapt = sorted((run / "adaptation").glob("adaptation_*.safetensors"))[-1]
    layout, flat, _ = load_actor(actor)
    res = evaluate_actor(layout, flat, load_adaptation(adapt), float(section.get("seconds", 20.0)),
                         int(section.get("num_envs", 48)), int(section.get("seed", 0)))
    res["actor"] = str(actor)
    (run / "eval.json").write_text(json.dumps(res, indent=2))
    plot_report(res, str(run / "eval.png"))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", required=True,
                    help="YAML with a train: section and an optional evaluate: section (see config/go2_*.yaml)")
    ap.add_argument("--run-dir", default=None, help="override train.run_dir")
    ap.add_argument("--iterations", type=int, default=None, help="override train.iterations")
    ap.add_argument("--seed", type=int, default=None, help="override train.seed")
    ap.add_argument("--adaptation-init", default=None,
                    help="train against this frozen pretrained adaptation module (overrides train.adaptation_init)")
    ap.add_argument("--no-resume", action="store_true", help="start from scratch even if checkpoints exist")
    args = ap.parse_args()
    over = {k: v for k, v in (("run_dir", args.run_dir), ("iterations", args.iterations), ("seed", args.seed),
                                        ("adaptation_init", args.adaptation_init))
            if v is not None}
    cfg = load_train_config(args.config, over)
    summary = train(cfg, resume=not args.no_resume)
    out = {k: summary.get(k) for k in ("iterations", "train_wall_clock_s", "env_steps")}
    section = load_yaml(args.config).get("evaluate")
    if section is not None:
        res = _evaluate(cfg.run_dir, section)
        out.update({k: res[k] for k in ("vx_error", "survival_rate", "push_recovery_rate")})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
