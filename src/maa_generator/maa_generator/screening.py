"""Simulation screeners, found by domain: the domain packages register them (nothing here imports them).

A screener is ``screener(layout, flats [K, P], prompt) -> scores [K]`` (higher is better, NaN = candidate failed;
:data:`maa_generator.service.Screener`). A domain package declares a factory under the ``maa.screeners`` entry-point
group (``name = module:factory`` in its setup.py ``PLUGINS``; ``maa_go2`` declares ``go2``), or a program calls
:func:`register_screener`. Factories take keyword arguments ``seconds``, ``adaptation_path`` and ``num_envs`` and
raise ``ValueError`` for missing inputs.
"""
from __future__ import annotations

from collections.abc import Callable
from importlib import metadata

GROUP = "maa.screeners"
_registered: dict[str, Callable] = {}


def register_screener(domain: str, factory: Callable) -> None:
    """Make ``factory`` the screener factory of ``domain`` in this process (overrides an entry point)."""
    _registered[domain] = factory


def _entry_points() -> dict:
    return {ep.name: ep for ep in metadata.entry_points(group=GROUP)}


def available_domains() -> list[str]:
    """Domains with a screener: registered in this process or declared by an installed package."""
    return sorted(set(_registered) | set(_entry_points()))


def make_screener(domain: str, seconds: float = 4.0, adaptation_path: str = "", num_envs: int = 6):
    """Screener for ``domain``.

    Raises ``ValueError`` for a domain without a screener (the message lists the available ones), so a generator node
    never offers screening that cannot run, and for missing inputs (go2: ``adaptation_path``).
    """
    factory = _registered.get(domain)
    if factory is None and domain in (eps := _entry_points()):
        factory = eps[domain].load()
    if factory is None:
        what = f"no simulation screener for domain {domain!r}" if domain else "the generator's domain is unknown"
        raise ValueError(f"{what}; screening is available for: {', '.join(available_domains()) or 'none'} "
                         "(set screen_domain to one of them, or request without screening)")
    return factory(seconds=seconds, adaptation_path=adaptation_path, num_envs=num_envs)
