"""Policy network layout: the single description of a generated policy MLP.

Every component that touches policy parameters (datasets, autoencoder chunks, ROS
messages, deployment) goes through :class:`PolicyLayout`, so the flat parameter
order is defined exactly once:

    for each linear layer i (input side first):  weight [out_i, in_i] row-major, then bias [out_i]

Parameter names are ``layers.{i}.weight`` / ``layers.{i}.bias``.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

ACTIVATIONS = ("relu", "elu", "tanh", "identity")
OUTPUTS = ("linear", "tanh", "gaussian_tanh")


class LayoutError(ValueError):
    """Raised when parameters or observations do not match a :class:`PolicyLayout`."""


def _np_activation(name: str, x: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "elu":
        return np.where(x > 0.0, x, np.expm1(np.minimum(x, 0.0)))
    if name == "tanh":
        return np.tanh(x)
    return x


@dataclass(frozen=True)
class PolicyLayout:
    """Shape of a policy MLP ``obs -> hidden... -> output``.

    Args:
        obs_dim: observation (network input) size.
        action_dim: action size.
        hidden: hidden layer widths, input side first.
        activation: activation after every hidden layer (one of ``ACTIVATIONS``).
        output: how the last layer maps to an action:
            ``linear``: action = last layer output (size ``action_dim``);
            ``tanh``: action = tanh(output);
            ``gaussian_tanh``: the last layer outputs ``[mean, log_std]`` (size ``2*action_dim``),
            the deterministic action is ``tanh(mean)`` (SAC actor).
        name: free-form identifier (e.g. ``metaworld_sac``).
    """

    obs_dim: int
    action_dim: int
    hidden: tuple[int, ...] = (128, 128)
    activation: str = "relu"
    output: str = "gaussian_tanh"
    name: str = "policy"
    log_std_bounds: tuple[float, float] = field(default=(-5.0, 2.0))

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "log_std_bounds", tuple(float(b) for b in self.log_std_bounds))
        if self.obs_dim <= 0 or self.action_dim <= 0 or any(h <= 0 for h in self.hidden):
            raise LayoutError(f"layout dims must be positive, got obs_dim={self.obs_dim}, "
                              f"action_dim={self.action_dim}, hidden={self.hidden}")
        if self.activation not in ACTIVATIONS:
            raise LayoutError(f"unknown activation {self.activation!r}; expected one of {ACTIVATIONS}")
        if self.output not in OUTPUTS:
            raise LayoutError(f"unknown output {self.output!r}; expected one of {OUTPUTS}")

    # ------------------------------------------------------------------ shapes
    @property
    def output_dim(self) -> int:
        return 2 * self.action_dim if self.output == "gaussian_tanh" else self.action_dim

    @property
    def dims(self) -> tuple[int, ...]:
        """Layer widths including input and output: ``(obs_dim, *hidden, output_dim)``."""
        return (self.obs_dim, *self.hidden, self.output_dim)

    @property
    def num_layers(self) -> int:
        return len(self.dims) - 1

    def layer_shapes(self) -> list[tuple[int, int]]:
        """Weight shapes ``(out, in)`` per linear layer."""
        d = self.dims
        return [(d[i + 1], d[i]) for i in range(self.num_layers)]

    def layer_activations(self) -> list[str]:
        """Activation applied after each linear layer (``identity`` after the last)."""
        return [self.activation] * (self.num_layers - 1) + ["identity"]

    def param_shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """``(name, shape)`` of every parameter in flat order."""
        out: list[tuple[str, tuple[int, ...]]] = []
        for i, (o, n) in enumerate(self.layer_shapes()):
            out.append((f"layers.{i}.weight", (o, n)))
            out.append((f"layers.{i}.bias", (o,)))
        return out

    def layer_slices(self) -> list[slice]:
        """Slice of the flat vector holding each layer's weight and bias."""
        slices, start = [], 0
        for o, n in self.layer_shapes():
            end = start + o * n + o
            slices.append(slice(start, end))
            start = end
        return slices

    @property
    def num_params(self) -> int:
        return sum(o * n + o for o, n in self.layer_shapes())

    # ----------------------------------------------------------- serialization
    def to_dict(self) -> dict:
        return {"obs_dim": self.obs_dim, "action_dim": self.action_dim, "hidden": list(self.hidden),
                "activation": self.activation, "output": self.output, "name": self.name,
                "log_std_bounds": list(self.log_std_bounds)}

    @classmethod
    def from_dict(cls, data: Mapping) -> PolicyLayout:
        known = {"obs_dim", "action_dim", "hidden", "activation", "output", "name", "log_std_bounds"}
        unknown = set(data) - known
        if unknown:
            raise LayoutError(f"unknown layout keys {sorted(unknown)}; expected a subset of {sorted(known)}")
        missing = {"obs_dim", "action_dim"} - set(data)
        if missing:
            raise LayoutError(f"layout is missing required keys {sorted(missing)}")
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()})

    def fingerprint(self) -> str:
        """Short stable hash of the shapes and semantics (not the name)."""
        d = self.to_dict()
        d.pop("name")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    # ------------------------------------------------------- flat <-> tensors
    def check_flat(self, flat: np.ndarray, *, batched: bool = False) -> np.ndarray:
        """Validate a flat parameter vector ``[P]`` (or ``[K, P]`` if ``batched``) and return it as float32."""
        arr = np.asarray(flat)
        want = (self.num_params,)
        if batched:
            if arr.ndim != 2 or arr.shape[1] != self.num_params:
                raise LayoutError(f"expected parameters of shape [K, {self.num_params}] for layout "
                                  f"{self.name} ({self.fingerprint()}), got {list(arr.shape)}")
        elif arr.shape != want:
            raise LayoutError(f"expected parameters of shape [{self.num_params}] for layout "
                              f"{self.name} ({self.fingerprint()}), got {list(arr.shape)}")
        if not np.all(np.isfinite(arr)):
            raise LayoutError(f"parameters contain {int(np.sum(~np.isfinite(arr)))} non-finite values (NaN/inf)")
        return arr.astype(np.float32, copy=False)

    def unflatten(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Flat ``[P]`` -> ``{name: array}`` (views into ``flat``)."""
        arr = self.check_flat(flat)
        out, start = {}, 0
        for name, shape in self.param_shapes():
            size = int(np.prod(shape))
            out[name] = arr[start:start + size].reshape(shape)
            start += size
        return out

    def flatten(self, params: Mapping[str, object]) -> np.ndarray:
        """``{name: array or tensor}`` -> flat float32 ``[P]``. Names and shapes must match exactly."""
        expected = dict(self.param_shapes())
        unknown = set(params) - set(expected)
        missing = set(expected) - set(params)
        if unknown or missing:
            raise LayoutError(f"state dict does not match layout {self.name}: missing {sorted(missing)}, "
                              f"unexpected {sorted(unknown)}")
        parts = []
        for name, shape in self.param_shapes():
            value = params[name]
            value = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
            if tuple(value.shape) != shape:
                raise LayoutError(f"{name}: expected shape {list(shape)}, got {list(value.shape)}")
            parts.append(value.reshape(-1).astype(np.float32))
        return np.concatenate(parts)

    # ----------------------------------------------------------------- forward
    def forward_numpy(self, flat: np.ndarray, obs: np.ndarray) -> np.ndarray:
        """Deterministic action for ``obs`` ``[..., obs_dim]`` -> ``[..., action_dim]`` (float32)."""
        params = self.unflatten(flat)
        x = np.asarray(obs, dtype=np.float32)
        if x.shape[-1] != self.obs_dim:
            raise LayoutError(f"expected observations with last dim {self.obs_dim}, got {list(x.shape)}")
        for i, act in enumerate(self.layer_activations()):
            x = _np_activation(act, x @ params[f"layers.{i}.weight"].T + params[f"layers.{i}.bias"])
        return self.output_to_action(x)

    def output_to_action(self, out):
        """Map raw last-layer output (numpy or torch) to the deterministic action."""
        lib = np if isinstance(out, np.ndarray) else _torch()
        if self.output == "gaussian_tanh":
            return lib.tanh(out[..., : self.action_dim])
        if self.output == "tanh":
            return lib.tanh(out)
        return out


def _torch():
    import torch

    return torch


def metaworld_sac_layout() -> PolicyLayout:
    """The paper's MetaWorld SAC actor: 39 -> 128 -> 128 -> 2x4, 22,664 parameters."""
    return PolicyLayout(obs_dim=39, action_dim=4, hidden=(128, 128), activation="relu",
                        output="gaussian_tanh", name="metaworld_sac")


def layouts_equal(a: PolicyLayout, b: PolicyLayout) -> bool:
    return a.fingerprint() == b.fingerprint()


def require_same_layout(expected: PolicyLayout, got: PolicyLayout, what: str = "policy") -> None:
    if not layouts_equal(expected, got):
        raise LayoutError(f"{what} layout mismatch: expected {expected.to_dict()}, got {got.to_dict()}")


def stack_flat(layout: PolicyLayout, vectors: Sequence[np.ndarray]) -> np.ndarray:
    """Validate and stack flat vectors into ``[K, P]`` float32."""
    return layout.check_flat(np.stack([np.asarray(v) for v in vectors]), batched=True)
