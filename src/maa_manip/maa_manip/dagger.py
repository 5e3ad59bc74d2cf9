"""DAgger collector: distill scripted experts (MetaWorld's, :mod:`maa_manip.robosuite_experts`) into SAC-layout
Gaussian actors (the suite comes from ``cfg.domain``, :mod:`maa_manip.domains`).

One run = (task, seed). It yields ``dagger.iterations`` checkpoints of increasing quality (the first is the
untrained actor), each with its success rate, its prompt ``(h, v)`` from its own rollout in the seed's fixed
configuration and a few full evaluation episodes. Runs checkpoint their partial state every
``dagger.partial_every`` iterations under ``<zoo>/partial/`` (atomically, pickle-free: tensors and plain Python
types, loaded with ``weights_only=True``) and resume from it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from maa_core.atomic_io import atomic_torch_save, from_torch_plain, to_torch_plain, torch_load_safe
from maa_core.prompt import success_prompt
from maa_manip.actor import act_deterministic, new_actor, split_raw
from maa_manip.config import CollectConfig
from maa_manip.domains import collect_domain
from maa_manip.envs import rollout

COLLECTOR = "dagger_expert"
PARTIAL_FORMAT = 2  # 1 (unversioned) held numpy objects and needed unpickling
_RESTART = "delete the file to start the run over"


@dataclass
class RunResult:
    """Checkpoints of one run. ``params [N, P]``, ``h [N, Dh]``, ``v [N, Dv]``, ``meta`` columns,
    ``traj`` = ``{traj_obs [N, E, T, o], traj_act [N, E, T, a], traj_success [N, E, T]}`` or None."""

    params: np.ndarray
    h: np.ndarray
    v: np.ndarray
    meta: dict
    traj: dict | None
    seconds: float = 0.0
    env_steps: int = 0


@dataclass
class _State:
    iteration: int = 0
    grad_steps: int = 0
    env_steps: int = 0
    data_obs: list = field(default_factory=list)
    data_act: list = field(default_factory=list)
    ckpts: dict = field(default_factory=lambda: {k: [] for k in ("params", "h", "v", "meta", "tobs", "tact", "tsuc")})


def run_seeds(seed: int, cfg: CollectConfig) -> tuple[list[int], list[int]]:
    """Initial-configuration seeds of a run: ``(fixed training configs, random evaluation stream seeds)``."""
    d = cfg.dagger
    fixed = [seed * 1000 + i for i in range(d.train_inits)]
    rand = [seed * 1000 + 500 + i for i in range(d.random_inits)]
    return fixed, rand


def noise_level(seed: int, cfg: CollectConfig) -> float:
    """Label-noise std of run ``seed`` (cycles through ``dagger.noise_levels``)."""
    levels = cfg.dagger.noise_levels
    return float(levels[seed % len(levels)])


def _label(expert, obs: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Expert actions for ``obs [B, o]`` (+ Gaussian noise), clipped to the tanh range."""
    act = np.stack([expert.get_action(o.astype(np.float64)) for o in obs]).astype(np.float32)
    if noise > 0:
        act = act + rng.normal(0.0, noise, act.shape).astype(np.float32)
    return np.clip(act, -0.995, 0.995)


def bc_loss(net, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
    """Imitation loss: MSE of ``tanh(mean)`` to the label + 0.1 x Gaussian NLL of ``atanh(label)`` for log_std."""
    mean, log_std = split_raw(net.layout, net.raw(obs))
    mse = (torch.tanh(mean) - act).pow(2).sum(-1).mean()
    pre = torch.atanh(act)
    nll = (0.5 * ((pre - mean.detach()) / log_std.exp()).pow(2) + log_std).sum(-1).mean()
    return mse + 0.1 * nll


def _train(net, opt, obs: np.ndarray, act: np.ndarray, steps: int, batch: int, gen: torch.Generator) -> float:
    o, a = torch.from_numpy(obs), torch.from_numpy(act)
    loss = torch.zeros(())
    for _ in range(steps):
        idx = torch.randint(0, o.shape[0], (min(batch, o.shape[0]),), generator=gen)
        loss = bc_loss(net, o[idx], a[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


def _partial_path(root: Path, task: str, run: str) -> Path:
    return root / "partial" / f"{task}__{run}.pt"


def _save_partial(path: Path, st: _State, net, opt, rng, gen) -> None:
    """Atomically write the run's partial state (tensors and plain Python types only: loads with weights_only)."""
    atomic_torch_save({"format": PARTIAL_FORMAT, "state": to_torch_plain(st.__dict__), "net": net.state_dict(),
                       "opt": opt.state_dict(), "rng": rng.bit_generator.state, "gen": gen.get_state()}, path)


def _load_partial(path: Path, net, opt, rng, gen) -> _State | None:
    """Restore a :func:`_save_partial` file into ``net``, ``opt``, ``rng``, ``gen``; returns its state (None if
    there is no file).

    Raises:
        ValueError: unreadable (truncated / corrupt) file, or one written by an older maa version.
    """
    if not path.is_file():
        return None
    blob = torch_load_safe(path, "DAgger partial checkpoint", _RESTART)
    if not isinstance(blob, dict) or blob.get("format") != PARTIAL_FORMAT:
        raise ValueError(f"{path} is not a DAgger partial checkpoint of format {PARTIAL_FORMAT} (written by an older "
                         f"maa version?); {_RESTART}")
    net.load_state_dict(blob["net"])
    opt.load_state_dict(blob["opt"])
    rng.bit_generator.state = blob["rng"]
    gen.set_state(blob["gen"])
    st = _State()
    st.__dict__.update(from_torch_plain(blob["state"]))
    return st


def run_dagger(task: str, seed: int, cfg: CollectConfig, root: Path | None = None, progress=None,
               log=None) -> RunResult:
    """Run DAgger for ``(task, seed)``.

    Args:
        cfg: collection config (``cfg.dagger`` holds the DAgger knobs).
        root: zoo root for partial checkpoints (None: no resume).
        progress: optional tqdm bar advanced once per iteration.
        log: optional ``(tag, value, step)`` scalar logger (TensorBoard).
    """
    d = cfg.dagger
    t0 = time.time()
    domain = collect_domain(cfg.domain, cfg.robot, cfg.control)
    layout = domain.layout
    torch.set_num_threads(max(1, cfg.torch_threads))
    net = new_actor(layout, seed)
    opt = torch.optim.Adam(net.parameters(), lr=d.lr)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    run = run_name(seed)
    ppath = _partial_path(Path(root), task, run) if root is not None else None
    st = (_load_partial(ppath, net, opt, rng, gen) if ppath else None) or _State()
    noise = noise_level(seed, cfg)
    expert = domain.make_expert(task)
    fixed, rand = run_seeds(seed, cfg)
    train_env = domain.make_vec(task, fixed, "fixed", cfg.episode_steps)
    rand_env = domain.make_vec(task, rand, "random", cfg.episode_steps) if rand else None
    if st.iteration == 0 and not st.data_obs:
        for _ in range(d.expert_episodes):
            ro = rollout(train_env, lambda o: _label(expert, o, noise, rng))
            _add(st, ro, expert, noise, rng)
        if progress is not None:
            progress.set_postfix_str(f"{task} s{seed} expert data")
    while st.iteration < d.iterations:
        ro_f = rollout(train_env, lambda o: act_deterministic(net, o))
        ro_r = rollout(rand_env, lambda o: act_deterministic(net, o)) if rand_env else None
        _record(st, cfg, net, ro_f, ro_r, seed, noise)
        _add(st, ro_f, expert, noise, rng)
        if ro_r is not None:
            _add(st, ro_r, expert, noise, rng)
        obs, act = np.concatenate(st.data_obs), np.concatenate(st.data_act)
        loss = _train(net, opt, obs, act, d.grad_steps, d.batch_size, gen)
        st.grad_steps += d.grad_steps
        st.iteration += 1
        if log is not None:
            log(f"{task}/s{seed}/success", st.ckpts["meta"][-1]["success"], st.iteration)
            log(f"{task}/s{seed}/bc_loss", loss, st.iteration)
        if progress is not None:
            progress.update(1)
            progress.set_postfix_str(f"{task} s{seed} succ={st.ckpts['meta'][-1]['success']:.2f} loss={loss:.3f}")
        if ppath is not None and st.iteration % d.partial_every == 0 and st.iteration < d.iterations:
            _save_partial(ppath, st, net, opt, rng, gen)
    return _result(st, cfg, time.time() - t0)


def run_name(seed: int) -> str:
    return f"dagger-s{seed:04d}"


def _add(st: _State, ro: dict, expert, noise: float, rng) -> None:
    obs = ro["obs"].reshape(-1, ro["obs"].shape[-1])
    st.data_obs.append(obs.astype(np.float32))
    st.data_act.append(_label(expert, obs, noise, rng))
    st.env_steps += obs.shape[0]


def _record(st: _State, cfg: CollectConfig, net, ro_f: dict, ro_r: dict | None, seed: int, noise: float) -> None:
    succ_f = ro_f["success"].any(1)
    succ_r = ro_r["success"].any(1) if ro_r is not None else np.zeros(0, bool)
    both = np.concatenate([succ_f, succ_r])
    h, v = success_prompt(ro_f["obs"][0], ro_f["act"][0], ro_f["success"][0], cfg.prompt_n, cfg.prompt_m)
    c = st.ckpts
    c["params"].append(net.flat())
    c["h"].append(h)
    c["v"].append(v)
    c["meta"].append({"seed": seed, "step": st.grad_steps, "collector": COLLECTOR, "success": float(both.mean()),
                      "success_fixed": float(succ_f.mean()),
                      "success_random": float(succ_r.mean()) if succ_r.size else None,
                      "noise": noise, "iteration": st.iteration, "env_steps": st.env_steps,
                      "return_fixed": float(ro_f["reward"].sum(1).mean()), "init_seed": run_seeds(seed, cfg)[0][0]})
    k = cfg.store_episodes
    if k:
        obs = np.concatenate([ro_f["obs"]] + ([ro_r["obs"]] if ro_r is not None else []))[:k]
        act = np.concatenate([ro_f["act"]] + ([ro_r["act"]] if ro_r is not None else []))[:k]
        suc = np.concatenate([ro_f["success"]] + ([ro_r["success"]] if ro_r is not None else []))[:k]
        c["tobs"].append(obs.astype(np.float32))
        c["tact"].append(act.astype(np.float32))
        c["tsuc"].append(suc)


def _result(st: _State, cfg: CollectConfig, seconds: float) -> RunResult:
    c = st.ckpts
    traj = None
    if cfg.store_episodes:
        traj = {"traj_obs": np.stack(c["tobs"]), "traj_act": np.stack(c["tact"]), "traj_success": np.stack(c["tsuc"])}
    meta = {k: [m[k] for m in c["meta"]] for k in c["meta"][0]}
    return RunResult(np.stack(c["params"]), np.stack(c["h"]), np.stack(c["v"]), meta, traj, seconds, st.env_steps)
