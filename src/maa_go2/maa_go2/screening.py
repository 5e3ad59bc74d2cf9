"""Go2 screener for the generator: roll each generated actor out in the MuJoCo evaluator and score it.

Registered for the generator under the ``maa.screeners`` entry point ``go2`` (``src/maa_go2/setup.py``), so
``maa_generator`` finds it by domain name without importing this package.
"""
from __future__ import annotations

import numpy as np

from maa_core.layout import PolicyLayout
from maa_core.prompt import Trajectory


def go2_score(result: dict) -> float:
    """One number from a Go2 evaluation: survival dominates, then velocity tracking error [m/s]."""
    vx = result.get("vx_error", float("nan"))
    if not np.isfinite(vx):
        return float("nan")
    return float(result["survival_rate"] - vx)


def make_go2_screener(seconds: float = 4.0, adaptation_path: str = "", num_envs: int = 6, seed: int = 0):
    """Screener ``(layout, flats [K, P], prompt) -> scores [K]`` rolling actors out with the pretrained adaptation
    module at ``adaptation_path`` for ``seconds`` simulated seconds on ``num_envs`` randomized envs.

    Raises:
        ValueError: no ``adaptation_path``.
    """
    if not adaptation_path:
        raise ValueError("go2 screening needs the pretrained adaptation module (adaptation_path)")
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
