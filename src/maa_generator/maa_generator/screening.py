"""Simulation screening of generated candidates (best-of-K).

A screener maps ``(layout, flats [K, P], prompt) -> scores [K]`` (higher is better; NaN marks a candidate that
could not be evaluated). Domains register here; their simulators are imported only when a screener is made.
"""
from __future__ import annotations

import numpy as np

from .layout import PolicyLayout
from .prompt import Trajectory

#: domains with a working simulation screener (MetaWorld and Robosuite have none yet)
DOMAINS = ("go2",)


def go2_score(result: dict) -> float:
    """One number from a Go2 evaluation: survival dominates, then velocity tracking error [m/s]."""
    vx = result.get("vx_error", float("nan"))
    if not np.isfinite(vx):
        return float("nan")
    return float(result["survival_rate"] - vx)


def make_go2_screener(adaptation_path: str, seconds: float = 4.0, num_envs: int = 6, seed: int = 0):
    """Screen Go2 actors in the MuJoCo evaluator with the pretrained adaptation module at ``adaptation_path``."""
    from maa_go2.checkpoints import load_adaptation
    from maa_go2.evaluation import evaluate_actor

    adaptation = load_adaptation(adaptation_path)

    def screen(layout: PolicyLayout, flats: np.ndarray, prompt: Trajectory) -> np.ndarray:
        scores = np.full(len(flats), np.nan, dtype=np.float32)
        for i, flat in enumerate(flats):
            try:
                result = evaluate_actor(layout, flat, adaptation, seconds=seconds, num_envs=num_envs, seed=seed,
                                        push_seconds=0.0)
            except (ValueError, FloatingPointError):
                continue
            scores[i] = go2_score(result)
        return scores

    return screen


def make_screener(domain: str, seconds: float = 4.0, adaptation_path: str = "", num_envs: int = 6):
    """Screener for ``domain`` (one of :data:`DOMAINS`).

    Raises ``ValueError`` for a domain without a working screener (the message lists the supported domains), so a
    generator node never offers screening that cannot run, and for missing inputs (go2: ``adaptation_path``).
    """
    if domain == "go2":
        if not adaptation_path:
            raise ValueError("go2 screening needs the pretrained adaptation module (adaptation_path)")
        return make_go2_screener(adaptation_path, seconds=seconds, num_envs=num_envs)
    what = f"no simulation screener for domain {domain!r}" if domain else "the generator's domain is unknown"
    raise ValueError(f"{what}; screening is supported for: {', '.join(DOMAINS)} (set screen_domain to one of them, "
                     f"or request without screening)")
