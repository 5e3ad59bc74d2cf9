"""Saving/loading Go2 actors and adaptation modules (safetensors, layout in the metadata)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from maa_core.atomic_io import atomic_path
from maa_core.layout import PolicyLayout
from maa_go2.actor_critic import AdaptationModule


def save_actor(path: str | Path, layout: PolicyLayout, flat: np.ndarray, **meta) -> None:
    """Write ``{"flat": [P] float32}`` with ``layout`` (JSON) and ``meta`` in the metadata."""
    flat = layout.check_flat(flat)
    md = {"layout": json.dumps(layout.to_dict()), **{k: json.dumps(v) for k, v in meta.items()}}
    with atomic_path(path) as tmp:  # a kill mid-save never leaves a truncated actor behind
        save_file({"flat": np.ascontiguousarray(flat)}, str(tmp), metadata=md)


def load_actor(path: str | Path) -> tuple[PolicyLayout, np.ndarray, dict]:
    """Return ``(layout, flat [P], meta)``; raises ValueError for a file that is not an actor checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"actor checkpoint not found: {path}")
    try:
        with safe_open(str(path), "np") as fh:
            md = fh.metadata() or {}
        tensors = load_file(str(path))
    except Exception as exc:  # truncated / not safetensors
        raise ValueError(f"{path}: not a readable safetensors actor checkpoint ({exc})") from None
    if "layout" not in md or "flat" not in tensors:
        raise ValueError(f"{path}: expected a 'flat' tensor and 'layout' metadata, "
                         f"got {sorted(tensors)} / {sorted(md)}")
    layout = PolicyLayout.from_dict(json.loads(md.pop("layout")))
    return layout, layout.check_flat(tensors["flat"]), {k: json.loads(v) for k, v in md.items()}


def save_adaptation(path: str | Path, module: AdaptationModule) -> None:
    """Save the adaptation module (state dict + ``history_len``)."""
    sd = {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(sd, str(tmp), metadata={"history_len": str(module.history_len), "out_dim": str(module.out_dim)})


def load_adaptation(path: str | Path) -> AdaptationModule:
    """Load a frozen (eval mode, no grad) adaptation module."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"adaptation module not found: {path}")
    try:
        with safe_open(str(path), "np") as fh:
            md = fh.metadata() or {}
        sd = load_file(str(path))
    except Exception as exc:
        raise ValueError(f"{path}: not a readable safetensors adaptation module ({exc})") from None
    if "history_len" not in md:
        raise ValueError(f"{path}: missing 'history_len' metadata; not an adaptation module file")
    mod = AdaptationModule(int(md["history_len"]), out_dim=int(md.get("out_dim", 7)))
    mod.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    mod.eval()
    for p in mod.parameters():
        p.requires_grad_(False)
    return mod
