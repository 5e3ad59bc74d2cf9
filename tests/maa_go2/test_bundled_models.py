"""The bundled Go2 models used by `make demo`: generator + pretrained adaptation module + behaviour prompt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from maa_core.layout import layouts_equal
from maa_core.prompt_io import load_prompt
from maa_generator.models.generator import Generator
from maa_go2.actor_critic import go2_actor_layout
from maa_go2.checkpoints import load_adaptation
from maa_go2.observation import OBS_DIM

ROOT = Path(__file__).resolve().parents[2]
GEN = ROOT / "models" / "go2" / "generator"
ADAPT = ROOT / "models" / "go2" / "adaptation.safetensors"
PROMPT = ROOT / "prompts" / "go2_walk.npz"

pytestmark = pytest.mark.skipif(
    not (GEN / "model.safetensors").is_file() or not ADAPT.is_file() or not PROMPT.is_file(),
    reason="bundled Go2 models not present",
)


def test_bundle_fits_size_budget():
    size = sum(f.stat().st_size for f in GEN.iterdir()) + ADAPT.stat().st_size
    assert size <= 20 * 1024 * 1024, f"generator + adaptation module = {size / 2**20:.1f} MiB > 20 MiB"


def test_prompt_is_a_go2_walk_trajectory():
    traj = load_prompt(PROMPT)
    assert traj.domain == "go2"
    assert traj.success is None
    assert traj.obs.shape[1] == OBS_DIM and traj.act.shape == (traj.obs.shape[0], 12)
    assert traj.obs.shape[0] >= 250 and abs(traj.dt - 0.02) < 1e-9
    assert np.isfinite(traj.obs).all() and np.isfinite(traj.act).all()


def test_generator_is_deterministic_and_outputs_the_go2_actor():
    torch.set_num_threads(1)
    gen = Generator.load(GEN)
    traj = load_prompt(PROMPT)
    a = gen.generate(traj, num_candidates=2, seed=0)
    b = gen.generate(traj, num_candidates=2, seed=0)
    c = gen.generate(traj, num_candidates=2, seed=1)
    layout = go2_actor_layout()
    assert len(a) == 2
    for pa, pb in zip(a, b):
        assert layouts_equal(pa.layout, layout)
        assert pa.flat.shape == (layout.num_params,) == (70924,)
        assert pa.flat.dtype == np.float32 and np.isfinite(pa.flat).all()
        np.testing.assert_array_equal(pa.flat, pb.flat)
    assert not np.array_equal(a[0].flat, c[0].flat)


def test_adaptation_module_loads_and_runs():
    mod = load_adaptation(ADAPT)
    assert mod.history_len == 15 and mod.out_dim == go2_actor_layout().obs_dim - OBS_DIM
    out = mod(torch.zeros(2, mod.history_len * OBS_DIM))
    assert out.shape == (2, mod.out_dim) and torch.isfinite(out).all()
    assert not any(p.requires_grad for p in mod.parameters())
