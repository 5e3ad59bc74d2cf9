"""Record a Go2 behaviour prompt (``maa_core.prompt_io`` file) from an actor checkpoint.

The actor walks with a fixed command (default vx = 0.5 m/s, trot at 3 Hz) on the randomized MuJoCo Go2 with the
pretrained adaptation module; every 50 Hz control step stores ``obs`` = the 70-dim WTW observation the actor acted
on and ``act`` = the 12 actions it output (the same kind of trajectory as the zoo prompts and the deploy node's
``~/step`` topic). ``success`` is ``None`` (locomotion).

Example::

    python training/record_go2_prompt.py --actor results/go2/actor_seed0_it475.safetensors \\
        --adaptation results/go2/adaptation_module.safetensors --out prompts/go2_walk.npz
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from maa_core.prompt import Trajectory
from maa_core.prompt_io import save_prompt
from maa_core.weights_io import load_weights_file
from maa_go2.checkpoints import load_adaptation
from maa_go2.control import POLICY_DT
from maa_go2.engines.mujoco_engine import MujocoGo2Env
from maa_go2.env_config import EnvConfig
from maa_go2.evaluation import ActorRunner, sweep_commands
from maa_go2.randomization import RandomizationConfig


def record(layout, flat: np.ndarray, adaptation, vx: float = 0.5, seconds: float = 10.0, seed: int = 0) -> dict:
    """Roll one env for ``seconds`` at command ``vx`` [m/s]; returns obs ``[T,70]``, act ``[T,12]``, measured vx
    ``[T]`` [m/s] and ``fell`` (bool). ``T = seconds / 0.02``."""
    if not np.isfinite(vx) or seconds <= 0:
        raise ValueError(f"expected a finite vx and seconds > 0, got vx={vx}, seconds={seconds}")
    runner = ActorRunner(layout, flat, adaptation)
    cfg = EnvConfig(
        num_envs=1,
        episode_length_s=seconds + 1.0,
        history_len=adaptation.history_len,
        resampling_time_s=1e6,
        domain_rand=RandomizationConfig(push_interval_s=1e6),
    )
    env = MujocoGo2Env(cfg, seed=seed)
    cmd, _ = sweep_commands(1)
    cmd[:, 0] = vx
    env.set_commands(cmd)
    env.reset()
    steps = int(round(seconds / POLICY_DT))
    obs_buf, act_buf, vx_buf = [], [], []
    obs, hist, fell = env.obs.copy(), env.get_obs_history(), False
    for _ in range(steps):
        act = runner.act(obs, hist)
        obs_buf.append(obs[0].copy())
        act_buf.append(act[0].copy())
        obs, _, _, _, info = env.step(act)
        hist = info["obs_history"]
        vx_buf.append(float(info["base_lin_vel"][0, 0]))
        fell |= bool(info["fell"][0])
    return {
        "obs": np.stack(obs_buf).astype(np.float32),
        "act": np.stack(act_buf).astype(np.float32),
        "vx": np.asarray(vx_buf),
        "fell": fell,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--actor", required=True, help="actor weights file (.safetensors, maa_core.weights_io)")
    ap.add_argument("--adaptation", required=True, help="pretrained adaptation module .safetensors")
    ap.add_argument("--out", required=True, help="prompt file to write (.npz)")
    ap.add_argument("--vx", type=float, default=0.5, help="forward velocity command [m/s]")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    actor = load_weights_file(args.actor)
    layout, flat = actor.layout, actor.flat
    r = record(layout, flat, load_adaptation(args.adaptation), args.vx, args.seconds, args.seed)
    traj = Trajectory(obs=r["obs"], act=r["act"], success=None, dt=POLICY_DT, domain="go2", task="go2_walk")
    path = save_prompt(args.out, traj, source=f"{args.actor} vx={args.vx} seed={args.seed}")
    print(
        json.dumps(
            {
                "out": str(path),
                "steps": int(r["obs"].shape[0]),
                "fell": r["fell"],
                "vx_cmd": args.vx,
                "vx_measured_mean": float(r["vx"][50:].mean()),
            }
        )
    )


if __name__ == "__main__":
    main()
