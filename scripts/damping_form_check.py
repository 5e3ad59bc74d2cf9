#!/usr/bin/env python
"""Survival of one agility run's newest actor under extra passive joint damping in two forms, on the same robots:
in the MuJoCo model (``dof_damping``; what ``maa_go2.mismatch``'s joint-damping case adds) and as the explicit torque
``-d qd`` that ``domain_rand.joint_damping`` trains with (its range shifted by the same amount); and in the model with
the robots' explicit damping removed.

    python scripts/damping_form_check.py --run runs/go2_agility_v14 --extra 1.0 --seeds 4 5 6 7 \\
        --randomization config/go2_agility_v2.yaml

Prints one markdown row per form: survival on the agility sweep (``maa_go2.agility.tracking``, 20 s) for each seed,
and how many of the falls come in the first second after the robots are dropped in at reset;
first, how much of a joint's velocity one explicit physics step of damping removes, ``(KD + d) SIM_DT / I`` (1 = all
of it, beyond 1 it flips sign), with ``I`` the hip / thigh / calf diagonal of the mass matrix at the default pose.

The physics can be changed to tell the robot from the integrator: ``--eulerdamp`` turns MuJoCo's implicit Euler
damping back on (go2.xml turns it off: it re-solves the accelerations in ``M + h D`` after the contact forces were
solved in ``M``), ``--integrator rk4`` integrates with RK4, ``--physics-substeps K`` steps K times finer.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import mujoco
import numpy as np

from maa_core.weights_io import load_weights_file
from maa_go2.agility import tracking
from maa_go2.checkpoints import load_adaptation
from maa_go2.control import DEFAULT_JOINT_POS, KD, SIM_DT
from maa_go2.engines.mujoco_engine import load_model
from maa_go2.evaluation import ActorRunner
from maa_go2.randomization import RandomizationConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from evaluate_go2_agility import evaluation_randomization, newest  # noqa: E402

INTEGRATORS = {"euler": mujoco.mjtIntegrator.mjINT_EULER, "rk4": mujoco.mjtIntegrator.mjINT_RK4}


def physics_model(eulerdamp: bool, integrator: str) -> mujoco.MjModel:
    """The shipped Go2 model with MuJoCo's implicit Euler damping on or off and the given integrator."""
    model = load_model()
    model.opt.integrator = INTEGRATORS[integrator]
    flag = int(mujoco.mjtDisableBit.mjDSBL_EULERDAMP)
    model.opt.disableflags = (model.opt.disableflags & ~flag) if eulerdamp else (model.opt.disableflags | flag)
    return model


def explicit_step_fraction(dampings: list[float]) -> dict[float, np.ndarray]:
    """``{d: [3]}``: ``(KD + d) SIM_DT / I`` for the hip, thigh and calf of one leg standing at the default pose."""
    model = load_model()
    data = mujoco.MjData(model)
    data.qpos[2], data.qpos[3], data.qpos[7:19] = 0.3, 1.0, DEFAULT_JOINT_POS
    mujoco.mj_forward(model, data)
    full = np.zeros((model.nv, model.nv))
    mujoco.mj_fullM(model, full, data.qM)
    inertia = np.diag(full)[6:9]
    return {d: (KD + d) * SIM_DT / inertia for d in dampings}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="agility run folder (its newest actor and adaptation module)")
    ap.add_argument("--extra", type=float, default=1.0, help="added joint damping [N.m.s/rad]")
    ap.add_argument("--seeds", type=int, nargs="+", default=[4, 5, 6, 7])
    ap.add_argument("--num-envs", type=int, default=96)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--randomization", default=None, metavar="CONFIG",
                    help="train config whose env.domain_rand the robots draw from (as evaluate_go2_agility.py)")
    ap.add_argument("--eulerdamp", action="store_true",
                    help="integrate the model's damping implicitly (MuJoCo's Euler default, off in go2.xml)")
    ap.add_argument("--integrator", choices=sorted(INTEGRATORS), default="euler")
    ap.add_argument("--physics-substeps", type=int, default=1, metavar="K",
                    help="K MuJoCo steps of SIM_DT / K per physics step")
    args = ap.parse_args()
    if args.extra < 0:
        ap.error(f"--extra must be >= 0 N.m.s/rad, got {args.extra}")
    if args.physics_substeps < 1:
        ap.error(f"--physics-substeps must be >= 1, got {args.physics_substeps}")
    physics = physics_model(args.eulerdamp, args.integrator)
    run = Path(args.run)
    weights = load_weights_file(newest(run / "actors", "actor_*.safetensors"))
    runner = ActorRunner(weights.layout, weights.flat,
                         load_adaptation(newest(run / "adaptation", "adaptation_*.safetensors")))
    domain_rand, source = evaluation_randomization(args.randomization, run)
    dr = domain_rand or RandomizationConfig()
    lo, hi = dr.joint_damping
    if hi <= lo:
        raise SystemExit(f"the robots' joint_damping range {[lo, hi]} is empty: shifting it would draw other robots; "
                         "choose --randomization with a range such as [0.0, 1.0]")
    forms = {"none": (dr, None),
             f"model dof_damping +{args.extra:g}": (dr, {"joint_damping": args.extra}),
             f"explicit torque, range +{args.extra:g}":
                 (dataclasses.replace(dr, joint_damping=[lo + args.extra, hi + args.extra]), None),
             # a range of width 1e-9 is still drawn, so the robots stay the same, with (almost) no explicit damping
             f"model dof_damping +{args.extra:g}, explicit removed":
                 (dataclasses.replace(dr, joint_damping=[0.0, 1e-9]), {"joint_damping": args.extra})}
    print(f"{run}, robots from {source} (joint_damping {[lo, hi]}), {args.num_envs} robots, {args.seconds:g} s")
    print(f"Physics: {args.integrator}, model damping {'implicit (eulerdamp on)' if args.eulerdamp else 'explicit'}, "
          f"{args.physics_substeps} MuJoCo step(s) per {SIM_DT * 1000:g} ms\n")
    print("Velocity removed by one explicit physics step of damping, hip / thigh / calf:")
    for d, frac in explicit_step_fraction([0.0, hi, hi + args.extra, 2.5]).items():
        print(f"* d = {d:g} N.m.s/rad: " + " / ".join(f"{x:.2f}" for x in frac))
    print()
    print("| damping | " + " | ".join(f"seed {s}" for s in args.seeds) + " | mean | falls in the first 1 s / all |")
    print("|---|" + "---|" * (len(args.seeds) + 2))
    for label, (robots, knobs) in forms.items():
        runs = [tracking(runner, args.num_envs, args.seconds, seed, knobs=knobs, domain_rand=robots,
                         physics_substeps=args.physics_substeps, base_model=physics) for seed in args.seeds]
        rates = [r["survival_rate"] for r in runs]
        falls = [t for r in runs for t in r["fall_times_s"]]
        early = sum(t <= 1.0 for t in falls)
        print(f"| {label} | " + " | ".join(f"{r:.3f}" for r in rates) + f" | {sum(rates) / len(rates):.3f} | "
              f"{early} / {len(falls)} |", flush=True)


if __name__ == "__main__":
    main()
