"""Paper-faithful SAC collector, training ``S`` seeds at once with batched (bmm) networks.

Actor: the paper's Gaussian tanh actor (:func:`maa_core.layout.metaworld_sac_layout`, parameters held as one
``[S, P]`` tensor in PolicyLayout order, run with :func:`maa_core.policy_torch.batched_forward`). Critics:
twin ``(39 + 4) -> 128 -> 128 -> 1`` MLPs per seed with Polyak targets. Batch 128, Adam lr 3e-4, gamma 0.99,
tau 0.005, automatic entropy tuning (target entropy -|A|), ``random_steps`` uniform-random steps, one update per
agent step. MetaWorld never terminates, so time-limit ends are bootstrapped (no done mask).

Because Adam is element-wise, one optimizer over ``[S, ...]`` tensors equals ``S`` independent optimizers.

Resume: with a zoo root, :func:`run_sac_job` saves the whole run every ``partial_every`` steps under
``<root>/partial/`` and an interrupted job continues after the last saved step (:mod:`maa_manip.sac_resume`).
MetaWorld simulator states cannot be saved, so on resume every environment starts a fresh episode; this is the
only difference from an uninterrupted run (the policy noise comes from torch's global RNG, which no run seeds, so SAC
runs are not bit-reproducible with or without a resume).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from maa_core.layout import PolicyLayout, metaworld_sac_layout
from maa_core.policy_torch import batched_forward
from maa_core.prompt import success_prompt
from maa_manip.actor import new_actor, sample_tanh_gaussian, split_raw
from maa_manip.config import CollectConfig, SacConfig, run_name_for
from maa_manip.dagger import RunResult
from maa_manip.envs import ACT_DIM, OBS_DIM, VecMetaWorld, rollout
from maa_manip.sac_resume import job_signature, load_partial, partial_path, restore_trainer, save_partial, trainer_state

COLLECTOR = "sac"


class BatchedMLP(torch.nn.Module):
    """``G`` independent ReLU MLPs ``dims[0] -> ... -> dims[-1]``: ``[G, B, dims[0]] -> [G, B, dims[-1]]``."""

    def __init__(self, groups: int, dims: tuple[int, ...], generator: torch.Generator):
        super().__init__()
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for n, o in zip(dims[:-1], dims[1:]):
            bound = 1.0 / np.sqrt(n)
            self.weights.append(torch.nn.Parameter((torch.rand(groups, n, o, generator=generator) * 2 - 1) * bound))
            self.biases.append(torch.nn.Parameter((torch.rand(groups, 1, o, generator=generator) * 2 - 1) * bound))

    def forward(self, x: torch.Tensor, frozen: bool = False) -> torch.Tensor:
        """``frozen``: treat the weights as constants (gradients flow to ``x`` only; used by the actor loss)."""
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            if frozen:
                w, b = w.detach(), b.detach()
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = torch.relu(x)
        return x


class BatchedSAC:
    """``S`` SAC agents updated together. Shapes: obs ``[S, B, o]``, actions ``[S, B, a]`` (MetaWorld: 39, 4).

    Args:
        cfg: SAC hyper-parameters.
        seeds: one integer seed per agent (actor init matches :func:`maa_manip.actor.new_actor`).
    """

    def __init__(self, cfg: SacConfig, seeds: list[int], layout: PolicyLayout | None = None):
        self.cfg = cfg
        self.layout = layout or metaworld_sac_layout()
        self.S = len(seeds)
        gen = torch.Generator().manual_seed(int(seeds[0]) * 7919 + 1)
        self.actor = torch.nn.Parameter(torch.from_numpy(np.stack([new_actor(self.layout, s).flat() for s in seeds])))
        dims = (self.layout.obs_dim + self.layout.action_dim, cfg.hidden, cfg.hidden, 1)
        self.q = BatchedMLP(2 * self.S, dims, gen)
        self.q_targ = BatchedMLP(2 * self.S, dims, gen)
        self.q_targ.load_state_dict(self.q.state_dict())
        for p in self.q_targ.parameters():
            p.requires_grad_(False)
        self.log_alpha = torch.nn.Parameter(torch.zeros(self.S))
        self.target_entropy = -float(self.layout.action_dim)
        self.opt_actor = torch.optim.Adam([self.actor], lr=cfg.lr)
        self.opt_q = torch.optim.Adam(self.q.parameters(), lr=cfg.lr)
        self.opt_alpha = torch.optim.Adam([self.log_alpha], lr=cfg.lr)

    def _policy(self, obs: torch.Tensor, flat: torch.Tensor | None = None):
        raw = batched_forward(self.layout, self.actor if flat is None else flat, obs, raw=True)
        return split_raw(self.layout, raw)

    def _qs(self, net: BatchedMLP, obs: torch.Tensor, act: torch.Tensor, frozen: bool = False) -> torch.Tensor:
        """-> ``[2, S, B]`` twin Q values."""
        x = torch.cat([obs, act], -1).repeat(2, 1, 1)
        return net(x, frozen).squeeze(-1).view(2, self.S, -1)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """``obs [S, E, 39]`` -> actions ``[S, E, 4]``."""
        mean, log_std = self._policy(torch.as_tensor(obs, dtype=torch.float32))
        if deterministic:
            return torch.tanh(mean).numpy()
        return sample_tanh_gaussian(mean, log_std)[0].numpy()

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One gradient step for every agent. ``batch``: obs/next_obs ``[S, B, 39]``, act ``[S, B, 4]``,
        rew ``[S, B]``. Returns mean losses."""
        o, a, r, o2 = batch["obs"], batch["act"], batch["rew"], batch["next_obs"]
        alpha = self.log_alpha.exp().detach()
        with torch.no_grad():
            m2, ls2 = self._policy(o2)
            a2, logp2 = sample_tanh_gaussian(m2, ls2)
            q_t = self._qs(self.q_targ, o2, a2).min(0).values
            target = r + self.cfg.gamma * (q_t - alpha[:, None] * logp2)
        q = self._qs(self.q, o, a)
        loss_q = (q - target.unsqueeze(0)).pow(2).mean(dim=(0, 2)).sum()
        self.opt_q.zero_grad()
        loss_q.backward()
        self.opt_q.step()

        m, ls = self._policy(o)
        a_new, logp = sample_tanh_gaussian(m, ls)
        q_new = self._qs(self.q, o, a_new, frozen=True).min(0).values
        loss_pi = (alpha[:, None] * logp - q_new).mean(1).sum()
        self.opt_actor.zero_grad()
        loss_pi.backward()
        self.opt_actor.step()

        loss_alpha = -(self.log_alpha[:, None] * (logp.detach() + self.target_entropy)).mean(1).sum()
        self.opt_alpha.zero_grad()
        loss_alpha.backward()
        self.opt_alpha.step()
        with torch.no_grad():
            for p, pt in zip(self.q.parameters(), self.q_targ.parameters()):
                pt.lerp_(p, self.cfg.tau)
        return {"loss_q": loss_q.item() / self.S, "loss_pi": loss_pi.item() / self.S,
                "alpha": float(alpha.mean())}


class Replay:
    """Per-agent ring buffers ``[S, capacity, ...]`` (float32)."""

    def __init__(self, S: int, capacity: int, generator: torch.Generator, obs_dim: int = OBS_DIM,
                 act_dim: int = ACT_DIM):
        self.S, self.cap, self.n, self.i = S, int(capacity), 0, 0
        self.obs = torch.zeros(S, self.cap, obs_dim)
        self.next_obs = torch.zeros(S, self.cap, obs_dim)
        self.act = torch.zeros(S, self.cap, act_dim)
        self.rew = torch.zeros(S, self.cap)
        self.gen = generator

    def add(self, obs, act, rew, next_obs) -> None:
        """Add ``E`` transitions per agent: obs ``[S, E, 39]``, act ``[S, E, 4]``, rew ``[S, E]``."""
        e = obs.shape[1]
        idx = (self.i + torch.arange(e)) % self.cap
        for name, val in (("obs", obs), ("act", act), ("rew", rew), ("next_obs", next_obs)):
            getattr(self, name)[:, idx] = torch.as_tensor(val, dtype=torch.float32)
        self.i = (self.i + e) % self.cap
        self.n = min(self.n + e, self.cap)

    def sample(self, batch: int) -> dict[str, torch.Tensor]:
        idx = torch.randint(0, self.n, (self.S, batch), generator=self.gen)
        flat = (idx + torch.arange(self.S)[:, None] * self.cap).view(-1)

        def take(t: torch.Tensor) -> torch.Tensor:
            return t.view(self.S * self.cap, -1).index_select(0, flat).view(self.S, batch, -1)

        return {"obs": take(self.obs), "next_obs": take(self.next_obs), "act": take(self.act),
                "rew": self.rew.view(-1).index_select(0, flat).view(self.S, batch)}


@dataclass
class SacState:
    """A training run: agents, replay buffer, the generators of replay sampling (``gen``) and random-phase actions
    (``rng``), the last finished agent ``step`` and the gradient ``updates`` done."""

    agent: BatchedSAC
    buf: Replay
    gen: torch.Generator
    rng: np.random.Generator
    step: int = 0
    updates: int = 0


def sac_seeds(seed: int, cfg: CollectConfig) -> list[int]:
    """Agent seeds of job ``seed``: ``seed * num_seeds + i``."""
    return [seed * cfg.sac.num_seeds + i for i in range(cfg.sac.num_seeds)]


def replay_capacity(sc: SacConfig, steps: int) -> int:
    """Per-agent replay capacity of a ``steps``-step run."""
    return min(sc.buffer_size, steps * sc.envs_per_seed)


def train_sac(task: str, seeds: list[int], cfg: CollectConfig, steps: int | None = None, progress=None,
              log=None, on_test=None, resume: dict | None = None, on_partial=None) -> dict:
    """Train ``len(seeds)`` SAC agents on ``task`` (each in its seed's fixed configuration).

    Args:
        steps: agent steps per seed (default ``cfg.sac.total_steps``).
        progress: optional bar, advanced once per step (once by the resumed step count on resume).
        on_test: ``(step, agent, test_success[S], rollouts)`` callback after every test.
        resume: a :func:`maa_manip.sac_resume.trainer_state` snapshot of this run: continue after its step (the
            environments start a fresh episode).
        on_partial: ``(snapshot)`` callback with a :func:`~maa_manip.sac_resume.trainer_state` every
            ``cfg.sac.partial_every`` steps, after that step's test (not at the last step).
    Returns:
        ``{"agent": BatchedSAC, "steps_per_s": agent-steps/s (all seeds, this call), "updates": int,
        "start_step": steps done before this call (0 unless resumed)}``.
    """
    sc = cfg.sac
    steps = sc.total_steps if steps is None else int(steps)
    S, E = len(seeds), sc.envs_per_seed
    torch.set_num_threads(max(1, cfg.torch_threads))
    gen = torch.Generator().manual_seed(int(seeds[0]))
    st = SacState(BatchedSAC(sc, seeds), Replay(S, replay_capacity(sc, steps), gen), gen,
                  np.random.default_rng(int(seeds[0])))
    if resume is not None:
        restore_trainer(st, resume)
        if progress is not None and st.step:
            progress.update(st.step)
    agent, buf, start = st.agent, st.buf, st.step
    vec = VecMetaWorld(task, [s * 1000 + j for s in seeds for j in range(E)], "fixed", cfg.episode_steps)
    obs = vec.reset().reshape(S, E, OBS_DIM)
    t0 = time.time()
    for step in range(start + 1, steps + 1):
        if step <= sc.random_steps:
            act = st.rng.uniform(-1, 1, (S, E, ACT_DIM)).astype(np.float32)
        else:
            act = agent.act(obs)
        nobs, rew, done, _ = vec.step(act.reshape(S * E, ACT_DIM))
        nobs = nobs.reshape(S, E, OBS_DIM)
        buf.add(obs, act, rew.reshape(S, E), nobs)
        obs = vec.reset().reshape(S, E, OBS_DIM) if done.all() else nobs
        if step >= min(sc.random_steps, steps) and buf.n >= sc.batch_size:
            for _ in range(sc.updates_per_step):
                info = agent.update(buf.sample(sc.batch_size))
                st.updates += 1
            if log is not None and step % 1000 == 0:
                for k, v in info.items():
                    log(f"{task}/sac/{k}", v, step)
        st.step = step
        if progress is not None:
            progress.update(1)
        if on_test is not None and step % sc.test_every == 0:
            test = test_agents(agent, task, seeds, cfg)
            on_test(step, agent, test["success"], test)
        if on_partial is not None and step % sc.partial_every == 0 and step < steps:
            on_partial(trainer_state(st))
    return {"agent": agent, "steps_per_s": (steps - start) * S * E / max(time.time() - t0, 1e-9),
            "updates": st.updates, "start_step": start}


def test_agents(agent: BatchedSAC, task: str, seeds: list[int], cfg: CollectConfig) -> dict:
    """Deterministic episodes in each agent's fixed configuration.

    Returns ``obs [S*k, T, 39]``, ``act [S*k, T, 4]``, ``reward [S*k, T]``, ``success_steps [S*k, T]`` and the
    per-agent test success rate ``success [S]``."""
    S, k = len(seeds), cfg.sac.test_episodes
    vec = VecMetaWorld(task, [s * 1000 for s in seeds for _ in range(k)], "fixed", cfg.episode_steps)
    ro = rollout(vec, lambda o: agent.act(o.reshape(S, k, OBS_DIM), deterministic=True).reshape(S * k, ACT_DIM))
    rate = ro["success"].any(1).reshape(S, k).mean(1)
    return {"obs": ro["obs"], "act": ro["act"], "reward": ro["reward"], "success_steps": ro["success"],
            "success": rate}


def run_sac_job(task: str, seed: int, cfg: CollectConfig, root: Path | None = None, progress=None,
                log=None) -> RunResult:
    """SAC collection job: train ``cfg.sac.num_seeds`` agents, checkpoint each every ``ckpt_every`` steps once its
    test success reached ``ckpt_min_success``; prompts come from that checkpoint's own test episode.

    With a zoo ``root`` the run is saved every ``sac.partial_every`` steps to
    ``<root>/partial/<task>__sac-s<seed>.pt`` and resumed from that file when it exists (a file written for a
    different config raises ``ValueError``; see :mod:`maa_manip.sac_resume`).
    """
    seeds = sac_seeds(seed, cfg)
    sc, k = cfg.sac, cfg.sac.test_episodes
    rows: dict[str, list] = {x: [] for x in ("params", "h", "v", "meta", "tobs", "tact", "tsuc")}
    reached = np.zeros(len(seeds), bool)
    t0 = time.time()
    ppath = partial_path(root, task, run_name_for(cfg, seed)) if root is not None else None
    signature = job_signature(task, seeds, sc, metaworld_sac_layout().num_params,
                              replay_capacity(sc, sc.total_steps))
    saved = load_partial(ppath, signature) if ppath is not None else None
    if saved is not None:
        if saved["trainer"]["step"] >= sc.total_steps:
            raise ValueError(f"SAC partial checkpoint {ppath} is at step {saved['trainer']['step']}, not before "
                             f"sac.total_steps = {sc.total_steps}; delete the file to start the job over")
        rows, reached = saved["rows"], saved["reached"]

    def on_test(step, agent, success, ro):
        nonlocal reached
        reached |= success >= sc.ckpt_min_success
        if step % sc.ckpt_every:
            return
        flat = agent.actor.detach().numpy()
        for i, s in enumerate(seeds):
            if not reached[i]:
                continue
            e = i * k + sc.prompt_episode % k
            h, v = success_prompt(ro["obs"][e], ro["act"][e], ro["success_steps"][e], cfg.prompt_n, cfg.prompt_m)
            rows["params"].append(flat[i].copy())
            rows["h"].append(h)
            rows["v"].append(v)
            rows["meta"].append({"seed": s, "step": step, "collector": COLLECTOR, "success": float(success[i]),
                                 "init_seed": s * 1000})
            rows["tobs"].append(ro["obs"][e:e + 1])
            rows["tact"].append(ro["act"][e:e + 1])
            rows["tsuc"].append(ro["success_steps"][e:e + 1])

    def on_partial(snapshot: dict) -> None:
        save_partial(ppath, signature, snapshot, rows, reached)

    train_sac(task, seeds, cfg, progress=progress, log=log, on_test=on_test,
              resume=saved["trainer"] if saved is not None else None,
              on_partial=on_partial if ppath is not None else None)
    if not rows["params"]:
        raise RuntimeError(f"SAC job {task}/s{seed}: no agent reached test success {sc.ckpt_min_success} in "
                           f"{sc.total_steps} steps, so no checkpoint was saved")
    traj = None
    if cfg.store_episodes:
        traj = {"traj_obs": np.stack(rows["tobs"]), "traj_act": np.stack(rows["tact"]),
                "traj_success": np.stack(rows["tsuc"])}
    meta = {key: [m[key] for m in rows["meta"]] for key in rows["meta"][0]}
    return RunResult(np.stack(rows["params"]), np.stack(rows["h"]), np.stack(rows["v"]), meta, traj,
                     time.time() - t0, sc.total_steps * len(seeds))
