"""PPO training of the Go2 walk-these-ways actor on the MuJoCo engine, with checkpoints and resume.

Run directory layout::

    config.yaml                 resolved configuration
    checkpoints/ckpt_XXXXX.pt   full state (actor-critic, optimizers, iteration, wall clock); tensors and plain
                                Python types only (loaded with ``weights_only=True``), written atomically
    actors/actor_XXXXX.safetensors       generated-network format (flat params + PolicyLayout)
    adaptation/adaptation_XXXXX.safetensors
    summary.json                wall clock, iterations, latest metrics
    tb/                         TensorBoard

Resume takes the newest checkpoint that loads and validates; a truncated or corrupt newer one (a disk error, or a
kill during a save of an older maa version) is skipped with a warning naming the file.
"""
from __future__ import annotations

import json
import re
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml

from maa_core.atomic_io import atomic_torch_save, atomic_write_text, remove_stale_temps, torch_load_safe
from maa_core.config import load_config, to_dict
from maa_core.weights_io import save_weights_file
from maa_go2.actor_critic import ActorCritic
from maa_go2.checkpoints import load_adaptation, save_adaptation
from maa_go2.engines.mujoco_engine import MujocoGo2Env
from maa_go2.env_config import EnvConfig
from maa_go2.ppo import PPO, PPOConfig, RolloutStorage


@dataclass
class Go2TrainConfig:
    """Go2 PPO training run: iterations, checkpointing, the task (``env``) and PPO settings."""

    seed: int = 0
    iterations: int = 1500
    save_interval: int = 50
    log_interval: int = 1
    torch_threads: int = 1
    sim_threads: int = 1
    run_dir: str = "runs/go2"
    #: stop (after a checkpoint) once this much training wall clock has been spent over all sittings; 0 = no limit
    max_wall_clock_s: float = 0.0
    #: path of a pretrained adaptation module (safetensors): loaded and kept frozen; "" trains one concurrently
    adaptation_init: str = ""
    env: EnvConfig = field(default_factory=EnvConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)


def load_train_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Go2TrainConfig:
    """The ``train:`` section of a YAML file (composed on its ``base:`` files) -> :class:`Go2TrainConfig`, with
    ``train.key=value`` overrides (``--set`` items). Unknown keys, wrong types and bad values raise ConfigError."""
    return load_config(Go2TrainConfig, path, overrides, section="train")


_CKPT_RE = re.compile(r"^ckpt_(\d+)\.pt$")
_CKPT_KEYS = {"model": dict, "ppo": dict, "iteration": int, "wall_clock_s": (int, float)}
_FIX = "delete it to resume from an older checkpoint, or retrain"


def checkpoint_files(folder: Path) -> list[Path]:
    """``ckpt_<iteration>.pt`` files in ``folder``, newest (highest iteration) first."""
    found = [(int(m.group(1)), p) for p in folder.glob("ckpt_*.pt") if (m := _CKPT_RE.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def _load_checkpoint(path: Path, ac: ActorCritic, ppo: PPO) -> dict:
    """Load ``path`` into ``ac`` / ``ppo`` (weights_only, never unpickled); returns the state.

    Raises:
        ValueError: unreadable file, missing / mistyped keys, iteration that disagrees with the file name, or
            tensors that do not fit the model and optimizers.
    """
    state = torch_load_safe(path, "Go2 PPO checkpoint", _FIX)
    if not isinstance(state, dict):
        raise ValueError(f"Go2 PPO checkpoint {path} holds a {type(state).__name__}, expected a dict; {_FIX}")
    bad = [k for k, t in _CKPT_KEYS.items() if not isinstance(state.get(k), t)]
    if bad:
        raise ValueError(f"Go2 PPO checkpoint {path} lacks or mistypes {bad}; expected {list(_CKPT_KEYS)}; {_FIX}")
    if f"ckpt_{state['iteration']:05d}.pt" != path.name:
        raise ValueError(f"Go2 PPO checkpoint {path} holds iteration {state['iteration']}; {_FIX}")
    try:
        ac.load_state_dict(state["model"])
        ppo.load_state_dict(state["ppo"])
    except (RuntimeError, KeyError, ValueError, TypeError) as e:
        raise ValueError(f"Go2 PPO checkpoint {path} does not fit this model / config ({type(e).__name__}: "
                         f"{str(e).splitlines()[0]}); {_FIX}") from e
    return state


def resume_checkpoint(folder: Path, ac: ActorCritic, ppo: PPO) -> dict | None:
    """Load the newest checkpoint in ``folder`` that loads and validates into ``ac`` / ``ppo``; returns its state
    (None if there is no checkpoint). Each newer file that fails is reported with a ``RuntimeWarning`` naming it.

    Raises:
        ValueError: checkpoints exist but none loads (the message lists each file and why).
    """
    files = checkpoint_files(folder)
    errors = []
    for path in files:
        try:
            return _load_checkpoint(path, ac, ppo)  # a later success overwrites any partial load of a failure
        except ValueError as e:  # includes UnsafeFileError (unreadable / pickled file)
            errors.append(str(e))
            warnings.warn(f"skipping {e}", RuntimeWarning, stacklevel=2)
    if errors:
        raise ValueError(f"no usable Go2 PPO checkpoint in {folder} ({len(files)} found):\n  " + "\n  ".join(errors)
                         + "\nstart with resume=False or delete the run directory to train from scratch")
    return None


def train(cfg: Go2TrainConfig, resume: bool = True, progress: bool = True) -> dict:
    """Train; returns the final summary dict. Resumes from the latest checkpoint in ``cfg.run_dir``."""
    from torch.utils.tensorboard import SummaryWriter
    from tqdm import tqdm

    torch.set_num_threads(cfg.torch_threads)
    torch.manual_seed(cfg.seed)
    run = Path(cfg.run_dir)
    for sub in ("checkpoints", "actors", "adaptation"):
        (run / sub).mkdir(parents=True, exist_ok=True)
    atomic_write_text(run / "config.yaml", yaml.safe_dump(to_dict(cfg), sort_keys=False))
    env = MujocoGo2Env(cfg.env, seed=cfg.seed, nthread=cfg.sim_threads)
    ac = ActorCritic(cfg.env.history_len, cfg.ppo.init_noise_std)
    ppo = PPO(ac, cfg.ppo)
    if cfg.adaptation_init:
        pre = load_adaptation(cfg.adaptation_init)
        if pre.history_len != cfg.env.history_len:
            raise ValueError(f"pretrained adaptation module {cfg.adaptation_init} has history_len {pre.history_len}, "
                             f"config has env.history_len {cfg.env.history_len}")
        ac.adaptation.load_state_dict(pre.state_dict())
        ppo.train_adaptation = False
    start_it, wall0 = 0, 0.0
    state = resume_checkpoint(run / "checkpoints", ac, ppo) if resume else None
    if state is not None:
        start_it, wall0 = state["iteration"], float(state["wall_clock_s"])
        if "curriculum" in state:
            env.sampler.load_state_dict({k: v.numpy() for k, v in state["curriculum"].items()})
    truncate_curve(run, start_it)
    writer = SummaryWriter(str(run / "tb"))
    stop_requested = threading.Event()
    restore_signal = _stop_on_sigterm(stop_requested)
    n, t_steps = cfg.env.num_envs, cfg.ppo.steps_per_env
    obs, hist = env.obs.copy(), env.get_obs_history().copy()
    priv = env.privileged()
    t0 = time.time()
    summary: dict = {}
    ep_stats: dict[str, list] = {}
    bar = tqdm(range(start_it, cfg.iterations), initial=start_it, total=cfg.iterations, disable=not progress,
               desc="go2 ppo")
    for it in bar:
        st = RolloutStorage(t_steps, n, ac.layout.obs_dim, obs.shape[1], priv.shape[1], hist.shape[1])
        err = np.zeros(3)  # |vx|, |vy|, |yaw| tracking errors summed over steps (training distribution)
        contact_match, falls, timeouts, rew_sum = 0.0, 0, 0, 0.0
        tc = time.time()
        with torch.no_grad():
            for _ in range(t_steps):
                o, h, p = torch.from_numpy(obs), torch.from_numpy(hist), torch.from_numpy(priv)
                a_in = ac.actor_input(o, h)
                dist = ac.distribution(a_in)
                act = dist.sample()
                val = ac.value(o, p)
                obs, priv_next, rew, done, info = env.step(act.numpy())
                rew_t = torch.from_numpy(rew)
                tout = torch.from_numpy(info["time_outs"].astype(np.float32))
                rew_t = rew_t + cfg.ppo.gamma * val * tout  # bootstrap time-outs
                st.add(actor_in=a_in, obs=o, priv=p, hist=h, actions=act, logp=dist.log_prob(act).sum(-1),
                       values=val, rewards=rew_t, dones=torch.from_numpy(done.astype(np.float32)))
                hist = info["obs_history"].copy()
                priv = env.privileged() if done.any() else priv_next
                meas = np.concatenate([info["base_lin_vel"][:, :2], info["base_ang_vel"][:, 2:3]], 1)
                err += np.abs(info["commands"][:, :3] - meas).mean(0)
                contact_match += float(info["contact_match"].mean())
                falls += int(info["fell"].sum())
                timeouts += int(info["time_outs"].sum())
                rew_sum += float(rew.mean())
                for k, v in info.get("episode", {}).items():
                    ep_stats.setdefault(k, []).append(v)
            last_v = ac.value(torch.from_numpy(obs), torch.from_numpy(priv))
        collect_s = time.time() - tc
        st.compute_returns(last_v, cfg.ppo.gamma, cfg.ppo.lam)
        tu = time.time()
        stats = ppo.update(st)
        update_s = time.time() - tu
        wall = wall0 + time.time() - t0
        it1 = it + 1
        metrics = {"reward_per_step": rew_sum / t_steps, "vx_abs_error": err[0] / t_steps,
                   "vy_abs_error": err[1] / t_steps, "yaw_abs_error": err[2] / t_steps,
                   "contact_match": contact_match / t_steps, "curriculum_coverage": _coverage(env),
                   "falls_per_1k_env_steps": 1000.0 * falls / (n * t_steps), "timeouts": timeouts,
                   "env_steps_per_s_collect": n * t_steps / collect_s, "update_s": update_s, **stats}
        append_curve(run, {"iteration": it1, "env_steps": it1 * n * t_steps, "wall_clock_s": round(wall, 2),
                           **{k: round(float(metrics[k]), 5) for k in CURVE_KEYS}})
        if it1 % cfg.log_interval == 0:
            for k, v in metrics.items():
                writer.add_scalar(f"train/{k}", v, it1)
            for k, v in ep_stats.items():
                writer.add_scalar(f"episode/{k}", float(np.mean(v)), it1)
            bar.set_postfix(r=f"{metrics['reward_per_step']:.4f}", vx=f"{metrics['vx_abs_error']:.3f}",
                            yaw=f"{metrics['yaw_abs_error']:.3f}", cov=f"{metrics['curriculum_coverage']:.2f}",
                            ep=f"{np.mean(ep_stats.get('length_s', [0])):.1f}s")
        out_of_time = cfg.max_wall_clock_s > 0 and wall >= cfg.max_wall_clock_s
        stop = out_of_time or stop_requested.is_set()
        if it1 % cfg.save_interval == 0 or it1 == cfg.iterations or stop:
            summary = {"iterations": it1, "train_wall_clock_s": wall, "env_steps": it1 * n * t_steps,
                       "num_envs": n, "seed": cfg.seed, "actor_params": ac.layout.num_params,
                       "metrics": metrics, "episode": {k: float(np.mean(v)) for k, v in ep_stats.items()}}
            _save(run, it1, ac, ppo, wall, cfg, summary, env)
            ep_stats = {}
        if stop:
            bar.write(f"stopped at iteration {it1} ({'wall-clock budget spent' if out_of_time else 'SIGTERM'}); "
                      "checkpoint saved, run the same command to resume")
            break
    writer.close()
    restore_signal()
    return summary


def _stop_on_sigterm(flag: threading.Event):
    """SIGTERM sets ``flag`` (training saves a checkpoint after the current iteration and returns); returns a
    function that restores the previous handler. A no-op outside the main thread. kill -9 is safe as well: it only
    loses the iterations since the last checkpoint."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGTERM, lambda *_: flag.set())
    return lambda: signal.signal(signal.SIGTERM, previous)


def _coverage(env: MujocoGo2Env) -> float:
    cur = env.sampler.curriculum
    return cur.coverage() if cur is not None else 1.0


#: per-iteration learning-curve columns (``curve.jsonl``), besides iteration, env_steps and wall_clock_s
CURVE_KEYS = ("vx_abs_error", "vy_abs_error", "yaw_abs_error", "contact_match", "curriculum_coverage",
              "reward_per_step", "falls_per_1k_env_steps")


def append_curve(run: Path, row: dict) -> None:
    """Append one row to ``run/curve.jsonl`` (a kill can at worst truncate the last line; readers skip it)."""
    with open(run / "curve.jsonl", "a") as fh:
        fh.write(json.dumps(row) + "\n")


def read_curve(run: str | Path) -> list[dict]:
    """Rows of ``run/curve.jsonl`` in order; unparsable lines (a truncated last line) are skipped."""
    path = Path(run) / "curve.jsonl"
    rows = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def truncate_curve(run: Path, iteration: int) -> None:
    """Drop curve rows after ``iteration`` (the checkpoint training resumes from), atomically."""
    rows = [r for r in read_curve(run) if r.get("iteration", 0) <= iteration]
    atomic_write_text(run / "curve.jsonl", "".join(json.dumps(r) + "\n" for r in rows))


def _save(run: Path, it: int, ac: ActorCritic, ppo: PPO, wall: float, cfg: Go2TrainConfig, summary: dict,
          env: MujocoGo2Env) -> None:
    path = run / "checkpoints" / f"ckpt_{it:05d}.pt"
    remove_stale_temps(path)
    curriculum = {k: torch.from_numpy(np.asarray(v)) for k, v in env.sampler.state_dict().items()}
    atomic_torch_save({"model": ac.state_dict(), "ppo": ppo.state_dict(), "iteration": int(it),
                       "wall_clock_s": float(wall), "config": to_dict(cfg), "curriculum": curriculum}, path)
    save_weights_file(run / "actors" / f"actor_{it:05d}.safetensors", ac.layout, ac.actor.flat(),
                      extra={"iteration": int(it), "seed": cfg.seed, "history_len": cfg.env.history_len})
    save_adaptation(run / "adaptation" / f"adaptation_{it:05d}.safetensors", ac.adaptation)
    atomic_write_text(run / "summary.json", json.dumps(summary, indent=2))
