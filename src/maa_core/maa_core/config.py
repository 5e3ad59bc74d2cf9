"""The one config loader of every maa package: YAML files -> composition -> dotted overrides -> typed dataclasses.

Built on OmegaConf structured configs (``docs/architecture.md``, "Configs", says why). A config is a dataclass;
:func:`load_config` reads a YAML file, resolves its ``base:`` files, applies ``a.b=value`` overrides (the
``--set`` items of every script, see :func:`add_config_arguments`) and returns a validated instance, running the
dataclass's ``__post_init__`` checks. Every failure is a :class:`ConfigError` naming the file (or the override),
the key path and what was expected::

    cfg = load_config(RunConfig, "config/tiny.yaml", ["train.seed=3", "data.tasks=[reach, door-open]"])

**Composition.** A top-level ``base: other.yaml`` (or a list of files) names files, relative to the including
file, that are read first; the including file is deep-merged over them (mappings merge key by key, lists and
scalars are replaced). Bases may have bases; a cycle or a missing base file is an error.

**Types.** Unknown keys are errors. Values convert as OmegaConf converts them: an int is accepted for a float,
a string that spells an int for an int (``"64"``), 0/1 or ``true``/``false`` for a bool; ``big`` for an int, 1.5
for an int or a list for a number are errors. A field typed plain ``dict`` is a value: a file's mapping replaces
its default instead of merging into it (an override ``a.b.key=v`` sets one entry).

:func:`from_dict` builds a dataclass from a mapping (ROS parameters, saved checkpoints) through the same path;
:func:`to_dict` is its inverse (the resolved config saved with every checkpoint); :func:`load_yaml` reads a
composed mapping.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import types
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, MissingMandatoryValue, OmegaConfBaseException

__all__ = ["BASE_KEY", "ConfigError", "add_config_arguments", "dataclass_from_mapping", "from_dict", "load_config",
           "load_yaml", "load_yaml_mapping", "override", "require", "resolve_path", "shorthand_overrides", "to_dict"]

#: the top-level key that names the files a YAML file is composed on
BASE_KEY = "base"


class ConfigError(ValueError):
    """Raised for unknown keys, wrong types, invalid values, missing files or bad composition in a configuration."""


# --------------------------------------------------------------------------- public API
def load_config(cls, path: str | Path | None = None, overrides: Iterable[str] = (), section: str | None = None):
    """Build dataclass ``cls`` from the YAML file ``path`` (composed, see the module doc) and ``overrides``.

    Args:
        cls: the config dataclass; fields missing from the file keep their defaults.
        path: a YAML file whose top level is a mapping; ``None``: the defaults of ``cls``.
        overrides: ``"a.b=value"`` items applied in order after the file; the key path is the file's (with a
            ``section``, ``section.a.b``), the value is parsed as YAML (``3``, ``0.5``, ``true``, ``null``,
            ``[a, b]``, ``{k: v}``). Items for the file's other top-level sections are skipped.
        section: read this top-level mapping of the file (e.g. ``train``) instead of the whole file.
    """
    source = str(path) if path is not None else None
    data = load_yaml(path) if path is not None else {}
    layers = [(item, _parse_override(item, section, data, source)) for item in overrides]
    if section is not None:
        data = _section(data, section, source, required=path is not None)
    return _build(cls, data, source, [(item, layer) for item, layer in layers if layer is not None],
                  prefix=section or "")


def from_dict(cls, data: Mapping | None, path: str = "", *, source: str | Path | None = None):
    """Build dataclass ``cls`` (possibly nested) from the mapping ``data`` (``None``: the defaults).

    Missing keys take the dataclass defaults; unknown keys, wrong types and failed ``__post_init__`` checks raise
    :class:`ConfigError` with the dotted key path prefixed by ``path`` (e.g. ``deploy.safety.max_rol``) and, when
    given, the ``source`` file.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    return _build(cls, {} if data is None else data, None if source is None else str(source), [], prefix=path)


def dataclass_from_mapping(cls, data: Mapping | None, what: str):
    """:func:`from_dict` with the errors prefixed by ``what`` (the section name, e.g. ``safety``)."""
    return from_dict(cls, data, what)


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
    """Read a YAML file whose top level is a mapping, composed on its ``base:`` files (an empty file gives ``{}``)."""
    return _compose(Path(path), ())


def load_yaml_mapping(path: str | Path, section: str | None = None) -> dict:
    """Read a composed YAML file, or one top-level ``section`` of it (``{}`` when the file has no such section)."""
    data = load_yaml(path)
    return data if section is None else _section(data, section, str(path), required=False)


def add_config_arguments(parser: argparse.ArgumentParser, default: str | Path | None = None,
                         help: str = "config YAML") -> None:
    """Add the config options every script shares: ``--config PATH`` and repeatable ``--set KEY=VALUE``.

    The parsed namespace has ``config`` and ``overrides`` (a list of ``KEY=VALUE`` strings for
    :func:`load_config`). Without a ``default`` the config is required.
    """
    if default is None:
        parser.add_argument("--config", required=True, metavar="PATH", help=help)
    else:
        parser.add_argument("--config", default=str(default), metavar="PATH", help=f"{help} (default: %(default)s)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value by its dotted key path, e.g. --set a.b=1 (value parsed as "
                             "YAML: 3, 0.5, true, null, [a, b]); repeatable, applied in order")


def override(key: str, value) -> str:
    """The ``KEY=VALUE`` override item that sets ``key`` to the Python value ``value`` (any string survives)."""
    return f"{key}={json.dumps(value)}"


def shorthand_overrides(args: argparse.Namespace, names: Sequence[str], list_names: Sequence[str] = ()) -> list[str]:
    """The ``--set`` items that a script's shorthand flags (``--zoo DIR`` for ``--set zoo=DIR``, ...) stand for.

    ``names``: namespace attributes copied as they are when given (not None). ``list_names``: comma-separated
    strings turned into lists (``"a, b"`` -> ``[a, b]``; ``"none"`` -> ``[]``).
    """
    items = [override(name, getattr(args, name)) for name in names if getattr(args, name) is not None]
    for name in list_names:
        text = getattr(args, name)
        if text is not None:
            chosen = [] if text.strip() == "none" else [t.strip() for t in text.split(",") if t.strip()]
            items.append(override(name, chosen))
    return items


def require(cond: bool, msg: str) -> None:
    """Raise :class:`ConfigError` with ``msg`` (what was expected, what was given) unless ``cond`` holds."""
    if not cond:
        raise ConfigError(msg)


def resolve_path(path: str | Path, root: str | Path) -> Path:
    """``path`` as given when absolute, else relative to ``root`` (a script's repository root, not the cwd)."""
    path = Path(path)
    return path if path.is_absolute() else Path(root) / path


# --------------------------------------------------------------------------- reading and composing files
def _read(path: Path) -> dict:
    """One YAML file whose top level is a mapping (empty: ``{}``)."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def _base_files(path: Path, data: dict) -> list[Path]:
    """The files named by ``data``'s ``base:`` key (removed from ``data``), relative to ``path``'s folder."""
    bases = data.pop(BASE_KEY, None)
    if bases is None:
        return []
    names = [bases] if isinstance(bases, str) else bases
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(f"{path}: {BASE_KEY}: expected a file name or a list of file names, got {bases!r}")
    files = [path.parent / name for name in names]
    for name, file in zip(names, files):
        if not file.is_file():
            raise ConfigError(f"{path}: {BASE_KEY}: file {name!r} not found (looked for {file})")
    return files


def _compose(path: Path, chain: tuple[Path, ...]) -> dict:
    """``path`` deep-merged over its base files; ``chain`` holds the including files (for cycle detection)."""
    key = path.resolve()
    if key in {p.resolve() for p in chain}:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise ConfigError(f"composition cycle: {cycle}")
    data = _read(path)
    bases = _base_files(path, data)
    if not bases:
        return data
    layers = [_compose(base, (*chain, path)) for base in bases]
    try:
        merged = OmegaConf.merge(*(OmegaConf.create(layer) for layer in layers), OmegaConf.create(data))
    except OmegaConfBaseException as exc:
        raise ConfigError(f"{path}: cannot merge over {[str(b) for b in bases]}: {_first_line(exc)}") from None
    return OmegaConf.to_container(merged, resolve=False)


def _section(data: dict, section: str, source: str | None, required: bool) -> dict:
    """The top-level mapping ``section`` of ``data``."""
    if section not in data or data[section] is None:
        if required:
            raise ConfigError(f"{source}: no '{section}' section (expected a mapping under '{section}:')")
        return {}
    value = data[section]
    if not isinstance(value, Mapping):
        raise ConfigError(f"{source}: section {section!r} must be a mapping, got {type(value).__name__}")
    return dict(value)


# --------------------------------------------------------------------------- overrides
def _parse_override(item: str, section: str | None, data: Mapping, source: str | None) -> dict | None:
    """The nested mapping of one ``KEY=VALUE`` item, relative to ``section``; ``None`` when the item addresses
    another top-level section of the file."""
    label = f"override {item!r}"
    key, eq, _ = item.partition("=")
    if not eq or not key.strip():
        raise ConfigError(f"{label}: expected KEY=VALUE with a dotted key path, e.g. train.seed=3")
    try:
        layer = OmegaConf.to_container(OmegaConf.from_dotlist([item.strip()]), resolve=False)
    except (OmegaConfBaseException, yaml.YAMLError) as exc:
        raise ConfigError(f"{label}: {_first_line(exc)}") from None
    if section is None:
        return layer
    top = next(iter(layer))
    if top == section and isinstance(layer[top], dict):
        return layer[top]
    if top != section and top in data:
        return None
    raise ConfigError(f"{label}: {top!r} is not a key path into the '{section}' section of "
                      f"{source or 'the config'} (write {section}.KEY=VALUE)")


# --------------------------------------------------------------------------- building the dataclass
def _build(cls, data, source: str | None, overrides: Sequence[tuple[str, dict]], prefix: str = ""):
    """Defaults of ``cls`` <- ``data`` (from ``source``) <- each ``(item, mapping)`` override, then the dataclass
    itself (its ``__post_init__`` checks)."""
    if not isinstance(data, Mapping):
        raise ConfigError(_join(source, f"{prefix or cls.__name__}: expected a mapping, got {type(data).__name__}"))
    try:
        cfg = OmegaConf.structured(cls)
    except OmegaConfBaseException as exc:
        raise TypeError(f"{cls.__name__} cannot be a config: {_first_line(exc)}") from None
    data = dict(data)
    with _explained(cls, source, prefix, data):
        _replace_plain_dicts(cfg, data)
        cfg = OmegaConf.merge(cfg, data)
    for item, layer in overrides:
        with _explained(cls, _join(source, f"override {item!r}"), prefix, layer):
            cfg = OmegaConf.merge(cfg, layer)
    where = f"{source or cls.__name__} with overrides {[item for item, _ in overrides]}" if overrides else source
    with _explained(cls, where, prefix, data):
        return OmegaConf.to_object(cfg)


def _replace_plain_dicts(cfg: DictConfig, data: Mapping) -> None:
    """Empty the plain-``dict`` fields of ``cfg`` that ``data`` sets, so that merging replaces them."""
    for key, value in data.items():
        if not isinstance(value, Mapping) or not isinstance(key, str) or key not in cfg:
            continue
        node = cfg[key]
        if not isinstance(node, DictConfig):
            continue
        if dataclasses.is_dataclass(OmegaConf.get_type(node)):
            _replace_plain_dicts(node, value)
        else:
            cfg[key] = {}


# --------------------------------------------------------------------------- error messages
@contextmanager
def _explained(cls, where: str | None, prefix: str, layer) -> Iterator[None]:
    """Turn OmegaConf's and ``__post_init__``'s exceptions into a :class:`ConfigError` naming ``where``."""
    try:
        yield
    except OmegaConfBaseException as exc:
        raise ConfigError(_join(where, _describe(exc, cls, prefix, layer))) from None
    except (ValueError, TypeError) as exc:  # __post_init__ checks (ConfigError is a ValueError too)
        msg = str(exc)
        if prefix and not msg.startswith(prefix):
            msg = f"{prefix}: {msg}"
        raise ConfigError(_join(where, msg)) from None


def _describe(exc: OmegaConfBaseException, cls, prefix: str, layer) -> str:
    """``key.path: what was expected, what was given`` for an OmegaConf exception."""
    full_key = getattr(exc, "full_key", None)
    if not isinstance(full_key, str) or not full_key:
        parts = _locate(cls, layer)
        if parts is None:
            return _dotted(prefix, []) + _first_line(exc)
    else:
        parts = _split_key(full_key)
    where = _dotted(prefix, parts)
    if isinstance(exc, ConfigKeyError):
        parent = _dotted(prefix, parts[:-1])
        owner = _annotation_at(cls, parts[:-1])
        names = sorted(f.name for f in dataclasses.fields(owner)) if dataclasses.is_dataclass(owner) else []
        of = f" for {owner.__name__}; expected a subset of {names}" if names else ""
        return f"{parent}unknown key(s) {[parts[-1]]}{of}"
    if isinstance(exc, MissingMandatoryValue):
        return f"{where}missing value (the field has no default)"
    expected = _annotation_at(cls, parts)
    if expected is None:
        return where + _first_line(exc)
    value = _value_at(layer, parts)
    wanted = f"a mapping for {expected.__name__}" if dataclasses.is_dataclass(expected) else _type_name(expected)
    return f"{where}expected {wanted}, got {type(value).__name__} {value!r}"


def _locate(cls, layer) -> list | None:
    """The key path of the first entry of ``layer`` that ``cls`` does not accept (OmegaConf names none for a
    mapping given where a list or a number is expected, or the reverse)."""
    schema = OmegaConf.structured(cls)
    return _locate_in(schema, layer, [])


def _locate_in(node: DictConfig, layer, parts: list) -> list | None:
    if not isinstance(layer, Mapping):
        return parts or None
    for key, value in layer.items():
        try:
            OmegaConf.merge(node, {key: value})
        except OmegaConfBaseException:
            child = node[key] if isinstance(key, str) and key in node else None
            if isinstance(child, DictConfig) and isinstance(value, Mapping):
                return _locate_in(child, value, [*parts, key])
            return [*parts, key]
    return None


def _split_key(full_key: str) -> list:
    """``"a.b[1].c"`` -> ``["a", "b", 1, "c"]``."""
    return [int(m[1]) if m[1] else m[0] for m in re.finditer(r"\[(\d+)\]|[^.\[\]]+", full_key)]


def _dotted(prefix: str, parts: Sequence) -> str:
    """``prefix`` and ``parts`` as ``a.b[1]: `` (empty when both are empty)."""
    text = prefix
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return f"{text}: " if text else ""


def _annotation_at(cls, parts: Sequence):
    """The annotation of the field that the key path ``parts`` of dataclass ``cls`` reaches (``None``: unknown)."""
    tp = cls
    for part in parts:
        tp = _without_none(tp)
        if dataclasses.is_dataclass(tp):
            tp = typing.get_type_hints(tp).get(part)
        elif typing.get_origin(tp) in (list, tuple) and isinstance(part, int):
            args = [a for a in typing.get_args(tp) if a is not Ellipsis]
            tp = args[min(part, len(args) - 1)] if args else typing.Any
        elif typing.get_origin(tp) is dict or tp is dict:
            args = typing.get_args(tp)
            tp = args[1] if args else typing.Any
        else:
            return None
        if tp is None:
            return None
    return tp


def _without_none(tp):
    """``X | None`` -> ``X`` (other annotations unchanged)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _value_at(layer, parts: Sequence):
    """The value at key path ``parts`` of the plain mapping ``layer`` (``None`` when it is not there)."""
    for part in parts:
        try:
            layer = layer[part]
        except (KeyError, IndexError, TypeError):
            return None
    return layer


def _type_name(tp) -> str:
    return tp.__name__ if isinstance(tp, type) else str(tp).replace("typing.", "")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _join(where: str | None, msg: str) -> str:
    return f"{where}: {msg}" if where else msg
