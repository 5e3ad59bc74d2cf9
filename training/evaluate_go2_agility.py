"""The Go2 agility report (issue 12): one command writes ``<out>.json`` and ``<out>.png`` (+ the learning curve).

Example (the committed report, the sixteenth agility run's)::

    python training/evaluate_go2_agility.py --run runs/go2_agility_v16 --num-envs 96 --episodes 100 --seed 1 \\
        --randomization config/go2_agility_v2.yaml --out results/go2/agility

``--run`` takes the run's newest actor and adaptation module and its training cost (``summary.json``) and learning
curve (``curve.jsonl`` -> ``<out>_curve.png``); or give ``--actor`` and ``--adaptation`` files directly.
Keys and definitions: :mod:`maa_go2.agility`. ``--tiny`` runs a seconds-long smoke version (CI). The robots draw
their physics from the run's own training randomization (``--randomization`` to choose another, or ``default``).
``--mismatch-ablation`` runs only the model-error evaluation, each change alone, every change at once and with each
change left out in turn (:func:`maa_go2.mismatch.ablation_cases`), into ``<out>.json`` / ``<out>.md``; with
``--physics-substeps K`` on a K times finer MuJoCo step (a convergence check of the physics).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from maa_core.atomic_io import atomic_write_text
from maa_core.config import ConfigError
from maa_core.weights_io import load_weights_file
from maa_go2.agility import agility_report, mismatch, rate_intervals
from maa_go2.agility_plots import plot_agility, plot_curve
from maa_go2.checkpoints import load_adaptation
from maa_go2.control import SIM_DT
from maa_go2.evaluation import ActorRunner
from maa_go2.mismatch import MISMATCH_CASES, ablation_cases
from maa_go2.randomization import RandomizationConfig
from maa_go2.run_dir import lineage_curve
from maa_go2.train_config import load_train_config

TARGETS = {"vx_error": ("<=", 0.15), "vy_error": ("<=", 0.15), "yaw_error": ("<=", 0.2),
           "survival_rate": (">=", 0.98), "push_recovery_rate": (">=", 0.95), "gait_contact_match_min": (">=", 0.8),
           "turn_in_place_success": (">=", 0.9), "fast_backward_success": (">=", 0.9),
           "slalom_mat_success": (">=", 0.9), "mismatch_survival_rate": (">=", 0.95),
           "train_wall_clock_s": ("<=", 10800)}


def newest(folder: Path, pattern: str) -> Path:
    files = sorted(folder.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no {pattern} in {folder}; train first (training/train_go2.py)")
    return files[-1]


def training_cost(run: Path, actor: Path, rows: list[dict]) -> dict:
    """Env steps, wall clock and env-steps/s up to ``actor``'s iteration of ``run``, the stages ``run`` was fine-tuned
    from included (``rows``: ``maa_go2.run_dir.lineage_curve(run)``); ``train_stages`` gives each stage's share."""
    own = [r for r in rows if r["stage"] == str(run)]
    it = int(load_weights_file(actor).extra.get("iteration", own[-1]["stage_iteration"] if own else 0))
    upto = [r for r in rows if r["stage"] != str(run) or r["stage_iteration"] <= it]
    if not upto:
        summary = json.loads((run / "summary.json").read_text())
        return {"train_env_steps": summary["env_steps"], "train_wall_clock_s": summary["train_wall_clock_s"],
                "train_iterations": summary["iterations"]}
    last, stages, start = upto[-1], [], {"iteration": 0, "env_steps": 0, "wall_clock_s": 0.0}
    for k, r in enumerate(upto):
        if k + 1 == len(upto) or upto[k + 1]["stage"] != r["stage"]:
            stages.append({"run": r["stage"], "iterations": r["iteration"] - start["iteration"],
                           "env_steps": r["env_steps"] - start["env_steps"],
                           "wall_clock_s": round(r["wall_clock_s"] - start["wall_clock_s"], 2)})
            start = r
    return {"train_env_steps": last["env_steps"], "train_wall_clock_s": last["wall_clock_s"],
            "train_iterations": last["iteration"], "train_stages": stages,
            "train_env_steps_per_s": round(last["env_steps"] / max(last["wall_clock_s"], 1e-9), 1)}


def evaluation_randomization(choice: str | None, run: Path | None) -> tuple[RandomizationConfig | None, str]:
    """The robots' randomization and where it came from: ``choice`` 'default' (library defaults, no passive joint
    losses), a train config path, or None (the run's ``config.yaml`` when there is a run, else the defaults).

    The run's own is the right default: an actor trained with joint damping drawn from [0, 1] N.m.s/rad, judged only
    on lossless joints, is judged at the edge of what it was trained on."""
    path = Path(choice) if choice else (run / "config.yaml" if run is not None else None)
    if choice == "default" or path is None:
        return None, "library defaults"
    if not path.is_file():
        raise SystemExit(f"--randomization: no train config at {path}; expected a YAML with a train: section")
    try:
        return load_train_config(path).env.domain_rand, str(path)
    except ConfigError as exc:
        raise SystemExit(f"--randomization: {path}: {exc}") from exc


def check_targets(report: dict) -> dict:
    """``{key: {"value", "target", "met"}}`` for every target of the issue present in ``report``; rates also carry
    ``n`` and ``interval_95`` (:func:`maa_go2.agility.rate_intervals`). ``met`` judges the measured value."""
    out, intervals = {}, rate_intervals(report)
    for key, (op, target) in TARGETS.items():
        if key in report:
            value = report[key]
            out[key] = {"value": value, "target": f"{op} {target}",
                        "met": bool(value <= target if op == "<=" else value >= target), **intervals.get(key, {})}
    return out


def training_cost_text(report: dict) -> str:
    """The actor's training cost as one phrase; unknown when the actor was given without its run (``--actor``)."""
    steps, wall = report.get("train_env_steps"), report.get("train_wall_clock_s")
    if steps is None or wall is None:
        return "training cost not known: the actor was given without its run (--run gives it)"
    rate = report.get("train_env_steps_per_s")
    return (f"{steps / 1e6:.1f}M env steps, {wall:.0f} s of training wall clock"
            + (f", {rate:.0f} env-steps/s" if rate is not None else ""))


def mismatch_table(cases: dict) -> list[str]:
    """Markdown rows: survival and tracking errors per model-error case."""
    rows = ["| case | survival | vx error | vy error | yaw error |", "|---|---|---|---|---|"]
    for name, r in cases.items():
        rows.append(f"| {name} | {r['survival_rate']:.3f} | {r['vx_error']:.3f} | {r['vy_error']:.3f} | "
                    f"{r['yaw_error']:.3f} |")
    return rows


def robots_text(report: dict) -> str:
    rand = report.get("randomization", {})
    return (f"Robots: randomization from {rand.get('source', 'library defaults')} (passive joint damping "
            f"{rand.get('joint_damping')} N.m.s/rad, friction {rand.get('joint_friction')} N.m).")


def scenario_lines(scenarios: dict) -> list[str]:
    """One line per turn / backward run: through the deploy path's heading control, and open loop."""
    lines = []
    for suffix, how in (("", "deploy path (heading control on)"), ("_open_loop", "open loop (heading control off)")):
        turn, back = scenarios.get(f"turn_in_place{suffix}", {}), scenarios.get(f"fast_backward{suffix}", {})
        if "heading_gain" in turn:
            lines.append(f"* Turn in place, {how}: {turn['heading_change_rad_mean']:.2f} of {turn['target_rad']:.0f} "
                         f"rad on average.")
        if "heading_gain" in back:
            lines.append(f"* Fast backward, {how}: {back['distance_m_mean']:.2f} of {back['target_m']:.0f} m on "
                         f"average, mean heading drift {back['heading_drift_rad_mean']:.2f} rad.")
    return lines


def interval_text(entry: dict) -> str:
    """``"0.64-0.95 (20)"`` from a rate's ``interval_95`` and ``n``; empty for figures that are not rates."""
    if "interval_95" not in entry:
        return ""
    lo, hi = entry["interval_95"]
    return f"{lo:.2f}-{hi:.2f} ({entry['n']})"


def markdown(report: dict, command: str) -> str:
    """The report's targets, scenarios and model-error table as markdown (``<out>.md``)."""
    rows = ["| figure | measured | 95 % interval (n) | target | met |", "|---|---|---|---|---|"]
    intervals = rate_intervals(report)
    for key, v in report["targets"].items():
        value = v["value"]
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        rows.append(f"| `{key}` | {shown} | {interval_text(intervals.get(key, {}))} | {v['target']} | "
                    f"{'yes' if v['met'] else '**no**'} |")
    extra = [f"| `{k}` | {report[k]:.3f} | {interval_text(intervals.get(k, {}))} | | |"
             for k in ("yaw_error_worst", "gait_freq_error_hz_max", "turn_in_place_open_loop_success",
                       "fast_backward_open_loop_success")
             if isinstance(report.get(k), float)]
    back = scenario_lines(report["scenarios"])
    gaits = ", ".join(f"{g} {m:.2f}" for g, m in report["gait_contact_match"].items())
    lags = ["| gait | commanded lags FR, RL, RR | walked lags | mean lag error (cycles) |", "|---|---|---|---|"]
    for g, walked in report.get("gait_lags_measured", {}).items():
        lags.append(f"| {g} | {report['gait_lags_commanded'][g]} | {walked} | {report['gait_lag_error'][g]:.2f} |")
    by_freq = report.get("gait_contact_match_by_freq", {})
    freqs = sorted({f for v in by_freq.values() for f in v}, key=float)
    per_freq = [f"| gait | {' | '.join(f'{f} Hz: match, steps/s' for f in freqs)} |",
                f"|---|{'---|' * len(freqs)}"]
    fmt = lambda x, spec: "-" if x is None else format(x, spec)  # noqa: E731
    for g, row in by_freq.items():
        rates = report["gait_touch_rate_by_freq"][g]
        per_freq.append(f"| {g} | " + " | ".join(f"{fmt(row[f], '.2f')}, {fmt(rates[f], '.2f')}" for f in freqs)
                        + " |")
    mis = mismatch_table(report["mismatch"])
    cost = training_cost_text(report)
    return "\n".join([f"Command: `{command}`", "", f"Actor: `{report['actor']}` ({cost}).", "", robots_text(report), "",
                      *rows, *extra, "", *back, *([""] if back else []), f"Gait contact match: {gaits}.", "",
                      "By commanded step frequency (contact match; measured touchdowns per foot per second):", "",
                      *per_freq, "",
                      "Gaits walked at 3 Hz and 0.5 m/s (touchdown lags behind FL, from the contacts; "
                      "maa_go2.behavior):", "", *lags, "", "Model error:", "", *mis, ""])


def write_ablation(runner: ActorRunner, args, sizes: dict, domain_rand, randomization: dict, actor: Path,
                   t0: float) -> None:
    """``--mismatch-ablation``: :func:`maa_go2.agility.mismatch` over each single case, :func:`ablation_cases`
    -> <out>.json / .md."""
    cases = {**{k: v for k, v in MISMATCH_CASES.items() if k != "all"}, **ablation_cases()}
    report = mismatch(runner, sizes["num_envs"], sizes["seconds"], args.seed, cases, domain_rand,
                      physics_substeps=args.physics_substeps)
    report.update({"randomization": randomization, "actor": str(actor), "num_envs": sizes["num_envs"],
                   "seconds": sizes["seconds"], "seed": args.seed, "physics_substeps": args.physics_substeps,
                   "eval_wall_clock_s": round(time.time() - t0, 1)})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out.with_suffix(".json"), json.dumps(report, indent=2))
    lines = [f"Command: `python {' '.join(sys.argv)}`", "", f"Actor: `{actor}`.", "", robots_text(report), "",
             f"Physics: {args.physics_substeps} MuJoCo step(s) per {SIM_DT * 1000:g} ms physics step.", "",
             "Each model-error change alone, every change at once (`all`) and with one change left out "
             "(`all_but_<case>`):", "",
             *mismatch_table(report["mismatch"]), ""]
    atomic_write_text(out.with_suffix(".md"), "\n".join(lines))
    print(json.dumps({k: v["survival_rate"] for k, v in report["mismatch"].items()}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", help="training run directory (newest actor + adaptation, cost, learning curve)")
    ap.add_argument("--actor", help="actor weights file (instead of --run)")
    ap.add_argument("--adaptation", help="adaptation module file (instead of --run)")
    ap.add_argument("--out", required=True, help="output prefix: <out>.json, <out>.png, <out>_curve.png")
    ap.add_argument("--num-envs", type=int, default=48)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--episodes", type=int, default=20, help="randomized episodes per scenario (>= 20 for reports)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tiny", action="store_true", help="6 envs, 3 s, 2 episodes, two model-error cases (CI)")
    ap.add_argument("--mismatch-ablation", action="store_true",
                    help="only the model-error evaluation: every change at once and each change left out in turn")
    ap.add_argument("--physics-substeps", type=int, default=1, metavar="K",
                    help="with --mismatch-ablation: K MuJoCo steps per physics step (a convergence check of the "
                         "physics step; figures that move with K measure the discretization)")
    ap.add_argument("--randomization", default=None, metavar="CONFIG",
                    help="train config (YAML) whose env.domain_rand the evaluated robots draw from; default: the "
                         "run's own config.yaml with --run, else the library defaults; 'default' forces those")
    args = ap.parse_args()
    if not args.run and not (args.actor and args.adaptation):
        ap.error("give --run, or both --actor and --adaptation")
    if args.physics_substeps < 1 or (args.physics_substeps != 1 and not args.mismatch_ablation):
        ap.error(f"--physics-substeps must be >= 1 and is only used with --mismatch-ablation, got "
                 f"{args.physics_substeps}")
    run = Path(args.run) if args.run else None
    actor = Path(args.actor) if args.actor else newest(run / "actors", "actor_*.safetensors")
    adaptation = Path(args.adaptation) if args.adaptation else newest(run / "adaptation", "adaptation_*.safetensors")
    weights = load_weights_file(actor)
    runner = ActorRunner(weights.layout, weights.flat, load_adaptation(adaptation))
    sizes = dict(num_envs=6, seconds=3.0, episodes=2, mismatch_cases=["payload", "all"]) if args.tiny else \
        dict(num_envs=args.num_envs, seconds=args.seconds, episodes=args.episodes)
    domain_rand, rand_source = evaluation_randomization(args.randomization, run)
    t0 = time.time()
    drawn = domain_rand or RandomizationConfig()
    randomization = {"source": rand_source, "joint_damping": list(drawn.joint_damping),
                     "joint_friction": list(drawn.joint_friction)}
    if args.mismatch_ablation:
        write_ablation(runner, args, sizes, domain_rand, randomization, actor, t0)
        return
    report = agility_report(runner, seed=args.seed, domain_rand=domain_rand, **sizes)
    report["randomization"] = randomization
    report.update({"eval_wall_clock_s": round(time.time() - t0, 1), "actor": str(actor),
                   "adaptation": str(adaptation), "actor_meta": weights.extra})
    curve = lineage_curve(run) if run is not None else []
    if run is not None:
        report.update(training_cost(run, actor, curve))
    report["targets"] = check_targets(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out.with_suffix(".json"), json.dumps(report, indent=2))
    plot_agility(report, str(out.with_suffix(".png")))
    atomic_write_text(out.with_suffix(".md"), markdown(report, "python " + " ".join(sys.argv)))
    if curve:
        plot_curve(curve, str(out.parent / f"{out.name}_curve.png"), title=f"{run} (training commands)")
    print(json.dumps({k: v["value"] for k, v in report["targets"].items()}))


if __name__ == "__main__":
    main()
