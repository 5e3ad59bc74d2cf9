"""Policy weight files and messages -> validated ``(PolicyLayout, flat parameters)``; the one safetensors reader.

The weights file format (every policy-like MLP the project writes: generated policies, Go2 PPO actors, the Go2
adaptation module) is self-describing:

* ``.safetensors``: tensor ``params`` ``[P]`` float32; metadata ``layout`` (JSON of ``PolicyLayout.to_dict()``),
  ``checksum`` (sha256 of the little-endian float32 bytes, optional on read), ``format`` (:data:`FORMAT_TAG`) and
  optionally ``extra`` (a JSON object of free-form metadata, e.g. ``iteration``, ``seed``, ``history_len``).
  Also read: the per-layer tensors ``layers.{i}.weight/bias`` of ``PolicyLayout.param_shapes()`` instead of
  ``params``, and the older actor files of ``maa_go2`` (tensor ``flat``, ``layout`` metadata, every other metadata
  entry a JSON value, e.g. the committed ``results/go2/actor_seed0_it475.safetensors``): their entries become
  ``extra``.
* ``.npz``: arrays ``params`` ``[P]``, ``layout`` (0-d string, JSON), optionally ``checksum`` and ``extra``
  (0-d strings).

:func:`read_safetensors` is the only place that opens a ``.safetensors`` file: every maa reader goes through it,
so a missing, truncated, corrupt or non-safetensors file always raises :class:`WeightsError` naming the file that
was expected and what is wrong with it.

Messages (``maa_msgs/PolicyWeights`` or any object with its fields) are decoded by
``maa_core.weights_codec.decode_message``, the one mapping between the message and a layout.
Every failure raises :class:`WeightsError` (from ``maa_core.weights_codec``) with the reason.
This module does not import torch (the deploy path loads weights without it).
"""
from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from maa_core.layout import LayoutError, PolicyLayout
from maa_core.weights_codec import PolicyMeta, WeightsError, checksum, decode_message

FORMAT_TAG = "maa.policy_weights/1"
#: metadata entries with a fixed meaning; every other entry of an older ``flat`` actor file is a JSON ``extra`` value
RESERVED_METADATA = ("layout", "checksum", "format", "extra")

__all__ = ["WeightsError", "WeightsPayload", "read_safetensors", "load_weights_file", "save_weights_file",
           "payload_from_safetensors", "make_payload", "payload_from_message", "checksum", "FORMAT_TAG"]


@dataclass
class WeightsPayload:
    """Decoded weights: ``flat`` is ``[layout.num_params]`` float32, finite, checksum verified.

    ``meta``: provenance of a generated policy (messages); ``extra``: the file's free-form JSON metadata.
    """

    layout: PolicyLayout
    flat: np.ndarray
    checksum: str
    source: str
    meta: PolicyMeta = field(default_factory=PolicyMeta)
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- the one safetensors reader
def _require_file(path: Path, what: str) -> None:
    if not path.exists():
        raise WeightsError(f"{what} not found: {path}")
    if not path.is_file():
        raise WeightsError(f"{path}: expected {what}, found a directory or special file")


def _header_end(header: Mapping) -> int:
    """End offset (bytes after the header) of the last tensor listed in a parsed safetensors header."""
    ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
    return max(ends, default=0)


def _diagnose(path: Path) -> str:
    """Why ``path`` is not a readable safetensors file: truncated, not safetensors at all, or corrupt."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(9)
        if len(head) < 8:
            return f"truncated ({size} bytes; a safetensors file starts with an 8-byte header length)"
        n = int.from_bytes(head[:8], "little")
        if head[8:9] != b"{":
            return "not a safetensors file (no JSON header after the 8-byte header length)"
        if 8 + n > size:
            return f"truncated (the header says {8 + n} bytes of header, the file has {size})"
        fh.seek(8)
        try:
            end = 8 + n + _header_end(json.loads(fh.read(n)))
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            return "not a safetensors file, or a corrupt one (its header is not a valid safetensors header)"
    if end > size:
        return f"truncated (tensor data ends at byte {end}, the file has {size})"
    return "corrupt"


def read_safetensors(path: str | Path, what: str = "safetensors file",
                     framework: str = "numpy") -> tuple[dict[str, Any], dict[str, str]]:
    """Read every tensor and the string metadata of a ``.safetensors`` file.

    Args:
        path: the file.
        what: what the caller expects there, for the error messages (e.g. ``"Go2 adaptation module"``).
        framework: ``"numpy"`` (``np.ndarray`` tensors) or ``"pt"`` (torch tensors; needs torch).
    Returns:
        ``(tensors {name: array of its stored shape}, metadata {key: str})``.
    Raises:
        WeightsError: the file is missing, a directory, truncated, corrupt or not a safetensors file.
    """
    path = Path(path)
    _require_file(path, what)
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework=framework) as fh:
            metadata = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - safe_open has no __iter__
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        try:
            reason = _diagnose(path)
        except OSError as why:
            reason = f"unreadable ({why})"
        raise WeightsError(f"{path}: cannot read {what}: {reason} [{exc}]") from None
    return tensors, metadata


# --------------------------------------------------------------------------- decoding
def _layout_from_json(text: str, source: str) -> PolicyLayout:
    try:
        return PolicyLayout.from_dict(json.loads(text))
    except (json.JSONDecodeError, LayoutError, TypeError, AttributeError) as exc:
        raise WeightsError(f"{source}: invalid layout metadata ({exc})") from exc


def _json_value(text: str, key: str, source: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        raise WeightsError(f"{source}: metadata entry {key!r} is not JSON ({exc})") from None


def _extra_object(text: str, source: str) -> dict[str, Any]:
    extra = _json_value(text, "extra", source)
    if not isinstance(extra, dict):
        raise WeightsError(f"{source}: metadata 'extra' must be a JSON object, got {type(extra).__name__}")
    return extra


def make_payload(layout: PolicyLayout, flat: np.ndarray, source: str, expected_checksum: str | None = None,
                 extra: Mapping[str, Any] | None = None) -> WeightsPayload:
    """Validate ``flat`` ``[layout.num_params]`` (shape, finite, ``expected_checksum`` if given) into a payload.

    Raises:
        WeightsError: wrong shape, NaN/inf, or a checksum mismatch.
    """
    flat = np.asarray(flat)
    if flat.shape != (layout.num_params,):
        raise WeightsError(f"{source}: expected {layout.num_params} parameters for layout {layout.name} "
                           f"{list(layout.dims)}, got shape {list(flat.shape)}")
    flat = flat.astype(np.float32, copy=False)
    bad = int(np.sum(~np.isfinite(flat)))
    if bad:
        raise WeightsError(f"{source}: weights contain {bad} non-finite values (NaN/inf)")
    digest = checksum(flat)
    if expected_checksum and expected_checksum != digest:
        raise WeightsError(f"{source}: checksum mismatch (file says {expected_checksum[:12]}..., data hashes to "
                           f"{digest[:12]}...): the file is corrupt or was edited")
    return WeightsPayload(layout, flat, digest, source, extra=dict(extra or {}))


def _flat_from_tensors(tensors: Mapping[str, np.ndarray], layout: PolicyLayout, source: str) -> np.ndarray:
    """``params`` (this format), ``flat`` (older maa_go2 actor files) or the layout's per-layer tensors."""
    for name in ("params", "flat"):
        if name in tensors:
            return tensors[name]
    try:
        return layout.flatten(tensors)
    except LayoutError as exc:
        raise WeightsError(f"{source}: tensors match neither 'params' nor the layout's names ({exc})") from exc


def _extra_from_metadata(metadata: Mapping[str, str], legacy: bool, source: str) -> dict[str, Any]:
    if "extra" in metadata:
        return _extra_object(metadata["extra"], source)
    if not legacy:
        return {}
    return {k: _json_value(v, k, source) for k, v in metadata.items() if k not in RESERVED_METADATA}


def payload_from_safetensors(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str],
                             source: str) -> WeightsPayload:
    """Decode what :func:`read_safetensors` returned for a weights file (see the module doc for the format).

    Raises:
        WeightsError: no or invalid ``layout`` metadata, unknown tensors, wrong size, NaN/inf, checksum mismatch.
    """
    if "layout" not in metadata:
        raise WeightsError(f"{source}: safetensors metadata has no 'layout' entry (JSON of PolicyLayout.to_dict()); "
                           f"not a policy weights file (metadata {sorted(metadata)}, tensors {sorted(tensors)[:6]})")
    layout = _layout_from_json(metadata["layout"], source)
    flat = _flat_from_tensors(tensors, layout, source)
    legacy = "format" not in metadata and "params" not in tensors and "flat" in tensors
    extra = _extra_from_metadata(metadata, legacy, source)
    return make_payload(layout, flat, source, metadata.get("checksum"), extra)


def _load_npz(path: Path) -> WeightsPayload:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise WeightsError(f"{path}: cannot read npz weights file, truncated or corrupt ({exc})") from exc
    missing = {"params", "layout"} - set(arrays)
    if missing:
        raise WeightsError(f"{path}: npz is missing arrays {sorted(missing)} (needs 'params' and 'layout')")
    layout = _layout_from_json(str(arrays["layout"]), str(path))
    expected = str(arrays["checksum"]) if "checksum" in arrays else None
    extra = _extra_object(str(arrays["extra"]), str(path)) if "extra" in arrays else None
    return make_payload(layout, arrays["params"], str(path), expected, extra)


def load_weights_file(path: str | Path) -> WeightsPayload:
    """Read and validate a ``.safetensors`` or ``.npz`` weights file (this format or an older ``flat`` actor file).

    Raises:
        WeightsError: missing/truncated/corrupt file, bad layout metadata, wrong size, NaN/inf, checksum mismatch.
    """
    path = Path(path)
    _require_file(path, "weights file")
    if path.suffix == ".safetensors":
        tensors, metadata = read_safetensors(path, "policy weights file (tensor 'params' + 'layout' metadata)")
        return payload_from_safetensors(tensors, metadata, str(path))
    if path.suffix == ".npz":
        return _load_npz(path)
    raise WeightsError(f"{path}: unsupported weights file type {path.suffix!r}; expected .safetensors or .npz")


# --------------------------------------------------------------------------- writing
def _extra_json(extra: Mapping[str, Any] | None, path: Path) -> str | None:
    if extra is None:
        return None
    try:
        return json.dumps(dict(extra), sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"{path}: extra metadata must be JSON-serializable ({exc})") from None


def save_weights_file(path: str | Path, layout: PolicyLayout, flat: np.ndarray,
                      extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``flat`` ``[P]`` with its layout, checksum and optional ``extra`` JSON metadata, atomically (a kill
    mid-save never leaves a truncated file); the format follows the suffix. Returns the path.

    Raises:
        WeightsError: unsupported suffix or ``extra`` not JSON-serializable; LayoutError: ``flat`` does not fit.
    """
    from maa_core.atomic_io import atomic_path  # imports torch: kept out of the (torch-free) reading path

    path = Path(path)
    if path.suffix not in (".safetensors", ".npz"):
        raise WeightsError(f"{path}: unsupported weights file type {path.suffix!r}; expected .safetensors or .npz")
    flat = layout.check_flat(flat)
    digest, extra_json = checksum(flat), _extra_json(extra, path)
    layout_json = json.dumps(layout.to_dict(), sort_keys=True)
    with atomic_path(path) as tmp:
        if path.suffix == ".safetensors":
            _write_safetensors(tmp, flat, layout_json, digest, extra_json)
        else:
            _write_npz(tmp, flat, layout_json, digest, extra_json)
    return path


def _write_safetensors(tmp: Path, flat: np.ndarray, layout_json: str, digest: str, extra_json: str | None) -> None:
    from safetensors.numpy import save_file

    metadata = {"layout": layout_json, "checksum": digest, "format": FORMAT_TAG}
    if extra_json is not None:
        metadata["extra"] = extra_json
    save_file({"params": np.ascontiguousarray(flat)}, str(tmp), metadata=metadata)


def _write_npz(tmp: Path, flat: np.ndarray, layout_json: str, digest: str, extra_json: str | None) -> None:
    arrays = {"params": flat, "layout": np.array(layout_json), "checksum": np.array(digest)}
    if extra_json is not None:
        arrays["extra"] = np.array(extra_json)
    with tmp.open("wb") as fh:
        np.savez(fh, **arrays)


# --------------------------------------------------------------------------- messages
def payload_from_message(msg: Any, expected: PolicyLayout | None = None, source: str = "message") -> WeightsPayload:
    """Decode a ``maa_msgs/PolicyWeights``-like object (see ``weights_codec.decode_message``).

    Raises:
        WeightsError: inconsistent fields, fingerprint or checksum mismatch, NaN/inf, or a layout != ``expected``.
    """
    layout, flat, meta = decode_message(msg, expected)
    return WeightsPayload(layout, flat, checksum(flat), source, meta)
