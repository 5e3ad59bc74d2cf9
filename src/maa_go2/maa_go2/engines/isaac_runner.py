"""The project's PPO on a vectorized Isaac Gym task: one training algorithm, one checkpoint layout, for both engines.

:func:`train_isaac` is ``maa_go2.train.train``'s loop on torch tensors that stay on the device: the same
:class:`~maa_go2.actor_critic.ActorCritic` (actor ``[obs 70, latent 7]``, critic ``[obs 70, privileged 7]``,
adaptation module on the ``history_len x 70`` history), the same :class:`~maa_go2.ppo.PPO` update with its adaptation
regression, time-out bootstrapping, and the same run directory (``checkpoints/ckpt_XXXXX.pt`` with ``model``,
``ppo``, ``iteration``, ``wall_clock_s``, ``config``, ``curriculum``; ``actors/actor_XXXXX.safetensors`` in the
weights format; ``adaptation/adaptation_XXXXX.safetensors``; ``summary.json``; ``curve.jsonl``), so an Isaac run is
resumed, evaluated and collected into the zoo (``maa_go2.collect``) exactly like a MuJoCo run.

The environment is anything with :class:`~maa_go2.engines.isaacgym_go2.Go2WTW`'s interface: ``num_envs``,
``obs_buf``, ``privileged_obs_buf``, ``get_obs_history()``, ``step(actions) -> (obs, priv, rew, done, extras)``
with ``extras["time_outs"]`` and ``sampler``.

GPU box (Python 3.8; see docs/go2.md, "Isaac Gym runbook")::

    python -m maa_go2.engines.isaac_runner --config run.yaml --sim_device cuda:0 --rl_device cuda:0 --headless

``--config`` is a resolved ``train:`` YAML (the ``config.yaml`` every run writes, or ``--dump-config`` of a
composed file); on Python >= 3.10 any file ``maa_core.config`` reads (``base:`` composition, ``--set``) works.
This module does not import MuJoCo or ``maa_go2.train``.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from maa_go2.env_config import EnvConfig
from maa_go2.ppo import PPOConfig

CHECKPOINT_KEYS = {"model": dict, "ppo": dict, "iteration": int, "wall_clock_s": (int, float)}
CURVE_KEYS = ("vx_abs_error", "vy_abs_error", "yaw_abs_error", "contact_match", "curriculum_coverage",
              "reward_per_step", "falls_per_1k_env_steps")


@dataclass
class IsaacTrainConfig:
    """The ``train:`` section, field for field ``maa_go2.train.Go2TrainConfig`` (one YAML for both engines;
    ``torch_threads`` / ``sim_threads`` only matter on MuJoCo)."""

    seed: int = 0
    iterations: int = 1500
    save_interval: int = 50
    log_interval: int = 1
    torch_threads: int = 1
    sim_threads: int = 1
    run_dir: str = "runs/go2"
    max_wall_clock_s: float = 0.0
    adaptation_init: str = ""
    env: EnvConfig = field(default_factory=EnvConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)


# ------------------------------------------------------------------------------------------ config (Python 3.8)
def dataclass_from_plain(cls, data: dict, where: str = "train"):
    """Build dataclass ``cls`` from a plain mapping (a resolved YAML); nested dataclasses are recognised from their
    default factories, so no annotation is evaluated (Python 3.8 cannot evaluate ``list[float]``).

    Raises:
        ValueError: an unknown key, or a mapping where a value is expected.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(fields)}")
    kwargs = {}
    for name, value in data.items():
        f = fields[name]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            if not isinstance(value, dict):
                raise ValueError(f"{where}.{name}: expected a mapping, got {value!r}")
            value = dataclass_from_plain(type(default), value, f"{where}.{name}")
        kwargs[name] = value
    return cls(**kwargs)


def load_isaac_train_config(path: str | Path, overrides=()) -> IsaacTrainConfig:
    """The ``train:`` section of ``path`` as :class:`IsaacTrainConfig`: through ``maa_core.config`` (composition,
    overrides, full validation) on Python >= 3.10, from a resolved file on Python 3.8."""
    if sys.version_info >= (3, 10):  # noqa: UP036 - this module also runs on the GPU box's Python 3.8
        from maa_core.config import load_config

        return load_config(IsaacTrainConfig, path, list(overrides), section="train")
    if overrides:
        raise ValueError("--set needs Python >= 3.10; resolve the config with --dump-config first")
    import yaml

    data = yaml.safe_load(Path(path).read_text()) or {}
    if "base" in data:
        raise ValueError(f"{path} is composed on base files; resolve it with --dump-config on Python >= 3.10")
    return dataclass_from_plain(IsaacTrainConfig, data.get("train", data))


def isaac_env_cfg(cfg: IsaacTrainConfig, num_envs: int | None = None):
    """The legged_gym config of the task: ``Go2WTWCfg`` with ``cfg.env`` applied and the run's seed."""
    from maa_go2.engines.legged_gym_config import Go2WTWCfg, apply_env_config

    out = apply_env_config(Go2WTWCfg(), cfg.env)
    out.env.num_envs = int(num_envs or cfg.env.num_envs)
    out.seed = cfg.seed
    return out


# ------------------------------------------------------------------------------------------ device storage
def device_storage(t: int, n: int, actor_dim: int, obs_dim: int, priv_dim: int, hist_dim: int, device):
    """``maa_go2.ppo.RolloutStorage`` with its buffers on ``device`` (the PPO update then runs there)."""
    from maa_go2.ppo import RolloutStorage

    st = RolloutStorage(t, n, actor_dim, obs_dim, priv_dim, hist_dim)
    for key, value in list(vars(st).items()):
        if hasattr(value, "to"):
            setattr(st, key, value.to(device))
    return st


def to_cpu(obj):
    """Tensors in nested dicts / lists / tuples moved to the CPU (checkpoints load on any machine)."""
    if hasattr(obj, "detach"):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


# ------------------------------------------------------------------------------------------ run directory
def checkpoint_files(folder: Path) -> list:
    """``ckpt_<iteration>.pt`` in ``folder``, newest first (the MuJoCo trainer's naming)."""
    import re

    pattern = re.compile(r"^ckpt_(\d+)\.pt$")
    found = [(int(m.group(1)), p) for p in Path(folder).glob("ckpt_*.pt") if (m := pattern.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def load_checkpoint(path: Path, ac, ppo) -> dict:
    """Load a run checkpoint (either engine's) into ``ac`` / ``ppo``; raises ValueError when it does not fit."""
    from maa_core.atomic_io import torch_load_safe

    state = torch_load_safe(path, "Go2 PPO checkpoint", "delete it to resume from an older checkpoint")
    bad = [k for k, t in CHECKPOINT_KEYS.items() if not isinstance(state, dict) or not isinstance(state.get(k), t)]
    if bad or f"ckpt_{state['iteration']:05d}.pt" != Path(path).name:
        raise ValueError(f"Go2 PPO checkpoint {path} lacks or mistypes {bad or ['iteration']}")
    try:
        ac.load_state_dict(state["model"])
        ppo.load_state_dict(state["ppo"])
    except (RuntimeError, KeyError, ValueError, TypeError) as e:
        raise ValueError(f"Go2 PPO checkpoint {path} does not fit this model ({type(e).__name__}: {e})") from e
    return state


def resume(folder: Path, ac, ppo):
    """The newest checkpoint in ``folder`` that loads (newer broken ones are skipped with a warning), or None."""
    files = checkpoint_files(folder)
    for path in files:
        try:
            return load_checkpoint(path, ac, ppo)
        except ValueError as e:
            warnings.warn(f"skipping {e}", RuntimeWarning, stacklevel=2)
    if files:
        raise ValueError(f"no usable Go2 PPO checkpoint in {folder} ({len(files)} found)")
    return None


def save_run(run: Path, it: int, ac, ppo, wall: float, cfg: IsaacTrainConfig, summary: dict, sampler) -> None:
    """Checkpoint, actor, adaptation module and summary of iteration ``it`` (``maa_go2.train``'s layout)."""
    import torch

    from maa_core.atomic_io import atomic_torch_save, atomic_write_text, remove_stale_temps
    from maa_core.weights_io import save_weights_file
    from maa_go2.checkpoints import save_adaptation

    path = run / "checkpoints" / f"ckpt_{it:05d}.pt"
    remove_stale_temps(path)
    curriculum = {k: torch.from_numpy(np.asarray(v)) for k, v in sampler.state_dict().items()}
    atomic_torch_save({"model": to_cpu(ac.state_dict()), "ppo": to_cpu(ppo.state_dict()), "iteration": int(it),
                       "wall_clock_s": float(wall), "config": dataclasses.asdict(cfg), "curriculum": curriculum,
                       "engine": "isaacgym"}, path)
    actor_sd = {k: v.detach().cpu() for k, v in ac.actor.state_dict().items()}
    save_weights_file(run / "actors" / f"actor_{it:05d}.safetensors", ac.layout, ac.layout.flatten(actor_sd),
                      extra={"iteration": int(it), "seed": cfg.seed, "history_len": cfg.env.history_len,
                             "engine": "isaacgym"})
    save_adaptation(run / "adaptation" / f"adaptation_{it:05d}.safetensors", copy.deepcopy(ac.adaptation).cpu())
    atomic_write_text(run / "summary.json", json.dumps(summary, indent=2))


def append_curve(run: Path, row: dict) -> None:
    with open(run / "curve.jsonl", "a") as fh:
        fh.write(json.dumps(row) + "\n")


def truncate_curve(run: Path, iteration: int) -> None:
    """Drop ``curve.jsonl`` rows after ``iteration`` (resume point)."""
    from maa_core.atomic_io import atomic_write_text

    path = run / "curve.jsonl"
    rows = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("iteration", 0) <= iteration:
            rows.append(row)
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))


# ------------------------------------------------------------------------------------------ training
class _Tally:
    """Per-iteration metrics, accumulated on the device (one host sync per iteration)."""

    def __init__(self, device):
        import torch

        self.err = torch.zeros(3, device=device)
        self.reward = torch.zeros((), device=device)
        self.contact = torch.zeros((), device=device)
        self.falls = torch.zeros((), device=device)
        self.timeouts = torch.zeros((), device=device)
        self.episodes: dict = {}

    def add(self, rew, extras) -> None:
        import torch

        meas = torch.cat([extras["base_lin_vel"][:, :2], extras["base_ang_vel"][:, 2:3]], 1)
        self.err += (extras["commands"][:, :3] - meas).abs().mean(0)
        self.reward += rew.mean()
        self.contact += extras["contact_match"].mean()
        self.falls += extras["fell"].sum()
        self.timeouts += extras["time_outs"].sum()
        for k, v in extras.get("episode", {}).items():
            self.episodes.setdefault(k, []).append(v)

    def metrics(self, steps: int, n: int) -> dict:
        err = (self.err / steps).tolist()
        return {"reward_per_step": float(self.reward) / steps, "vx_abs_error": err[0], "vy_abs_error": err[1],
                "yaw_abs_error": err[2], "contact_match": float(self.contact) / steps,
                "falls_per_1k_env_steps": 1000.0 * float(self.falls) / (n * steps), "timeouts": int(self.timeouts)}


def collect(env, ac, st, obs, priv, hist, steps: int, gamma: float, tally: _Tally):
    """``steps`` policy steps into ``st``; returns the last ``(obs, priv, hist)``."""
    import torch

    with torch.no_grad():
        for _ in range(steps):
            a_in = ac.actor_input(obs, hist)
            dist = ac.distribution(a_in)
            act = dist.sample()
            val = ac.value(obs, priv)
            obs_n, priv_n, rew, done, extras = env.step(act)
            rew_t = rew + gamma * val * extras["time_outs"].float()  # bootstrap time-outs
            st.add(actor_in=a_in, obs=obs, priv=priv, hist=hist, actions=act, logp=dist.log_prob(act).sum(-1),
                   values=val, rewards=rew_t, dones=done.float())
            tally.add(rew, extras)
            obs, priv, hist = obs_n, priv_n, env.get_obs_history()
    return obs, priv, hist


def train_isaac(env, cfg: IsaacTrainConfig, device="cpu", resume_run: bool = True, log=print) -> dict:
    """Train on ``env`` with the project's PPO; returns the final summary (``maa_go2.train.train``'s)."""
    import torch
    import yaml

    from maa_go2.actor_critic import ActorCritic
    from maa_go2.checkpoints import load_adaptation
    from maa_go2.ppo import PPO

    torch.manual_seed(cfg.seed)
    run = Path(cfg.run_dir)
    for sub in ("checkpoints", "actors", "adaptation"):
        (run / sub).mkdir(parents=True, exist_ok=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"train": dataclasses.asdict(cfg)}, sort_keys=False))
    ac = ActorCritic(cfg.env.history_len, cfg.ppo.init_noise_std).to(device)
    ppo = PPO(ac, cfg.ppo)
    if cfg.adaptation_init:
        ac.adaptation.load_state_dict(load_adaptation(cfg.adaptation_init).state_dict())
        ppo.train_adaptation = False
    state = resume(run / "checkpoints", ac, ppo) if resume_run else None
    start_it, wall0 = (state["iteration"], float(state["wall_clock_s"])) if state else (0, 0.0)
    if state and state.get("curriculum"):
        env.sampler.load_state_dict({k: v.numpy() for k, v in state["curriculum"].items()})
    truncate_curve(run, start_it)
    n, t_steps = env.num_envs, cfg.ppo.steps_per_env
    obs, priv, hist = env.obs_buf, env.privileged_obs_buf, env.get_obs_history()
    t0, summary = time.time(), {}
    for it in range(start_it, cfg.iterations):
        st = device_storage(t_steps, n, ac.layout.obs_dim, obs.shape[1], priv.shape[1], hist.shape[1], device)
        tally, tc = _Tally(device), time.time()
        obs, priv, hist = collect(env, ac, st, obs, priv, hist, t_steps, cfg.ppo.gamma, tally)
        with torch.no_grad():
            last_v = ac.value(obs, priv)
        collect_s = time.time() - tc
        st.compute_returns(last_v, cfg.ppo.gamma, cfg.ppo.lam)
        tu = time.time()
        stats = ppo.update(st)
        it1, wall = it + 1, wall0 + time.time() - t0
        cur = env.sampler.curriculum
        metrics = {**tally.metrics(t_steps, n), "curriculum_coverage": cur.coverage() if cur is not None else 1.0,
                   "env_steps_per_s_collect": n * t_steps / collect_s, "update_s": time.time() - tu, **stats}
        append_curve(run, {"iteration": it1, "env_steps": it1 * n * t_steps, "wall_clock_s": round(wall, 2),
                           **{k: round(float(metrics[k]), 5) for k in CURVE_KEYS}})
        if it1 % cfg.log_interval == 0:
            log(f"it {it1}: r {metrics['reward_per_step']:.4f} vx {metrics['vx_abs_error']:.3f} "
                f"{metrics['env_steps_per_s_collect']:.0f} steps/s update {metrics['update_s']:.2f} s")
        stop = cfg.max_wall_clock_s > 0 and wall >= cfg.max_wall_clock_s
        if it1 % cfg.save_interval == 0 or it1 == cfg.iterations or stop:
            summary = {"iterations": it1, "train_wall_clock_s": wall, "env_steps": it1 * n * t_steps, "num_envs": n,
                       "seed": cfg.seed, "actor_params": ac.layout.num_params, "engine": "isaacgym",
                       "metrics": metrics, "episode": {k: float(np.mean(v)) for k, v in tally.episodes.items()}}
            save_run(run, it1, ac, ppo, wall, cfg, summary, env.sampler)
        if stop:
            break
    return summary


# ------------------------------------------------------------------------------------------ measurement / CLI
def time_update(num_envs: int, steps: int, history_len: int, device="cpu", repeats: int = 1) -> float:
    """Seconds of one project-PPO update (actor, critic with the privileged input, adaptation regression) on random
    buffers of the Isaac task's shapes: the learner's share of an iteration at a given scale."""
    import torch

    from maa_go2.actor_critic import ActorCritic
    from maa_go2.observation import OBS_DIM
    from maa_go2.ppo import PPO
    from maa_go2.randomization import PRIV_DIM

    ac = ActorCritic(history_len).to(device)
    ppo = PPO(ac, PPOConfig(steps_per_env=steps))
    best = float("inf")
    for _ in range(repeats):
        st = device_storage(steps, num_envs, ac.layout.obs_dim, OBS_DIM, PRIV_DIM, history_len * OBS_DIM, device)
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
    ap.add_argument("--set", action="append", default=[], help="train.KEY=VALUE override (Python >= 3.10)")
    ap.add_argument("--num-envs", type=int, default=None, help="Isaac envs (default: train.env.num_envs)")
    ap.add_argument("--rl_device", default="cuda:0", help="device of the actor-critic and the PPO update")
    ap.add_argument("--no-resume", action="store_true")
    ap.add_argument("--dump-config", action="store_true", help="print the resolved train: section and exit")
    return ap.parse_known_args(argv)


def main(argv=None) -> None:
    """CLI: unknown options (``--sim_device``, ``--headless``, ``--pipeline`` ...) go to legged_gym's get_args."""
    args, rest = _parse(argv)
    cfg = load_isaac_train_config(args.config, args.set)
    if args.dump_config:
        import yaml

        print(yaml.safe_dump({"train": dataclasses.asdict(cfg)}, sort_keys=False))
        return
    from maa_go2.engines.register_isaac import TASK_NAME, make_env, register  # imports isaacgym before torch

    register(env_cfg=isaac_env_cfg(cfg, args.num_envs))
    env = make_env(TASK_NAME, [*rest, "--task", TASK_NAME])
    train_isaac(env, cfg, device=args.rl_device, resume_run=not args.no_resume)


if __name__ == "__main__":  # pragma: no cover
    main()
