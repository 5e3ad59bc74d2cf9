"""The pretrained Go2 adaptation module as a torch-free MLP payload (deploy side)."""
from __future__ import annotations

from pathlib import Path

from maa_core.layout import PolicyLayout
from maa_core.weights_io import WeightsError, WeightsPayload, _finish, load_weights_file


def load_adaptation_file(path: str | Path, obs_dim: int = 70, activation: str = "elu") -> WeightsPayload:
    """Load the pretrained adaptation module as an MLP payload (no torch needed).

    Accepts a weights file of this module (layout in the metadata) or ``maa_go2.checkpoints.save_adaptation``
    output: an ``nn.Sequential`` state dict ``net.{k}.weight/bias`` (Linear layers at even k, ELU between) with
    ``history_len`` metadata. Returns a payload whose layout is ``[history_len * obs_dim] -> ... -> latent``, linear.

    Raises:
        WeightsError: unreadable file, missing metadata, or shapes that do not chain.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"adaptation module not found: {path}")
    if path.suffix != ".safetensors":
        return load_weights_file(path)
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{path}: cannot read safetensors file, truncated or corrupt ({exc})") from exc
    if "layout" in meta:
        return load_weights_file(path)
    if "history_len" not in meta:
        raise WeightsError(f"{path}: neither 'layout' nor 'history_len' metadata; not an adaptation module file")
    indices = sorted({int(k.split(".")[1]) for k in tensors if k.startswith("net.") and k.endswith(".weight")})
    if not indices:
        raise WeightsError(f"{path}: no net.<k>.weight tensors; got {sorted(tensors)}")
    weights = [tensors[f"net.{k}.weight"] for k in indices]
    dims = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    history_len = int(meta["history_len"])
    if dims[0] != history_len * obs_dim or any(w.shape[1] != d for w, d in zip(weights, dims[:-1])):
        raise WeightsError(f"{path}: layer shapes {[list(w.shape) for w in weights]} do not chain from "
                           f"history_len*obs_dim = {history_len}*{obs_dim}")
    layout = PolicyLayout(obs_dim=dims[0], action_dim=dims[-1], hidden=tuple(dims[1:-1]), activation=activation,
                          output="linear", name="go2_adaptation")
    params = {}
    for i, k in enumerate(indices):
        params[f"layers.{i}.weight"], params[f"layers.{i}.bias"] = tensors[f"net.{k}.weight"], tensors[f"net.{k}.bias"]
    return _finish(layout, layout.flatten(params), None, str(path))
