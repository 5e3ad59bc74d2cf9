"""Pickle-free checkpoints: ``model.safetensors`` + ``config.json`` in one directory.

``config.json`` holds ``format_version``, the policy ``layout`` dict (if given), the resolved ``config``, free-form
``extra`` metadata, the ``sha256`` of ``model.safetensors`` and the expected tensor names/shapes. Tensors of module
``name`` are stored under ``"{name}.{state_dict key}"``. Tensors listed in ``half`` (``save_checkpoint``'s
``half``) are stored as float16 to halve a bundle's size and read back as float32.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from maa_core.atomic_io import atomic_path, atomic_write_text
from maa_core.weights_io import WeightsError, read_safetensors

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


class CheckpointError(ValueError):
    """Raised for missing, corrupt, truncated or mismatching checkpoint files."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: ``state[module][key] -> tensor`` plus metadata."""

    state: dict[str, dict[str, torch.Tensor]]
    config: dict
    extra: dict = field(default_factory=dict)
    layout: dict | None = None
    format_version: int = FORMAT_VERSION


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_checkpoint(
    directory: str | Path,
    modules: dict[str, nn.Module],
    config: dict,
    extra: dict | None = None,
    *,
    layout: dict | None = None,
    half: Callable[[str, torch.Tensor], bool] | None = None,
    skip: Callable[[str], bool] | None = None,
) -> Path:
    """Write ``modules``' state dicts and metadata to ``directory`` (created if needed); returns the directory.

    Args:
        modules: ``{name: module}``; names must not contain ``.``.
        config: resolved configuration (JSON-serializable).
        extra: free-form JSON-serializable metadata (training step, dataset hash, ...).
        layout: ``PolicyLayout.to_dict()`` of the generated policies, if any.
        half: ``(name, tensor) -> bool``: store that float32 tensor as float16 (listed in ``config.json``'s
            ``half``; :func:`load_checkpoint` returns it as float32). Default: everything at full precision.
        skip: ``name -> bool``: leave that tensor out (the loader must build modules without it).
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        if "." in name or not name:
            raise CheckpointError(f"module name {name!r} must be non-empty and contain no '.'")
        for key, value in module.state_dict().items():
            if skip is None or not skip(f"{name}.{key}"):
                tensors[f"{name}.{key}"] = value.detach().cpu().contiguous().clone()
    halved = sorted(k for k, v in tensors.items() if half is not None and v.dtype == torch.float32 and half(k, v))
    for key in halved:
        tensors[key] = tensors[key].half()
    with atomic_path(out / WEIGHTS_FILE) as tmp:
        save_file(tensors, str(tmp))
    meta = {
        "format_version": FORMAT_VERSION,
        "layout": layout,
        "config": config,
        "extra": extra or {},
        "modules": sorted(modules),
        "sha256": _sha256(out / WEIGHTS_FILE),
        "tensors": {k: list(v.shape) for k, v in sorted(tensors.items())},
        **({"half": halved} if halved else {}),
    }
    atomic_write_text(out / CONFIG_FILE, json.dumps(meta, indent=2, sort_keys=False))
    return out


def read_metadata(directory: str | Path) -> dict:
    """Parse and validate ``config.json`` (format version, required keys)."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"checkpoint metadata not found: {path} (expected {CONFIG_FILE} next to {WEIGHTS_FILE})")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: unknown checkpoint format_version {version!r}; this code reads version {FORMAT_VERSION}"
        )
    missing = [k for k in ("config", "sha256", "tensors") if k not in meta]
    if missing:
        raise CheckpointError(f"{path}: missing keys {missing}")
    return meta


def load_checkpoint(directory: str | Path, modules: dict[str, nn.Module] | None = None) -> Checkpoint:
    """Read and verify a checkpoint; if ``modules`` is given, load their state dicts strictly.

    Errors (:class:`CheckpointError`): missing files, unknown ``format_version``, sha256 mismatch (truncated or
    corrupt weights), unreadable safetensors, tensors that disagree with ``config.json``, and, with ``modules``,
    missing/unexpected keys or shape mismatches.
    """
    directory = Path(directory)
    meta = read_metadata(directory)
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"checkpoint weights not found: {weights}")
    digest = _sha256(weights)
    if digest != meta["sha256"]:
        raise CheckpointError(
            f"{weights}: sha256 {digest[:16]}... does not match config.json "
            f"({str(meta['sha256'])[:16]}...): the file is truncated or corrupt"
        )
    try:
        flat, _ = read_safetensors(weights, "generator checkpoint weights", framework="pt")
    except WeightsError as exc:
        raise CheckpointError(str(exc)) from None
    expected = {k: list(v) for k, v in meta["tensors"].items()}
    got = {k: list(v.shape) for k, v in flat.items()}
    if expected != got:
        diff = sorted(set(expected) ^ set(got)) or [k for k in expected if expected[k] != got.get(k)]
        raise CheckpointError(f"{weights}: tensors disagree with config.json: {diff[:8]}")
    half = set(meta.get("half") or [])
    wrong = sorted(k for k, v in flat.items() if (v.dtype == torch.float16) != (k in half))
    if wrong:
        raise CheckpointError(f"{weights}: float16 tensors disagree with config.json's 'half' list: {wrong[:8]}")
    state: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in flat.items():
        value = value.float() if key in half else value
        name, _, sub = key.partition(".")
        state.setdefault(name, {})[sub] = value
    ckpt = Checkpoint(
        state=state,
        config=meta["config"],
        extra=meta.get("extra") or {},
        layout=meta.get("layout"),
        format_version=meta["format_version"],
    )
    if modules is not None:
        load_state(modules, ckpt.state, str(directory))
    return ckpt


def load_state(
    modules: dict[str, nn.Module], state: dict[str, dict[str, torch.Tensor]], where: str = "", *, assign: bool = False
) -> None:
    """Copy ``state`` into ``modules`` with clear errors for missing/unexpected modules, keys and shapes.

    ``assign=True`` replaces the modules' tensors by the given ones (use with modules built on the meta device).
    """
    prefix = f"{where}: " if where else ""
    missing_mod = sorted(set(modules) - set(state))
    extra_mod = sorted(set(state) - set(modules))
    if missing_mod or extra_mod:
        raise CheckpointError(
            f"{prefix}checkpoint modules {sorted(state)} do not match expected {sorted(modules)} "
            f"(missing {missing_mod}, unexpected {extra_mod})"
        )
    for name, module in modules.items():
        own = module.state_dict()
        given = state[name]
        missing = sorted(set(own) - set(given))
        unexpected = sorted(set(given) - set(own))
        if missing or unexpected:
            raise CheckpointError(
                f"{prefix}module {name!r}: missing tensor keys {missing[:8]}, unexpected tensor keys {unexpected[:8]}"
            )
        for key, value in given.items():
            if tuple(own[key].shape) != tuple(value.shape):
                raise CheckpointError(
                    f"{prefix}{name}.{key}: expected shape {list(own[key].shape)}, got "
                    f"{list(value.shape)} (checkpoint built with a different config?)"
                )
        module.load_state_dict(given, strict=True, assign=assign)
