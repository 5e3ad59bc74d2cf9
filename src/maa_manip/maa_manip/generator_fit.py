"""Does a trained generator reproduce its training checkpoints from their own prompts? (``check_generator_fit``)

A cheap training-fit check that needs no simulator: for checkpoints of a seen task, condition the generator on
each checkpoint's stored prompt and compare the generated policy's actions with the checkpoint's own, on the
states of the checkpoint's stored episode. Two references put the number in scale: the autoencoder's
reconstruction of the same checkpoint (what decoding alone costs) and another checkpoint of the task (what "a
different good policy of this task" looks like). In latent space, the distance of each generated latent to the
nearest training latent is set against the training latents' own nearest-neighbour distances (both in the
diffusion model's normalized units): samples far off the data manifold decode to broken policies.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from maa_manip.actor import act_batched


def _actions(layout, flat: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """Deterministic actions of ``K`` policies ``[K, P]`` on their own states ``[K, T, obs_dim]`` -> ``[K, T, A]``."""
    return act_batched(layout, torch.from_numpy(np.ascontiguousarray(flat, dtype=np.float32)), obs)


def fit_rows(metadata: list[dict], k: int, rng: np.random.Generator, min_success: float = 0.8) -> list[int]:
    """``k`` distinct rows (fewer if the task has fewer) among checkpoints with recorded success >= ``min_success``;
    among every checkpoint when fewer than two are that successful (tiny zoos)."""
    good = [i for i, m in enumerate(metadata) if (m.get("success") or 0.0) >= min_success]
    good = good if len(good) >= 2 else list(range(len(metadata)))
    return sorted(rng.choice(good, min(k, len(good)), replace=False).tolist())


def nearest_distances(query: torch.Tensor, bank: torch.Tensor, exclude_self: bool = False) -> torch.Tensor:
    """Euclidean distance of each flattened ``query`` row ``[Q, ...]`` to its nearest ``bank`` row ``[N, ...]``
    -> ``[Q]``; ``exclude_self``: the second nearest (each query is itself in the bank, up to round-off)."""
    d = torch.cdist(query.reshape(len(query), -1).double(), bank.reshape(len(bank), -1).double())
    return d.topk(2 if exclude_self else 1, dim=1, largest=False).values[:, -1]


def prompt_fit(gen, zoo, task: str, rows: Sequence[int], bank_latents: torch.Tensor | None = None,
               guidance_scales: Sequence[float | None] = (None,), obs_steps: int = 200, seed: int = 0) -> dict:
    """The training-fit figures of ``gen`` on checkpoints ``rows`` (within ``task``'s view) of ``zoo``.

    Args:
        bank_latents: raw training latents ``[N, T, C]`` (a run's ``cache/latents.npy``); default: the task's own
            checkpoints encoded by ``gen``.
        guidance_scales: sampling weights to compare (None: the generator's default).
        obs_steps: first states of each stored episode on which actions are compared.
    Returns:
        ``{"rows", "action_mse": {"other_checkpoint", "ae_reconstruction", "generated[w]": ...},
        "latent": {"train_nn_median", "generated_nn_median[w]": ...}}``; action MSE is the mean over rows, steps
        and action dimensions of the squared difference to the checkpoint's own deterministic actions.
    """
    rows = list(rows)
    if len(rows) < 2:
        raise ValueError(f"prompt_fit needs >= 2 checkpoints of {task}, got {len(rows)}")
    layout, diff = gen.layout, gen.diffusion
    params = np.asarray(zoo.params(task)[rows], dtype=np.float32)
    h, v = (torch.from_numpy(np.asarray(x[rows], dtype=np.float32)) for x in zoo.prompts(task))
    obs = np.asarray(zoo.trajectories(task)["traj_obs"][rows])[:, 0, :obs_steps]
    own = _actions(layout, params, obs)
    other = params[np.roll(np.arange(len(rows)), 1)]  # each row compared with another checkpoint of the task

    def mse(flat: np.ndarray) -> float:
        return float(((_actions(layout, flat, obs) - own) ** 2).mean())

    with torch.inference_mode():
        cond = gen.embedding.embed(h, v)
        latents = gen.autoencoder.encode(torch.from_numpy(params))
        recon = gen.autoencoder.decode(latents).numpy()
        bank = diff.normalize(bank_latents if bank_latents is not None
                              else gen.autoencoder.encode(torch.from_numpy(np.asarray(zoo.params(task)[:]))))
    out = {"task": task, "rows": rows,
           "action_mse": {"other_checkpoint": mse(other), "ae_reconstruction": mse(recon)},
           "latent": {"train_nn_median": float(nearest_distances(diff.normalize(latents), bank, True).median())}}
    for w in guidance_scales:
        name = "default" if w is None else f"{w:g}"
        with torch.inference_mode():
            sampled = diff.sample(cond, 1, seed, guidance_scale=w)
            flat = gen.autoencoder.decode(sampled).numpy()
        out["action_mse"][f"generated[{name}]"] = mse(flat)
        out["latent"][f"generated_nn_median[{name}]"] = float(nearest_distances(diff.normalize(sampled), bank).median())
    return out
