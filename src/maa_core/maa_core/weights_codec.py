"""Policy weights <-> the fields of ``maa_msgs/PolicyWeights`` (ROS-free).

The message is the wire form of ``(PolicyLayout, flat parameters)``; this module is the only place that maps
between the two, so the generator node, the deploy node and file tools agree on it. It works on any object with
the message's attributes (a real ROS message, a ``types.SimpleNamespace``, a dataclass).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from maa_core.layout import LayoutError, PolicyLayout


class WeightsError(ValueError):
    """Raised when a PolicyWeights message is inconsistent, corrupt or does not match the expected layout."""


def checksum(flat: np.ndarray) -> str:
    """sha256 hex digest of ``flat`` as little-endian float32 bytes."""
    return hashlib.sha256(np.ascontiguousarray(flat, dtype="<f4").tobytes()).hexdigest()


@dataclass
class PolicyMeta:
    """Provenance carried with generated weights."""

    generator_id: str = ""
    domain: str = ""
    task: str = ""
    seed: int = -1
    candidate_index: int = 0
    score: float = float("nan")


def weights_fields(layout: PolicyLayout, flat: np.ndarray, meta: PolicyMeta | None = None) -> dict[str, Any]:
    """The PolicyWeights fields (except ``header``) for ``flat`` ``[P]`` under ``layout``."""
    flat = layout.check_flat(flat)
    meta = meta or PolicyMeta()
    return {
        "layout_name": layout.name,
        "layout_fingerprint": layout.fingerprint(),
        "obs_dim": layout.obs_dim,
        "action_dim": layout.action_dim,
        "layer_sizes": [int(d) for d in layout.dims],
        "activation": layout.activation,
        "output": layout.output,
        "log_std_bounds": list(layout.log_std_bounds) if layout.output == "gaussian_tanh" else [],
        "num_params": layout.num_params,
        "data": flat,
        "checksum": checksum(flat),
        "generator_id": meta.generator_id,
        "domain": meta.domain,
        "task": meta.task,
        "seed": int(meta.seed),
        "candidate_index": int(meta.candidate_index),
        "score": float(meta.score),
    }


def fill_message(msg: Any, layout: PolicyLayout, flat: np.ndarray, meta: PolicyMeta | None = None) -> Any:
    """Set the fields of a PolicyWeights-like ``msg`` in place and return it."""
    for key, value in weights_fields(layout, flat, meta).items():
        setattr(msg, key, value)
    return msg


def decode_message(msg: Any, expected: PolicyLayout | None = None) -> tuple[PolicyLayout, np.ndarray, PolicyMeta]:
    """Validate a PolicyWeights-like ``msg`` and return ``(layout, flat [P] float32, meta)``.

    Raises:
        WeightsError: inconsistent sizes, unknown activation/output, wrong length, checksum mismatch,
            non-finite values, or a layout different from ``expected``.
    """
    sizes = [int(s) for s in msg.layer_sizes]
    if len(sizes) < 2:
        raise WeightsError(f"layer_sizes must list at least input and output widths, got {sizes}")
    bounds = [float(b) for b in msg.log_std_bounds] or [-5.0, 2.0]
    try:
        layout = PolicyLayout(obs_dim=int(msg.obs_dim), action_dim=int(msg.action_dim), hidden=tuple(sizes[1:-1]),
                              activation=str(msg.activation), output=str(msg.output), name=str(msg.layout_name),
                              log_std_bounds=tuple(bounds))
    except LayoutError as exc:
        raise WeightsError(f"invalid layout in message: {exc}") from exc
    if tuple(sizes) != layout.dims:
        raise WeightsError(f"layer_sizes {sizes} inconsistent with obs_dim={msg.obs_dim}, action_dim={msg.action_dim}, "
                           f"output={msg.output} (expected first {layout.obs_dim} and last {layout.output_dim})")
    if msg.layout_fingerprint and msg.layout_fingerprint != layout.fingerprint():
        raise WeightsError(f"layout_fingerprint {msg.layout_fingerprint} does not match the layout described by the "
                           f"message ({layout.fingerprint()})")
    flat = np.asarray(msg.data, dtype=np.float32)
    if int(msg.num_params) != layout.num_params or flat.shape != (layout.num_params,):
        raise WeightsError(f"expected {layout.num_params} parameters for layer_sizes {sizes}, got num_params="
                           f"{msg.num_params} and {flat.size} data values")
    if not np.all(np.isfinite(flat)):
        raise WeightsError(f"weights contain {int(np.sum(~np.isfinite(flat)))} non-finite values (NaN/inf)")
    if msg.checksum and msg.checksum != checksum(flat):
        raise WeightsError("checksum mismatch: data was corrupted in transit or the checksum is stale")
    if expected is not None and expected.fingerprint() != layout.fingerprint():
        raise WeightsError(f"layout mismatch: this target runs {expected.name} {list(expected.dims)} "
                           f"({expected.activation}, {expected.output}), got {layout.name} {list(layout.dims)} "
                           f"({layout.activation}, {layout.output})")
    score = float(msg.score)
    meta = PolicyMeta(generator_id=str(msg.generator_id), domain=str(msg.domain), task=str(msg.task),
                      seed=int(msg.seed), candidate_index=int(msg.candidate_index),
                      score=score if math.isfinite(score) else float("nan"))
    return layout, flat, meta
