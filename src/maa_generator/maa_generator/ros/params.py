"""Typed config dataclasses <-> ROS parameters (nested dataclasses become dotted names, e.g. ``safety.max_roll``)."""
from __future__ import annotations

import dataclasses

from rcl_interfaces.msg import ParameterDescriptor

from maa_core.config import from_dict


def _defaults(cls, prefix: str = "") -> dict:
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            value = f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
        else:
            raise TypeError(f"{cls.__name__}.{f.name} needs a default to become a ROS parameter")
        if dataclasses.is_dataclass(value):
            out.update(_defaults(type(value), f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = list(value) if isinstance(value, tuple) else value
    return out


def declare_config(node, cls, prefix: str = ""):
    """Declare one ROS parameter per (nested) dataclass field, with the dataclass defaults, and return a validated
    instance built from the parameter values (``ConfigError``/``ValueError`` say which field is wrong)."""
    nested: dict = {}
    for name, default in _defaults(cls).items():
        if isinstance(default, list) and not default:
            value = node.declare_parameter(prefix + name, default,
                                           ParameterDescriptor(dynamic_typing=True)).value
        else:
            value = node.declare_parameter(prefix + name, default).value
        if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
            value = list(value)
        cursor = nested
        *parents, leaf = name.split(".")
        for p in parents:
            cursor = cursor.setdefault(p, {})
        cursor[leaf] = value
    return from_dict(cls, nested)
