"""Nearest-prompt retrieval: the training checkpoint whose prompt is nearest to a query prompt.

The one implementation behind every retrieval baseline (MetaWorld/Robosuite ``retrieval`` and ``retrieval_noise``,
the Go2 nearest-checkpoint method). Keys are the prompts' behavior embeddings (``embed``) when given, else the raw
prompts z-scored with the bank's statistics; the metric is squared L2 or cosine similarity.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

METRICS = ("l2", "cosine")


def generator_embed_fn(generator) -> Callable:
    """``(h [B, Dh], v [B, Dv]) -> [B, E]`` (numpy in and out) from a loaded
    :class:`maa_generator.models.generator.Generator`'s behavior embedding."""

    def embed(h: np.ndarray, v: np.ndarray) -> np.ndarray:
        generator.eval()
        with torch.inference_mode():
            return generator.embedding.embed(torch.from_numpy(h), torch.from_numpy(v)).float().numpy()

    return embed


class NearestPrompt:
    """Index of the bank prompt nearest to each query.

    Args:
        h, v: ``[N, ...]`` the bank's prompts (N >= 1), e.g. ``[N, Dh]``, ``[N, Dv]`` or segmented
            ``[N, S, Dh]``, ``[N, S, Dv]``; queries have the same trailing shape.
        embed: optional ``(h, v) -> [B, E]`` (e.g. :func:`generator_embed_fn`); without it, z-scored raw prompts.
        metric: ``"l2"`` (smallest squared distance) or ``"cosine"`` (largest cosine similarity).
        chunk: bank rows embedded per call.
    """

    def __init__(self, h: np.ndarray, v: np.ndarray, embed: Callable | None = None, metric: str = "l2",
                 chunk: int = 1024):
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        h, v = np.asarray(h, np.float32), np.asarray(v, np.float32)
        if h.ndim < 2 or v.ndim < 2 or len(h) != len(v) or len(h) == 0:
            raise ValueError(f"need bank prompts h [N, ...] and v [N, ...] with the same N >= 1, got {h.shape} and "
                             f"{v.shape}")
        self.embed, self.metric = embed, metric
        if embed is None:
            self.h_mean, self.h_std = h.mean(0), h.std(0) + 1e-6
            self.v_mean, self.v_std = v.mean(0), v.std(0) + 1e-6
        self.keys = np.concatenate([self.features(h[i:i + chunk], v[i:i + chunk]) for i in range(0, len(h), chunk)])

    def features(self, h: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Keys ``[B, E]`` of prompts ``h [B, ...]``, ``v [B, ...]`` (unit length for the cosine metric)."""
        if self.embed is not None:
            f = np.asarray(self.embed(h, v), np.float32).reshape(len(h), -1)
        else:
            f = np.concatenate([((h - self.h_mean) / self.h_std).reshape(len(h), -1),
                                ((v - self.v_mean) / self.v_std).reshape(len(v), -1)], axis=1)
        if self.metric == "cosine":
            f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
        return f

    def nearest(self, h: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Bank index ``[K]`` of the nearest prompt for each query ``h [K, ...]``, ``v [K, ...]``."""
        q = self.features(np.asarray(h, np.float32), np.asarray(v, np.float32))
        if self.metric == "cosine":
            return (q @ self.keys.T).argmax(1)
        d = (q ** 2).sum(1, keepdims=True) - 2 * q @ self.keys.T + (self.keys ** 2).sum(1)[None]
        return d.argmin(1)
