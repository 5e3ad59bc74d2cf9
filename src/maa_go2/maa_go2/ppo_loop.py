"""The Go2 PPO training loop, one for both engines: :func:`run_ppo` on torch tensors on a device.

The environment is anything with the Isaac task's interface (:class:`~maa_go2.engines.isaacgym_go2.Go2WTW`; on
MuJoCo the adapter :class:`maa_go2.train.MujocoTask`): ``num_envs``, ``obs_buf`` ``[N, 70]``,
``privileged_obs_buf`` ``[N, 7]`` (of the envs' current episodes, i.e. after resets), ``get_obs_history()``
``[N, H*70]``, ``sampler`` (:class:`~maa_go2.curriculum.CommandSampler`) and ``step(actions) -> (obs, priv, reward,
done, extras)`` with tensors on the training device and ``extras`` holding ``time_outs``, ``fell``,
``base_lin_vel``, ``base_ang_vel``, ``commands``, ``contact_match`` and, when episodes ended, ``episode`` (floats);
and ``stagger_episodes(seed)``, called when training starts or resumes (``train.stagger_episodes``).

Every iteration: a rollout of ``ppo.steps_per_env`` steps (time-outs bootstrapped with the critic's value), the
project's PPO update (actor, critic with the privileged input, adaptation-module regression unless
``adaptation_init`` froze it), one ``curve.jsonl`` row, TensorBoard scalars and progress (tqdm bar or log lines)
every ``log_interval``, and the run directory of :mod:`maa_go2.run_dir` every ``save_interval``. Metrics
accumulate on the device with one host sync per iteration. SIGTERM and ``max_wall_clock_s`` stop after a
checkpoint; the next call resumes (the curriculum included). No MuJoCo, no rclpy (Python 3.8 on the Isaac box).
"""
from __future__ import annotations

import signal
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from maa_go2.actor_critic import ActorCritic
from maa_go2.checkpoints import load_adaptation
from maa_go2.ppo import PPO, RolloutStorage
from maa_go2.run_dir import (
    CURVE_KEYS,
    append_curve,
    load_initial_weights,
    pin_init_from,
    prepare_run,
    resume_checkpoint,
    save_run,
    truncate_curve,
)
from maa_go2.train_config import Go2TrainConfig

#: ``extras`` keys the loop reads every step (besides the optional ``episode``)
EXTRAS_KEYS = ("time_outs", "fell", "base_lin_vel", "base_ang_vel", "commands", "contact_match")


def stop_on_sigterm(flag: threading.Event) -> Callable[[], None]:
    """SIGTERM sets ``flag`` (training saves a checkpoint after the current iteration and returns); returns a
    function that restores the previous handler. A no-op outside the main thread. kill -9 is safe as well: it only
    loses the iterations since the last checkpoint."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGTERM, lambda *_: flag.set())
    return lambda: signal.signal(signal.SIGTERM, previous)


class Tally:
    """Per-iteration metrics, accumulated on the device; :meth:`metrics` is the iteration's one host sync."""

    def __init__(self, device):
        self.sums = torch.zeros(7, device=device)  #: |vx|, |vy|, |yaw| errors, reward, contact, falls, time-outs
        self.episodes: dict[str, list] = {}

    def add(self, rew: torch.Tensor, extras: dict) -> None:
        """One step's reward ``[N]`` and ``extras``."""
        meas = torch.cat([extras["base_lin_vel"][:, :2], extras["base_ang_vel"][:, 2:3]], 1)
        err = (extras["commands"][:, :3] - meas).abs().mean(0)
        step = torch.stack([rew.mean(), extras["contact_match"].float().mean(), extras["fell"].float().sum(),
                            extras["time_outs"].float().sum()]).to(self.sums.dtype)
        self.sums += torch.cat([err.to(self.sums.dtype), step])
        for k, v in extras.get("episode", {}).items():
            self.episodes.setdefault(k, []).append(v)

    def metrics(self, steps: int, n: int) -> dict:
        """Means over the iteration's ``steps`` x ``n`` env steps (the training distribution)."""
        vx, vy, yaw, reward, contact, falls, timeouts = self.sums.tolist()
        return {"reward_per_step": reward / steps, "vx_abs_error": vx / steps, "vy_abs_error": vy / steps,
                "yaw_abs_error": yaw / steps, "contact_match": contact / steps,
                "falls_per_1k_env_steps": 1000.0 * falls / (n * steps), "timeouts": int(round(timeouts))}


def collect(env, ac: ActorCritic, st: RolloutStorage, obs, priv, hist, steps: int, gamma: float, tally: Tally):
    """``steps`` policy steps into ``st`` (time-outs bootstrapped with the critic's value); returns the last
    ``(obs, priv, hist)``."""
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


class Reporter:
    """Where an iteration's numbers go: TensorBoard (``run/tb``), a tqdm bar (``progress``) and/or ``log`` lines."""

    def __init__(self, run: Path, cfg: Go2TrainConfig, start_it: int, progress: bool,
                 log: Callable[[str], None] | None):
        self.log, self.bar, self.writer = log, None, _summary_writer(run / "tb")
        if progress:
            try:
                from tqdm import tqdm
            except ImportError:  # the GPU box may not have it
                self.log = log or print
            else:
                self.bar = tqdm(total=cfg.iterations, initial=start_it, desc="go2 ppo")

    def iteration(self, it1: int, metrics: dict, ep_stats: dict, log_now: bool) -> None:
        """Iteration ``it1`` done: the bar advances; every ``log_interval``: scalars, bar postfix, log line."""
        if self.bar is not None:
            self.bar.update(1)
        if not log_now:
            return
        if self.writer is not None:
            for k, v in metrics.items():
                self.writer.add_scalar(f"train/{k}", v, it1)
            for k, v in ep_stats.items():
                self.writer.add_scalar(f"episode/{k}", float(np.mean(v)), it1)
        if self.bar is not None:
            self.bar.set_postfix(r=f"{metrics['reward_per_step']:.4f}", vx=f"{metrics['vx_abs_error']:.3f}",
                                 yaw=f"{metrics['yaw_abs_error']:.3f}", cov=f"{metrics['curriculum_coverage']:.2f}",
                                 match=f"{metrics['contact_match']:.2f}", gaits=int(metrics["gaits_open"]),
                                 ep=f"{np.mean(ep_stats.get('length_s', [0])):.1f}s")
        if self.log is not None:
            self.log(f"it {it1}: r {metrics['reward_per_step']:.4f} vx {metrics['vx_abs_error']:.3f} "
                     f"yaw {metrics['yaw_abs_error']:.3f} cov {metrics['curriculum_coverage']:.2f} "
                     f"{metrics['env_steps_per_s_collect']:.0f} steps/s update {metrics['update_s']:.2f} s")

    def message(self, text: str) -> None:
        """A line that is always shown (below the bar, else through ``log``, else printed)."""
        if self.bar is not None:
            self.bar.write(text)
        else:
            (self.log or print)(text)

    def close(self) -> None:
        """Close the bar and flush TensorBoard."""
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()


def _summary_writer(folder: Path):
    """A TensorBoard writer on ``folder``, or None (with a warning) where the tensorboard package is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:
        warnings.warn(f"no TensorBoard scalars ({e}); curve.jsonl and summary.json are written", RuntimeWarning,
                      stacklevel=3)
        return None
    return SummaryWriter(str(folder))


def build_learner(cfg: Go2TrainConfig, device) -> tuple[ActorCritic, PPO]:
    """The actor-critic on ``device`` and its PPO; with ``cfg.adaptation_init`` the pretrained adaptation module,
    frozen.

    Raises:
        ValueError: the pretrained module's history length differs from ``cfg.env.history_len``.
    """
    ac = ActorCritic(cfg.env.history_len, cfg.ppo.init_noise_std).to(device)
    ppo = PPO(ac, cfg.ppo)
    if cfg.adaptation_init:
        pre = load_adaptation(cfg.adaptation_init)
        if pre.history_len != cfg.env.history_len:
            raise ValueError(f"pretrained adaptation module {cfg.adaptation_init} has history_len {pre.history_len}, "
                             f"config has env.history_len {cfg.env.history_len}")
        ac.adaptation.load_state_dict(pre.state_dict())
        ppo.train_adaptation = False
    return ac, ppo


def restore(run: Path, ac: ActorCritic, ppo: PPO, sampler, resume: bool, init_from: str = "",
            init_curriculum: bool = False) -> tuple[int, float]:
    """Resume the newest usable checkpoint of ``run`` (model, optimizers, curriculum) and drop the curve rows after
    it; returns ``(iteration, wall clock s)`` to continue from (``(0, 0.0)`` for a fresh run, which starts from the
    actor-critic and optimizer state of checkpoint ``init_from`` when given, and from its curriculum state too with
    ``init_curriculum``)."""
    state = resume_checkpoint(run / "checkpoints", ac, ppo) if resume else None
    curriculum = state.get("curriculum") if state is not None else None
    if state is None and init_from:
        initial = load_initial_weights(init_from, ac, ppo)
        if init_curriculum:
            curriculum = initial.get("curriculum")
            if not curriculum:
                raise ValueError(f"train.init_curriculum: {init_from} holds no curriculum state (its run trained "
                                 "without a command or gait curriculum); set train.init_curriculum=false")
    start_it, wall0 = (state["iteration"], float(state["wall_clock_s"])) if state is not None else (0, 0.0)
    if curriculum:
        sampler.load_state_dict({k: v.numpy() for k, v in curriculum.items()})
        if state is None:  # another run's curriculum: this run's wait for the next gait starts now
            sampler.restart_gait_wait()
    truncate_curve(run, start_it)
    return start_it, wall0


def _coverage(sampler) -> float:
    """Fraction of the command box the curriculum has opened (1.0 without a curriculum)."""
    cur = sampler.curriculum
    return cur.coverage() if cur is not None else 1.0


def _gait_matches(sampler) -> dict:
    """``{"gait_match_<gait>": smoothed contact match}`` of the gait curriculum (empty without one)."""
    cur = getattr(sampler, "gaits", None)
    return {} if cur is None else {f"gait_match_{g}": float(m) for g, m in zip(sampler.ranges.gaits, cur.match)}


def _gait_coverages(sampler) -> dict:
    """``{"coverage_<gait>": open fraction of that gait's grid}`` of a per-gait curriculum (empty otherwise)."""
    grids = getattr(sampler.curriculum, "grids", None)
    return {} if grids is None else {f"coverage_{g}": grid.coverage() for g, grid in zip(sampler.ranges.gaits, grids)}


def command_metrics(sampler) -> dict:
    """What the command sampler's curricula have reached: ``curriculum_coverage``, ``gaits_open``,
    ``gait_match_<gait>`` and ``coverage_<gait>`` (where those curricula exist), ``gait_frequency_staged``; the
    metrics every training loop on the task (PPO, :mod:`maa_go2.distill`) reports."""
    return {"curriculum_coverage": _coverage(sampler), "gaits_open": float(sampler.gaits_open()),
            **_gait_matches(sampler), **_gait_coverages(sampler),
            "gait_frequency_staged": float(sampler.frequency_staged())}


def _summary(it1: int, wall: float, n: int, t_steps: int, cfg: Go2TrainConfig, ac: ActorCritic, engine: str,
             metrics: dict, ep_stats: dict) -> dict:
    """``summary.json`` after iteration ``it1``: progress, the last iteration's metrics, episode means since the
    previous save."""
    return {"iterations": it1, "train_wall_clock_s": wall, "env_steps": it1 * n * t_steps, "num_envs": n,
            "seed": cfg.seed, "actor_params": ac.layout.num_params, "engine": engine, "metrics": metrics,
            "episode": {k: float(np.mean(v)) for k, v in ep_stats.items()}}


def ppo_iteration(env, ac: ActorCritic, ppo: PPO, cfg: Go2TrainConfig, device, obs, priv, hist):
    """One rollout of ``cfg.ppo.steps_per_env`` steps from ``(obs, priv, hist)`` and one PPO update; returns the last
    ``(obs, priv, hist)``, the iteration's metrics and the ``extras["episode"]`` values of the episodes that ended."""
    n, t_steps = env.num_envs, cfg.ppo.steps_per_env
    st = RolloutStorage(t_steps, n, ac.layout.obs_dim, obs.shape[1], priv.shape[1], hist.shape[1], device)
    tally, tc = Tally(device), time.time()
    obs, priv, hist = collect(env, ac, st, obs, priv, hist, t_steps, cfg.ppo.gamma, tally)
    with torch.no_grad():
        last_v = ac.value(obs, priv)
    collect_s = time.time() - tc
    st.compute_returns(last_v, cfg.ppo.gamma, cfg.ppo.lam)
    tu = time.time()
    stats = ppo.update(st)
    metrics = {**tally.metrics(t_steps, n), **command_metrics(env.sampler),
               "env_steps_per_s_collect": n * t_steps / collect_s, "update_s": time.time() - tu, **stats}
    return (obs, priv, hist), metrics, tally.episodes


def flush_denormals() -> bool:
    """Make CPU float math flush denormal numbers (below 1.2e-38 in float32) to zero; returns whether the CPU
    supports it.

    Denormals build up in a long PPO run (its optimizer moments and activations) and every operation on one is many
    times slower: measured on the second agility run's checkpoint 2150, one thread, three PPO updates took 19.7-19.9 s
    as is and 7.5-9.0 s flushed, which is why its iterations had slowed from 1.8 s to 3.5 s since the start. Values
    that small carry no information for training. No effect on GPU tensors.
    """
    return bool(torch.set_flush_denormal(True))


def run_ppo(env, cfg: Go2TrainConfig, device="cpu", resume: bool = True, progress: bool = True,
            log: Callable[[str], None] | None = None, engine: str = "mujoco") -> dict:
    """Train on ``env`` (tensors on ``device``); returns the final summary (also ``summary.json``).

    Args:
        resume: continue from the newest usable checkpoint in ``cfg.run_dir`` (False: start over).
        progress: a tqdm bar (with reward, tracking errors, curriculum coverage and episode length).
        log: called with one line per ``log_interval`` (e.g. ``print`` on a headless GPU box).
        engine: label of the checkpoints, actor files and summary (``"mujoco"``, ``"isaacgym"``).
    """
    torch.manual_seed(cfg.seed)
    flush_denormals()
    cfg = pin_init_from(cfg)
    run = prepare_run(cfg)
    ac, ppo = build_learner(cfg, device)
    start_it, wall0 = restore(run, ac, ppo, env.sampler, resume, cfg.init_from, cfg.init_curriculum)
    if cfg.stagger_episodes:  # a fresh start and every resume: no batch-wide lockstep of episode events
        env.stagger_episodes(cfg.seed + start_it)
    n, t_steps = env.num_envs, cfg.ppo.steps_per_env
    obs, priv, hist = env.obs_buf, env.privileged_obs_buf, env.get_obs_history()
    stop_requested = threading.Event()
    restore_signal = stop_on_sigterm(stop_requested)
    report = Reporter(run, cfg, start_it, progress, log)
    t0, summary, ep_stats = time.time(), {}, {}
    try:
        last = t0
        for it in range(start_it, cfg.iterations):
            (obs, priv, hist), metrics, episodes = ppo_iteration(env, ac, ppo, cfg, device, obs, priv, hist)
            now = time.time()
            it1, wall, it_time = it + 1, wall0 + now - t0, now - last
            last = now
            for k, v in episodes.items():
                ep_stats.setdefault(k, []).extend(v)
            append_curve(run, {"iteration": it1, "env_steps": it1 * n * t_steps, "wall_clock_s": round(wall, 2),
                               **{k: round(float(metrics[k]), 5) for k in CURVE_KEYS}})
            report.iteration(it1, metrics, ep_stats, it1 % cfg.log_interval == 0)
            # stop when another iteration as long as this one would overrun the budget, so the run ends within it
            out_of_time = cfg.max_wall_clock_s > 0 and wall + it_time > cfg.max_wall_clock_s
            stop = out_of_time or stop_requested.is_set()
            if it1 % cfg.save_interval == 0 or it1 == cfg.iterations or stop:
                summary = _summary(it1, wall, n, t_steps, cfg, ac, engine, metrics, ep_stats)
                save_run(run, it1, ac, ppo, wall, cfg, summary, env.sampler, engine)
                ep_stats = {}
            if stop:
                report.message(f"stopped at iteration {it1} ({'wall-clock budget spent' if out_of_time else 'SIGTERM'}"
                               "); checkpoint saved, run the same command to resume")
                break
    finally:
        report.close()
        restore_signal()
    return summary
