"""The project's PPO on a vectorized Isaac Gym task: one training algorithm, one checkpoint layout, for both engines.

:func:`train_isaac` runs the loop ``maa_go2.train.train`` runs on MuJoCo (:func:`maa_go2.ppo_loop.run_ppo`) on
torch tensors that stay on the device: the same :class:`~maa_go2.actor_critic.ActorCritic` (actor ``[obs 70,
latent 7]``, critic ``[obs 70, privileged 7]``, adaptation module on the ``history_len x 70`` history), the same
:class:`~maa_go2.ppo.PPO` update with its adaptation regression, time-out bootstrapping, and the same run directory
(:mod:`maa_go2.run_dir`), so an Isaac run is resumed, evaluated and collected into the zoo (``maa_go2.collect``)
exactly like a MuJoCo run, and resumes MuJoCo runs.

The environment is anything with :class:`~maa_go2.engines.isaacgym_go2.Go2WTW`'s interface: ``num_envs``,
``obs_buf``, ``privileged_obs_buf``, ``get_obs_history()``, ``step(actions) -> (obs, priv, rew, done, extras)``
with ``extras["time_outs"]`` and ``sampler``.

GPU box (Python 3.8; see docs/go2.md, "Isaac Gym runbook")::

    python -m maa_go2.engines.isaac_runner --config run.yaml --sim_device cuda:0 --rl_device cuda:0 --headless
    python -m maa_go2.engines.isaac_runner --config distill.yaml --distill ...   # gait teachers -> one actor

``--distill`` runs :func:`maa_go2.distill.run_distill` (the ``distill:`` section of the same file: teachers per gait,
the student's start) on the Isaac task instead of PPO: the same regression and run directory as
``training/distill_go2.py`` on MuJoCo.

``--config`` is a resolved ``train:`` YAML (the ``config.yaml`` every run writes, or ``--dump-config`` of a
composed file); on Python >= 3.10 any file ``maa_core.config`` reads (``base:`` composition, ``--set``) works.
This module does not import MuJoCo or ``maa_go2.train``, and imports torch only once Isaac Gym is loaded (Isaac Gym
refuses to load after torch).
"""
from __future__ import annotations

import argparse
import time

from maa_go2.train_config import Go2TrainConfig, PPOConfig, config_dict, load_train_config

#: the former name of :class:`~maa_go2.train_config.Go2TrainConfig` (one configuration class for both engines)


def isaac_env_cfg(cfg: Go2TrainConfig, num_envs: int | None = None):
    """The legged_gym config of the task: ``Go2WTWCfg`` with ``cfg.env`` applied and the run's seed."""
    from maa_go2.engines.legged_gym_config import Go2WTWCfg, apply_env_config

    out = apply_env_config(Go2WTWCfg(), cfg.env)
    out.env.num_envs = int(num_envs or cfg.env.num_envs)
    out.seed = cfg.seed
    return out


def train_isaac(env, cfg: Go2TrainConfig, device="cpu", resume_run: bool = True, log=print) -> dict:
    """Train on ``env`` with the project's PPO (actor-critic and update on ``device``, ``log`` lines instead of a
    progress bar); returns the final summary (``engine: "isaacgym"``)."""
    from maa_go2.ppo_loop import run_ppo

    return run_ppo(env, cfg, device=device, resume=resume_run, progress=False, log=log, engine="isaacgym")


def distill_isaac(env, cfg: Go2TrainConfig, dcfg, device="cpu") -> dict:
    """Distill ``dcfg``'s gait teachers (:class:`maa_go2.distill.DistillConfig`) into one actor on ``env``;
    resumes from ``cfg.run_dir``; returns the final summary (``engine: "isaacgym"``)."""
    from maa_go2.distill import run_distill

    return run_distill(env, cfg, dcfg, device=device, progress=False, engine="isaacgym")


# ------------------------------------------------------------------------------------------ measurement / CLI
def time_update(num_envs: int, steps: int, history_len: int, device="cpu", repeats: int = 1) -> float:
    """Seconds of one project-PPO update (actor, critic with the privileged input, adaptation regression) on random
    buffers of the Isaac task's shapes: the learner's share of an iteration at a given scale."""
    import torch

    from maa_go2.actor_critic import ActorCritic
    from maa_go2.observation import OBS_DIM
    from maa_go2.ppo import PPO, RolloutStorage
    from maa_go2.randomization import PRIV_DIM

    ac = ActorCritic(history_len).to(device)
    ppo = PPO(ac, PPOConfig(steps_per_env=steps))
    best = float("inf")
    for _ in range(repeats):
        st = RolloutStorage(steps, num_envs, ac.layout.obs_dim, OBS_DIM, PRIV_DIM, history_len * OBS_DIM, device)
        for _ in range(steps):
            obs = torch.randn(num_envs, OBS_DIM, device=device)
            hist = torch.randn(num_envs, history_len * OBS_DIM, device=device)
            priv = torch.randn(num_envs, PRIV_DIM, device=device)
            with torch.no_grad():
                a_in = ac.actor_input(obs, hist)
                dist = ac.distribution(a_in)
                act = dist.sample()
                st.add(actor_in=a_in, obs=obs, priv=priv, hist=hist, actions=act,
                       logp=dist.log_prob(act).sum(-1), values=ac.value(obs, priv),
                       rewards=torch.rand(num_envs, device=device), dones=torch.zeros(num_envs, device=device))
        st.compute_returns(torch.zeros(num_envs, device=device), 0.99, 0.95)
        if str(device).startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.time()
        ppo.update(st)
        if str(device).startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.time() - t0)
    return best


def _parse(argv=None):
    ap = argparse.ArgumentParser(description="Train the Go2 task on Isaac Gym with the project's PPO.")
    ap.add_argument("--config", required=True, help="YAML with a train: section (resolved on Python 3.8)")
    ap.add_argument("--set", action="append", default=[],
                    help="train.KEY=VALUE or distill.KEY=VALUE override (Python >= 3.10)")
    ap.add_argument("--distill", action="store_true",
                    help="distill the file's distill: section's gait teachers into one actor instead of PPO")
    ap.add_argument("--num-envs", type=int, default=None, help="Isaac envs (default: train.env.num_envs)")
    ap.add_argument("--rl_device", default="cuda:0", help="device of the actor-critic and the PPO update")
    ap.add_argument("--no-resume", action="store_true")
    ap.add_argument("--dump-config", action="store_true", help="print the resolved train: section and exit")
    return ap.parse_known_args(argv)


def main(argv=None) -> None:
    """CLI: unknown options (``--sim_device``, ``--headless``, ``--pipeline`` ...) go to legged_gym's get_args."""
    args, rest = _parse(argv)
    if args.distill and args.no_resume:
        raise SystemExit("--distill always resumes its run directory; remove it (or name a new train.run_dir)")
    cfg = load_train_config(args.config, [o for o in args.set if not o.startswith("distill.")])
    if args.dump_config:
        import dataclasses

        import yaml

        out = {"train": config_dict(cfg)}
        if args.distill:
            from maa_go2.distill import load_distill_config

            out["distill"] = dataclasses.asdict(load_distill_config(args.config, args.set))
        print(yaml.safe_dump(out, sort_keys=False))
        return
    from maa_go2.engines.register_isaac import TASK_NAME, make_env, register  # imports isaacgym before torch

    dcfg = None
    if args.distill:  # checked (and the teachers found) before the simulator starts
        from maa_go2.distill import check_gaits, load_distill_config, resolved

        dcfg = load_distill_config(args.config, args.set)
        check_gaits(cfg, dcfg)
        dcfg = resolved(dcfg)
    register(env_cfg=isaac_env_cfg(cfg, args.num_envs))
    env = make_env(TASK_NAME, [*rest, "--task", TASK_NAME])
    if dcfg is not None:
        distill_isaac(env, cfg, dcfg, device=args.rl_device)
    else:
        train_isaac(env, cfg, device=args.rl_device, resume_run=not args.no_resume)


if __name__ == "__main__":  # pragma: no cover
    main()
