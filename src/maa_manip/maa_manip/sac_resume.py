"""Partial-run checkpoints of the SAC collector (:func:`maa_manip.sac.run_sac_job`).

Every ``sac.partial_every`` agent steps a SAC job writes ``<zoo root>/partial/<task>__sac-s<seed>.pt`` (to a
temporary file, fsynced, then renamed, so a kill or a power loss never leaves a half-written checkpoint; tensors and
plain Python types only, loaded with ``weights_only=True``, never unpickled): the agents (actor, critics, target
critics, ``log_alpha``, the three Adam states), the filled part of the replay buffer, the torch and numpy generator
states, the step reached, the update count and the job's checkpoint rows collected so far. The next run of the job
validates the file against its config and continues after that step; :func:`maa_manip.jobs.write_result` deletes
the file once the job's shard is written. MetaWorld simulator states are not saved: after a resume every
environment starts a fresh episode.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from maa_core.atomic_io import atomic_torch_save, from_torch_plain, to_torch_plain, torch_load_safe

if TYPE_CHECKING:
    from maa_manip.config import SacConfig
    from maa_manip.sac import SacState

FORMAT = 2  # 1 held numpy arrays (rows, reached) and needed unpickling
REPLAY_FIELDS = ("obs", "act", "rew", "next_obs")
_KEYS = ("format", "signature", "trainer", "rows", "reached")
_RESTART = "delete the file to start the job over"


def partial_path(root: Path, task: str, run: str) -> Path:
    """``<root>/partial/<task>__<run>.pt`` (the name :func:`maa_manip.jobs.write_result` deletes)."""
    return Path(root) / "partial" / f"{task}__{run}.pt"


def job_signature(task: str, seeds: list[int], sc: SacConfig, num_params: int, buffer_capacity: int) -> dict:
    """What a partial checkpoint must share with the job resuming it (compared key by key on load)."""
    return {"task": task, "seeds": [int(s) for s in seeds], "num_params": int(num_params), "hidden": int(sc.hidden),
            "envs_per_seed": int(sc.envs_per_seed), "buffer_capacity": int(buffer_capacity)}


def _head(t: torch.Tensor, n: int) -> torch.Tensor:
    """First ``n`` rows along dim 1 as a tensor of its own (``torch.save`` of a slice would write the whole
    storage; a full buffer is saved as is)."""
    return t if n == t.shape[1] else t[:, :n].clone()


def trainer_state(st: SacState) -> dict:
    """Snapshot of a training run (tensors on CPU).

    Returns ``{"step", "updates", "agent": {actor [S, P], log_alpha [S], q, q_targ (state_dicts), opt_actor,
    opt_q, opt_alpha (Adam state_dicts)}, "replay": {cap, i, n, obs [S, n, 39], act [S, n, 4], rew [S, n],
    next_obs [S, n, 39]} (float32), "gen" (torch ByteTensor), "rng" (numpy bit-generator state)}``.
    """
    a, b = st.agent, st.buf
    agent = {"actor": a.actor.detach().clone(), "log_alpha": a.log_alpha.detach().clone(),
             "q": a.q.state_dict(), "q_targ": a.q_targ.state_dict(), "opt_actor": a.opt_actor.state_dict(),
             "opt_q": a.opt_q.state_dict(), "opt_alpha": a.opt_alpha.state_dict()}
    replay = {"cap": b.cap, "i": b.i, "n": b.n, **{k: _head(getattr(b, k), b.n) for k in REPLAY_FIELDS}}
    return {"step": st.step, "updates": st.updates, "agent": agent, "replay": replay, "gen": st.gen.get_state(),
            "rng": st.rng.bit_generator.state}


def restore_trainer(st: SacState, state: dict) -> None:
    """Load a :func:`trainer_state` snapshot into a freshly built run ``st`` (same seeds, layout and capacity)."""
    a, b, r = st.agent, st.buf, state["replay"]
    if r["cap"] != b.cap or r["obs"].shape[0] != b.S:
        raise ValueError(f"SAC resume state has {r['obs'].shape[0]} agents / replay capacity {r['cap']}, the run "
                         f"has {b.S} / {b.cap}")
    with torch.no_grad():
        a.actor.copy_(state["agent"]["actor"])
        a.log_alpha.copy_(state["agent"]["log_alpha"])
    for name in ("q", "q_targ", "opt_actor", "opt_q", "opt_alpha"):
        getattr(a, name).load_state_dict(state["agent"][name])
    n = int(r["n"])
    for k in REPLAY_FIELDS:
        getattr(b, k)[:, :n] = r[k]
    b.i, b.n = int(r["i"]), n
    st.gen.set_state(state["gen"])
    st.rng.bit_generator.state = state["rng"]
    st.step, st.updates = int(state["step"]), int(state["updates"])


def save_partial(path: Path, signature: dict, trainer: dict, rows: dict[str, list], reached: np.ndarray) -> None:
    """Atomically write a job's partial checkpoint (``trainer`` from :func:`trainer_state`, ``rows`` = the job's
    checkpoint rows so far, ``reached [S]`` = which agents passed ``ckpt_min_success``)."""
    atomic_torch_save({"format": FORMAT, "signature": signature, "trainer": trainer, "rows": to_torch_plain(rows),
                       "reached": to_torch_plain(np.array(reached, bool))}, path)


def load_partial(path: Path, signature: dict) -> dict | None:
    """The partial checkpoint at ``path`` (None if there is none), checked against the job's ``signature``.

    ``rows`` and ``reached`` come back as saved (numpy arrays); the trainer snapshot holds tensors.

    Raises:
        ValueError: the file is unreadable (truncated / corrupt), was written by an older maa version (needs
            unpickling, or an older format) or for a different job config.
    """
    if not path.is_file():
        return None
    blob = torch_load_safe(path, "SAC partial checkpoint", _RESTART)
    if not isinstance(blob, dict) or any(k not in blob for k in _KEYS) or blob["format"] != FORMAT:
        raise ValueError(f"{path} is not a SAC partial checkpoint of format {FORMAT} (written by an older maa "
                         f"version?); {_RESTART}")
    saved = blob["signature"]
    diff = [f"{k}: file {saved.get(k)!r} != config {v!r}" for k, v in signature.items() if saved.get(k) != v]
    if diff:
        raise ValueError(f"SAC partial checkpoint {path} does not match the current config ({'; '.join(diff)}); "
                         f"{_RESTART}")
    return {**blob, "rows": from_torch_plain(blob["rows"]), "reached": from_torch_plain(blob["reached"])}
