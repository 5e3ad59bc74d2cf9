"""The screener registry of maa_generator: factories by domain, from register_screener or entry points."""
from __future__ import annotations

import numpy as np
import pytest

from maa_generator.screening import available_domains, make_screener, register_screener


def test_registered_factory_wins_and_gets_the_inputs(monkeypatch):
    from maa_generator import screening

    monkeypatch.setattr(screening, "_registered", {})  # this test's registration does not leak
    seen = {}

    def factory(**kwargs):
        seen.update(kwargs)
        return lambda layout, flats, prompt: np.zeros(len(flats))

    register_screener("test-domain", factory)
    assert "test-domain" in available_domains()
    screen = make_screener("test-domain", seconds=2.0, adaptation_path="a", num_envs=1)
    assert seen == {"seconds": 2.0, "adaptation_path": "a", "num_envs": 1}
    assert screen(None, np.zeros((3, 2)), None).shape == (3,)


def test_unknown_domain_lists_the_available_ones():
    with pytest.raises(ValueError, match="no simulation screener for domain 'nope'; screening is available for"):
        make_screener("nope")
