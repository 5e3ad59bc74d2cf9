"""GenerationService: request handling, result codes, screening selection (real tiny generator, random init)."""
from __future__ import annotations

import math
import threading

import numpy as np
import pytest
import torch

from maa_core.layout import PolicyLayout
from maa_core.prompt import PromptError, Trajectory
from maa_generator.data.novelty import NoveltyReference
from maa_generator.models.config import ModelConfig
from maa_generator.models.generator import Generator
from maa_generator.service import GenerationRequest, GenerationService, GeneratorNodeConfig, ResultCode

LAYOUT = PolicyLayout(obs_dim=8, action_dim=2, hidden=(16,), name="small")


@pytest.fixture(scope="module")
def generator():
    return Generator.build(LAYOUT, ModelConfig.from_yaml("config/tiny.yaml"))


def _traj(obs_dim=8, act_dim=2, steps=70, nan=False):
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(steps, obs_dim)).astype(np.float32)
    if nan:
        obs[3, 1] = np.nan
        return obs
    return Trajectory(obs=obs, act=rng.normal(size=(steps, act_dim)), success=np.arange(steps) > 30,
                      domain="test", task="t")


def test_generates_k_candidates_deterministically(generator):
    svc = GenerationService(generator, default_candidates=3)
    a = svc.handle(GenerationRequest(prompt=_traj(), seed=5))
    b = svc.handle(GenerationRequest(prompt=_traj(), seed=5))
    assert a.ok, a.message
    assert a.candidates.shape == (3, LAYOUT.num_params)
    np.testing.assert_array_equal(a.flat, b.flat)
    c = svc.handle(GenerationRequest(prompt=_traj(), seed=6))
    assert not np.array_equal(a.flat, c.flat)
    assert math.isnan(a.prompt_novelty)  # this generator has no novelty bank


def test_reports_prompt_novelty():
    gen = Generator.build(LAYOUT, ModelConfig.from_yaml("config/tiny.yaml"))
    gen.novelty = NoveltyReference.fit(torch.randn(20, gen.embedding.cond_dim))
    res = GenerationService(gen).handle(GenerationRequest(prompt=_traj(), seed=1))
    assert res.ok and res.prompt_novelty == pytest.approx(gen.generate(_traj(), seed=1)[0].prompt_novelty)


def test_result_codes(generator):
    assert GenerationService(None).handle(GenerationRequest(prompt=_traj())).code == ResultCode.GENERATOR_NOT_READY
    svc = GenerationService(generator)
    assert svc.handle(GenerationRequest(use_latest_prompt=True)).code == ResultCode.NO_PROMPT
    bad = svc.handle(GenerationRequest(prompt=_traj(obs_dim=9)))
    assert bad.code == ResultCode.INVALID_PROMPT and "obs_dim 8" in bad.message
    too_many = svc.handle(GenerationRequest(prompt=_traj(), num_candidates=10_000))
    assert too_many.code == ResultCode.INVALID_PROMPT and "num_candidates" in too_many.message
    no_screener = svc.handle(GenerationRequest(prompt=_traj(), screen=True))
    assert no_screener.code == ResultCode.SCREENING_FAILED


def test_latest_prompt_and_rejection(generator):
    svc = GenerationService(generator)
    with pytest.raises(PromptError, match="expected obs_dim 8"):
        svc.add_prompt(_traj(obs_dim=5))
    with pytest.raises(PromptError, match="non-finite"):
        Trajectory(obs=_traj(nan=True), act=np.zeros((70, 2)))
    svc.add_prompt(_traj())
    assert svc.handle(GenerationRequest(use_latest_prompt=True)).ok


def test_screening_selects_best(generator):
    screened = []

    def screener(layout, flats, prompt):
        scores = -np.abs(flats).mean(axis=1)
        if not screened:
            scores[0] = np.nan  # the first candidate fails: a failed candidate is never selected
        screened.extend(flats)
        return scores

    res = GenerationService(generator, screener=screener).handle(
        GenerationRequest(prompt=_traj(), num_candidates=4, screen=True))
    assert res.ok, res.message
    expected = 1 + int(np.argmax(-np.abs(res.candidates[1:]).mean(axis=1)))
    assert res.selected == expected
    np.testing.assert_array_equal(res.flat, res.candidates[expected])
    assert len(screened) == 4


def test_progress_and_cancel_between_candidates(generator):
    events = []

    def screener(layout, flats, prompt):
        return -np.abs(flats).mean(axis=1)

    service = GenerationService(generator, screener=screener)
    res = service.handle(GenerationRequest(prompt=_traj(), num_candidates=3, screen=True),
                         progress=lambda *e: events.append(e))
    assert res.ok and events == [("generated", 3, 3), ("screening", 1, 3), ("screening", 2, 3), ("screening", 3, 3)]

    events.clear()
    res = service.handle(GenerationRequest(prompt=_traj(), num_candidates=3, screen=True),
                         progress=lambda *e: events.append(e), cancelled=lambda: len(events) >= 2)
    assert res.code == ResultCode.CANCELED and "after screening 1 of 3" in res.message
    assert np.isfinite(res.scores[0]) and np.isnan(res.scores[1:]).all() and res.flat is None
    assert not service._busy.locked()  # the next request is served


def test_busy_while_serving(generator):
    entered, release = threading.Event(), threading.Event()

    class Slow:
        layout = LAYOUT

        def check_trajectory(self, traj):
            pass

        def generate(self, trajs, num_candidates, seed):
            entered.set()
            release.wait(5)
            return generator.generate(trajs, num_candidates, seed)

    svc = GenerationService(Slow())
    t = threading.Thread(target=svc.handle, args=(GenerationRequest(prompt=_traj()),))
    t.start()
    assert entered.wait(5)
    assert svc.handle(GenerationRequest(prompt=_traj())).code == ResultCode.BUSY
    release.set()
    t.join()


def test_node_config_validation():
    with pytest.raises(ValueError, match="num_candidates"):
        GeneratorNodeConfig(num_candidates=0)
    with pytest.raises(ValueError, match="device"):
        GeneratorNodeConfig(device="tpu")


@pytest.mark.ros
def test_result_codes_match_the_service_definition():
    from maa_msgs.srv import GeneratePolicy

    for code in ResultCode:
        assert getattr(GeneratePolicy.Response, code.name) == code.value
