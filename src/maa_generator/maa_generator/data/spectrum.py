"""How many dimensions a zoo's policy layers need: the autoencoder width check (results/metaworld/paper_scale).

Each layer's decoder ends in a linear map from its ``hidden`` units, so its reconstructions of a layer (after the
per-coordinate standardization the autoencoder trains on) lie in an affine subspace of dimension ``hidden``. The
fraction of the zoo's variance that the best ``k``-dimensional subspace holds (PCA) therefore bounds what an
autoencoder of width ``k`` can reconstruct: ``1 - explained(k)`` is a floor on its normalized validation loss.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from maa_core.layout import PolicyLayout


def explained_variance(block: np.ndarray, ks: Sequence[int]) -> dict[int, float]:
    """Fraction of the variance of ``block`` ``[N, D]`` (standardized per column) in its top-``k`` principal
    components, for each ``k`` in ``ks`` (``k`` above the rank gives 1.0)."""
    x = np.asarray(block, np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"expected [N >= 2, D] rows, got shape {list(x.shape)}")
    std = x.std(0)
    x = (x - x.mean(0)) / np.where(std > 0, std, 1.0)
    s2 = np.linalg.svd(x, compute_uv=False) ** 2
    total = float(s2.sum())
    if total == 0.0:
        return {int(k): 1.0 for k in ks}
    cum = np.cumsum(s2) / total
    return {int(k): float(cum[min(int(k), len(cum)) - 1]) for k in ks}


def layer_spectra(params: np.ndarray, layout: PolicyLayout, ks: Sequence[int]) -> list[dict]:
    """Per linear layer of ``layout``: ``{"layer", "shape", "explained": {k: fraction}}`` for flat ``params``
    ``[N, P]`` (weights and bias of the layer together, as the autoencoder encodes them)."""
    flat = layout.check_flat(np.asarray(params, np.float32), batched=True)
    out = []
    for i, (sl, shape) in enumerate(zip(layout.layer_slices(), layout.layer_shapes())):
        out.append({"layer": i, "shape": list(shape), "explained": explained_variance(flat[:, sl], ks)})
    return out
