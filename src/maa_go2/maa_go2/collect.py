"""Collect the Go2 policy zoo: actor checkpoints of one or more training runs (seeds) + behaviour prompts.

Per checkpoint one long rollout (commands resampled every ``resample_s``; randomized physics) is recorded with the
frozen *pretrained adaptation module*; it is cut into ``segments`` pieces and each gives a prompt pair
(``maa_core.prompt.segmented_prompt``: ``h`` = first ``n`` state-action pairs, ``v`` = last ``m`` states;
locomotion has no success signal). Each checkpoint's metadata carries its behavior descriptors
(:mod:`maa_go2.behavior`, measured in the same rollout) and tracking errors. All checkpoints of a run are rolled
out together (one env each, batched actors).
Output: a ``maa_generator.data.zoo`` shard per run (task ``go2_walk``).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from maa_core.config import load_config
from maa_core.policy_torch import batched_forward
from maa_core.prompt import segmented_prompt
from maa_core.weights_io import load_weights_file
from maa_go2.behavior_rollout import GaitRecorder
from maa_go2.checkpoints import load_adaptation
from maa_go2.commands import CommandRanges
from maa_go2.control import POLICY_DT
from maa_go2.engines.mujoco_engine import MujocoGo2Env
from maa_go2.env_config import EnvConfig
from maa_go2.observation import OBS_DIM

TASK = "go2_walk"


@dataclass
class CollectConfig:
    """Go2 zoo collection (``config/go2_collect.yaml``, section ``collect:``)."""

    runs: list[str] = field(default_factory=list)  #: training run dirs (one per seed), each with actors/*.safetensors
    #: a ``styles.json`` of ``training/finetune_go2_styles.py``: the runs of its zoo styles are collected too
    styles_index: str = ""
    styles_min_iteration: int = 0  #: ``min_iteration`` for the style runs (fine-tuning iterations count from 0)
    adaptation: str = "results/go2/adaptation_module.safetensors"  #: the pretrained (frozen) adaptation module
    out: str = "results/go2/zoo"
    every: int = 1  #: use every k-th actor checkpoint of a run
    min_iteration: int = 0
    seconds: float = 10.0
    resample_s: float = 5.0
    n: int = 40
    m: int = 10
    segments: int = 5
    seed: int = 0
    commands: CommandRanges = field(default_factory=CommandRanges)


def load_collect_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> CollectConfig:
    """The ``collect:`` section of a YAML file (composed on its ``base:`` files) -> :class:`CollectConfig`, with
    ``collect.key=value`` overrides (``--set`` items); unknown keys and bad values raise ConfigError."""
    return load_config(CollectConfig, path, overrides, section="collect")


def list_actors(run: str | Path, every: int = 1, min_iteration: int = 0) -> list[Path]:
    files = sorted(Path(run, "actors").glob("actor_*.safetensors"))
    its = [int(re.findall(r"(\d+)", f.stem)[-1]) for f in files]
    keep = [f for f, it in zip(files, its) if it >= min_iteration]
    return keep[::max(1, every)]


@torch.no_grad()
def rollout_actors(flats: np.ndarray, layout, adaptation, cfg: CollectConfig, seed: int) -> dict:
    """One env per actor; returns obs ``[K,T,70]``, act ``[K,T,12]``, mean reward ``[K]``, falls ``[K]``,
    ``behavior``: K :class:`~maa_go2.behavior.BehaviorDescriptors` and ``vx_error`` / ``yaw_error`` ``[K]`` (mean
    absolute tracking errors, up to each actor's first fall)."""
    k = flats.shape[0]
    env_cfg = EnvConfig(num_envs=k, episode_length_s=cfg.seconds + 1.0, history_len=adaptation.history_len,
                        resampling_time_s=cfg.resample_s, commands=cfg.commands)
    env = MujocoGo2Env(env_cfg, seed=seed)
    steps = int(round(cfg.seconds / POLICY_DT))
    obs_buf = np.zeros((k, steps, OBS_DIM), np.float32)
    act_buf = np.zeros((k, steps, 12), np.float32)
    rew, falls = np.zeros(k), np.zeros(k)
    flat_t = torch.from_numpy(flats)
    gait = GaitRecorder(k)
    obs, hist = env.obs.copy(), env.get_obs_history()
    for t in range(steps):
        latent = adaptation(torch.from_numpy(hist))
        a_in = torch.cat([torch.from_numpy(obs), latent], -1)[:, None, :]
        act = batched_forward(layout, flat_t, a_in)[:, 0].numpy()
        obs_buf[:, t], act_buf[:, t] = obs, act
        obs, _, r, done, info = env.step(act)
        hist = info["obs_history"]
        rew += r
        falls += info["fell"]
        gait.add(info)
    return {"obs": obs_buf, "act": act_buf, "reward": rew / steps, "falls": falls, "behavior": gait.describe(),
            **gait.tracking_errors()}


def _json_float(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def quality_and_behavior_meta(roll: dict) -> dict:
    """Per-checkpoint metadata columns of a :func:`rollout_actors` result: ``behavior`` (descriptor values, NaN as
    null, plus ``flags``), ``vx_error`` and ``yaw_error``."""
    behavior = [{**{n: _json_float(v) for n, v in d.values().items()}, "flags": list(d.flags)}
                for d in roll["behavior"]]
    return {"behavior": behavior, "vx_error": [_json_float(x) for x in roll["vx_error"]],
            "yaw_error": [_json_float(x) for x in roll["yaw_error"]]}


def style_runs(index_path: str | Path) -> list[str]:
    """Run directories of the zoo styles (``in_zoo``) listed in a ``styles.json``.

    Raises:
        FileNotFoundError: no index there. ValueError: an index without a ``styles`` list.
    """
    path = Path(index_path)
    if not path.is_file():
        raise FileNotFoundError(f"collect.styles_index: no {path}; run training/finetune_go2_styles.py first")
    index = json.loads(path.read_text())
    if not isinstance(index.get("styles"), list):
        raise ValueError(f"collect.styles_index: {path} has no 'styles' list; expected finetune_go2_styles output")
    return [row["run_dir"] for row in index["styles"] if row.get("in_zoo")]


def collect(cfg: CollectConfig) -> list[str]:
    """Collect every run in ``cfg.runs`` (and the zoo styles of ``cfg.styles_index``) into the zoo at ``cfg.out``;
    a run whose shard is already there is skipped (collection resumes run by run). Returns the shard names."""
    from maa_core.config import to_dict
    from maa_generator.data.zoo import ZooWriter, prompt_spec

    adaptation = load_adaptation(cfg.adaptation)
    spec = prompt_spec("segmented", OBS_DIM, 12, cfg.n, cfg.m, cfg.segments)
    writer, written = None, []
    runs = [(r, cfg.min_iteration) for r in cfg.runs]
    runs += [(r, cfg.styles_min_iteration) for r in (style_runs(cfg.styles_index) if cfg.styles_index else [])]
    for ri, (run, min_iteration) in enumerate(tqdm(runs, desc="go2 zoo", unit="run")):
        files = list_actors(run, cfg.every, min_iteration)
        if not files:
            raise FileNotFoundError(f"no actor checkpoints (actors/actor_*.safetensors) in run {run}")
        run_name = re.sub(r"[^A-Za-z0-9_.\-]", "-", Path(run).name).replace("__", "_")
        written.append(f"{TASK}__{run_name}")
        loaded = [load_weights_file(f) for f in files]
        layout = loaded[0].layout
        writer = writer or ZooWriter(Path(cfg.out), "go2", layout, spec, config=to_dict(cfg))
        if writer.has_shard(TASK, run_name):
            continue
        flats = np.stack([p.flat for p in loaded]).astype(np.float32)
        roll = rollout_actors(flats, layout, adaptation, cfg, seed=cfg.seed + ri)
        hs, vs = zip(*(segmented_prompt(roll["obs"][i], roll["act"][i], cfg.n, cfg.m, cfg.segments)
                       for i in range(len(files))))
        meta = {"seed": [int(p.extra.get("seed", 0)) for p in loaded],
                "step": [int(p.extra.get("iteration", 0)) for p in loaded],
                "collector": "maa_go2.collect", "return": roll["reward"].tolist(),
                "falls": roll["falls"].tolist(), **quality_and_behavior_meta(roll)}
        # full trajectories are not stored: the zoo format requires a per-step success array, which locomotion lacks
        writer.add_shard(TASK, run_name, flats, np.stack(hs), np.stack(vs), meta)
    return written
