"""Bounded prompts on the generator side: size limits, checked before arrays are converted; config validation."""
from __future__ import annotations

import numpy as np
import pytest

from maa_core.config import ConfigError, from_dict
from maa_core.prompt import PromptError, Trajectory
from maa_generator.service import GenerationRequest, GenerationService, GeneratorNodeConfig, PromptLimits, ResultCode


def _traj(steps=70, obs_dim=8, act_dim=2):
    rng = np.random.default_rng(0)
    return Trajectory(obs=rng.normal(size=(steps, obs_dim)), act=rng.normal(size=(steps, act_dim)),
                      domain="test", task="t")


def test_limits_name_the_limit_and_the_parameter():
    limits = PromptLimits(max_steps=100, max_dim=16)
    limits.check(100, 16, 16, num_observations=1600, num_actions=1600, num_success=100)
    with pytest.raises(PromptError, match="num_steps=101, above the limit max_prompt_steps=100 .*max_prompt_steps"):
        limits.check(101, 8, 2)
    with pytest.raises(PromptError, match="obs_dim=17, above the limit max_prompt_dim=16"):
        limits.check(10, 17, 2)
    with pytest.raises(PromptError, match="action_dim=17, above the limit max_prompt_dim=16"):
        limits.check(10, 8, 17)
    with pytest.raises(PromptError, match="observations has 1601 values, above the limit 1600"):
        limits.check(10, 8, 2, num_observations=1601)
    with pytest.raises(PromptError, match="success has 101 values"):
        limits.check(10, 8, 2, num_success=101)


def test_service_rejects_oversized_prompts_before_the_generator_sees_them():
    class Recorder:  # the generator is never asked about an oversized prompt
        seen = []

        def check_trajectory(self, traj):
            self.seen.append(traj.length)

    svc = GenerationService(Recorder(), limits=PromptLimits(max_steps=50, max_dim=512))
    res = svc.handle(GenerationRequest(prompt=_traj(steps=51)))
    assert res.code == ResultCode.INVALID_PROMPT and "max_prompt_steps=50" in res.message
    with pytest.raises(PromptError, match="max_prompt_steps=50"):
        svc.add_prompt(_traj(steps=51))
    assert Recorder.seen == [] and svc.latest_prompt is None
    svc.add_prompt(_traj(steps=50))
    assert Recorder.seen == [50]
    assert GenerationService(None).limits == PromptLimits()  # defaults apply when none are given


def test_keep_prompts_bounds_the_stored_prompts():
    svc = GenerationService(None, keep_prompts=3)
    for steps in range(10, 20):
        svc.add_prompt(_traj(steps=steps))
    assert len(svc._prompts) == 3 and svc.latest_prompt.length == 19
    with pytest.raises(ValueError, match="keep_prompts must be >= 1"):
        GenerationService(None, keep_prompts=0)


def test_node_config_limits_and_validation():
    cfg = from_dict(GeneratorNodeConfig, {"max_prompt_steps": 300, "max_prompt_dim": 64})
    assert cfg.prompt_limits == PromptLimits(max_steps=300, max_dim=64)
    defaults = GeneratorNodeConfig()
    assert (defaults.max_prompt_steps, defaults.max_prompt_dim, defaults.prompt_queue_depth) == (2000, 512, 10)
    assert defaults.signing_key == ""
    for name in ("max_prompt_steps", "max_prompt_dim", "prompt_queue_depth", "keep_prompts"):
        with pytest.raises(ConfigError, match=f"{name} must be >= 1, got 0"):
            from_dict(GeneratorNodeConfig, {name: 0})
    with pytest.raises(ConfigError, match="max_prompt_dim: expected int"):
        from_dict(GeneratorNodeConfig, {"max_prompt_dim": "big"})


class _NoConversion:
    """An array field that may be measured but never converted (as a huge message's arrays should not be)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __iter__(self):
        raise AssertionError("array converted before the size limits were checked")

    __array__ = __iter__


@pytest.mark.ros
def test_message_limits_are_checked_before_arrays_are_converted():
    from types import SimpleNamespace

    from maa_generator.ros.convert import trajectory_from_msg, trajectory_to_msg

    limits = PromptLimits(max_steps=100, max_dim=16)
    huge = SimpleNamespace(num_steps=10**6, obs_dim=8, action_dim=2, observations=_NoConversion(8 * 10**6),
                           actions=_NoConversion(2 * 10**6), success=_NoConversion(0), dt=0.02, domain="", task="")
    with pytest.raises(PromptError, match="num_steps=1000000, above the limit max_prompt_steps=100"):
        trajectory_from_msg(huge, limits)
    lying = SimpleNamespace(**{**vars(huge), "num_steps": 10})  # small header, huge arrays
    with pytest.raises(PromptError, match="observations has 8000000 values, above the limit 1600"):
        trajectory_from_msg(lying, limits)
    ok = trajectory_to_msg(_traj(steps=100, obs_dim=16))
    assert trajectory_from_msg(ok, limits).length == 100
