"""Go2 actors and the Go2 adaptation module on disk.

* **Actors** use the weights file format of :mod:`maa_core.weights_io`: ``save_weights_file(path, layout, flat,
  extra={"iteration": ..., "seed": ..., "history_len": ...})`` and ``load_weights_file(path)`` (a
  ``WeightsPayload`` whose ``extra`` holds that metadata; older actor files with a ``flat`` tensor load the same).
* **The adaptation module** (history ``[history_len * OBS_DIM]`` -> latent ``[out_dim]``, Linear/ELU MLP) is
  written by :func:`save_adaptation` in the same weights format (layout ``go2_adaptation``, ``extra``
  ``history_len`` and ``out_dim``). :func:`read_adaptation` is the one reader: it also accepts the older state-dict
  files (``net.{k}.weight/bias`` of the module's ``nn.Sequential``, metadata ``history_len`` and ``out_dim``; e.g.
  the committed ``models/go2/adaptation.safetensors``) and returns a ``WeightsPayload`` without importing torch
  (the deploy stack uses it). :func:`load_adaptation` builds the frozen torch module from that payload.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from maa_core.layout import PolicyLayout
from maa_core.weights_io import (
    WeightsError,
    WeightsPayload,
    load_weights_file,
    make_payload,
    payload_from_safetensors,
    read_safetensors,
    save_weights_file,
)
from maa_go2.observation import OBS_DIM

if TYPE_CHECKING:
    from maa_go2.actor_critic import AdaptationModule

ADAPTATION_LAYOUT_NAME = "go2_adaptation"
ADAPTATION_FILE = "Go2 adaptation module"


def _sequential_to_layers(tensors: Mapping[str, np.ndarray], source: str) -> tuple[list[int], dict[str, np.ndarray]]:
    """``nn.Sequential`` Linear tensors ``net.{k}.weight [out, in]`` / ``net.{k}.bias [out]`` -> ``(dims,
    {layers.{i}.weight/bias})`` of a :class:`PolicyLayout`, checking that the layers chain."""
    matches = [re.fullmatch(r"net\.(\d+)\.(weight|bias)", k) for k in tensors]
    unexpected = sorted(k for k, m in zip(tensors, matches) if m is None)
    indices = sorted({int(m.group(1)) for m in matches if m is not None and m.group(2) == "weight"})
    if unexpected or not indices:
        raise WeightsError(f"{source}: expected only net.<k>.weight/bias tensors, got {sorted(tensors)[:8]}")
    names = {f"net.{k}.{kind}" for k in indices for kind in ("weight", "bias")}
    if names != set(tensors):
        raise WeightsError(f"{source}: Linear layers need a weight and a bias each; missing "
                           f"{sorted(names - set(tensors))}, unpaired {sorted(set(tensors) - names)}")
    weights = [np.asarray(tensors[f"net.{k}.weight"]) for k in indices]
    if any(w.ndim != 2 for w in weights):
        raise WeightsError(f"{source}: Linear weights must be 2-D, got shapes {[list(w.shape) for w in weights]}")
    dims = [int(weights[0].shape[1])] + [int(w.shape[0]) for w in weights]
    if any(w.shape[1] != d for w, d in zip(weights, dims[:-1])):
        raise WeightsError(f"{source}: layer shapes {[list(w.shape) for w in weights]} do not chain")
    params = {}
    for i, k in enumerate(indices):
        params[f"layers.{i}.weight"], params[f"layers.{i}.bias"] = weights[i], np.asarray(tensors[f"net.{k}.bias"])
    return dims, params


def _int_metadata(metadata: Mapping[str, str], key: str, source: str) -> int:
    try:
        return int(metadata[key])
    except KeyError:
        raise WeightsError(f"{source}: neither 'layout' nor '{key}' metadata; not a {ADAPTATION_FILE} (a weights "
                           f"file, or a net.<k> state dict with 'history_len' metadata)") from None
    except ValueError:
        raise WeightsError(f"{source}: metadata {key!r} must be an integer, got {metadata[key]!r}") from None


def _payload_from_state_dict(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str], source: str,
                             obs_dim: int) -> WeightsPayload:
    """The older adaptation file (module state dict + ``history_len`` / ``out_dim`` metadata) as a payload."""
    history_len = _int_metadata(metadata, "history_len", source)
    dims, params = _sequential_to_layers(tensors, source)
    if dims[0] != history_len * obs_dim:
        raise WeightsError(f"{source}: input size {dims[0]} does not match history_len*obs_dim = "
                           f"{history_len}*{obs_dim}; layer shapes do not chain from the history")
    if "out_dim" in metadata and _int_metadata(metadata, "out_dim", source) != dims[-1]:
        raise WeightsError(f"{source}: metadata out_dim {metadata['out_dim']} but the last layer has {dims[-1]} "
                           f"outputs")
    layout = _adaptation_layout(dims)
    return make_payload(layout, layout.flatten(params), source, None, {"history_len": history_len,
                                                                       "out_dim": dims[-1]})


def _adaptation_layout(dims: list[int], activation: str = "elu") -> PolicyLayout:
    return PolicyLayout(obs_dim=dims[0], action_dim=dims[-1], hidden=tuple(dims[1:-1]), activation=activation,
                        output="linear", name=ADAPTATION_LAYOUT_NAME)


def _checked_adaptation(payload: WeightsPayload, obs_dim: int) -> WeightsPayload:
    """Fill ``extra`` ``history_len`` / ``out_dim`` of a weights-format adaptation file and check they fit."""
    layout = payload.layout
    if layout.output != "linear" or layout.obs_dim % obs_dim:
        raise WeightsError(f"{payload.source}: an adaptation module is a linear-output MLP whose input is "
                           f"history_len*{obs_dim}; got input {layout.obs_dim}, output {layout.output!r}")
    try:
        history_len = int(payload.extra.get("history_len", layout.obs_dim // obs_dim))
    except (TypeError, ValueError):
        raise WeightsError(f"{payload.source}: extra history_len must be an integer, got "
                           f"{payload.extra['history_len']!r}") from None
    if history_len * obs_dim != layout.obs_dim:
        raise WeightsError(f"{payload.source}: extra history_len {history_len} does not match the input size "
                           f"{layout.obs_dim} = history_len*{obs_dim}")
    payload.extra = {**payload.extra, "history_len": history_len, "out_dim": layout.action_dim}
    return payload


def read_adaptation(path: str | Path, obs_dim: int = OBS_DIM) -> WeightsPayload:
    """Read a Go2 adaptation module file as an MLP payload, without torch.

    Accepts a weights file (``.safetensors`` or ``.npz``, :mod:`maa_core.weights_io`) of the module, or the older
    state-dict ``.safetensors`` (see the module doc). Returns a payload with layout ``[history_len * obs_dim] ->
    hidden -> [out_dim]`` (linear output) and ``extra`` ``{"history_len", "out_dim"}``.

    Raises:
        WeightsError: missing/truncated/corrupt file, missing metadata, or shapes that do not chain.
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        return _checked_adaptation(load_weights_file(path), obs_dim)
    tensors, metadata = read_safetensors(path, ADAPTATION_FILE)
    if "layout" in metadata:
        return _checked_adaptation(payload_from_safetensors(tensors, metadata, str(path)), obs_dim)
    return _payload_from_state_dict(tensors, metadata, str(path), obs_dim)


def save_adaptation(path: str | Path, module: AdaptationModule) -> Path:
    """Save the adaptation module in the weights format (``extra``: ``history_len``, ``out_dim``); returns path."""
    sd = {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}
    dims, params = _sequential_to_layers(sd, f"{type(module).__name__} state dict")
    layout = _adaptation_layout(dims)
    return save_weights_file(path, layout, layout.flatten(params),
                             extra={"history_len": int(module.history_len), "out_dim": int(module.out_dim)})


def adaptation_module(payload: WeightsPayload) -> AdaptationModule:
    """A frozen (eval mode, no grad) torch :class:`AdaptationModule` with the weights of ``payload``.

    Raises:
        WeightsError: the payload is not a Linear/ELU MLP with linear output (what the module is).
    """
    import torch

    from maa_go2.actor_critic import AdaptationModule

    layout = payload.layout
    if layout.activation != "elu" or layout.output != "linear":
        raise WeightsError(f"{payload.source}: the Go2 adaptation module is an ELU MLP with linear output, got "
                           f"activation {layout.activation!r}, output {layout.output!r}")
    params = layout.unflatten(payload.flat)
    state = {f"net.{2 * i}.{kind}": torch.from_numpy(params[f"layers.{i}.{kind}"].copy())
             for i in range(layout.num_layers) for kind in ("weight", "bias")}
    mod = AdaptationModule(int(payload.extra["history_len"]), hidden=layout.hidden, out_dim=layout.action_dim)
    mod.load_state_dict(state)
    mod.eval()
    for p in mod.parameters():
        p.requires_grad_(False)
    return mod


def load_adaptation(path: str | Path) -> AdaptationModule:
    """Load a frozen (eval mode, no grad) adaptation module: :func:`read_adaptation`, then :func:`adaptation_module`.

    Raises:
        WeightsError: see :func:`read_adaptation`.
    """
    return adaptation_module(read_adaptation(path))
