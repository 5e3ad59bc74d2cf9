"""The bundled MetaWorld generator (models/metaworld/generator) and its bundled prompt (prompts/metaworld_*.npz)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from maa_core.layout import layouts_equal, metaworld_sac_layout
from maa_core.prompt_io import load_prompt
from maa_generator.models.generator import Generator

ROOT = Path(__file__).resolve().parents[2]
GEN_DIR = ROOT / "models" / "metaworld" / "generator"
PROMPTS = sorted((ROOT / "prompts").glob("metaworld_*.npz"))


@pytest.fixture(scope="module")
def generator() -> Generator:
    if not (GEN_DIR / "model.safetensors").is_file():
        pytest.fail(f"bundled generator missing: {GEN_DIR}/model.safetensors")
    return Generator.load(GEN_DIR)


def test_bundle_is_small_and_has_metaworld_layout(generator):
    size = sum(p.stat().st_size for p in GEN_DIR.iterdir())
    assert size <= 16 * 1024 * 1024, f"bundled generator is {size / 2**20:.2f} MiB (limit 16 MiB)"
    assert layouts_equal(generator.layout, metaworld_sac_layout())
    assert generator.generation_only  # the encoders and the diffusion training copy are not bundled


def test_all_bundled_artifacts_fit_the_30_mb_budget():
    files = [p for d in ("models", "prompts") for p in (ROOT / d).rglob("*") if p.is_file() and p.suffix != ".md"]
    size = sum(p.stat().st_size for p in files)
    assert size <= 30 * 10**6, f"bundled models and prompts are {size / 1e6:.1f} MB (budget 30 MB)"


def test_bundled_prompt_generates_deterministically(generator):
    assert PROMPTS, "no bundled prompts/metaworld_*.npz"
    traj = load_prompt(PROMPTS[0])
    assert traj.domain == "metaworld" and traj.task
    assert traj.obs.shape[1] == 39 and traj.act.shape[1] == 4
    a = generator.generate(traj, 3, seed=7)
    b = generator.generate(traj, 3, seed=7)
    c = generator.generate(traj, 3, seed=8)
    layout = metaworld_sac_layout()
    flat_a = np.stack([p.flat for p in a])
    assert flat_a.shape == (3, layout.num_params) == (3, 22664)
    assert np.isfinite(flat_a).all()
    np.testing.assert_array_equal(flat_a, np.stack([p.flat for p in b]))
    assert not np.array_equal(flat_a, np.stack([p.flat for p in c])), "seed must change the samples"
    # weights unflatten into the SAC actor's layers and produce bounded actions
    shapes = {k: v.shape for k, v in layout.unflatten(flat_a[0]).items()}
    assert sorted(shapes.values()) == sorted([(128, 39), (128,), (128, 128), (128,), (8, 128), (8,)])
    act = layout.forward_numpy(flat_a[0], traj.obs[:5])
    assert act.shape == (5, 4) and np.all(np.abs(act) <= 1.0)
