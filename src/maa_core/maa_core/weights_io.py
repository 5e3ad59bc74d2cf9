"""Policy weight files and messages -> validated ``(PolicyLayout, flat parameters)``.

File formats (both carry the layout, so a file is self-describing):

* ``.safetensors``: tensor ``params`` ``[P]`` float32 (or the per-layer ``layers.{i}.weight/bias`` of
  ``PolicyLayout.param_shapes()``); metadata ``layout`` (JSON of ``PolicyLayout.to_dict()``) and ``checksum``
  (sha256 of the little-endian float32 bytes, optional on read).
  ``maa_go2.checkpoints.save_actor`` files (tensor ``flat``) load the same way.
* ``.npz``: arrays ``params`` ``[P]``, ``layout`` (0-d string, JSON) and optionally ``checksum`` (0-d string).

Messages (``maa_msgs/PolicyWeights`` or any object with its fields) are decoded by
``maa_core.weights_codec.decode_message``, the one mapping between the message and a layout.
Every failure raises :class:`WeightsError` (from ``maa_core.weights_codec``) with the reason.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from maa_core.layout import LayoutError, PolicyLayout
from maa_core.weights_codec import PolicyMeta, WeightsError, checksum, decode_message

FORMAT_TAG = "maa.policy_weights/1"

__all__ = ["WeightsError", "WeightsPayload", "load_weights_file", "save_weights_file", "payload_from_message",
           "checksum", "FORMAT_TAG"]


@dataclass
class WeightsPayload:
    """Decoded weights: ``flat`` is ``[layout.num_params]`` float32, finite, checksum verified."""

    layout: PolicyLayout
    flat: np.ndarray
    checksum: str
    source: str
    meta: PolicyMeta = field(default_factory=PolicyMeta)


def _layout_from_json(text: str, path: Path) -> PolicyLayout:
    try:
        return PolicyLayout.from_dict(json.loads(text))
    except (json.JSONDecodeError, LayoutError, TypeError) as exc:
        raise WeightsError(f"{path}: invalid layout metadata ({exc})") from exc


def _finish(layout: PolicyLayout, flat: np.ndarray, expected_sum: str | None, source: str) -> WeightsPayload:
    flat = np.asarray(flat)
    if flat.shape != (layout.num_params,):
        raise WeightsError(f"{source}: expected {layout.num_params} parameters for layout {layout.name} "
                           f"{list(layout.dims)}, got shape {list(flat.shape)}")
    flat = flat.astype(np.float32, copy=False)
    bad = int(np.sum(~np.isfinite(flat)))
    if bad:
        raise WeightsError(f"{source}: weights contain {bad} non-finite values (NaN/inf)")
    digest = checksum(flat)
    if expected_sum and expected_sum != digest:
        raise WeightsError(f"{source}: checksum mismatch (file says {expected_sum[:12]}..., data hashes to "
                           f"{digest[:12]}...): the file is corrupt or was edited")
    return WeightsPayload(layout, flat, digest, source)


def _load_safetensors(path: Path) -> WeightsPayload:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - safe_open has no __iter__
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{path}: cannot read safetensors file, truncated or corrupt ({exc})") from exc
    if "layout" not in meta:
        raise WeightsError(f"{path}: safetensors metadata has no 'layout' entry (JSON of PolicyLayout.to_dict())")
    layout = _layout_from_json(meta["layout"], path)
    if "params" in tensors or "flat" in tensors:  # "flat": maa_go2.checkpoints.save_actor
        flat = tensors.get("params", tensors.get("flat"))
    else:
        try:
            flat = layout.flatten(tensors)
        except LayoutError as exc:
            raise WeightsError(f"{path}: tensors match neither 'params' nor the layout's names ({exc})") from exc
    return _finish(layout, flat, meta.get("checksum"), str(path))


def _load_npz(path: Path) -> WeightsPayload:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise WeightsError(f"{path}: cannot read npz file, truncated or corrupt ({exc})") from exc
    missing = {"params", "layout"} - set(arrays)
    if missing:
        raise WeightsError(f"{path}: npz is missing arrays {sorted(missing)} (needs 'params' and 'layout')")
    layout = _layout_from_json(str(arrays["layout"]), path)
    expected = str(arrays["checksum"]) if "checksum" in arrays else None
    return _finish(layout, arrays["params"], expected, str(path))


def load_weights_file(path: str | Path) -> WeightsPayload:
    """Read and validate a ``.safetensors`` or ``.npz`` weights file.

    Raises:
        WeightsError: missing/truncated/corrupt file, bad layout metadata, wrong size, NaN/inf, checksum mismatch.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        return _load_safetensors(path)
    if path.suffix == ".npz":
        return _load_npz(path)
    raise WeightsError(f"{path}: unsupported weights file type {path.suffix!r}; expected .safetensors or .npz")


def save_weights_file(path: str | Path, layout: PolicyLayout, flat: np.ndarray) -> Path:
    """Write ``flat`` ``[P]`` with its layout and checksum (format from the suffix); returns the path."""
    path = Path(path)
    flat = layout.check_flat(flat)
    digest = checksum(flat)
    layout_json = json.dumps(layout.to_dict(), sort_keys=True)
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix == ".safetensors":
        from safetensors.numpy import save_file

        save_file({"params": np.ascontiguousarray(flat)}, str(tmp),
                  metadata={"layout": layout_json, "checksum": digest, "format": FORMAT_TAG})
    elif path.suffix == ".npz":
        with tmp.open("wb") as fh:
            np.savez(fh, params=flat, layout=np.array(layout_json), checksum=np.array(digest))
    else:
        raise WeightsError(f"{path}: unsupported weights file type {path.suffix!r}; expected .safetensors or .npz")
    tmp.replace(path)
    return path


def payload_from_message(msg: Any, expected: PolicyLayout | None = None, source: str = "message") -> WeightsPayload:
    """Decode a ``maa_msgs/PolicyWeights``-like object (see ``weights_codec.decode_message``).

    Raises:
        WeightsError: inconsistent fields, fingerprint or checksum mismatch, NaN/inf, or a layout != ``expected``.
    """
    layout, flat, meta = decode_message(msg, expected)
    return WeightsPayload(layout, flat, checksum(flat), source, meta)
