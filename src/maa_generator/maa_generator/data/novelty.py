"""Prompt novelty: how far a prompt's behavior embedding lies from the prompts the generator was trained on.

A generator conditioned on a behavior unlike all of its training behaviors samples latents off the manifold it
learned, and the decoded policies are unreliable (``results/metaworld/unseen_study``: on held-out MetaWorld tasks
the generated policies succeed far less often than on training tasks). The novelty score makes that visible per
request: the distance from the prompt's condition to its nearest neighbour in a bank of training conditions,
divided by the median leave-one-out nearest-neighbour distance inside the bank. Prompts like the training
prompts score about 1; the MetaWorld held-out tasks score 5-10.

The bank is stored next to the generator's weights as ``novelty.safetensors`` (optional: generators saved
without it report no novelty).

    python -m maa_generator.data.novelty_cli --generator models/metaworld/generator --zoo data/metaworld_zoo \\
        --tasks reach door-open drawer-open button-press          # add a bank to an existing generator
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from maa_core.weights_io import WeightsError, read_safetensors
from maa_generator.data.checkpoint import CheckpointError

NOVELTY_FILE = "novelty.safetensors"
DEFAULT_BANK_ROWS = 2048
WARN_ABOVE = 3.0  # suggested warning threshold (in-distribution prompts score ~1)


class NoveltyReference:
    """Bank of training conditions ``[K, E]`` and the in-distribution distance ``scale`` (condition units)."""

    def __init__(self, bank: torch.Tensor, scale: float):
        bank = torch.as_tensor(bank, dtype=torch.float32)
        if bank.ndim != 2 or bank.shape[0] < 2 or not torch.isfinite(bank).all():
            raise ValueError(f"novelty bank must be finite with shape [K >= 2, E], got {list(bank.shape)}")
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"novelty scale must be a finite number > 0, got {scale}")
        self.bank, self.scale = bank.contiguous(), float(scale)

    @property
    def cond_dim(self) -> int:
        return int(self.bank.shape[1])

    @classmethod
    def fit(cls, cond: torch.Tensor, max_rows: int = DEFAULT_BANK_ROWS, seed: int = 0) -> NoveltyReference:
        """Bank of at most ``max_rows`` random rows of the training conditions ``cond`` ``[N, E]`` (N >= 2)."""
        cond = torch.as_tensor(cond, dtype=torch.float32)
        if cond.ndim != 2 or cond.shape[0] < 2:
            raise ValueError(f"need training conditions of shape [N >= 2, E], got {list(cond.shape)}")
        if cond.shape[0] > max_rows:
            rows = torch.from_numpy(np.random.default_rng(seed).choice(cond.shape[0], max_rows, replace=False))
            cond = cond[rows.sort().values]
        d = torch.cdist(cond, cond)
        d.fill_diagonal_(float("inf"))
        nn_dist = d.min(1).values
        positive = nn_dist[nn_dist > 0]  # duplicated prompts have distance 0
        scale = float(positive.median()) if positive.numel() else 1.0
        return cls(cond, max(scale, 1e-6))

    def score(self, cond: torch.Tensor) -> torch.Tensor:
        """Novelty ``[B]`` of conditions ``[B, E]``: nearest-bank distance / ``scale`` (~1 in distribution)."""
        cond = torch.as_tensor(cond, dtype=torch.float32).to(self.bank.device)
        if cond.ndim != 2 or cond.shape[1] != self.cond_dim:
            raise ValueError(f"expected conditions of shape [B, {self.cond_dim}], got {list(cond.shape)}")
        return torch.cdist(cond, self.bank).min(1).values / self.scale

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / NOVELTY_FILE
        save_file({"bank": self.bank.cpu(), "scale": torch.tensor(self.scale)}, str(path))
        return path

    @classmethod
    def load(cls, directory: str | Path) -> NoveltyReference | None:
        """The bank saved in ``directory``, or ``None`` when it has none; raises :class:`CheckpointError` when the
        file is unreadable or malformed."""
        path = Path(directory) / NOVELTY_FILE
        if not path.exists():
            return None
        try:
            tensors, _ = read_safetensors(path, "novelty reference (tensors 'bank' [K, E] and 'scale')", framework="pt")
            return cls(tensors["bank"], float(tensors["scale"]))
        except (WeightsError, KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise CheckpointError(f"{path}: unreadable novelty reference ({type(exc).__name__}: {exc}); delete it "
                                  "or rebuild it with `python -m maa_generator.data.novelty_cli`") from None
