"""Config loading shared by every maa package: YAML -> nested dataclasses that reject unknown keys and wrong types.

:func:`from_dict` builds a dataclass from a mapping and names the offending key path on any error; :func:`to_dict`
is its inverse (for the resolved config saved with every checkpoint); :func:`load_yaml` reads a mapping.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path

import yaml


class ConfigError(ValueError):
    """Raised for unknown keys, wrong types or invalid values in a configuration."""


# --------------------------------------------------------------------------- generic helpers
def _type_name(tp) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _convert(value, tp, path: str):
    """Check/convert ``value`` against the annotation ``tp``; raise :class:`ConfigError` with ``path``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is typing.Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, path)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{path}: expected {_type_name(tp)}, got {type(value).__name__}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a mapping for {tp.__name__}, got {type(value).__name__}")
        return from_dict(tp, value, path)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected {_type_name(tp)}, got {type(value).__name__}")
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                raise ConfigError(f"{path}: expected {len(args)} items, got {len(value)}")
            return tuple(_convert(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else typing.Any
        items = [_convert(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping) or tp in (dict,):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a mapping, got {type(value).__name__}")
        return dict(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected float, got {type(value).__name__}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected int, got {type(value).__name__}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected bool, got {type(value).__name__}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected str, got {type(value).__name__}")
        return value
    raise ConfigError(f"{path}: unsupported annotation {_type_name(tp)}")


def from_dict(cls, data: Mapping, path: str = ""):
    """Build dataclass ``cls`` (possibly nested) from ``data``.

    Missing keys take the dataclass defaults; unknown keys and wrong types raise :class:`ConfigError` with a
    dotted path, e.g. ``autoencoder.latent_channels: expected int, got str``.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path or cls.__name__}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(data) - set(names))
    if unknown:
        where = f"{path}: " if path else ""
        raise ConfigError(f"{where}unknown key(s) {unknown} for {cls.__name__}; expected a subset of {sorted(names)}")
    kwargs = {}
    for name in names:
        if name in data:
            sub = f"{path}.{name}" if path else name
            kwargs[name] = _convert(data[name], hints[name], sub)
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        msg = str(exc)
        raise ConfigError(msg if not path or msg.startswith(path) else f"{path}: {msg}") from None
    except TypeError as exc:  # missing required fields
        raise ConfigError(f"{path or cls.__name__}: {exc}") from None


def to_dict(dc) -> dict:
    """Dataclass -> plain dict of builtins (lists, not tuples), suitable for YAML/JSON."""

    def conv(v):
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, Mapping):
            return {k: conv(x) for k, x in v.items()}
        return v

    return conv(dc)


def load_yaml(path: str | Path) -> dict:
    """Read a YAML file whose top level is a mapping (an empty file gives ``{}``)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    with p.open() as fh:
        data = yaml.safe_load(fh)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping at the top level, got {type(data).__name__}")
    return data
